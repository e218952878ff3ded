"""Activation maps of a layer and dead channels over a set of images.

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.3 and Algorithm 3 (activation maps scaled to 0..255).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import ConvscopeError
from ..core.images import heat_colormap, scale_to_255
from ..core.subject import Subject


@dataclass
class ChannelMap:
    """One channel's map of one image: `index` (channel), `mean` and `max` of the map (activation units),
    `gray` uint8 [H, W] in 0..255, Algorithm 3 of Barsch & Eilertsen 2018: 255 * Y / max(Y) (negative values 0),
    and `min`, the map's smallest value (activation units; below 0 it is shown as 0)."""

    index: int
    mean: float
    max: float
    gray: np.ndarray  # uint8 [H, W], Algorithm 3: 255 * Y / max(Y)
    min: float = 0.0

    @property
    def colored(self) -> np.ndarray:
        """`gray` on the heat ramp (`images.heat_colormap`): uint8 RGB [H, W, 3]."""
        return heat_colormap(self.gray)


def _as_maps(activation, layer: str) -> torch.Tensor:
    """A layer's output as [N, C, H, W] ([N, C] outputs become 1x1 maps); anything else is refused by name."""
    if not isinstance(activation, torch.Tensor):
        raise ConvscopeError(f"layer `{layer}` returns {type(activation).__name__}, not a tensor")
    if activation.dim() == 2:  # [N, C] (linear layers, logits): one 1x1 "map" per unit
        activation = activation[:, :, None, None]
    if activation.dim() != 4:
        raise ConvscopeError(
            f"layer `{layer}` has output shape {list(activation.shape[1:])}, not channel maps [C, H, W]"
        )
    return activation


def _feature_maps(subject: Subject, image: torch.Tensor, layer: str) -> torch.Tensor:
    return _as_maps(subject.activations(image, layer), layer)


def _ranked(
    subject: Subject, maps: torch.Tensor, layer: str, top: int | None, channels: Sequence[int] | None
) -> list[ChannelMap]:
    maps = maps.float().cpu()
    means = maps.mean(dim=(1, 2))
    if channels is not None:
        order = subject.check_channels(layer, channels)
    else:
        if top is not None and top < 1:
            raise ConvscopeError(f"top must be at least 1, got {top}")
        order = torch.argsort(means, descending=True, stable=True).tolist()[: top or None]
    return [
        ChannelMap(c, float(means[c]), float(maps[c].max()), scale_to_255(maps[c]), float(maps[c].min())) for c in order
    ]


def activation_maps(
    subject: Subject, image: torch.Tensor, layer: str, top: int | None = 16, channels: Sequence[int] | None = None
) -> list[ChannelMap]:
    """Channel maps of one image at `layer`, ranked by mean activation, each scaled to 0..255.

    Args:
        subject: the model under study.
        image: [1, C, H, W] (or [C, H, W]) in [0, 1]; only the first image of a batch is mapped.
        layer: a layer with [C, H, W] output ([C] outputs such as `logits` give 1x1 maps).
        top: the number of channels with the highest mean activation, largest first (all when None).
        channels: specific channels instead, kept in the given order (`top` is then ignored).
    Returns:
        [ChannelMap]: mean / max in the layer's activation units, `gray` uint8 [h, w] = 255 * Y / max(Y).
    Raises:
        UnknownLayerError: an unknown or unreadable layer.
        ChannelError: a channel outside 0..C-1.
        ConvscopeError: a layer without [C, H, W] or [C] output, or top < 1.
    References:
        Barsch & Eilertsen 2018, §3.3, Algorithm 3 (A = Y / max(Y), shown as 255 A).
    """
    return _ranked(subject, _feature_maps(subject, image, layer)[0], layer, top, channels)


def layers_maps(
    subject: Subject,
    image: torch.Tensor,
    layers: Sequence[str],
    top: int | None = 16,
    channels: Sequence[int] | None = None,
) -> dict[str, list[ChannelMap]]:
    """`activation_maps` of several layers from one forward pass (it stops at the deepest of them).

    Args:
        layers: layer names; duplicates are dropped, the order kept.
        top, channels: as `activation_maps`, applied to every layer (channels checked against each layer's range).
    Returns:
        {layer: [ChannelMap]} in the order given.
    Raises:
        ConvscopeError: no layer given; otherwise as `activation_maps`.
    References:
        Barsch & Eilertsen 2018, §3.3, Algorithm 3.
    """
    layers = list(dict.fromkeys(subject.resolve(name) for name in layers))
    if not layers:
        raise ConvscopeError("no layer given")
    with torch.no_grad():
        captured = subject.capture(image, layers)
    return {name: _ranked(subject, _as_maps(captured[name], name)[0], name, top, channels) for name in layers}


def dead_channels(subject: Subject, images: Iterable[torch.Tensor], layer: str) -> tuple[list[int], int]:
    """Channels of `layer` that are never positive at any position of any image.

    Args:
        subject: the model under study.
        images: an iterable of batches [N, C, H, W] in [0, 1].
        layer: a layer with [C, H, W] or [C] output.
    Returns:
        (dead channel indices, number of images seen).
    Raises:
        ConvscopeError: no image, or a layer without channel maps.
        UnknownLayerError: an unknown or unreadable layer.
    """
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
