"""Activation maps of a layer (seed 001 §3.3) and dead channels over a set of images."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ConvscopeError
from .images import heat_colormap, scale_to_255
from .subject import Subject


@dataclass
class ChannelMap:
    index: int
    mean: float
    max: float
    gray: np.ndarray  # uint8 [H, W], Algorithm 3: 255 * Y / max(Y)

    @property
    def colored(self) -> np.ndarray:
        return heat_colormap(self.gray)


def _feature_maps(subject: Subject, image: torch.Tensor, layer: str) -> torch.Tensor:
    activation = subject.activations(image, layer)
    if not isinstance(activation, torch.Tensor):
        raise ConvscopeError(f"layer `{layer}` returns {type(activation).__name__}, not a tensor")
    if activation.dim() == 2:  # [N, C] (linear layers, logits): one 1x1 "map" per unit
        activation = activation[:, :, None, None]
    if activation.dim() != 4:
        raise ConvscopeError(
            f"layer `{layer}` has output shape {list(activation.shape[1:])}, not channel maps [C, H, W]"
        )
    return activation


def activation_maps(
    subject: Subject, image: torch.Tensor, layer: str, top: int | None = 16, channels: Sequence[int] | None = None
) -> list[ChannelMap]:
    """Channel maps of one image at `layer`, ranked by mean activation (descending).

    `channels` picks specific channels (kept in the given order); otherwise the `top` channels are returned
    (all when `top` is None).
    """
    maps = _feature_maps(subject, image, layer)[0].float().cpu()
    means = maps.mean(dim=(1, 2))
    if channels is not None:
        order = subject.check_channels(layer, channels)
    else:
        if top is not None and top < 1:
            raise ConvscopeError(f"top must be at least 1, got {top}")
        order = torch.argsort(means, descending=True, stable=True).tolist()[: top or None]
    return [ChannelMap(c, float(means[c]), float(maps[c].max()), scale_to_255(maps[c])) for c in order]


def dead_channels(subject: Subject, images: Iterable[torch.Tensor], layer: str) -> tuple[list[int], int]:
    """Channels of `layer` that are never positive at any position of any image; returns (dead, images seen)."""
    peak: torch.Tensor | None = None
    seen = 0
    for batch in images:
        maps = _feature_maps(subject, batch, layer)
        batch_peak = maps.amax(dim=(0, 2, 3))
        peak = batch_peak if peak is None else torch.maximum(peak, batch_peak)
        seen += maps.shape[0]
    if peak is None:
        raise ConvscopeError("dead-channel search needs at least one image")
    return torch.nonzero(peak <= 0).flatten().tolist(), seen
