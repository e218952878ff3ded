"""Image parameterizations: trainable parameters -> images [N, C, H, W] in [0, 1].

An ImageParam chains three invertible stages, so it can also start from a real image (DeepDream, MFV):
  space   pixel | fft | laplacian        unconstrained tensor t, same shape as the image
  color   decorrelate (3 channels)       t' = M t over the channel axis, M = sqrt of the color covariance
  squash  sigmoid | clamp                x = sigmoid(t') or clamp(t' + 0.5, 0, 1)

References:
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill), "Preconditioning and parameterization":
    the Fourier (1/f-scaled) space and color decorrelation, as published with Lucid.
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2.4 (Fourier, eq. 3.6, and Laplacian-pyramid spaces), §3.2.5 (decorrelating
    color channels).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import ConvscopeError

#: sqrt of ImageNet's RGB covariance (U · sqrt(Λ) of its eigendecomposition), as published with Lucid.
IMAGENET_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
#: learning rates (Adam) that work for each space with sigmoid squashing
DEFAULT_LR = {"pixel": 0.05, "fft": 0.05, "laplacian": 0.05}


def color_matrix(images: torch.Tensor) -> torch.Tensor:
    """sqrt of the RGB covariance of a dataset: U · sqrt(Λ) from the eigendecomposition of the 3x3 covariance
    of all pixels of `images` [N, 3, H, W] (values in [0, 1]); returns float32 [3, 3].

    References:
        Barsch & Eilertsen 2018, §3.2.5; Olah et al. 2017, "Feature Visualization".
    """
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1).double()
    covariance = torch.cov(pixels)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    return (eigenvectors * eigenvalues.clamp_min(0).sqrt()).float()


def decorrelation_matrix(color: torch.Tensor | None = None) -> torch.Tensor:
    """The color matrix M (ImageNet's IMAGENET_COLOR_SQRT by default, else `color` [3, 3]) divided by
    its largest column norm, as Lucid does, so a unit step in the decorrelated space moves no RGB channel by more
    than 1."""
    matrix = IMAGENET_COLOR_SQRT if color is None else color.float()
    return matrix / matrix.norm(dim=0).max()


def mix_colors(matrix: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix to the channel axis of [N, 3, H, W] images: out[:, i] = sum_j M[i, j] images[:, j]."""
    return torch.matmul(matrix, images.flatten(2)).view(images.shape)


class ImageParam(nn.Module):
    """A batch of images made from trainable parameters (see the module docstring).

    Args:
        batch: number of images N.
        channels: 1 or 3 (color decorrelation only applies to 3).
        size: (height, width) in pixels.
        space: `pixel`, `fft` (1/f^decay-scaled spectrum) or `laplacian` (a pyramid of `levels` levels).
        decorrelate: mix colors with the decorrelation matrix (3 channels).
        squash: `sigmoid` or `clamp` (t' + 0.5 clamped to [0, 1]).
        levels: Laplacian pyramid levels (>= 1).
        decay_power: the spectrum's 1/f^decay scaling (fft).
        color: a 3x3 color matrix (`color_matrix`; default ImageNet's).
        std: the parameters start as normal noise times `std`.
        generator: one torch.Generator for the whole batch, or a sequence of `batch` generators, one per image, so
            that each image's start depends only on its own generator (not on the batch size or its position;
            `render` gives each item one seeded from (seed, unit)); None uses torch's global generator.
    Raises:
        ConvscopeError: an unknown space or squashing, fewer than 1 Laplacian level, or a number of generators
            other than `batch`.
    References:
        Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill); Barsch & Eilertsen 2018, §3.2.4-3.2.5.
    """

    def __init__(
        self,
        batch: int,
        channels: int,
        size: tuple[int, int],
        space: str = "fft",
        decorrelate: bool = True,
        squash: str = "sigmoid",
        levels: int = 4,
        decay_power: float = 1.0,
        color: torch.Tensor | None = None,
        std: float = 0.01,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
    ):
        super().__init__()
        if space not in ("pixel", "fft", "laplacian"):
            raise ConvscopeError(f"unknown parameterization `{space}`: use pixel, fft or laplacian")
        if squash not in ("sigmoid", "clamp"):
            raise ConvscopeError(f"unknown squashing `{squash}`: use sigmoid or clamp")
        self.batch, self.channels, self.size = batch, channels, tuple(size)
        self.space, self.squash, self.decay_power = space, squash, decay_power
        self.decorrelate = decorrelate and channels == 3
        self.register_buffer("color", decorrelation_matrix(color), persistent=False)
        height, width = self.size
        if space == "fft":
            self.register_buffer("spectrum_scale", self._fft_scale(height, width), persistent=False)
            shapes = [(channels, height, width // 2 + 1, 2)]
        elif space == "laplacian":
            if levels < 1:
                raise ConvscopeError(f"a Laplacian pyramid needs at least 1 level, got {levels}")
            shapes = [(channels, max(1, height >> k), max(1, width >> k)) for k in range(levels)]
        else:
            shapes = [(channels, height, width)]
        self.levels = nn.ParameterList([nn.Parameter(level * std) for level in _noise(batch, shapes, generator)])

    def _fft_scale(self, height: int, width: int) -> torch.Tensor:
        """1 / max(f, 1 / max(H, W))^decay: white noise in this space becomes 1/f^decay noise in the image
        (with the orthonormal inverse FFT this equals Lucid's sqrt(H W)-scaled unnormalized one)."""
        fy = torch.fft.fftfreq(height)[:, None]
        fx = torch.fft.rfftfreq(width)[None, :]
        frequency = (fy**2 + fx**2).sqrt()
        return frequency.clamp_min(1.0 / max(height, width)).pow(-self.decay_power)

    # --- forward: parameters -> image ----------------------------------------------------------------------
    def raw(self) -> torch.Tensor:
        """The unconstrained tensor t of the chosen space, shape [N, C, H, W]."""
        height, width = self.size
        if self.space == "fft":
            spectrum = torch.view_as_complex(self.levels[0]) * self.spectrum_scale
            return torch.fft.irfft2(spectrum, s=(height, width), norm="ortho") / 4.0
        if self.space == "laplacian":
            return sum(
                level
                if level.shape[-2:] == (height, width)
                else F.interpolate(level, size=(height, width), mode="bilinear", align_corners=False)
                for level in self.levels
            )
        return self.levels[0]

    def forward(self) -> torch.Tensor:
        """The images [N, C, H, W] in [0, 1] (differentiable in the parameters)."""
        t = self.raw()
        if self.decorrelate:
            t = mix_colors(self.color, t)
        return torch.sigmoid(t) if self.squash == "sigmoid" else (t + 0.5).clamp(0, 1)

    # --- inverse: image -> parameters ----------------------------------------------------------------------
    @torch.no_grad()
    def set_image(self, images: torch.Tensor) -> "ImageParam":
        """Set the parameters so that forward() returns `images` [N, C, H, W] in [0, 1] (values at 0 or 1
        come back within 1e-3 under sigmoid squashing); returns self.

        Raises:
            ConvscopeError: a shape other than [batch, channels, height, width].
        """
        images = images.to(self.color)
        if images.shape != (self.batch, self.channels, *self.size):
            raise ConvscopeError(
                f"image shape {list(images.shape)} does not match the parameterization "
                f"{[self.batch, self.channels, *self.size]}"
            )
        if self.squash == "sigmoid":
            t = torch.logit(images.clamp(1e-3, 1 - 1e-3))
        else:
            t = images - 0.5
        if self.decorrelate:
            t = mix_colors(torch.linalg.inv(self.color), t)
        height, width = self.size
        if self.space == "fft":
            spectrum = torch.fft.rfft2(t * 4.0, norm="ortho") / self.spectrum_scale
            self.levels[0].copy_(torch.view_as_real(spectrum))
        elif self.space == "laplacian":
            residual = t
            for level in reversed(self.levels):  # coarsest first: each level keeps what the coarser ones miss
                if level.shape[-2:] == (height, width):
                    level.copy_(residual)
                    residual = torch.zeros_like(residual)
                else:
                    down = F.interpolate(residual, size=level.shape[-2:], mode="area")
                    level.copy_(down)
                    residual = residual - F.interpolate(
                        down, size=(height, width), mode="bilinear", align_corners=False
                    )
        else:
            self.levels[0].copy_(t)
        return self


def _noise(
    batch: int, shapes: Sequence[tuple[int, ...]], generator: torch.Generator | Sequence[torch.Generator] | None
) -> list[torch.Tensor]:
    """Standard normal tensors [batch, *shape] for each shape: from one generator (or the global one) for the
    whole batch, or from one generator per item (item i draws all its levels, in order, from generator i)."""
    if generator is None or isinstance(generator, torch.Generator):
        return [torch.randn((batch, *shape), generator=generator) for shape in shapes]
    generators = list(generator)
    if len(generators) != batch:
        raise ConvscopeError(f"{len(generators)} random generators for a batch of {batch} images")
    items = [[torch.randn(shape, generator=g) for shape in shapes] for g in generators]
    return [torch.stack([item[k] for item in items]) for k in range(len(shapes))]


def image_param(batch: int, channels: int, size: int | Sequence[int], space: str = "fft", **options) -> ImageParam:
    """`ImageParam(batch, channels, size, space, **options)` where size may be one number (square images)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    return ImageParam(batch, channels, size, space, **options)
