"""Images in and out: safe decoding, tensors <-> PIL, Algorithm 3 scaling, colormaps, grids."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageDraw, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: Largest image (in pixels) convscope decodes unless told otherwise; `CONVSCOPE_MAX_PIXELS` overrides it.
DEFAULT_MAX_PIXELS = 64_000_000

#: `image.info` key where `open_image` records the full-scale value of a 16/32-bit integer image (see `to_mode`)
FULL_SCALE = "convscope.full_scale"
#: `image.info` key set by `open_image` for a TIFF whose PhotometricInterpretation is 0 (white is 0: min-is-white)
MIN_IS_WHITE = "convscope.min_is_white"
_INTEGER_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def max_pixels() -> int:
    """The pixel cap in force: `CONVSCOPE_MAX_PIXELS`, else DEFAULT_MAX_PIXELS (64 MP).

    Raises:
        ImageError: `CONVSCOPE_MAX_PIXELS` is not a positive whole number.
    """
    value = os.environ.get("CONVSCOPE_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        raise ImageError(f"CONVSCOPE_MAX_PIXELS must be a whole number of pixels, not `{value}`") from None
    if limit < 1:
        raise ImageError(f"CONVSCOPE_MAX_PIXELS must be positive, not {limit}")
    return limit


def open_image(
    path: str | os.PathLike, *, limit: int | None = None, draft: tuple[int, int] | None = None
) -> Image.Image:
    """Decode an image file completely, as image viewers show it; refuse anything that is not a readable image.

    - The size is checked from the header before any pixel is decoded, so a decompression bomb costs nothing.
    - The EXIF orientation (JPEG, PNG, WebP, TIFF; all 8 values) is applied, so a phone photo stored sideways
      comes out upright; the returned image carries no orientation any more.
    - Animations and multi-page files (GIF, WebP, TIFF): the first frame.
    - The pixels keep the file's mode (convert with `to_mode`). For 16- and 32-bit integer images the full-scale
      value of the file's sample format (65535 for 16 bits, 4095 for 12-bit TIFF, 32767 for signed 16 bits,
      2**31 - 1 for 32 bits) is recorded in `image.info[FULL_SCALE]` for `to_mode`; Pillow opens some of these
      as mode I, whose pixels alone do not tell the bit depth.

    Args:
        path: the file.
        limit: the most pixels (width x height) accepted; default `max_pixels()`.
        draft: (width, height): lets a JPEG decode at 1/2, 1/4 or 1/8 scale in the DCT (Pillow's `draft`) as long as
            the result still covers that size (after the orientation is applied): a 4000x3000 photo read for a
            224 px model decodes ~50x less data.
    Returns:
        The decoded PIL image.
    Raises:
        ImageError: one line naming the file: missing files, folders, empty files, non-images, truncated or corrupt
            files, and images over `limit` pixels.
    """
    path = Path(path)
    limit = max_pixels() if limit is None else limit
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # From a file object, not a path: Pillow then never memory-maps the file (its mmap path reads an
            # uncompressed TIFF with EXIF orientation 5..8 at the turned size: scrambled pixels).
            with open(path, "rb") as file, Image.open(file) as image:
                width, height = image.size
                if width * height > limit:
                    raise ImageError(
                        f"{path}: image is {width}x{height} = {width * height:,} pixels, over the limit of "
                        f"{limit:,} pixels (set CONVSCOPE_MAX_PIXELS to raise it)"
                    )
                full_scale = _full_scale(_raw_mode(image))
                min_is_white = image.format == "TIFF" and image.tag_v2.get(262) == 0  # Pillow inverts 8-bit only
                if draft is not None and image.format == "JPEG":
                    sideways = image.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
                    image.draft(None, tuple(draft[::-1]) if sideways else tuple(draft))
                image.load()
                ImageOps.exif_transpose(image, in_place=True)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: file is not an image (no known image format, or a corrupt header)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: image is too large to decode safely ({_one_line(exc)})") from None
    except Exception as exc:  # Pillow reports broken files with many exception types (OSError, EOFError, ...)
        raise ImageError(f"{path}: image is truncated or corrupt ({_one_line(exc)})") from None
    if image.mode in _INTEGER_MODES and full_scale is not None:
        image.info[FULL_SCALE] = full_scale
    if image.mode in _INTEGER_MODES and min_is_white:
        image.info[MIN_IS_WHITE] = True
    return image


def _raw_mode(image: Image.Image) -> str:
    """The raw mode the file stores its first tile in (e.g. 'I;16B' for a 16-bit PNG), '' when not known.

    Read from `image.tile` before `load()`, which clears it."""
    args = image.tile[0].args if image.tile else None
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else ""


def _full_scale(raw_mode: str) -> int | None:
    """Largest value of an integer sample format: 'I;16B' -> 65535, 'I;12' -> 4095, 'I;16S' -> 32767,
    'I;32S' and 'I' -> 2**31 - 1; None for anything else."""
    if raw_mode == "I":
        return 2**31 - 1
    match = re.fullmatch(r"I;(\d+)[BLNR]?(S?)", raw_mode)
    return 2 ** (int(match[1]) - bool(match[2])) - 1 if match else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to RGB (3 channels) or L (1 channel), keeping the values' meaning.

    - 8-bit modes (1, L, P, RGB, RGBX, CMYK, YCbCr, LAB, HSV) are converted with Pillow's colour conversions;
      1 channel is Pillow's luma L = 0.299 R + 0.587 G + 0.114 B of the RGB image.
    - Integer modes above 8 bits (I;16, I;16B, I;16L, I;16N, I) are divided by their full-scale value, never
      stretched to their own min..max: `image.info[FULL_SCALE]` as recorded by `open_image` from the file's
      sample format, else 65535 (16 bits). Negative values (signed files) become 0.
    - Float images (F) are taken as already in [0, 1]: values outside are clipped, NaN becomes 0.
    - Transparent pixels (LA, La, PA, RGBA, RGBa, or a transparent colour in `image.info`) are composited on
      white; premultiplied modes are un-premultiplied first.

    Args:
        image: a PIL image of any mode.
        channels: 3 (RGB) or anything else (L).
    Returns:
        An 8-bit RGB or L image (quantization step 1/255 of the [0, 1] range).
    """
    if image.mode in _INTEGER_MODES or image.mode == "F":
        image = _high_bit_depth_to_8_bits(image)
    if image.mode == "La":  # Pillow converts La only to LA
        image = image.convert("LA")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode not in ("1", "L", "RGB"):  # P, RGBA, RGBX, CMYK, YCbCr, LAB, HSV: RGB first (no LAB -> L)
        image = image.convert("RGB")
    return image.convert("RGB" if channels == 3 else "L")


def _high_bit_depth_to_8_bits(image: Image.Image) -> Image.Image:
    """I;16* / I / F -> L (LA when a transparent value is set), by the rules of `to_mode`."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        scaled = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    else:
        scaled = values / image.info.get(FULL_SCALE, 65535)
        if image.info.get(MIN_IS_WHITE):  # a min-is-white TIFF: 0 is white
            scaled = 1 - scaled
    gray = Image.fromarray((np.clip(scaled, 0, 1) * 255).round().astype(np.uint8))
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and image.mode != "F":  # e.g. a 16-bit grey PNG with a tRNS value
        alpha = Image.fromarray(np.where(values == transparency, 0, 255).astype(np.uint8))
        return Image.merge("LA", (gray, alpha))
    return gray


def fit(image: Image.Image, size: tuple[int, int], mode: str = "squash") -> Image.Image:
    """Resize a PIL image to `size` = (height, width) in pixels, bicubic.

    Args:
        mode: `squash` stretches the whole image; `crop` keeps the aspect ratio by resizing the shorter side and
            cutting the centre.
    Raises:
        ValueError: another mode.
    """
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
    """PIL image (RGB or L) -> uint8 tensor [H, W, C] in 0..255 (a quarter of the float image's bytes;
    `uint8_to_float` converts a whole batch at once)."""
    array = np.array(image, dtype=np.uint8)
    return torch.from_numpy(array[:, :, None] if array.ndim == 2 else array)


def uint8_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W, C] (or [H, W, C]) -> float [N, C, H, W] in [0, 1], one conversion for the whole batch.

    The result is a channels-last tensor (strides of the NHWC data), which channels-last models read directly.
    """
    return images.movedim(-1, -3).float().div_(255)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """Float tensor [C, H, W] (or [H, W]) in [0, 1] -> 8-bit PIL image (RGB for 3 channels, L for 1).
    Values outside [0, 1] are clipped, NaN is shown black."""
    array = tensor.detach().float().cpu().nan_to_num(0.0, 1.0, 0.0).clamp(0, 1).numpy()  # NaN: black
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3:
        array = array.transpose(1, 2, 0)
    return Image.fromarray((array * 255).round().astype(np.uint8))


def scale_to_255(activation: torch.Tensor | np.ndarray) -> np.ndarray:
    """Algorithm 3 of Barsch & Eilertsen 2018: A = Y / max(Y), shown as 255 * A.

    Args:
        activation: a map Y (tensor or array, any shape, e.g. [H, W]) in the layer's activation units.
    Returns:
        uint8 array of the same shape in 0..255. Negative values (pre-activation layers) and non-finite values are
        shown as 0; a map whose maximum is <= 0 is all zeros.
    References:
        Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
        (MSc thesis, NTNU), §3.3, Algorithm 3.
    """
    values = np.asarray(activation.detach().float().cpu() if isinstance(activation, torch.Tensor) else activation)
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # non-finite: shown as 0
    peak = values.max() if values.size else 0.0
    if peak <= 0:
        return np.zeros(values.shape, dtype=np.uint8)
    return (np.clip(values / peak, 0, 1) * 255).round().astype(np.uint8)


def heat_colormap(gray: np.ndarray) -> np.ndarray:
    """Map uint8 values 0..255 (any shape [...]) to uint8 RGB [..., 3] on a black -> red -> yellow -> white
    ramp (r = 3t, g = 3t - 1, b = 3t - 2 clipped to [0, 1], t = value / 255)."""
    t = gray.astype(np.float64) / 255.0
    rgb = np.stack([np.clip(3 * t - k, 0, 1) for k in range(3)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def upscale(image: Image.Image, min_side: int = 128) -> Image.Image:
    """Enlarge a small map so its shorter side is at least `min_side` pixels, by an integer factor with
    nearest-neighbour sampling, so each unit stays a crisp block."""
    factor = max(1, -(-min_side // max(1, min(image.size))))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def grid(
    images: list[Image.Image], captions: list[str] | None = None, columns: int | None = None, pad: int = 4
) -> Image.Image:
    """Tile equally sized images into a white contact sheet, each with an optional caption underneath.

    Args:
        images: PIL images of the first image's size.
        captions: one per image, or None.
        columns: default ceil(sqrt(len(images))).
        pad: gap between tiles, in pixels.
    Returns:
        The RGB sheet.
    Raises:
        ValueError: no images.
    """
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
