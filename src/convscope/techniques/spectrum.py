"""Second-order statistics of photographs: the colour decorrelation matrix of the parameterizations and the magnitude
spectra of MACO's phase-only parameterization (ImageParam space `maco`).

MACO keeps the magnitude of the image's Fourier spectrum fixed at the mean magnitude of natural images and optimizes
only the phase; the image is the standardized inverse FFT of magnitude · e^{iφ}, put through the same colour
recorrelation and sigmoid as the other spaces. The magnitude must therefore live where that inverse FFT lives: in
the *decorrelated* colour space (the inverse of ImageParam's colour matrix applied to the RGB photo), each channel
standardized to mean 0 and standard deviation 1, so that the standardized inverse FFT of any phase has a photo's
second-order statistics (its power spectrum, per decorrelated channel).

Definition (`magnitude_spectrum`): for photos x_n [C, H, W] in [0, 1], n = 1..N, at the size (h, w) asked for,

    y_n = resize-to-cover + centre-crop of x_n to (h, w)     (bilinear, antialiased)
    z_n = M^-1 y_n over the channel axis                     (3 channels and decorrelate=True; else z_n = y_n)
    s_n[c] = (z_n[c] - mean(z_n[c])) / std(z_n[c])           (population std over the h·w pixels)
    magnitude[c, u, v] = (1/N) Σ_n |rfft2(s_n[c])[u, v]|     (orthonormal FFT: Σ |.|² over the full spectrum = h·w)

M is ImageParam's colour matrix (`param.decorrelation_matrix`). The DC term is 0 (every s_n has mean 0), so the
phase of the DC term never matters.

References:
    Fel, Boissin, Boutin, Picard, Novello, Colin, Linsley, Rousseau, Cadène, Goetschalckx, Gardes & Serre 2023,
    "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained Optimization" (NeurIPS), §3
    (the parameterization x = F^-1(r e^{iφ}), r the average magnitude of natural images, only φ optimized).
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill): the decorrelated colour space.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from ..core.errors import ConvscopeError

#: sqrt of ImageNet's RGB covariance (U · sqrt(Λ) of its eigendecomposition), as published with Lucid.
IMAGENET_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


def decorrelation_matrix(color: torch.Tensor | None = None) -> torch.Tensor:
    """The color matrix M (ImageNet's IMAGENET_COLOR_SQRT by default, else `color` [3, 3]) divided by
    its largest column norm, as Lucid does, so a unit step in the decorrelated space moves no RGB channel by more
    than 1."""
    matrix = IMAGENET_COLOR_SQRT if color is None else color.float()
    return matrix / matrix.norm(dim=0).max()


def mix_colors(matrix: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix to the channel axis of [N, 3, H, W] images: out[:, i] = sum_j M[i, j] images[:, j]."""
    return torch.matmul(matrix, images.flatten(2)).view(images.shape)


#: the colour photographs of scikit-image (nothing is downloaded: they ship inside the package) that
#: `builtin_spectrum` averages, each at five crops (see there); 1-channel spectra use their grey versions
BUILTIN_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def _cover(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize [N, C, H, W] so that it covers `size` (one scale factor for both axes), then centre-crop to it."""
    height, width = size
    h, w = images.shape[-2:]
    if (h, w) != (height, width):
        scale = max(height / h, width / w)
        new = (max(height, round(h * scale)), max(width, round(w * scale)))
        if new != (h, w):
            images = F.interpolate(images, size=new, mode="bilinear", align_corners=False, antialias=True)
        top, left = (images.shape[-2] - height) // 2, (images.shape[-1] - width) // 2
        images = images[..., top : top + height, left : left + width]
    return images


def magnitude_spectrum(
    images: torch.Tensor,
    size: tuple[int, int],
    decorrelate: bool = True,
    color: torch.Tensor | None = None,
) -> torch.Tensor:
    """The mean magnitude spectrum of photographs, as MACO needs it (the exact definition is in the module
    docstring: resize to cover + centre crop, decorrelate colours, standardize each channel, mean |rfft2|).

    Args:
        images: photos [N, C, H, W], values in [0, 1] (any H, W: each is resized to cover `size`, then centre-cropped).
        size: (height, width) of the images the spectrum is for, in pixels.
        decorrelate: 3 channels: take the spectrum in the decorrelated colour space (ImageParam's colour matrix
            inverted), which is where ImageParam(space="maco", decorrelate=True) applies it.
        color: a 3x3 colour matrix (`param.color_matrix`); default ImageNet's, as ImageParam.
    Returns:
        float32 [C, height, width // 2 + 1], non-negative, DC term 0 (orthonormal FFT: a channel's full spectrum
        has Σ |.|² = height · width per image before averaging).
    Raises:
        ConvscopeError: images not [N, C, H, W] with N >= 1, or a size under 2 pixels.
    References:
        Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
        Optimization" (NeurIPS), §3 (r, the average magnitude of natural images, in x = F^-1(r e^{iφ})).
    """
    if images.dim() != 4 or images.shape[0] < 1:
        raise ConvscopeError(f"images must be [N, C, H, W] with N >= 1, got shape {list(images.shape)}")
    height, width = (int(s) for s in size)
    if height < 2 or width < 2:
        raise ConvscopeError(f"spectrum size must be at least 2x2 pixels, got {height}x{width}")
    x = _cover(images.float(), (height, width)).double()
    if decorrelate and x.shape[1] == 3:
        x = mix_colors(torch.linalg.inv(decorrelation_matrix(color).double()), x)
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x / x.std(dim=(2, 3), keepdim=True, correction=0).clamp_min(1e-12)
    return torch.fft.rfft2(x, norm="ortho").abs().mean(dim=0).float()


def photo_crops(photos: torch.Tensor, fraction: float = 0.75) -> torch.Tensor:
    """Five crops of each of the square photos [N, C, S, S]: the whole photo and its four corners of side
    `fraction` · S, each resized back to S x S (bilinear, antialiased): [5 N, C, S, S]. More samples of natural
    image structure for a smoother mean spectrum."""
    side = photos.shape[-1]
    part = max(2, round(side * fraction))
    crops = [photos]
    for top, left in ((0, 0), (0, side - part), (side - part, 0), (side - part, side - part)):
        crop = photos[..., top : top + part, left : left + part]
        crops.append(F.interpolate(crop, size=(side, side), mode="bilinear", align_corners=False, antialias=True))
    return torch.cat(crops)


@lru_cache(maxsize=16)
def _builtin(size: tuple[int, int], channels: int, decorrelate: bool) -> torch.Tensor:
    from skimage import data  # a dependency of convscope's built-in images

    side = max(size)
    photos = []
    for name in BUILTIN_PHOTOS:
        array = torch.from_numpy(getattr(data, name)()[..., :3].copy()).permute(2, 0, 1)[None].float() / 255
        photo = _cover(array, (side, side))
        if channels == 1:  # ITU-R BT.709 luma, as skimage.color.rgb2gray
            photo = (torch.tensor([0.2125, 0.7154, 0.0721]).view(1, 3, 1, 1) * photo).sum(dim=1, keepdim=True)
        photos.append(photo)
    return magnitude_spectrum(photo_crops(torch.cat(photos)), size, decorrelate)


def builtin_spectrum(size: tuple[int, int], channels: int = 3, decorrelate: bool = True) -> torch.Tensor:
    """The magnitude spectrum (`magnitude_spectrum`) of the photographs that ship with scikit-image
    (BUILTIN_PHOTOS, seven colour photos; their grey versions for 1 channel), each square-cropped at the larger
    side of `size` and taken whole and at its four 3/4-side corner crops (35 images). Nothing is downloaded;
    memoized per (size, channels, decorrelate) (a copy is returned).

    Args:
        size: (height, width) in pixels.
        channels: 1 or 3.
        decorrelate: as `magnitude_spectrum` (3 channels).
    Returns:
        float32 [channels, height, width // 2 + 1].
    Raises:
        ConvscopeError: channels other than 1 or 3, or a size under 2 pixels.
    References:
        Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
        Optimization" (NeurIPS), §3 (there r is averaged over ImageNet; here over local photos).
    """
    if channels not in (1, 3):
        raise ConvscopeError(f"channels must be 1 or 3 for the built-in spectrum, got {channels}")
    height, width = (int(s) for s in size)
    if height < 2 or width < 2:
        raise ConvscopeError(f"spectrum size must be at least 2x2 pixels, got {height}x{width}")
    return _builtin((height, width), channels, bool(decorrelate and channels == 3)).clone()
