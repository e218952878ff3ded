"""Random differentiable transforms, batched: every image of a batch draws its own values.

pad -> one affine resampling per image (scale, rotation, translation = jitter) back to the original size, so
the network sees exactly the size that was asked for. With all values at zero the transform is the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from .errors import ConvscopeError


@dataclass(frozen=True)
class Transforms:
    """pad: gray border (pixels); jitter: max shift (pixels); rotate: max angle (degrees); scale: max relative
    zoom (0.1 = 0.9x..1.1x). Values are drawn uniformly per image."""

    pad: int = 12
    jitter: int = 8
    rotate: float = 5.0
    scale: float = 0.1
    pad_value: float = 0.5

    def __post_init__(self) -> None:
        if self.pad < 0 or self.jitter < 0 or self.rotate < 0 or not 0 <= self.scale < 1:
            raise ConvscopeError(f"invalid transforms {self}: pad, jitter, rotate >= 0 and 0 <= scale < 1")

    def for_size(self, size: int, reference: int = 128) -> "Transforms":
        """Pad and jitter are pixel counts tuned for 128-px images (seed 001 Table 3.1); smaller images get
        proportionally smaller ones (a jitter of 8 would be a quarter of a 32-px image)."""
        if size >= reference:
            return self
        factor = size / reference
        return replace(self, pad=round(self.pad * factor), jitter=round(self.jitter * factor) if self.jitter else 0)

    @property
    def is_identity(self) -> bool:
        return self.jitter == 0 and self.rotate == 0 and self.scale == 0

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.is_identity:
            return images
        n, _, height, width = images.shape
        padded = F.pad(images, (self.pad,) * 4, value=self.pad_value) if self.pad else images
        in_height, in_width = padded.shape[2:]

        def uniform(bound: float) -> torch.Tensor:
            return (torch.rand(n, generator=generator) * 2 - 1) * bound

        zoom = 1 + uniform(self.scale)
        angle = uniform(math.radians(self.rotate))
        shift = torch.randint(-self.jitter, self.jitter + 1, (n, 2), generator=generator).float()
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        # output pixel offset u (from the centre) samples input offset R(angle) u / zoom + shift;
        # affine_grid works in [-1, 1] coordinates of the output (theta's columns) and of the input (its rows)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cos * width / in_width
        theta[:, 0, 1] = -sin * height / in_width
        theta[:, 1, 0] = sin * width / in_height
        theta[:, 1, 1] = cos * height / in_height
        theta[:, 0, 2] = 2 * shift[:, 0] / in_width
        theta[:, 1, 2] = 2 * shift[:, 1] / in_height
        grid = F.affine_grid(theta.to(images), [n, images.shape[1], height, width], align_corners=False)
        return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


PRESETS = {
    "seed001": Transforms(pad=12, jitter=8, rotate=5.0, scale=0.1),  # seed 001 Table 3.1 (the default)
    "standard": Transforms(pad=12, jitter=12, rotate=10.0, scale=0.1),  # Lucid's standard_transforms, one warp
    "none": Transforms(pad=0, jitter=0, rotate=0.0, scale=0.0),
}


def preset(name: str) -> Transforms:
    if name not in PRESETS:
        raise ConvscopeError(f"unknown transforms preset `{name}`: use {', '.join(PRESETS)}")
    return PRESETS[name]
