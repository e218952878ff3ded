"""Feature-visualization recipes: `visualize` (channels, classes, a mix, a whole layer; started from noise, from
the best dataset images, or for the filters most relevant to an image) and `dream` (DeepDream).

Over 400 lines on purpose: two recipes with their specs, the data models of their results and runs side by side;
`visualize`'s three starts (noise, data, relevance) share one spec, one data model and one entry point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal, cast

import torch
from PIL import Image
from pydantic import Field, model_validator
from typing_extensions import NotRequired, TypedDict

from ..core.errors import ChannelError, ConvscopeError
from ..core.images import grid, open_image, pil_to_tensor, tensor_to_pil, to_mode
from ..core.progress import part
from ..core.subject import LOGITS, Subject
from ..techniques import objectives as O
from ..techniques.dream import dream
from ..techniques.render import render
from .base import DatasetRef, ImagePath, ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, SkippedFile, data_model
from .trust import Trust, assess, default_dataset, judge_refs


def visualization_objectives(
    subject: Subject,
    layer: str | None,
    channels: Sequence[int] | None = None,
    all_channels: bool = False,
    classes: Sequence[int] | None = None,
    mix: bool = False,
    alphas: Sequence[float] | None = None,
) -> list[O.Objective]:
    """The objectives a visualize request names: one per channel / class, one mixed, or the layer mean.
    Raises ChannelError (field channels / classes) and ConvscopeError for inconsistent fields."""
    if classes is not None:
        count = subject.num_channels(LOGITS)
        for i, k in enumerate(classes):
            if not 0 <= k < count:
                raise ChannelError(f"classes[{i}]={k} out of range 0..{count - 1}")
        units = [O.class_logit(k) for k in classes]
    else:
        if not layer:
            raise ConvscopeError("visualize needs a layer (--layer) or classes (--class)")
        layer = subject.resolve(layer)
        if all_channels:
            channels = range(subject.num_channels(layer))
        if channels is None:
            if mix:
                raise ConvscopeError("mix (--mix) needs channels or classes")
            return [O.layer_mean(layer)]
        units = [O.channel(layer, c) for c in subject.check_channels(layer, channels)]
    if mix:
        return [O.mix(units, alphas)]
    if alphas:
        raise ConvscopeError("alphas (--alphas) only apply with mix (--mix)")
    return units


class VisualizeSpec(Spec):
    """Feature visualization (seed 001 §3.2; Olah et al. 2017): images that maximize units of a model."""

    model: ModelRef = ModelRef()
    layer: str | None = Field(None, description="layer name; not needed with classes")
    channels: list[int] | None = Field(None, min_length=1, description="one image per channel")
    all: bool = Field(False, description="every channel of the layer, one image each")
    classes: list[int] | None = Field(
        None, min_length=1, description="class indices: maximize their pre-softmax logits"
    )
    mix: bool = Field(False, description="one image maximizing the weighted sum of the units")
    alphas: list[float] | None = Field(None, min_length=1, description="weights of the mixed units (default all 1)")
    param: Literal["maco", "fft", "pixel", "laplacian"] | None = Field(
        None,
        description="image parameterization: maco = a photograph's magnitude spectrum, only the phase optimized (Fel "
        "et al. 2023); fft = a 1/f-scaled Fourier space; pixel; laplacian pyramid (default: maco for colour models, "
        "fft for the others: a photograph's spectrum is no prior for them)",
    )
    spectrum: DatasetRef | None = Field(
        None,
        description="maco: the dataset whose mean magnitude spectrum the images keep (default: the photographs "
        "that ship with scikit-image)",
    )
    canvas: float = Field(
        1.0, ge=1, le=4, description="the optimized image is this many times the size; the network sees random crops"
    )
    regularizers: list[str] = Field(
        [],
        max_length=8,
        description="penalties and projections, e.g. `tv:0.1`, `l2:0.05`, `alpha:0.01:6`, `l1:0.01`, `blur:4:0.5`, "
        "`clip:10`, `clip-contribution:10` (Yosinski et al. 2015; Mahendran & Vedaldi 2016)",
    )
    accentuate: ImagePath | None = Field(
        None,
        description="feature accentuation (Hamblin et al. 2024): start from this image and keep it close to itself "
        "at keep_layer",
    )
    keep_layer: str | None = Field(None, description="accentuate: the layer whose activations stay close")
    keep_weight: float = Field(1.0, ge=0, le=1000, description="accentuate: weight of the closeness penalty")
    trust: bool = Field(True, description="measure how far to trust each picture (activation, statistics, path)")
    trust_dataset: DatasetRef | None = Field(
        None, description="the natural images the pictures are measured against (default: photos, or digits)"
    )
    judges: list[ModelRef] | None = Field(
        None,
        max_length=4,
        description="models asked what a class picture shows (default: the other built-in models with its labels)",
    )
    decorrelate: bool = True
    transforms: Literal["seed001", "standard", "none"] = "seed001"
    pad: int | None = Field(None, ge=0, le=256, description="gray border, pixels at 128 px (default: the preset's)")
    jitter: int | None = Field(None, ge=0, le=256, description="max shift, pixels at 128 px (default: the preset's)")
    rotate: float | None = Field(None, ge=0, le=180, description="max random rotation, degrees (default: the preset's)")
    scale: float | None = Field(None, ge=0, lt=1, description="max relative random zoom (default: the preset's)")
    steps: int = Field(256, ge=1, le=100_000)
    size: int | None = Field(None, ge=8, le=2048, description="image size the network sees (default: the model's)")
    lr: float | None = Field(
        None, gt=0, le=100, description="learning rate (default 0.2 for maco, 0.05 for the others)"
    )
    batch_size: int = Field(8, ge=1, le=256, description="images optimized together")
    redirect_relu_steps: int = Field(16, ge=0, le=100_000)
    seed: int = 0
    init_from_data: DatasetRef | None = Field(
        None, description="seed 004 §4: start from the dataset image that most excites each unit"
    )
    binarize: float | None = Field(None, description="with init_from_data: pixels above T become 1, others 0")
    relevant: ImagePath | None = Field(
        None,
        description="visualize the top filters of layer most relevant (Deep Taylor) for this image's predicted class",
    )
    top: int = Field(4, ge=1, le=256, description="with relevant: how many filters")

    @model_validator(mode="after")
    def _consistent(self) -> "VisualizeSpec":
        if sum(x is not None and x is not False for x in (self.channels, self.classes, self.all or None)) > 1:
            raise ValueError("choose one of channels (--channels), all (--all) and classes (--class)")
        if self.relevant is not None and (self.channels or self.all or self.classes or self.alphas or not self.layer):
            raise ValueError(
                "relevant (--relevant) takes layer and top (and mix), not channels / all / classes / alphas"
            )
        if self.init_from_data is not None and self.size is not None:
            raise ValueError(
                "size (--size) does not apply with init_from_data: the dataset images are at the model's input size"
            )
        if self.accentuate is not None and (self.init_from_data is not None or self.relevant is not None):
            raise ValueError("accentuate (--accentuate) does not combine with init_from_data or relevant")
        if self.keep_layer is not None and self.accentuate is None:
            raise ValueError("keep_layer (--keep-layer) only applies with accentuate (--accentuate)")
        seen = [(self.model.spec, self.model.weights, self.model.output)]
        for i, judge in enumerate(self.judges or []):
            key = (judge.spec, judge.weights, judge.output)
            if key in seen:
                what = "the model itself" if key == seen[0] else "named twice"
                raise ValueError(f"judges[{i}]: `{judge.spec}` is {what}; a judge is another model, named once")
            seen.append(key)
        if self.spectrum is not None and self.param not in (None, "maco"):
            raise ValueError("spectrum (--spectrum) only applies with param maco")
        for i, text in enumerate(self.regularizers):
            from ..techniques.regularizers import parse_regularizer

            try:
                parse_regularizer(text)
            except ConvscopeError as exc:
                raise ValueError(f"regularizers[{i}]: {exc}") from None
        if self.binarize is not None and self.init_from_data is None:
            raise ValueError("binarize (--binarize) only applies with init_from_data (--init-from-data)")
        if self.alphas is not None:
            if not self.mix:
                raise ValueError("alphas (--alphas) only apply with mix (--mix)")
            units = self.channels or self.classes
            if units is not None and len(units) != len(self.alphas):
                raise ValueError(f"alphas: {len(self.alphas)} weights for {len(units)} units; give one per unit")
        return self


#: the most points of a visualization's curve (the objective per step) kept in its result
CURVE_POINTS = 1000


def _curve(history: list[list[float]], item: int) -> tuple[list[int], list[float | None]]:
    """Item `item`'s score at every step of `history` [steps][N], or at CURVE_POINTS steps spread evenly (always
    the first and the last): (1-based steps, scores; null where not finite)."""
    steps = len(history)
    if steps <= CURVE_POINTS:
        chosen = list(range(steps))
    else:
        chosen = sorted({round(i * (steps - 1) / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS)})
    scores = [history[i][item] for i in chosen]
    return [i + 1 for i in chosen], [v if math.isfinite(v) else None for v in scores]


@data_model
class VisualizedImage(TypedDict):
    """One optimized image: the units it maximizes and how strongly."""

    units: Annotated[
        list[str], Field(description="the units maximized, `LAYER:CHANNEL` (or the layer: its mean); several: a mix")
    ]
    path: Annotated[FilePath, Field(description="the image (PNG, [0, 1] as 8-bit)")]
    activation: Annotated[
        Measured, Field(description="the objective re-measured on the final image, untransformed (activation units)")
    ]
    objective: Annotated[str, Field(description="the objective's name, e.g. `features.3:0` or `class:1 + 2*(class:2)`")]
    curve: NotRequired[
        Annotated[
            list[Measured],
            Field(description="from noise: the objective at the steps of `curve_steps`, under the random transforms"),
        ]
    ]
    curve_steps: NotRequired[
        Annotated[
            list[int],
            Field(description=f"from noise: the steps of `curve` (1-based; every step, or {CURVE_POINTS} spread out)"),
        ]
    ]
    start_image: NotRequired[
        Annotated[str, Field(description="init_from_data: the dataset image it started from (its id)")]
    ]
    start_activation: NotRequired[
        Annotated[Measured, Field(description="init_from_data: the objective on the start image")]
    ]
    filter: NotRequired[
        Annotated[int | None, Field(description="relevant: the filter visualized (null: the relevance-weighted mix)")]
    ]
    relevance: NotRequired[
        Annotated[Measured, Field(description="relevant: the filter's relevance R_c (units of the class's logit)")]
    ]
    relevance_share: NotRequired[
        Annotated[float | None, Field(description="relevant: R_c / the layer's total relevance (null: total 0)")]
    ]
    mix_weight: NotRequired[
        Annotated[float, Field(description="relevant: R_c / the chosen filters' relevance (1 for the mix)")]
    ]
    transparency: NotRequired[
        Annotated[
            FilePath,
            Field(
                description="where the objective's gradient fell over all steps (PNG, white = most; Fel et al. 2023)"
            ),
        ]
    ]
    start: NotRequired[Annotated[FilePath, Field(description="accentuate: the image it started from (PNG)")]]
    trust: NotRequired[Trust]


@data_model
class RelevantFilters(TypedDict):
    """With `relevant`: the explained prediction whose most relevant filters were visualized."""

    image: Annotated[str, Field(description="the image explained, as the spec named it")]
    layer: Annotated[str, Field(description="the layer, as the model names it")]
    composite: Annotated[str, Field(description="the LRP composite (dtd: Deep Taylor)")]
    target: Annotated[int, Field(ge=0, description="the explained class (the predicted one)")]
    label: Annotated[str, Field(description="the explained class's name")]
    output: Annotated[Measured, Field(description="the target's logit")]
    layer_relevance: Annotated[Measured, Field(description="sum over the layer's filters of R_c")]


@data_model
class VisualizeData(TypedDict):
    """The `visualize` recipe's data. From noise: `seconds_per_step`; with `init_from_data`: `init_from_data`,
    `threshold`, `max_pixel_step` and `skipped` instead; with `relevant`: `relevant`."""

    images: Annotated[list[VisualizedImage], Field(description="one per objective, in the spec's order")]
    steps: Annotated[int, Field(ge=1, description="optimization steps of each image")]
    seconds_per_step: NotRequired[Annotated[float, Field(description="wall time of one step of one batch (s)")]]
    param: NotRequired[Annotated[str, Field(description="from noise: the parameterization used")]]
    regularizers: NotRequired[Annotated[list[str], Field(description="from noise: the regularizers applied")]]
    keep_layer: NotRequired[Annotated[str, Field(description="accentuate: the layer kept close to the image's")]]
    init_from_data: NotRequired[Annotated[str, Field(description="the dataset the start images came from")]]
    threshold: NotRequired[
        Annotated[float | None, Field(description="binarize: pixels above it became 1, others 0 (null: none)")]
    ]
    max_pixel_step: NotRequired[
        Annotated[float, Field(description="the largest change of a pixel per step (of the [0, 1] range)")]
    ]
    sheet: Annotated[FilePath, Field(description="a contact sheet of the images, captioned (PNG)")]
    skipped: NotRequired[
        Annotated[list[SkippedFile], Field(description="init_from_data: the dataset files that could not be read")]
    ]
    relevant: NotRequired[RelevantFilters]


@recipe(
    "visualize",
    3,
    VisualizeSpec,
    VisualizeData,
    "feature visualization: images that maximize channels, a layer, classes or a mix",
)
def run_visualize(spec: VisualizeSpec, ctx: RunContext) -> Result[VisualizeData]:
    """Feature visualization: images x* = argmax_x a(T(x)) that maximize units of the model.

    From noise (the default): x = G(p), p a Fourier or pixel parameterization (decorrelated colors), optimized by
    Adam through random transformations T (padding, jitter, rotation, scale) for `steps` steps; the objectives
    of one batch are optimized together as separate images. `activation` is re-measured on the final,
    untransformed image. With `init_from_data`: from the dataset image that most excites each unit, gradient
    steps bounded to 1% of the pixel range (seed 004 §4). With `relevant`: the `top` filters of `layer` most
    relevant (Deep Taylor) for the image's predicted class, and with `mix` their relevance-weighted sum.

    Args:
        spec: the units (a layer's channels, all of them, classes' logits, the layer mean, or a weighted `mix`),
            the parameterization, transforms, steps (1..100,000), size (8..2048 px), learning rate, batch size and
            seed; or `init_from_data` (a dataset) or `relevant` (an image).
        ctx: reports ("steps", done, total) every step (a cancel point) and previews of each image 8 times;
            writes one PNG per objective and `sheet.png`.

    Returns:
        `VisualizeData`: `images` [{units, path, activation, objective, from noise `curve` / `curve_steps` (the
        objective per step, under transforms), ...}], `steps`, `sheet` and per mode
        `seconds_per_step`, or `init_from_data` / `threshold` / `max_pixel_step` / `skipped`, or `relevant`.
        Images are [C, H, W] in [0, 1] at the model's input size (or `size`), saved as 8-bit PNGs.

    Raises:
        ConvscopeError: inconsistent fields (no layer nor classes, mix without units, alphas without mix);
            UnknownLayerError / ChannelError for a bad layer, channel or class; ImageError for an unreadable
            `relevant` image; SizeError for a size too small for the layer. Cancelled: on a cancel.

    References:
        Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill); Barsch & Eilertsen 2018 (seed 001),
        §3.2, eq. 3.2-3.3 (channel objective, mix of seed 001 eq. 3.7), Table 3.1 (transforms), §4.4 (relevance
        guided); "Visualisation of maximising images for deep neural networks" (seed 004), §4.
    """
    with ctx.subject(spec.model) as subject:
        chosen, details = None, {}
        if spec.relevant is not None:
            from ..techniques.attribution.relevant import relevant_objectives

            objectives, chosen = relevant_objectives(subject, spec.relevant, spec.layer, spec.top, spec.mix, details)
        else:
            objectives = visualization_objectives(
                subject, spec.layer, spec.channels, spec.all, spec.classes, spec.mix, spec.alphas
            )
        if spec.init_from_data is not None:
            data = _from_data(spec, ctx, subject, objectives)
        else:
            data = _render_all(spec, ctx, subject, objectives)
    if chosen is not None:
        from ..techniques.attribution.relevant import add_relevance

        data = cast(VisualizeData, add_relevance(cast(dict, data), chosen, details, spec.mix))  # + relevance keys
    return ctx.result("visualize", data)


def _render_all(spec: VisualizeSpec, ctx: RunContext, subject: Subject, objectives: list[O.Objective]) -> VisualizeData:
    from ..techniques.regularizers import parse_regularizer

    entries, tiles, seconds, finals = [], [], [], []
    regularizers = [parse_regularizer(text) for text in spec.regularizers]
    param = spec.param or default_param(subject)
    if spec.spectrum is not None and param != "maco":
        raise ConvscopeError(f"spectrum only applies with param maco, and this model's default is {param}")
    magnitude = _magnitude(spec, subject) if param == "maco" else None
    start, keep_layer = _accentuation_start(spec, subject)
    batches = [objectives[i : i + spec.batch_size] for i in range(0, len(objectives), spec.batch_size)]
    total = len(batches) * spec.steps
    for b, chunk in enumerate(batches):
        options = dict(
            steps=spec.steps,
            param=param,
            transforms=_transforms(spec),
            lr=spec.lr,
            seed=spec.seed,
            regularizers=regularizers,
            progress=part(ctx.progress, "steps", b * spec.steps, total),
            preview=ctx.preview,
        )
        if start is not None:
            from ..techniques.accentuation import accentuate

            result = accentuate(
                subject,
                O.per_item(chunk),
                start.expand(len(chunk), -1, -1, -1),
                keep_layer,
                spec.keep_weight,
                **options,
            )
        else:
            result = render(
                subject,
                O.per_item(chunk),
                size=spec.size,
                decorrelate=spec.decorrelate,
                redirect_relu_steps=spec.redirect_relu_steps,
                magnitude=magnitude,
                canvas=spec.canvas,
                **options,
            )
        seconds.append(result.seconds_per_step)
        finals.append(result.images)
        for item, (objective, image, activation) in enumerate(zip(chunk, result.images, result.activations)):
            tile = tensor_to_pil(image)
            name = _file_name(objective)
            path = ctx.path(f"{name}.png")
            tile.save(path)
            tiles.append(tile)
            curve_steps, curve = _curve(result.history, item)
            entry = VisualizedImage(
                units=list(objective.units),
                path=str(path),
                activation=activation,
                objective=objective.name,
                curve=curve,
                curve_steps=curve_steps,
            )
            if result.transparency is not None:
                alpha = ctx.path(f"{name}.transparency.png")
                tensor_to_pil(result.transparency[item]).save(alpha)
                entry["transparency"] = str(alpha)
            if start is not None:
                begin = ctx.path(f"{name}.start.png")
                tensor_to_pil(start[0]).save(begin)
                entry["start"] = str(begin)
            entries.append(entry)
    if spec.trust:
        ctx.progress("trust", 0, 1)
        dataset = spec.trust_dataset or default_dataset(subject)
        judges = spec.judges if spec.judges is not None else judge_refs(spec.model)
        activations = [e["activation"] for e in entries]
        for entry, trust in zip(
            entries, assess(ctx, subject, objectives, torch.cat(finals), activations, dataset, judges)
        ):
            entry["trust"] = trust
        ctx.progress("trust", 1, 1)
    sheet = ctx.path("sheet.png")
    grid(tiles, [f"{e['units'][0] if len(e['units']) == 1 else 'mix'} {e['activation']:.1f}" for e in entries]).save(
        sheet
    )
    data = VisualizeData(
        images=entries,
        steps=spec.steps,
        seconds_per_step=sum(seconds) / len(seconds),
        sheet=str(sheet),
        param=param,
        regularizers=list(spec.regularizers),
    )
    if keep_layer is not None:
        data["keep_layer"] = keep_layer
    return data


def default_param(subject: Subject) -> str:
    """The parameterization `visualize` uses when the spec names none: `maco` for colour (3-channel) models, whose
    inputs are photographs (it won the quality benchmark on the default model: docs/feature-visualization.md), `fft`
    for the others (a photograph's magnitude spectrum is no prior for digits or other one-channel inputs: on the
    `digits` model MACO stays below a grey image's activation after 128 steps, fft passes it within 30)."""
    return "maco" if subject.input.channels == 3 else "fft"


def _magnitude(spec: VisualizeSpec, subject: Subject) -> torch.Tensor | None:
    """maco: the mean magnitude spectrum of `spec.spectrum`'s images at the size rendered (None: the built-in one
    of scikit-image's photographs, which render estimates itself)."""
    if spec.spectrum is None:
        return None
    from ..core.data import open_dataset
    from ..techniques.spectrum import magnitude_spectrum

    try:
        data = open_dataset(spec.spectrum, subject.input)
    except ConvscopeError as exc:
        raise ConvscopeError(f"spectrum: {exc}") from None
    if len(data) == 0:
        raise ConvscopeError(f"spectrum: the dataset `{spec.spectrum}` holds no readable image")
    images = torch.cat([batch for batch, _ in data.batches(64, range(min(len(data), 512)))])
    height, width = (spec.size, spec.size) if spec.size else subject.input.size
    return magnitude_spectrum(images, (round(height * spec.canvas), round(width * spec.canvas)))


def _accentuation_start(spec: VisualizeSpec, subject: Subject) -> tuple[torch.Tensor | None, str | None]:
    """accentuate: the start image [1, C, H, W] in [0, 1] at the model's input size and the layer kept close
    (default: the layer halfway along the image -> unit path); (None, None) without accentuate."""
    if spec.accentuate is None:
        return None, None
    from ..core.images import fit
    from ..techniques.trust import path_layers

    image = to_mode(open_image(spec.accentuate), subject.input.channels)
    size = (spec.size, spec.size) if spec.size else tuple(subject.input.size)
    start = pil_to_tensor(fit(image, size, "squash"))[None]
    if spec.keep_layer is not None:
        return start, subject.resolve(spec.keep_layer)
    below = path_layers(subject, spec.layer and subject.resolve(spec.layer) or LOGITS)
    return start, below[len(below) // 2] if below else subject.resolve(spec.layer or LOGITS)


def _from_data(spec: VisualizeSpec, ctx: RunContext, subject: Subject, objectives: list[O.Objective]) -> VisualizeData:
    from ..core.data import open_dataset

    dataset = open_dataset(spec.init_from_data, subject.input)
    result = _data_init_images(
        ctx,
        subject,
        objectives,
        dataset,
        steps=spec.steps,
        threshold=spec.binarize,
        batch_size=64,
    )
    return result


def _transforms(spec: "VisualizeSpec"):
    """The spec's preset with the padding, jitter, rotation and scale it sets itself (seed 001 Table 3.1)."""
    from dataclasses import replace

    from ..techniques.transforms import preset

    chosen = {k: getattr(spec, k) for k in ("pad", "jitter", "rotate", "scale") if getattr(spec, k) is not None}
    return replace(preset(spec.transforms), **chosen) if chosen else spec.transforms


def _file_name(objective: O.Objective) -> str:
    return "_".join(objective.units)[:120].replace(":", "-").replace("/", "-") or "image"


def load_image_native(path: str, channels: int, max_size: int) -> torch.Tensor:
    """An image file at its own resolution (longest side reduced to max_size), as [1, C, H, W] in [0, 1]."""
    image = to_mode(open_image(path), channels)
    if max(image.size) > max_size:
        scale = max_size / max(image.size)
        image = image.resize(
            (max(8, round(image.width * scale)), max(8, round(image.height * scale))), Image.Resampling.BICUBIC
        )
    return pil_to_tensor(image)[None]


class DreamSpec(Spec):
    """DeepDream (seed 001 §3.2.1; Mordvintsev et al. 2015): amplify what a layer or channels see in an image."""

    model: ModelRef = ModelRef()
    image: ImagePath
    layer: str = Field(min_length=1)
    channels: list[int] | None = Field(
        None, min_length=1, description="channels (default: the whole layer, mean of squares)"
    )
    alphas: list[float] | None = Field(None, min_length=1, description="weights of the channels (default all 1)")
    octaves: int = Field(4, ge=1, le=16, description="number of scales, smallest first")
    octave_scale: float = Field(1.4, gt=1, le=4, description="each octave this many times the size of the previous")
    steps: int = Field(10, ge=1, le=10_000, description="steps per octave")
    step_size: float = Field(0.01, gt=0, le=10, description="each step adds step_size x grad / std(grad) (pixel units)")
    jitter: int = Field(32, ge=0, le=1024, description="max random shift in pixels")
    decorrelate: bool = Field(True, description="step in decorrelated colors (3-channel images)")
    max_size: int = Field(512, ge=8, le=4096, description="longest side the image is reduced to before dreaming")
    seed: int = Field(0, description="the jitter's random stream")

    @model_validator(mode="after")
    def _weights(self) -> "DreamSpec":
        if self.alphas is not None and self.channels is None:
            raise ValueError("alphas (--alphas) need channels (--channels)")
        if self.alphas is not None and len(self.alphas) != len(self.channels):
            raise ValueError(f"alphas: {len(self.alphas)} weights for {len(self.channels)} channels; give one each")
        return self


@data_model
class DreamData(TypedDict):
    """The `dream` recipe's data."""

    path: Annotated[FilePath, Field(description="the dreamed image (PNG, at the input's size up to max_size)")]
    layer: Annotated[str, Field(description="the layer, as the model names it")]
    units: Annotated[list[str], Field(description="the channels amplified, `LAYER:CHANNEL` (or the layer)")]
    objective: Annotated[str, Field(description="the objective's name (`LAYER:dream`: the mean of squares)")]
    objective_before: Annotated[Measured, Field(description="the objective on the input image")]
    objective_after: Annotated[Measured, Field(description="the objective on the dreamed image")]
    sizes: Annotated[
        list[Annotated[list[int], Field(min_length=2, max_length=2)]],
        Field(description="[height, width] in pixels of each octave, smallest first"),
    ]


@recipe("dream", 1, DreamSpec, DreamData, "DeepDream: amplify what a layer or channels see in an image")
def run_dream(spec: DreamSpec, ctx: RunContext) -> Result[DreamData]:
    """DeepDream: gradient ascent on the image itself, x <- x + eta * g / std(g), g = d objective / dx, over
    `octaves` scales (each `octave_scale` times larger), with random circular jitter, in the decorrelated color
    space so the photo keeps its colors. The objective is the layer's mean of squares, or the (weighted) mean
    activation of `channels`.

    Args:
        spec: the image (read at its own resolution, longest side reduced to `max_size` px), the layer or its
            channels (with `alphas` weights), octaves (1..16), octave_scale (> 1), steps per octave, step_size eta,
            jitter (px), seed.
        ctx: reports ("steps", done, octaves x steps) every step (a cancel point) and previews `dream` 8 times;
            writes `<image stem>_dream.png`.

    Returns:
        `DreamData`: path, layer, units, objective, objective_before / objective_after (the objective on the input
        and on the result, in the layer's activation units) and sizes [[h, w]] per octave. The image is in [0, 1].

    Raises:
        SizeError: the smallest octave is too small to reach the layer. UnknownLayerError / ChannelError: a bad
            layer or channel. ImageError: an unreadable image. Cancelled: on a cancel.

    References:
        Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going deeper into neural networks" (Google Research blog);
        Barsch & Eilertsen 2018 (seed 001), §3.2.1 (eq. 3.4-3.5) and §3.2.5 (decorrelated colors).
    """
    with ctx.subject(spec.model) as subject:
        layer = subject.resolve(spec.layer)
        if spec.channels:
            objective = O.mix([O.channel(layer, c) for c in subject.check_channels(layer, spec.channels)], spec.alphas)
        else:
            if spec.alphas:
                raise ConvscopeError("alphas (--alphas) need channels (--channels)")
            objective = O.deepdream(layer)
        image = load_image_native(spec.image, subject.input.channels, spec.max_size)
        result = dream(
            subject,
            image,
            objective,
            octaves=spec.octaves,
            octave_scale=spec.octave_scale,
            steps=spec.steps,
            step_size=spec.step_size,
            jitter=spec.jitter,
            decorrelate=spec.decorrelate,
            seed=spec.seed,
            progress=ctx.progress,
            preview=ctx.preview,
        )
    from pathlib import Path

    path = ctx.path(f"{Path(spec.image).stem}_dream.png")
    tensor_to_pil(result.image[0]).save(path)
    return ctx.result(
        "dream",
        DreamData(
            path=str(path),
            layer=layer,
            units=list(objective.units),
            objective=objective.name,
            objective_before=result.objective_before,
            objective_after=result.objective_after,
            sizes=[list(s) for s in result.sizes],
        ),
    )


def _data_init_images(
    ctx: RunContext,
    subject: Subject,
    objectives: Sequence[O.Objective],
    dataset,
    *,
    steps: int = 32,
    threshold: float | None = None,
    batch_size: int = 32,
) -> VisualizeData:
    """Seed 004 §4 data-initialized maximization of each objective; PNGs (start and result side by side in the
    sheet) through `ctx`; the visualize JSON."""
    from ..techniques.datainit import MAX_PIXEL_STEP, data_init

    results = data_init(
        subject, dataset, objectives, steps=steps, threshold=threshold, batch_size=batch_size, progress=ctx.progress
    )
    entries, tiles, captions = [], [], []
    for objective, result in zip(objectives, results):
        name = "_".join(objective.units)[:120].replace(":", "-").replace("/", "-") or "image"
        path = ctx.path(f"{name}_data.png")
        tensor_to_pil(result.image).save(path)
        tiles += [tensor_to_pil(dataset.load(result.start_index)), tensor_to_pil(result.image)]
        captions += [f"start {result.start_activation:.1f}", f"after {result.activation:.1f}"]
        entries.append(
            VisualizedImage(
                units=list(objective.units),
                objective=objective.name,
                path=str(path),
                activation=result.activation,
                start_image=dataset.ids[result.start_index],
                start_activation=result.start_activation,
            )
        )
    sheet = ctx.path("sheet.png")
    grid(tiles, captions, columns=2).save(sheet)
    return VisualizeData(
        images=entries,
        steps=steps,
        init_from_data=dataset.name,
        threshold=threshold,
        max_pixel_step=MAX_PIXEL_STEP,
        sheet=str(sheet),
        skipped=[SkippedFile(path=p, reason=r) for p, r in dataset.skipped],
    )
