"""The inverse-set recipe (seed 002): diverse images whose activations lie in given ranges, intersections of
several units' inverse sets, contact sheets per activation band."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator, model_validator

from ..core.units import parse_unit_range
from .base import ModelRef, Result, RunContext, Spec, recipe


class InverseSetSpec(Spec):
    """Sample the inverse set of one unit (or the intersection of several): seed 002, eq. (6) / (14) / (15)."""

    model: ModelRef = ModelRef()
    constraints: list[str] = Field(min_length=1, description="LAYER:UNIT:Z1:Z2 each; several: an intersection")
    n: int = Field(500, ge=1, le=100_000, description="samples to generate, seeds included")
    k: int = Field(10, ge=1, le=1000, description="seeds K, optimized together")
    generator: str = Field("fourier", min_length=1, description="fourier, trained:DATASET or file:PATH")
    encoder_layer: str | None = None
    objective: Literal["diverse", "no-diversity", "code-diversity"] = "diverse"
    baselines: bool = False
    bands: int = Field(4, ge=1, le=100)
    animation: bool = False
    inner_steps: int = Field(100, ge=1, le=100_000)
    max_outer: int = Field(6, ge=1, le=100)
    lr: float = Field(0.05, gt=0, le=100)
    seed: int = 0

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


@recipe(
    "inverse-set",
    1,
    InverseSetSpec,
    "sample the inverse set of units: diverse images whose activations lie in [Z1, Z2] (intersections with several)",
)
def run_inverse_set(spec: InverseSetSpec, ctx: RunContext) -> Result:
    """Inverse-set sampling (Hardt et al. style seed 002: augmented-Lagrangian seeds, eq. (9), then fast sampling,
    eq. (11)): `n` images [C, H, W] in [0, 1] whose activations lie inside every [z1, z2] of `constraints`.

    Every sample is saved as an 8-bit PNG (`sample_0000.png` ...) and re-measured from that file, so the
    reported activations and "inside" flags are those of the saved pictures. Also writes a contact sheet of all
    samples sorted by the first constraint's activation (`sheet.png`), one per activation band of the first
    constraint (`band_B.png`, `bands` equal slices of [z1, z2]) and, with `animation`, `animation.gif`.

    Result data: {"samples": [{"path", "activations": {"LAYER:UNIT": value}, "band", "inside"}], "diversity"
    (Table 1: mean pairwise squared feature distance), "seed_steps", "sampling_steps", "outer_iterations",
    "seconds", "n", "requested", "k", "all_inside", "objective", "constraints", "encoder_layer", "generator",
    "seed", "sheet", "band_sheets", "baselines"} (docs/inverse-set.md). Raises InfeasibleRangeError when a range
    cannot be reached in max_outer iterations; UnknownLayerError / ChannelError for a bad constraint; Cancelled
    (between gradient steps) on a cancel.
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
        {
            "path": str(path),
            "activations": {c.name: float(v) for c, v in zip(constraints, row)},
            "band": b,
            "inside": ok,
        }
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
            sheets.append({"band": b, "range": [edges[b], edges[b + 1]], "count": len(members), "path": str(path)})
    order = sorted(range(len(tiles)), key=lambda i: float(values[i, 0]))
    sheet = ctx.path("sheet.png")
    grid([shown[i] for i in order], [f"{values[i, 0]:.2f}" for i in order]).save(sheet)
    data = {
        "samples": samples,
        "diversity": diversity(features),
        "seed_steps": found.seed_steps,
        "sampling_steps": found.sampling_steps,
        "outer_iterations": found.outer_iterations,
        "seconds": round(found.seconds, 3),
        "n": len(samples),
        "requested": spec.n,
        "k": spec.k,
        "all_inside": all(inside),
        "objective": spec.objective,
        "constraints": [{"layer": c.layer, "unit": c.unit, "z1": c.low, "z2": c.high} for c in constraints],
        "encoder_layer": encoder.layer,
        "generator": G.describe(),
        "seed": spec.seed,
        "sheet": str(sheet),
        "band_sheets": sheets,
        "baselines": baselines,
    }
    if spec.animation:
        path = ctx.path("animation.gif")
        frames = [tile.convert("RGB") for tile in shown]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=120, loop=0)
        data["animation"] = str(path)
    return ctx.result("inverse-set", data)
