"""Images in and out: safe decoding, tensors <-> PIL, Algorithm 3 scaling, colormaps, grids."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, UnidentifiedImageError

from .errors import ImageError

#: Largest image (in pixels) convscope decodes unless told otherwise; `CONVSCOPE_MAX_PIXELS` overrides it.
DEFAULT_MAX_PIXELS = 64_000_000


def max_pixels() -> int:
    """The pixel cap in force (environment variable `CONVSCOPE_MAX_PIXELS`, else 64 MP)."""
    value = os.environ.get("CONVSCOPE_MAX_PIXELS")
    return int(value) if value else DEFAULT_MAX_PIXELS


def open_image(path: str | os.PathLike, *, limit: int | None = None,
               draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file completely, refusing non-images, truncated files and images over `limit` pixels.

    The size is checked from the header before any pixel is decoded, so a decompression bomb costs nothing.
    `draft` = (width, height) lets a JPEG decode at 1/2, 1/4 or 1/8 scale in the DCT (Pillow's `draft`) as long
    as the result still covers that size: a 4000x3000 photo read for a 224 px model decodes ~50x less data.
    """
    path = Path(path)
    limit = max_pixels() if limit is None else limit
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > limit:
                raise ImageError(
                    f"{path}: image is {width}x{height} = {width * height / 1e6:.1f} MP, "
                    f"over the limit of {limit / 1e6:.1f} MP (set CONVSCOPE_MAX_PIXELS to raise it)"
                )
            if draft is not None and image.format == "JPEG":
                image.draft(None, draft)
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: file is not an image (no known image format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: image is too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: image is truncated or corrupt ({exc})") from None
    return image


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode (L, LA, RGBA, P, CMYK, I;16, F, ...) to RGB (3 channels) or L (1 channel).

    Transparent pixels are composited on white; 16-bit and float images are rescaled to 8 bits by their range.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        image = Image.fromarray(array.round().astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB" if channels == 3 else "L")


def fit(image: Image.Image, size: tuple[int, int], mode: str = "squash") -> Image.Image:
    """Resize to `size` = (height, width): `squash` stretches the whole image, `crop` keeps the aspect ratio by
    resizing the shorter side and cutting the centre."""
    height, width = size
    if mode == "squash":
        return image.resize((width, height), Image.Resampling.BICUBIC)
    if mode == "crop":
        scale = max(width / image.width, height / image.height)
        resized = image.resize(
            (max(width, round(image.width * scale)), max(height, round(image.height * scale))),
            Image.Resampling.BICUBIC,
        )
        left, top = (resized.width - width) // 2, (resized.height - height) // 2
        return resized.crop((left, top, left + width, top + height))
    raise ValueError(f"unknown fit mode {mode!r}: use squash or crop")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image (RGB or L) -> contiguous float tensor [C, H, W] in [0, 1]."""
    return uint8_to_float(pil_to_uint8(image)).contiguous()


def pil_to_uint8(image: Image.Image) -> torch.Tensor:
    """PIL image (RGB or L) -> uint8 tensor [H, W, C] (a quarter of the float image's bytes; `uint8_to_float`
    converts a whole batch at once)."""
    array = np.array(image, dtype=np.uint8)
    return torch.from_numpy(array[:, :, None] if array.ndim == 2 else array)


def uint8_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W, C] (or [H, W, C]) -> float [N, C, H, W] in [0, 1], one conversion for the whole batch.

    The result is a channels-last tensor (strides of the NHWC data), which channels-last models read directly.
    """
    return images.movedim(-1, -3).float().div_(255)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """Float tensor [C, H, W] (or [H, W]) in [0, 1] -> PIL image (RGB for 3 channels, L for 1)."""
    array = tensor.detach().float().cpu().clamp(0, 1).numpy()
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3:
        array = array.transpose(1, 2, 0)
    return Image.fromarray((array * 255).round().astype(np.uint8))


def scale_to_255(activation: torch.Tensor | np.ndarray) -> np.ndarray:
    """Seed 001, Algorithm 3: A = Y / max(Y), returned as 255 * A in uint8.

    Negative values (pre-activation layers) are shown as 0; a map whose maximum is <= 0 is all zeros.
    """
    values = np.asarray(activation.detach().float().cpu() if isinstance(activation, torch.Tensor) else activation)
    values = values.astype(np.float64)
    peak = values.max() if values.size else 0.0
    if peak <= 0:
        return np.zeros(values.shape, dtype=np.uint8)
    return (np.clip(values / peak, 0, 1) * 255).round().astype(np.uint8)


def heat_colormap(gray: np.ndarray) -> np.ndarray:
    """Map uint8 values 0..255 to RGB on a black -> red -> yellow -> white ramp (r = 3t, g = 3t - 1, b = 3t - 2)."""
    t = gray.astype(np.float64) / 255.0
    rgb = np.stack([np.clip(3 * t - k, 0, 1) for k in range(3)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def upscale(image: Image.Image, min_side: int = 128) -> Image.Image:
    """Enlarge a small map by an integer factor with nearest-neighbour sampling, so each unit stays a crisp block."""
    factor = max(1, -(-min_side // max(1, min(image.size))))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def grid(images: list[Image.Image], captions: list[str] | None = None, columns: int | None = None,
         pad: int = 4) -> Image.Image:
    """Tile equally sized images into a contact sheet, each with an optional caption underneath."""
    if not images:
        raise ValueError("grid needs at least one image")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // columns)
    width, height = images[0].size
    caption_height = 12 if captions else 0
    sheet = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad + caption_height) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        x = pad + (i % columns) * (width + pad)
        y = pad + (i // columns) * (height + pad + caption_height)
        sheet.paste(image.convert("RGB"), (x, y))
        if captions:
            draw.text((x + 1, y + height), captions[i], fill=(0, 0, 0))
    return sheet
