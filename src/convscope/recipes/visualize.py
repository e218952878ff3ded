"""Feature-visualization recipes: `visualize` (channels, classes, a mix, a whole layer; started from noise, from
the best dataset images, or for the filters most relevant to an image) and `dream` (DeepDream)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from PIL import Image
from pydantic import Field, model_validator

from ..core.errors import ChannelError, ConvscopeError
from ..core.images import grid, open_image, pil_to_tensor, tensor_to_pil, to_mode
from ..core.progress import part
from ..core.subject import LOGITS, Subject
from ..techniques import objectives as O
from ..techniques.dream import dream
from ..techniques.render import render
from .base import DatasetRef, ImagePath, ModelRef, Result, RunContext, Spec, recipe


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
    param: Literal["fft", "pixel", "laplacian"] = "fft"
    decorrelate: bool = True
    transforms: Literal["seed001", "standard", "none"] = "seed001"
    pad: int | None = Field(None, ge=0, le=256, description="gray border, pixels at 128 px (default: the preset's)")
    jitter: int | None = Field(None, ge=0, le=256, description="max shift, pixels at 128 px (default: the preset's)")
    rotate: float | None = Field(None, ge=0, le=180, description="max random rotation in degrees (preset's)")
    scale: float | None = Field(None, ge=0, lt=1, description="max relative random zoom (default: the preset's)")
    steps: int = Field(256, ge=1, le=100_000)
    size: int | None = Field(None, ge=8, le=2048, description="image size the network sees (default: the model's)")
    lr: float | None = Field(None, gt=0, le=100, description="learning rate (default 0.05)")
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
        if self.binarize is not None and self.init_from_data is None:
            raise ValueError("binarize (--binarize) only applies with init_from_data (--init-from-data)")
        if self.alphas is not None:
            if not self.mix:
                raise ValueError("alphas (--alphas) only apply with mix (--mix)")
            units = self.channels or self.classes
            if units is not None and len(units) != len(self.alphas):
                raise ValueError(f"alphas: {len(self.alphas)} weights for {len(units)} units; give one per unit")
        return self


@recipe(
    "visualize", 2, VisualizeSpec, "feature visualization: images that maximize channels, a layer, classes or a mix"
)
def run_visualize(spec: VisualizeSpec, ctx: RunContext) -> Result:
    """{"images": [{"units", "path", "activation", "objective"}], "steps", "seconds_per_step", "sheet"}: one PNG
    per objective (batch_size optimized together), `activation` re-measured on the final untransformed image;
    with init_from_data the seed 004 data-initialized variant (start image and activation per entry), with
    relevant each entry's filter relevance. Cancel is checked every step."""
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

        data = add_relevance(data, chosen, details, spec.mix)
    return ctx.result("visualize", data)


def _render_all(spec: VisualizeSpec, ctx: RunContext, subject: Subject, objectives: list[O.Objective]) -> dict:
    entries, tiles, seconds = [], [], []
    batches = [objectives[i : i + spec.batch_size] for i in range(0, len(objectives), spec.batch_size)]
    total = len(batches) * spec.steps
    for b, chunk in enumerate(batches):
        result = render(
            subject,
            O.per_item(chunk),
            steps=spec.steps,
            size=spec.size,
            param=spec.param,
            decorrelate=spec.decorrelate,
            transforms=_transforms(spec),
            lr=spec.lr,
            seed=spec.seed,
            redirect_relu_steps=spec.redirect_relu_steps,
            progress=part(ctx.progress, "steps", b * spec.steps, total),
            preview=ctx.preview,
        )
        seconds.append(result.seconds_per_step)
        for objective, image, activation in zip(chunk, result.images, result.activations):
            tile = tensor_to_pil(image)
            path = ctx.path(f"{_file_name(objective)}.png")
            tile.save(path)
            tiles.append(tile)
            entries.append(
                {
                    "units": list(objective.units),
                    "path": str(path),
                    "activation": activation,
                    "objective": objective.name,
                }
            )
    sheet = ctx.path("sheet.png")
    grid(tiles, [f"{e['units'][0] if len(e['units']) == 1 else 'mix'} {e['activation']:.1f}" for e in entries]).save(
        sheet
    )
    return {
        "images": entries,
        "steps": spec.steps,
        "seconds_per_step": sum(seconds) / len(seconds),
        "sheet": str(sheet),
    }


def _from_data(spec: VisualizeSpec, ctx: RunContext, subject: Subject, objectives: list[O.Objective]) -> dict:
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
    octaves: int = Field(4, ge=1, le=16)
    octave_scale: float = Field(1.4, gt=1, le=4)
    steps: int = Field(10, ge=1, le=10_000, description="steps per octave")
    step_size: float = Field(0.01, gt=0, le=10)
    jitter: int = Field(32, ge=0, le=1024, description="max random shift in pixels")
    decorrelate: bool = True
    max_size: int = Field(512, ge=8, le=4096, description="longest side the image is reduced to before dreaming")
    seed: int = 0

    @model_validator(mode="after")
    def _weights(self) -> "DreamSpec":
        if self.alphas is not None and self.channels is None:
            raise ValueError("alphas (--alphas) need channels (--channels)")
        if self.alphas is not None and len(self.alphas) != len(self.channels):
            raise ValueError(f"alphas: {len(self.alphas)} weights for {len(self.channels)} channels; give one each")
        return self


@recipe("dream", 1, DreamSpec, "DeepDream: amplify what a layer or channels see in an image")
def run_dream(spec: DreamSpec, ctx: RunContext) -> Result:
    """{"path", "layer", "units", "objective", "objective_before", "objective_after", "sizes": [[h, w] per
    octave]}: the dreamed image [0, 1] as a PNG. Raises SizeError when the smallest octave cannot reach the layer.
    Cancel is checked every step."""
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
        {
            "path": str(path),
            "layer": layer,
            "units": list(objective.units),
            "objective": objective.name,
            "objective_before": result.objective_before,
            "objective_after": result.objective_after,
            "sizes": [list(s) for s in result.sizes],
        },
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
) -> dict:
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
            {
                "units": list(objective.units),
                "objective": objective.name,
                "path": str(path),
                "activation": result.activation,
                "start_image": dataset.ids[result.start_index],
                "start_activation": result.start_activation,
            }
        )
    sheet = ctx.path("sheet.png")
    grid(tiles, captions, columns=2).save(sheet)
    return {
        "images": entries,
        "steps": steps,
        "init_from_data": dataset.name,
        "threshold": threshold,
        "max_pixel_step": MAX_PIXEL_STEP,
        "sheet": str(sheet),
        "skipped": [{"path": p, "reason": r} for p, r in dataset.skipped],
    }
