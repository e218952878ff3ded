"""The inverse-set recipe (seed 002): diverse images whose activations lie in given ranges, intersections of
several units' inverse sets, contact sheets per activation band."""

from __future__ import annotations

from typing import Annotated, Literal, Union, cast

import torch
from pydantic import Field, field_validator, model_validator
from typing_extensions import NotRequired, TypedDict

from ..core.units import parse_unit_range
from .base import ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, data_model

Objective = Literal["diverse", "no-diversity", "code-diversity"]


class InverseSetSpec(Spec):
    """Sample the inverse set of one unit (or the intersection of several): seed 002, eq. (6) / (14) / (15)."""

    model: ModelRef = ModelRef()
    constraints: list[str] = Field(min_length=1, description="LAYER:UNIT:Z1:Z2 each; several: an intersection")
    n: int = Field(500, ge=1, le=100_000, description="samples to generate, seeds included")
    k: int = Field(10, ge=1, le=1000, description="seeds K, optimized together")
    generator: str = Field("fourier", min_length=1, description="fourier, trained:DATASET or file:PATH")
    encoder_layer: str | None = Field(
        None,
        description="E, whose features measure diversity (default: the first fully connected layer before the "
        "classifier, else the last pooling layer)",
    )
    objective: Objective = Field(
        "diverse", description="diverse: feature-space diversity (eq. 6); code-diversity (eq. 14); no-diversity"
    )
    baselines: bool = Field(False, description="also run the other objectives and activation maximization")
    bands: int = Field(4, ge=1, le=100, description="contact sheets: equal slices of the first range")
    animation: bool = Field(False, description="also save the samples as a GIF")
    inner_steps: int = Field(100, ge=1, le=100_000, description="gradient steps per outer iteration (seeds)")
    max_outer: int = Field(6, ge=1, le=100, description="augmented-Lagrangian iterations before giving up")
    lr: float = Field(0.05, gt=0, le=100, description="Adam's learning rate, code units")
    seed: int = Field(0, description="the random stream of the initial codes")

    @field_validator("constraints")
    @classmethod
    def _ranges(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            parse_unit_range(value, f"constraints[{i}]")  # a UnitSyntaxError is a ValueError: reported at the field
        return values

    @field_validator("generator")
    @classmethod
    def _generator(cls, value: str) -> str:
        if value != "fourier" and not any(value.startswith(p) and value[len(p) :] for p in ("trained:", "file:")):
            raise ValueError(f"unknown generator `{value}`: use fourier, trained:DATASET or file:PATH")
        return value

    @model_validator(mode="after")
    def _seeds_fit(self):
        if self.n < self.k:
            raise ValueError(f"n={self.n} must be at least k={self.k}: the K seeds are the first samples")
        return self


@data_model
class InverseSample(TypedDict):
    """One sample of the inverse set, re-measured from its saved PNG."""

    path: Annotated[FilePath, Field(description="the sample (8-bit PNG of the [0, 1] image)")]
    activations: Annotated[
        dict[str, Measured], Field(description="per constraint (`LAYER:UNIT`): the unit's mean activation over space")
    ]
    band: Annotated[int, Field(ge=0, description="its band of the first constraint's range (0 .. bands - 1)")]
    inside: Annotated[bool, Field(description="every activation lies in its [z1, z2]")]


@data_model
class ConstraintRange(TypedDict):
    """z1 <= f(x) <= z2 for f the mean over space of channel `unit` of `layer`."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    unit: Annotated[int, Field(ge=0, description="the channel (or a vector layer's unit)")]
    z1: Annotated[float, Field(description="the range's low end (activation units)")]
    z2: Annotated[float, Field(description="the range's high end (activation units)")]


@data_model
class FourierGeneratorInfo(TypedDict):
    """G: the Fourier parameterization with color decorrelation (nothing trained)."""

    kind: Annotated[Literal["fourier"], Field(description="the generator")]
    init_std: Annotated[float, Field(description="std of the initial white-noise spectra")]
    decay_power: Annotated[float, Field(description="the 1/f^decay_power scaling of the spectrum")]


@data_model
class TrainedGeneratorInfo(TypedDict):
    """G: a decoder convscope trained to invert the encoder on a dataset."""

    kind: Annotated[Literal["trained"], Field(description="the generator")]
    dataset: Annotated[str, Field(description="the dataset the decoder was trained on")]
    code_dim: Annotated[int, Field(ge=1, description="code length (the encoder layer's features)")]


@data_model
class Fc6GeneratorInfo(TypedDict):
    """G: a pretrained fc6 generator from a weights file."""

    kind: Annotated[Literal["fc6"], Field(description="the generator")]
    path: Annotated[str, Field(description="the generator's weights file")]
    code_dim: Annotated[int, Field(ge=1, description="code length")]


GeneratorInfo = Annotated[
    Union[FourierGeneratorInfo, TrainedGeneratorInfo, Fc6GeneratorInfo], Field(discriminator="kind")
]


@data_model
class BandSheet(TypedDict):
    """The contact sheet of one activation band (an equal slice of the first constraint's [z1, z2])."""

    band: Annotated[int, Field(ge=0, description="the band's number, lowest first")]
    range: Annotated[list[float], Field(min_length=2, max_length=2, description="[low, high] of the band")]
    count: Annotated[int, Field(ge=1, description="samples in the band")]
    path: FilePath


@data_model
class BaselineSummary(TypedDict):
    """Another objective from the same initial codes, summarized."""

    n: Annotated[int, Field(ge=0, description="samples")]
    diversity: Annotated[Measured, Field(description="Table 1: mean pairwise distance of the samples' E(G(c))")]
    in_range: Annotated[Measured, Field(description="share of the samples inside every range, in [0, 1]")]
    seed_steps: Annotated[int, Field(ge=0, description="gradient steps finding the seeds")]
    sampling_steps: Annotated[int, Field(ge=0, description="gradient steps of sampling")]
    seconds: Annotated[float, Field(description="wall time (s)")]


@data_model
class BaselineFailure(TypedDict):
    """An objective whose seeds could not reach the ranges."""

    error: Annotated[str, Field(description="why (InfeasibleRangeError's message)")]


@data_model
class MaximizationSummary(BaselineSummary):
    """Activation maximization from the same K starts (random restarts), summarized."""

    restarts: Annotated[int, Field(ge=1, description="random restarts (the K initial codes)")]
    steps: Annotated[int, Field(ge=1, description="gradient steps of each restart")]


#: with `baselines`: the objectives not chosen, and activation maximization (keys are not Python names: the
#: functional form, configured by a call rather than a decorator)
Baselines = TypedDict(
    "Baselines",
    {
        "diverse": Annotated[
            Union[BaselineSummary, BaselineFailure], Field(description="feature-space diversity, eq. (6)")
        ],
        "no-diversity": Annotated[
            Union[BaselineSummary, BaselineFailure], Field(description="no diversity term, eq. (15)")
        ],
        "code-diversity": Annotated[
            Union[BaselineSummary, BaselineFailure], Field(description="code-space diversity, eq. (14)")
        ],
        "activation-maximization": MaximizationSummary,
    },
    total=False,
)
data_model(Baselines)
Baselines.__doc__ = (
    "With `baselines`: each objective other than the chosen one and activation maximization, from the same "
    "initial codes (empty without)."
)


@data_model
class InverseSetData(TypedDict):
    """The `inverse-set` recipe's data (docs/inverse-set.md)."""

    samples: Annotated[list[InverseSample], Field(description="seeds first, then the sampled ones")]
    diversity: Annotated[Measured, Field(description="Table 1: mean pairwise Euclidean distance of the E(G(c))")]
    seed_steps: Annotated[int, Field(ge=0, description="gradient steps finding the K seeds (eq. 9)")]
    sampling_steps: Annotated[int, Field(ge=0, description="gradient steps of fast sampling (eq. 11)")]
    outer_iterations: Annotated[int, Field(ge=0, description="augmented-Lagrangian updates of the multipliers")]
    seconds: Annotated[float, Field(description="wall time of seeds and sampling (s)")]
    n: Annotated[int, Field(ge=0, description="samples made (at most `requested`)")]
    requested: Annotated[int, Field(ge=1, description="the spec's n")]
    k: Annotated[int, Field(ge=1, description="seeds")]
    all_inside: Annotated[bool, Field(description="every sample lies inside every range")]
    objective: Annotated[Objective, Field(description="the diversity term maximized (eq. 6, 15 or 14)")]
    constraints: Annotated[list[ConstraintRange], Field(description="the ranges, as the spec gave them")]
    encoder_layer: Annotated[str, Field(description="E: the layer whose flattened output embeds the images")]
    generator: Annotated[GeneratorInfo, Field(description="G: what turned codes into images")]
    seed: Annotated[int, Field(description="the random seed of the initial codes")]
    sheet: Annotated[FilePath, Field(description="every sample, sorted by the first constraint's activation (PNG)")]
    band_sheets: Annotated[list[BandSheet], Field(description="one per band that holds samples")]
    baselines: Baselines
    animation: NotRequired[Annotated[FilePath, Field(description="with `animation`: the samples as a GIF")]]


@recipe(
    "inverse-set",
    1,
    InverseSetSpec,
    InverseSetData,
    "sample the inverse set of units: diverse images whose activations lie in [Z1, Z2] (intersections with several)",
)
def run_inverse_set(spec: InverseSetSpec, ctx: RunContext) -> Result[InverseSetData]:
    """Inverse-set sampling: `n` diverse images x = G(c), [C, H, W] in [0, 1], whose activations lie inside every
    [z1, z2] of `constraints` (several: the intersection of their inverse sets).

    K seeds by the bound-constrained augmented Lagrangian of eq. (9) (maximizing the diversity
    sum_ij ||E(G(c_i)) - E(G(c_j))||^2 of eq. (6), or the code-space one of eq. (14), or none, eq. (15)), stopped
    once every seed satisfies eq. (8); then fast sampling, eq. (10)-(11): single gradient steps from the seeds
    with the multipliers fixed, every feasible step a new sample. Every sample is saved as an 8-bit PNG
    (`sample_0000.png` ...) and re-measured from that file, so the reported activations and `inside` flags are
    those of the saved pictures.

    Args:
        spec: `constraints` (`LAYER:UNIT:Z1:Z2` each, finite Z1 < Z2 in activation units), n (>= k), k seeds,
            `generator` (fourier, trained:DATASET, file:PATH), `encoder_layer`, `objective`, `baselines`,
            `bands`, `animation`, inner_steps, max_outer, lr, seed.
        ctx: reports ("seed steps" / "samples" / "baseline steps", done, total) (cancel points between gradient
            steps), previews each newest `sample`; writes the samples, `sheet.png` (sorted by the first
            constraint's activation), `band_B.png` per band and with `animation` `animation.gif`.

    Returns:
        `InverseSetData`: samples [{path, activations {LAYER:UNIT: value}, band, inside}], diversity (Table 1),
        seed_steps, sampling_steps, outer_iterations, seconds, n, requested, k, all_inside, objective,
        constraints [{layer, unit, z1, z2}], encoder_layer, generator, seed, sheet, band_sheets, baselines and
        with `animation` its path.

    Raises:
        InfeasibleRangeError: a range not reached in `max_outer` iterations. UnknownLayerError / ChannelError: a
            bad constraint. ConvscopeError: a generator that cannot be built (missing weights, a dataset it cannot
            train on). Cancelled: on a cancel.

    References:
        Hada & Carreira-Perpiñán 2020, "Sampling the 'inverse set' of a neuron: an approach to understanding neural
        nets" (seed 002): §3.1-3.5, eq. (6)-(13); §4 baselines, eq. (14)-(16); Table 1 (diversity);
        docs/inverse-set.md.
    """
    from ..core.images import grid, tensor_to_pil, upscale
    from ..techniques.generators import make_generator
    from ..techniques.inverse_set import (
        Encoder,
        Problem,
        band_of,
        check_constraints,
        diversity,
        inverse_set,
        parse_constraint,
        remeasure,
        run_baselines,
    )

    with ctx.subject(spec.model) as subject:
        constraints = check_constraints(subject, [parse_constraint(text) for text in spec.constraints])
        encoder = Encoder(subject, spec.encoder_layer)
        G = make_generator(spec.generator, subject, encoder, progress=ctx.progress)
        problem = Problem(subject, G, encoder, constraints)
        initial = G.initial_codes(spec.k, encoder, torch.Generator().manual_seed(spec.seed))
        options = {"inner_steps": spec.inner_steps, "max_outer": spec.max_outer, "lr": spec.lr}
        found = inverse_set(
            problem, initial, spec.n, spec.objective, progress=ctx.progress, preview=ctx.preview, **options
        )
        tiles = [tensor_to_pil(image) for image in found.images]
        paths = [ctx.path(f"sample_{i:04d}.png") for i in range(len(tiles))]
        for tile, path in zip(tiles, paths):
            tile.save(path)
        values, features = remeasure(problem, torch.cat([subject.load_image(path) for path in paths]))
        baselines = (
            run_baselines(problem, initial, spec.n, spec.objective, options, ctx.progress) if spec.baselines else {}
        )
    first = constraints[0]
    band_index = [band_of(v, first, spec.bands) for v in values[:, 0].tolist()]
    inside = problem.feasible(values).tolist()
    samples = [
        InverseSample(
            path=str(path), activations={c.name: float(v) for c, v in zip(constraints, row)}, band=b, inside=ok
        )
        for path, row, b, ok in zip(paths, values.tolist(), band_index, inside)
    ]
    shown = [upscale(tile, 64) for tile in tiles]
    edges = [first.low + first.width * j / spec.bands for j in range(spec.bands + 1)]
    sheets = []
    for b in range(spec.bands):
        members = [i for i, bi in enumerate(band_index) if bi == b]
        if members:
            path = ctx.path(f"band_{b}.png")
            grid([shown[i] for i in members], [f"{values[i, 0]:.2f}" for i in members]).save(path)
            sheets.append(BandSheet(band=b, range=[edges[b], edges[b + 1]], count=len(members), path=str(path)))
    order = sorted(range(len(tiles)), key=lambda i: float(values[i, 0]))
    sheet = ctx.path("sheet.png")
    grid([shown[i] for i in order], [f"{values[i, 0]:.2f}" for i in order]).save(sheet)
    data = InverseSetData(
        samples=samples,
        diversity=diversity(features),
        seed_steps=found.seed_steps,
        sampling_steps=found.sampling_steps,
        outer_iterations=found.outer_iterations,
        seconds=round(found.seconds, 3),
        n=len(samples),
        requested=spec.n,
        k=spec.k,
        all_inside=all(inside),
        objective=spec.objective,
        constraints=[ConstraintRange(layer=c.layer, unit=c.unit, z1=c.low, z2=c.high) for c in constraints],
        encoder_layer=encoder.layer,
        generator=cast(GeneratorInfo, G.describe()),  # the generator's own description, validated
        seed=spec.seed,
        sheet=str(sheet),
        band_sheets=sheets,
        baselines=cast(Baselines, baselines),  # techniques.inverse_set.run_baselines' shape, validated
    )
    if spec.animation:
        path = ctx.path("animation.gif")
        frames = [tile.convert("RGB") for tile in shown]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=120, loop=0)
        data["animation"] = str(path)
    return ctx.result("inverse-set", data)
