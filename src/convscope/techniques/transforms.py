"""Random differentiable transforms, batched: every image of a batch draws its own values (from its own random
generator when given one per image, as render does: then an image's transforms never depend on its batch mates).

The image (H x W) is placed on a gray canvas `pad` pixels larger on every side (Barsch & Eilertsen §3.2.2: the
margin keeps edge artifacts out); each image then gets its own random scale, rotation and shift (jitter), and the
whole canvas is resampled back to H x W in one bilinear warp: the network sees exactly the size asked for, with
the gray frame always in view, as Lucid's padding gives it. The canvas is never built: sampling (x - gray)
with zero padding and adding gray back is the same thing. With every value at zero the transform is the
identity.

References:
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill), "Transformation robustness".
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2.2 (jitter, scaling, rotation, padding), Table 3.1 (defaults).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..core.errors import ConvscopeError


@dataclass(frozen=True)
class Transforms:
    """Random pad / jitter / rotate / scale, drawn uniformly per image; call it on [N, C, H, W] images.

    Args:
        pad: gray border, pixels (>= 0).
        jitter: max shift, pixels (>= 0).
        rotate: max angle, degrees (>= 0).
        scale: max relative zoom in [0, 1) (0.1 = 0.9x..1.1x).
        pad_value: the border's gray level in [0, 1].
    Raises:
        ConvscopeError: a value out of range.
    References:
        Barsch & Eilertsen 2018, §3.2.2 and Table 3.1 (the `seed001` preset); Olah et al. 2017 (the `standard`
        preset follows Lucid's standard_transforms).
    """

    pad: int = 12
    jitter: int = 8
    rotate: float = 5.0
    scale: float = 0.1
    pad_value: float = 0.5

    def __post_init__(self) -> None:
        if self.pad < 0 or self.jitter < 0 or self.rotate < 0 or not 0 <= self.scale < 1:
            raise ConvscopeError(f"invalid transforms {self}: pad, jitter, rotate >= 0 and 0 <= scale < 1")

    def for_size(self, size: int, reference: int = 128) -> "Transforms":
        """These transforms for images of side `size` pixels.

        Pad and jitter are pixel counts tuned for 128-px images (Barsch & Eilertsen Table 3.1); images smaller than
        `reference` get proportionally smaller ones (a jitter of 8 would be a quarter of a 32-px image).
        """
        if size >= reference:
            return self
        factor = size / reference
        return replace(self, pad=round(self.pad * factor), jitter=round(self.jitter * factor) if self.jitter else 0)

    @property
    def is_identity(self) -> bool:
        """True when every value (pad, jitter, rotate, scale) is zero: calling it returns the images
        unchanged and draws nothing."""
        return self.pad == 0 and self.jitter == 0 and self.rotate == 0 and self.scale == 0

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | Sequence[torch.Generator] | None = None
    ) -> torch.Tensor:
        """Transform `images` [N, C, H, W] (values in [0, 1], any device; gradients flow) into [N, C, H, W].

        Each image draws four uniform numbers in [0, 1) per call (zoom, angle, shift x, shift y) from
        `generator`: one torch.Generator for the whole batch (row i of an [N, 4] draw), a sequence of N
        generators, one per image (image i's values then depend only on generator i: not on the batch size or
        its position; render passes one per item), or None for torch's global generator. The identity transform
        draws nothing. Raises ConvscopeError when the number of generators is not N.
        """
        if self.is_identity:
            return images
        n, _, height, width = images.shape
        canvas_height, canvas_width = height + 2 * self.pad, width + 2 * self.pad
        draws = _uniform_draws(n, generator)  # [N, 4] in [0, 1)
        zoom = 1 + (draws[:, 0] * 2 - 1) * self.scale
        angle = (draws[:, 1] * 2 - 1) * math.radians(self.rotate)
        shift = (draws[:, 2:] * (2 * self.jitter + 1)).floor().clamp_max(2 * self.jitter) - self.jitter  # integers
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        # output pixel at canvas offset u (from the centre) samples image offset R(angle) u / zoom + shift;
        # affine_grid maps [-1, 1] output coordinates (canvas-sized) to [-1, 1] coordinates of the image
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cos * canvas_width / width
        theta[:, 0, 1] = -sin * canvas_height / width
        theta[:, 1, 0] = sin * canvas_width / height
        theta[:, 1, 1] = cos * canvas_height / height
        theta[:, 0, 2] = 2 * shift[:, 0] / width
        theta[:, 1, 2] = 2 * shift[:, 1] / height
        grid = F.affine_grid(theta.to(images), [n, images.shape[1], height, width], align_corners=False)
        gray = self.pad_value
        return sample_bilinear(images - gray, grid) + gray


def _uniform_draws(
    n: int, generator: torch.Generator | Sequence[torch.Generator] | None, count: int = 4
) -> torch.Tensor:
    """[n, count] uniform values in [0, 1): one draw from a single generator, or one row per item's generator."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.rand(n, count, generator=generator)
    generators = list(generator)
    if len(generators) != n:
        raise ConvscopeError(f"{len(generators)} random generators for a batch of {n} images")
    return torch.stack([torch.rand(count, generator=g) for g in generators])


def random_crops(
    images: torch.Tensor,
    size: tuple[int, int],
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    min_fraction: float = 0.8,
) -> torch.Tensor:
    """One random crop of each image of a large canvas, resized to `size`: MACO's "large canvas seen through random
    crops" (Fel et al. 2023, §3; there many small crops of a 1280-px canvas, here one per item and step).

    Each image draws three uniform numbers u in [0, 1) (from its own generator when given one per image): the crop
    is the fraction f = min_fraction + u0 (1 - min_fraction) of the canvas' height and width (so the network sees
    anything from the whole canvas down to a 1:1 window of `size` pixels when min_fraction = size / canvas side)
    and its top-left corner lies at (1 - f) (u1, u2) of the canvas; one bilinear warp samples it at `size`.

    Args:
        images: the canvas [N, C, Hc, Wc], values in [0, 1] (gradients flow).
        size: (height, width) of the output in pixels.
        generator: one generator, N generators (one per image) or None (torch's global one).
        min_fraction: the smallest crop, a fraction of the canvas side in (0, 1].
    Returns:
        [N, C, height, width].
    Raises:
        ConvscopeError: min_fraction outside (0, 1], or a number of generators other than N.
    References:
        Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
        Optimization" (NeurIPS), §3 (optimizing a large image through random crops).
    """
    if not 0 < min_fraction <= 1:
        raise ConvscopeError(f"min_fraction must be in (0, 1], got {min_fraction}")
    n, channels = images.shape[:2]
    draws = _uniform_draws(n, generator, 3)
    fraction = min_fraction + draws[:, 0] * (1 - min_fraction)
    # output coordinate o in [-1, 1] samples canvas coordinate f o + centre, centre = (1 - f)(2 u - 1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = fraction
    theta[:, 1, 1] = fraction
    theta[:, 0, 2] = (1 - fraction) * (2 * draws[:, 1] - 1)
    theta[:, 1, 2] = (1 - fraction) * (2 * draws[:, 2] - 1)
    grid = F.affine_grid(theta.to(images), [n, channels, *size], align_corners=False)
    return sample_bilinear(images, grid)


def sample_bilinear(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """`F.grid_sample` (bilinear, zeros outside, align_corners False) of images [N, C, H, W] at `grid`
    [N, H, W, 2]. PyTorch's CPU kernel parallelizes over the batch only, so a single image is sampled as k bands of
    output rows, one per thread (the same values; ~1.7x faster forward + backward at 224 px on 2 threads)."""
    n, channels = images.shape[:2]
    height, width = grid.shape[1:3]  # the output's size (a crop may sample another size than the input's)
    bands = min(torch.get_num_threads(), 8)
    if n > 1 or bands < 2 or height % bands or images.device.type != "cpu":
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = F.grid_sample(
        images.expand(bands, -1, -1, -1),
        grid.reshape(bands, height // bands, width, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return out.transpose(0, 1).reshape(1, channels, height, width)


PRESETS = {
    "seed001": Transforms(pad=12, jitter=8, rotate=5.0, scale=0.1),  # Barsch & Eilertsen 2018 Table 3.1 (the default)
    "standard": Transforms(pad=12, jitter=12, rotate=10.0, scale=0.1),  # Lucid's standard_transforms, one warp
    "none": Transforms(pad=0, jitter=0, rotate=0.0, scale=0.0),
}


def preset(name: str) -> Transforms:
    """The Transforms of a preset: `seed001` (Barsch & Eilertsen Table 3.1, the default), `standard` (Lucid's
    standard_transforms in one warp) or `none`.

    Raises:
        ConvscopeError: an unknown name.
    """
    if name not in PRESETS:
        raise ConvscopeError(f"unknown transforms preset `{name}`: use {', '.join(PRESETS)}")
    return PRESETS[name]
