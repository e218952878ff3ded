"""Recipes: a technique run end to end with its files written — what the CLI (and later the web API and the
distributed runner) call. Each returns a JSON-ready dict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from . import objectives as O
from .dream import dream
from .errors import ChannelError, ConvscopeError
from .images import grid, open_image, pil_to_tensor, tensor_to_pil, to_mode
from .render import render
from .subject import LOGITS, Subject


def visualization_objectives(subject: Subject, layer: str | None, channels: Sequence[int] | None = None,
                             all_channels: bool = False, classes: Sequence[int] | None = None, mix: bool = False,
                             alphas: Sequence[float] | None = None) -> list[O.Objective]:
    """The objectives a visualize request names: one per channel / class, one mixed, or the layer mean."""
    if classes is not None:
        count = subject.num_channels(LOGITS)
        for k in classes:
            if not 0 <= k < count:
                raise ChannelError(f"class {k} out of range 0..{count - 1}")
        units = [O.class_logit(k) for k in classes]
    else:
        if not layer:
            raise ConvscopeError("visualize needs --layer (or --class)")
        layer = subject.resolve(layer)
        if all_channels:
            channels = range(subject.num_channels(layer))
        if channels is None:
            if mix:
                raise ConvscopeError("--mix needs --channels or --class")
            return [O.layer_mean(layer)]
        units = [O.channel(layer, c) for c in subject.check_channels(layer, channels)]
    if mix:
        return [O.mix(units, alphas)]
    if alphas:
        raise ConvscopeError("--alphas only applies with --mix")
    return units


def run_visualize(subject: Subject, objectives: Sequence[O.Objective], out: Path, *, batch_size: int = 8,
                  progress_bar: bool = True, **render_options) -> dict:
    """Render every objective (batch_size at a time, one image each); write PNGs and a contact sheet."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    entries, tiles, seconds = [], [], []
    steps = render_options.get("steps", 256)
    batches = [list(objectives[i:i + batch_size]) for i in range(0, len(objectives), batch_size)]
    with tqdm(total=len(batches) * steps, desc="visualize", disable=None if progress_bar else True,
              leave=False) as bar:
        for chunk in batches:
            result = render(subject, O.per_item(chunk), progress=lambda *_: bar.update(1), **render_options)
            seconds.append(result.seconds_per_step)
            for objective, image, activation in zip(chunk, result.images, result.activations):
                name = "_".join(objective.units)[:120].replace(":", "-").replace("/", "-") or "image"
                path = out / f"{name}.png"
                tile = tensor_to_pil(image)
                tile.save(path)
                tiles.append(tile)
                entries.append({"units": list(objective.units), "path": str(path), "activation": activation,
                                "objective": objective.name})
    sheet = out / "sheet.png"
    grid(tiles, [f"{e['units'][0] if len(e['units']) == 1 else 'mix'} {e['activation']:.1f}" for e in entries]
         ).save(sheet)
    return {"images": entries, "steps": steps, "seconds_per_step": sum(seconds) / len(seconds),
            "sheet": str(sheet)}


def load_image_native(path: Path, channels: int, max_size: int) -> torch.Tensor:
    """An image file at its own resolution (longest side reduced to max_size), as [1, C, H, W] in [0, 1]."""
    image = to_mode(open_image(path), channels)
    if max(image.size) > max_size:
        scale = max_size / max(image.size)
        image = image.resize((max(8, round(image.width * scale)), max(8, round(image.height * scale))),
                             Image.Resampling.BICUBIC)
    return pil_to_tensor(image)[None]


def run_dream(subject: Subject, image_path: Path, layer: str, out: Path, channels: Sequence[int] | None = None,
              alphas: Sequence[float] | None = None, max_size: int = 512, **dream_options) -> dict:
    """DeepDream of a layer (mean of squares) or of channels (their weighted mean activation) into an image."""
    layer = subject.resolve(layer)
    if channels:
        objective = O.mix([O.channel(layer, c) for c in subject.check_channels(layer, channels)], alphas)
    else:
        if alphas:
            raise ConvscopeError("--alphas needs --channels")
        objective = O.deepdream(layer)
    image = load_image_native(image_path, subject.input.channels, max_size)
    result = dream(subject, image, objective, **dream_options)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(image_path).stem}_dream.png"
    tensor_to_pil(result.image[0]).save(path)
    return {"path": str(path), "layer": layer, "units": list(objective.units), "objective": objective.name,
            "objective_before": result.objective_before, "objective_after": result.objective_after,
            "sizes": [list(s) for s in result.sizes]}
