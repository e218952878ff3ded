"""Image parameterizations: trainable parameters -> images [N, C, H, W] in [0, 1].

An ImageParam chains three invertible stages, so it can also start from a real image (DeepDream, MFV):
  space   pixel | fft | laplacian | maco unconstrained tensor t, same shape as the image
  color   decorrelate (3 channels)       t' = M t over the channel axis, M = sqrt of the color covariance
  squash  sigmoid | clamp                x = sigmoid(t') or clamp(t' + 0.5, 0, 1)

References:
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill), "Preconditioning and parameterization":
    the Fourier (1/f-scaled) space and color decorrelation, as published with Lucid.
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2.4 (Fourier, eq. 3.6, and Laplacian-pyramid spaces), §3.2.5 (decorrelating
    color channels).
    Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained Optimization"
    (NeurIPS), §3: the `maco` space, t = standardize(irfft2(r e^{iφ})) with a fixed natural-image magnitude r
    (techniques.spectrum) and only the phase φ optimized.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import ConvscopeError
from .spectrum import IMAGENET_COLOR_SQRT, builtin_spectrum, decorrelation_matrix, mix_colors  # noqa: F401 (re-exported)

#: maco: Adam on the phase, radians per step (measured on the default model: 0.2 reached more than 0.05-0.1 or
#: 0.4-0.8 in 32 steps)
MACO_LR = 0.2
#: learning rates (Adam) that work for each space with sigmoid squashing (maco: radians of phase per step)
DEFAULT_LR = {"pixel": 0.05, "fft": 0.05, "laplacian": 0.05, "maco": MACO_LR}
#: the spaces ImageParam knows
SPACES = ("pixel", "fft", "laplacian", "maco")
#: maco: the standard deviation of t (each channel of the standardized inverse FFT is multiplied by it), chosen so
#: that after ImageNet's colour recorrelation and the sigmoid an image's channels have a standard deviation of
#: about 0.19, as scikit-image's photographs (0.18); horama's MACO gets ~0.16 from its values_range
MACO_SCALE = 1.5


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


class ImageParam(nn.Module):
    """A batch of images made from trainable parameters (see the module docstring).

    Args:
        batch: number of images N.
        channels: 1 or 3 (color decorrelation only applies to 3).
        size: (height, width) in pixels.
        space: `pixel`, `fft` (1/f^decay-scaled spectrum), `laplacian` (a pyramid of `levels` levels) or `maco`
            (Fel et al. 2023: only the phase φ [N, C, H, W//2+1] is a parameter, drawn uniformly in [-π, π); the
            magnitude is a fixed buffer; t = MACO_SCALE · the inverse FFT of magnitude · e^{iφ}, standardized to
            mean 0 and std 1 per item and channel, so items never mix).
        decorrelate: mix colors with the decorrelation matrix (3 channels).
        squash: `sigmoid` or `clamp` (t' + 0.5 clamped to [0, 1]).
        levels: Laplacian pyramid levels (>= 1).
        decay_power: the spectrum's 1/f^decay scaling (fft).
        color: a 3x3 color matrix (`color_matrix`; default ImageNet's).
        std: the parameters start as normal noise times `std` (not maco: its phase starts uniform).
        magnitude: maco: the fixed magnitude [C, H, W//2+1] (`spectrum.magnitude_spectrum` of a dataset), default
            `spectrum.builtin_spectrum(size, channels, decorrelate)` (scikit-image's photographs).
        generator: one torch.Generator for the whole batch, or a sequence of `batch` generators, one per image, so
            that each image's start depends only on its own generator (not on the batch size or its position;
            `render` gives each item one seeded from (seed, unit)); None uses torch's global generator.
    Raises:
        ConvscopeError: an unknown space or squashing, fewer than 1 Laplacian level, a number of generators
            other than `batch`, or a magnitude of another shape than [C, H, W//2+1] or with negative values.
    References:
        Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill); Barsch & Eilertsen 2018, §3.2.4-3.2.5;
        Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
        Optimization" (NeurIPS), §3 (maco).
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
        magnitude: torch.Tensor | None = None,
    ):
        super().__init__()
        if space not in SPACES:
            raise ConvscopeError(f"unknown parameterization `{space}`: use pixel, fft, laplacian or maco")
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
        elif space == "maco":
            self.register_buffer("magnitude", self._maco_magnitude(magnitude), persistent=False)
            phase = _uniform_phase(batch, (channels, height, width // 2 + 1), generator)
            self.levels = nn.ParameterList([nn.Parameter(phase)])
            return
        elif space == "laplacian":
            if levels < 1:
                raise ConvscopeError(f"a Laplacian pyramid needs at least 1 level, got {levels}")
            shapes = [(channels, max(1, height >> k), max(1, width >> k)) for k in range(levels)]
        else:
            shapes = [(channels, height, width)]
        self.levels = nn.ParameterList([nn.Parameter(level * std) for level in _noise(batch, shapes, generator)])

    def _maco_magnitude(self, magnitude: torch.Tensor | None) -> torch.Tensor:
        """The fixed magnitude buffer of the maco space: `magnitude` checked, or the built-in spectrum."""
        height, width = self.size
        expected = (self.channels, height, width // 2 + 1)
        if magnitude is None:
            magnitude = builtin_spectrum((height, width), self.channels, self.decorrelate)
        magnitude = torch.as_tensor(magnitude, dtype=torch.float32)
        if tuple(magnitude.shape) != expected:
            raise ConvscopeError(
                f"magnitude shape {list(magnitude.shape)} does not match the parameterization {list(expected)} "
                f"(channels, height, width // 2 + 1): use spectrum.magnitude_spectrum(images, ({height}, {width}))"
            )
        if not bool(torch.isfinite(magnitude).all()) or bool((magnitude < 0).any()):
            raise ConvscopeError("magnitude must be finite and non-negative")
        # a real image's magnitude is even along the columns that hold (u, 0) and (-u, 0): make it so
        columns = [0, width // 2] if width % 2 == 0 and width > 1 else [0]
        magnitude = magnitude.clone()
        magnitude[..., columns] = (magnitude[..., columns] + _mirrored_rows(magnitude[..., columns])) / 2
        return magnitude

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
        if self.space == "maco":
            phase = hermitian_phase(self.levels[0], width)
            t = torch.fft.irfft2(torch.polar(self.magnitude.expand_as(phase), phase), s=(height, width), norm="ortho")
            t = t - t.mean(dim=(2, 3), keepdim=True)
            return t * (MACO_SCALE / t.std(dim=(2, 3), keepdim=True, correction=0).clamp_min(1e-8))
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

        maco: only the phase is set (the phase of rfft2 of the image's unconstrained tensor t); the magnitude stays
        the fixed one, so the image comes back only approximately: exactly for an image this parameterization made,
        else with the given image's phase (its structure and edges) and the fixed spectrum's magnitude (Fel et al.
        2023, §3).

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
        elif self.space == "maco":
            self.levels[0].copy_(torch.fft.rfft2(t, norm="ortho").angle())
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


def hermitian_phase(phase: torch.Tensor, width: int) -> torch.Tensor:
    """The phase [..., H, W//2+1] (rfft2 layout of an H x `width` image) made odd where the real FFT needs it:
    columns 0 and (even widths) W/2 hold frequencies (u, 0) and (-u, 0) both, so φ(-u) must be -φ(u) for a real image;
    there φ becomes (φ(u) - φ(-u)) / 2 (0 at the self-conjugate points). Then irfft2(r e^{iφ}) keeps every magnitude
    r exactly (else irfft2 silently drops the non-Hermitian part and changes them)."""
    columns = [0, width // 2] if width % 2 == 0 and width > 1 else [0]
    part = phase[..., columns]
    odd = (part - _mirrored_rows(part)) / 2
    height = phase.shape[-2]
    rows = [0, height // 2] if height % 2 == 0 and height > 1 else [0]
    real = part[..., rows, :]  # self-conjugate frequencies: a real value, phase 0 or π (no gradient)
    odd[..., rows, :] = torch.where(real.detach().cos() < 0, math.pi, 0.0).to(odd)
    phase = phase.clone()
    phase[..., columns] = odd
    return phase


def _mirrored_rows(spectrum: torch.Tensor) -> torch.Tensor:
    """Row u of the result is row (-u) mod H of `spectrum` [..., H, W']."""
    return spectrum.flip(-2).roll(1, dims=-2)


def _uniform_phase(
    batch: int, shape: tuple[int, ...], generator: torch.Generator | Sequence[torch.Generator] | None
) -> torch.Tensor:
    """Phases [batch, *shape] uniform in [-π, π): from one generator (or the global one) for the whole batch, or
    item i from generator i."""
    if generator is None or isinstance(generator, torch.Generator):
        draws = torch.rand((batch, *shape), generator=generator)
    else:
        generators = list(generator)
        if len(generators) != batch:
            raise ConvscopeError(f"{len(generators)} random generators for a batch of {batch} images")
        draws = torch.stack([torch.rand(shape, generator=g) for g in generators])
    return (draws * 2 - 1) * math.pi


def image_param(batch: int, channels: int, size: int | Sequence[int], space: str = "fft", **options) -> ImageParam:
    """`ImageParam(batch, channels, size, space, **options)` where size may be one number (square images)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    return ImageParam(batch, channels, size, space, **options)
