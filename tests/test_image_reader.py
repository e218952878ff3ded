"""The one image decoder (issue 12): every reader sees a picture the way image viewers show it.

A fuzz-style sweep writes small non-square pictures of known content in every mode Pillow writes (1, L, LA, P,
PA, RGB, RGBA, CMYK, YCbCr, I, I;16, F) and every format among PNG, JPEG, TIFF, WebP, GIF and BMP that takes
the mode, stored as EXIF orientation 1..8 requires (or without EXIF), plus truncated, empty and oversized files.
Each is read through `open_image` + `to_mode` + `pil_to_tensor` for 1 and 3 channels and compared with the
upright picture it holds: lossless files to 8-bit quantization, JPEG / WebP within a tolerance, and always
closer to the upright picture than to any flipped or rotated copy of it.
"""

import io
import struct

import numpy as np
import pytest
import torch
from PIL import Image

import convscope
from convscope.core.data import open_dataset
from convscope.core.errors import ImageError
from convscope.core.images import FULL_SCALE, fit, open_image, pil_to_tensor, to_mode
from convscope.core.subject import InputSpec

H, W = 12, 16  # non-square, so a rotation by 90 degrees shows in the shape
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
EXIF_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP")
MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F")
HIGH_BIT_FORMATS = {"I": ("TIFF",), "I;16": ("PNG", "TIFF"), "F": ("TIFF",)}  # where the values are stored as such
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
LOSSY_FORMATS = ("JPEG", "WEBP")  # written at quality 90
LUMA = np.array([0.299, 0.587, 0.114])
Q = 1 / 255  # one 8-bit step

# Stored pixels for each EXIF orientation: the file holds ORIENT[k](upright); a viewer shows `upright` (EXIF 2.32,
# tag 0x0112: where the 0th row and 0th column of the stored image are, e.g. 6 = 0th row on the right, 0th column
# at the top: the camera was turned clockwise, the stored picture is the upright one turned counter-clockwise).
ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, -1),
}

_y, _x = np.mgrid[0:H, 0:W]
GRAY = 20 + 12 * _x + 5 * _y  # 20..255, a gradient that differs from each of its flips and rotations
COLOR = np.stack([16 * _x + 8, 20 * _y + 15, 200 - 6 * _x - 8 * _y], axis=-1)
ALPHA = np.where((_y < 4) & (_x < 5), 0, 255)  # a transparent top-left corner
INDEX = _x // 4 + 4 * (_y // 4)  # 12 palette blocks
PALETTE = np.array([(20 * k + 10, 250 - 20 * k, 60 + 15 * k) for k in range(12)])
CB, CR = 128 + 6 * (_x - 8), 128 + 8 * (_y - 6)


def _ycbcr_to_rgb(y, cb, cr):
    """JPEG (JFIF) YCbCr -> RGB, 0..255."""
    rgb = np.stack(
        [y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128), y + 1.772 * (cb - 128)], axis=-1
    )
    return np.clip(rgb, 0, 255)


def _bands(mode: str) -> np.ndarray:
    """The upright picture of a mode as the array of its stored values [H, W(, bands)]."""
    gray = GRAY.astype(np.uint8)
    return {
        "1": GRAY > 128,
        "L": gray,
        "LA": np.stack([gray, ALPHA], -1).astype(np.uint8),
        "P": INDEX.astype(np.uint8),
        "PA": np.stack([INDEX, ALPHA], -1).astype(np.uint8),
        "RGB": COLOR.astype(np.uint8),
        "RGBA": np.dstack([COLOR, ALPHA]).astype(np.uint8),
        "CMYK": np.dstack([255 - COLOR, np.zeros((H, W))]).astype(np.uint8),  # no black: RGB = 255 - CMY
        "YCbCr": np.stack([GRAY, CB, CR], -1).astype(np.uint8),
        "I": np.round(GRAY / 255 * (2**31 - 1)).astype(np.int32),  # 32-bit signed, full scale 2**31 - 1
        "I;16": (GRAY * 257).astype(np.uint16),  # the 16-bit copy of the 8-bit gray picture
        "F": (GRAY / 255).astype(np.float32),
    }[mode]


def _picture(mode: str, orientation: int = 1) -> Image.Image:
    """A Pillow image of `mode` holding the upright picture stored for EXIF `orientation`."""
    array = np.ascontiguousarray(ORIENT[orientation](_bands(mode)))
    size = (array.shape[1], array.shape[0])
    image = Image.fromarray(array) if mode == "1" else Image.frombytes(mode, size, array.tobytes())
    if mode in ("P", "PA"):
        image.putpalette(PALETTE.astype(np.uint8).flatten().tolist())
    return image


def _expected(mode: str, alpha_kept: bool) -> np.ndarray:
    """The upright picture a viewer shows, RGB [H, W, 3] in [0, 1] (transparent pixels white)."""
    rgb = {
        "1": np.repeat((GRAY > 128)[..., None] * 255.0, 3, -1),
        "P": PALETTE[INDEX],
        "PA": PALETTE[INDEX],
        "RGB": COLOR,
        "RGBA": COLOR,
        "CMYK": COLOR,
        "YCbCr": _ycbcr_to_rgb(GRAY, CB, CR),
    }.get(mode, np.repeat(GRAY[..., None], 3, -1)).astype(np.float64) / 255
    if mode in ALPHA_MODES and alpha_kept:
        rgb[ALPHA == 0] = 1.0
    return rgb


def _save(image: Image.Image, path, fmt: str, orientation: int | None) -> None:
    kwargs = {"quality": 90} if fmt in LOSSY_FORMATS else {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    image.save(path, fmt, **kwargs)


def _writable(mode: str, fmt: str) -> bool:
    """Pillow writes `mode` as `fmt` (high bit depths only where the file keeps them: Pillow's 8-bit writers
    clip them, and the file no longer holds the picture)."""
    if mode in HIGH_BIT_FORMATS and fmt not in HIGH_BIT_FORMATS[mode]:
        return False
    try:
        _picture(mode).save(io.BytesIO(), fmt)
    except (OSError, KeyError, ValueError):
        return False
    return True


COMBINATIONS = [(mode, fmt) for mode in MODES for fmt in FORMATS if _writable(mode, fmt)]


def _read(path, channels: int, **kwargs) -> torch.Tensor:
    return pil_to_tensor(to_mode(open_image(path, **kwargs), channels))


def _check(tensor: torch.Tensor, rgb: np.ndarray, channels: int, lossy: float, where: str) -> None:
    """`tensor` [C, H, W] shows the picture `rgb` [H, W, 3]: finite, in [0, 1], right shape, right values (within
    1.5 8-bit steps everywhere: 8-bit rounding, YCbCr and luma conversions; for lossy files within `lossy` on
    average)."""
    expected = rgb if channels == 3 else (rgb @ LUMA)[..., None]
    got = tensor.permute(1, 2, 0).double().numpy()
    assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all(), where
    assert 0 <= tensor.min() and tensor.max() <= 1, where
    assert got.shape == expected.shape, f"{where}: shape {got.shape}, expected {expected.shape}"
    error = np.abs(got - expected)
    if lossy:
        assert error.mean() < lossy, f"{where}: mean error {error.mean() * 255:.1f}/255"
    else:
        assert error.max() <= 1.5 * Q, f"{where}: max error {error.max() * 255:.1f}/255"
    # closer to the upright picture than to any of its flips / rotations: the orientation is right
    for k, transform in ORIENT.items():
        other = transform(expected)
        if k > 1 and other.shape == expected.shape and np.abs(other - expected).mean() > 0.02:
            assert error.mean() < 0.5 * np.abs(got - other).mean(), f"{where}: looks like orientation {k}"


def test_the_sweep_covers_many_mode_format_combinations():
    assert len(COMBINATIONS) >= 30, COMBINATIONS
    exif_files = sum(8 for _, fmt in COMBINATIONS if fmt in EXIF_FORMATS)
    assert len(COMBINATIONS) + exif_files >= 250  # files written by test_every_mode_format_and_orientation


@pytest.mark.filterwarnings("ignore:(Corrupt EXIF data|Tag data larger than file):UserWarning")  # truncated TIFFs
@pytest.mark.parametrize(("mode", "fmt"), COMBINATIONS, ids=[f"{m}-{f}" for m, f in COMBINATIONS])
def test_every_mode_format_and_orientation(tmp_path, mode, fmt):
    lossy = 0.02 if fmt in LOSSY_FORMATS or (fmt == "GIF" and mode == "RGBA") else 0  # GIF quantizes RGBA
    if fmt == "WEBP" and mode in ("P", "PA"):
        lossy = 0.04  # sharp-edged colour blocks lose most in WebP's 4:2:0 chroma (8/255 on average)
    for orientation in (None, *ORIENT) if fmt in EXIF_FORMATS else (None,):
        path = tmp_path / f"{mode.replace(';', '_')}-{orientation}{FORMATS[fmt]}"
        _save(_picture(mode, orientation or 1), path, fmt, orientation)
        with Image.open(path) as stored:  # what the file declares, not its pixels
            if fmt != "TIFF":  # (Pillow reports TIFF sizes upright already)
                assert stored.size == ((H, W) if orientation in (5, 6, 7, 8) else (W, H))
            alpha_kept = stored.mode in ALPHA_MODES or "transparency" in stored.info
        assert open_image(path).size == (W, H)
        for channels in (3, 1):
            _check(
                _read(path, channels),
                _expected(mode, alpha_kept),
                channels,
                lossy,
                f"{mode} {fmt} orientation {orientation} channels {channels}",
            )
        if orientation is None:
            truncated = path.with_name("truncated-" + path.name)
            truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            _assert_refused(truncated, "truncated|not an image")


def _assert_refused(path, reason: str, **kwargs) -> None:
    with pytest.raises(ImageError, match=reason) as info:
        open_image(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_empty_non_image_and_oversized_files_are_refused(tmp_path, monkeypatch):
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_refused(tmp_path / "empty.png", r"file is empty \(0 bytes\)")
    (tmp_path / "notes.jpg").write_text("not an image\nat all")
    _assert_refused(tmp_path / "notes.jpg", "file is not an image")
    (tmp_path / "random.webp").write_bytes(np.random.default_rng(0).bytes(500))
    _assert_refused(tmp_path / "random.webp", "file is not an image")
    (tmp_path / "header-only.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _assert_refused(tmp_path / "header-only.png", "truncated|not an image")
    monkeypatch.setenv("CONVSCOPE_MAX_PIXELS", str(H * W - 1))
    for fmt, suffix in FORMATS.items():
        path = tmp_path / f"big{suffix}"
        _picture("RGB").save(path, fmt)
        _assert_refused(path, "over the limit .*CONVSCOPE_MAX_PIXELS")


def test_16_bit_images_are_scaled_by_the_format_range_never_stretched(tmp_path):
    white = tmp_path / "white16.png"
    Image.fromarray(np.full((H, W), 65535, dtype=np.uint16)).save(white)
    assert torch.equal(_read(white, 1), torch.ones(1, H, W)) and torch.equal(_read(white, 3), torch.ones(3, H, W))
    ramp = np.round(np.linspace(1000, 2000, W)).astype(np.uint16)[None].repeat(H, 0)
    ramp8 = np.round(ramp / 257).astype(np.uint8)  # the 8-bit copy of the same picture
    Image.fromarray(ramp8).save(tmp_path / "ramp8.png")
    eight_bit = _read(tmp_path / "ramp8.png", 1)
    assert abs(eight_bit.min().item() - 0.016) < 0.002 and abs(eight_bit.max().item() - 0.031) < 0.002
    for name, image in [
        ("ramp16.png", Image.fromarray(ramp)),
        ("ramp16.tif", Image.fromarray(ramp)),
        ("ramp16b.tif", Image.frombytes("I;16B", (W, H), ramp.astype(">u2").tobytes())),
        ("ramp16-lzw.tif", Image.fromarray(ramp)),
    ]:
        image.save(tmp_path / name, **({"compression": "tiff_lzw"} if "lzw" in name else {}))
        got = _read(tmp_path / name, 1)[0].double().numpy()
        assert np.abs(got - ramp / 65535).max() <= 0.5 * Q + 1e-9, name
        assert np.abs(got - eight_bit[0].double().numpy()).max() <= Q + 1e-9, name


def test_16_bit_files_opened_as_mode_i_are_divided_by_their_own_range(tmp_path):
    """Pillow opens a 16-bit PGM as mode I (32-bit pixels): the file's 16-bit range is what counts."""
    ramp = np.round(np.linspace(1000, 2000, W)).astype(">u2")[None].repeat(H, 0)
    path = tmp_path / "ramp16.pgm"
    path.write_bytes(b"P5 %d %d 65535\n" % (W, H) + ramp.tobytes())
    image = open_image(path)
    assert image.mode == "I" and image.info[FULL_SCALE] == 65535
    assert np.abs(_read(path, 1)[0].numpy() - ramp / 65535).max() <= 0.5 * Q + 1e-6
    ten_bit = tmp_path / "white10.pgm"  # maxval 1023: Pillow rescales it to 16 bits
    ten_bit.write_bytes(b"P5 2 1 1023\n" + np.array([1023, 0], ">u2").tobytes())
    assert _read(ten_bit, 1).flatten().tolist() == [1.0, 0.0]


def _tiff(path, array: np.ndarray, sample_format: int) -> None:
    """A minimal one-strip grayscale TIFF (little-endian) of a 2-D array; `sample_format` 2 = signed, 3 = float.
    (Pillow writes neither signed 16-bit nor out-of-range float pixels this way.)"""
    height, width = array.shape
    data = array.astype(array.dtype.newbyteorder("<")).tobytes()

    def short(tag, value):
        return struct.pack("<HHIHH", tag, 3, 1, value, 0)

    def long(tag, value):
        return struct.pack("<HHII", tag, 4, 1, value)

    entries = [
        short(256, width),
        short(257, height),
        short(258, array.dtype.itemsize * 8),
        short(259, 1),
        short(262, 1),
        long(273, 8),
        short(277, 1),
        short(278, height),
        long(279, len(data)),
        short(339, sample_format),
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8 + len(data)) + data + ifd)


def test_signed_32_bit_and_float_images(tmp_path):
    signed = np.array([[-32768, -1, 0, 16384, 32767]], dtype=np.int16)
    _tiff(tmp_path / "signed16.tif", signed, sample_format=2)
    image = open_image(tmp_path / "signed16.tif")
    assert image.mode == "I" and image.info[FULL_SCALE] == 32767
    assert np.allclose(_read(tmp_path / "signed16.tif", 1).flatten(), [0, 0, 0, 128 / 255, 1])  # negatives: 0
    int32 = np.array([[-5, 0, 2**30, 2**31 - 1]], dtype=np.int32)
    for name, compression in [("int32.tif", None), ("int32-lzw.tif", "tiff_lzw")]:  # raw and libtiff decoders
        Image.fromarray(int32).save(tmp_path / name, compression=compression)
        assert open_image(tmp_path / name).info[FULL_SCALE] == 2**31 - 1, name
        assert np.allclose(_read(tmp_path / name, 1).flatten(), [0, 0, 128 / 255, 1]), name
    floats = np.array([[-0.5, 0.0, 0.25, 1.0, 1.5, np.nan, np.inf]], dtype=np.float32)
    _tiff(tmp_path / "float.tif", floats, sample_format=3)
    assert open_image(tmp_path / "float.tif").mode == "F"
    got = _read(tmp_path / "float.tif", 3)  # taken as [0, 1]: clipped, NaN -> 0
    assert torch.isfinite(got).all() and np.allclose(got[0].flatten(), [0, 0, 64 / 255, 1, 1, 0, 1])


def test_modes_pillow_opens_but_does_not_write(tmp_path):
    """La / RGBa (premultiplied), RGBX, HSV, LAB and the 16-bit byte orders give the right RGB and L."""

    def rgb(image):
        return to_mode(image, 3).getpixel((0, 0))

    def over_white(value, alpha=128):
        return round(value * alpha / 255 + 255 * (1 - alpha / 255))

    # premultiplied by alpha 128: 100 is 199, 50 is 99
    assert rgb(Image.new("La", (1, 1), (100, 128))) == (over_white(199),) * 3
    expected = over_white(199), over_white(99), over_white(0)
    assert max(abs(a - b) for a, b in zip(rgb(Image.new("RGBa", (1, 1), (100, 50, 0, 128))), expected)) <= 1
    assert rgb(Image.new("RGBX", (1, 1), (1, 2, 3, 0))) == (1, 2, 3)
    assert rgb(Image.new("HSV", (1, 1), (0, 255, 255))) == (255, 0, 0)
    assert rgb(Image.new("HSV", (1, 1), (85, 255, 128))) == (0, 128, 0)
    for mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        image = Image.new(mode, (2, 1))
        image.putpixel((0, 0), 65535)
        image.putpixel((1, 0), 32768)
        assert [to_mode(image, 1).getpixel((i, 0)) for i in range(2)] == [255, 128], mode
    lab = tmp_path / "lab.tif"
    Image.new("LAB", (W, H), (128, 128, 128)).save(lab)  # L* = 50, a = b = 0: mid grey
    assert open_image(lab).mode == "LAB"
    r, g, b = rgb(open_image(lab))
    assert r == g == b and abs(r - 119) <= 1
    assert to_mode(open_image(lab), 1).getpixel((0, 0)) == r


def test_transparency_is_composited_on_white(tmp_path):
    half = Image.new("RGBA", (W, H), (0, 0, 255, 128))
    half.save(tmp_path / "half.png")
    expected = round(255 * 127 / 255), round(255 * 127 / 255), 255
    assert to_mode(open_image(tmp_path / "half.png"), 3).getpixel((0, 0)) == expected
    palette = _picture("P")
    palette.save(tmp_path / "p-trns.png", transparency=5)  # one palette entry transparent (tRNS)
    palette.save(tmp_path / "p-trns.gif", transparency=5)
    gray16 = Image.fromarray((GRAY * 257).astype(np.uint16))
    gray16.save(tmp_path / "gray16-trns.png", transparency=int(GRAY[0, 0] * 257))  # one 16-bit value transparent
    for name, rgb in [
        ("p-trns.png", PALETTE[INDEX]),
        ("p-trns.gif", PALETTE[INDEX]),
        ("gray16-trns.png", np.repeat(GRAY[..., None], 3, -1)),
    ]:
        transparent = INDEX == 5 if name.startswith("p") else GRAY == GRAY[0, 0]
        rgb = np.where(transparent[..., None], 255, rgb) / 255
        for channels in (3, 1):
            _check(_read(tmp_path / name, channels), rgb, channels, 0, name)


def test_animations_and_multi_page_files_give_the_first_frame(tmp_path):
    frames = [_picture("RGB"), Image.new("RGB", (W, H), (255, 0, 0))]
    for fmt in ("GIF", "WEBP", "TIFF"):
        path = tmp_path / f"animated{FORMATS[fmt]}"
        options = {"lossless": True} if fmt == "WEBP" else {}
        frames[0].save(path, fmt, save_all=True, append_images=frames[1:], **options)
        with Image.open(path) as image:
            assert image.n_frames == 2
        _check(_read(path, 3), COLOR / 255, 3, 0, fmt)


# --- every reader gets the fix: Subject.load_image, dataset folders (JPEG draft decoding) ----------------------
def _sideways_photo(path, size: tuple[int, int], orientation: int = 6) -> np.ndarray:
    """A smooth asymmetric upright RGB picture [h, w, 3] of `size` = (w, h), saved as a JPEG stored sideways
    with EXIF `orientation`, as a phone camera does; returns the upright picture."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    upright = (np.stack([x, y, 1 - (x + y) / 2], -1) * 255).round().astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(ORIENT[orientation](upright))).save(path, quality=95, exif=exif)
    return upright


def _as_model_input(array: np.ndarray, size=(16, 16)) -> torch.Tensor:
    return pil_to_tensor(fit(Image.fromarray(np.ascontiguousarray(array)), size))


def test_subject_load_image_sees_the_upright_photo(tmp_path):
    subject = convscope.wrap(
        torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), size=16
    )
    upright = _sideways_photo(tmp_path / "phone.jpg", (32, 32))
    x = subject.load_image(tmp_path / "phone.jpg")
    assert x.shape == (1, 3, 16, 16)
    to_upright = (x[0] - _as_model_input(upright)).abs().mean()
    to_stored = (x[0] - _as_model_input(ORIENT[6](upright))).abs().mean()
    assert to_upright < 0.02 and to_stored > 0.15, (to_upright, to_stored)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "phone.jpg").read_bytes()[:300])
    with pytest.raises(ImageError, match="cut.jpg"):
        subject.load_image(tmp_path / "cut.jpg")


def test_dataset_folders_see_the_upright_photo_with_draft_decoding(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    upright = _sideways_photo(folder / "a_phone.jpg", (64, 48))  # stored 48 x 64, decoded at 1/2 by the draft
    (folder / "b_empty.jpg").write_bytes(b"")
    dataset = open_dataset(folder, InputSpec(size=(16, 16), channels=3))
    x = dataset.load(0)
    to_upright = (x - _as_model_input(upright)).abs().mean()
    to_stored = (x - _as_model_input(ORIENT[6](upright))).abs().mean()
    assert to_upright < 0.02 and to_stored > 0.15, (to_upright, to_stored)
    assert [i for _, indices in dataset.batches(4) for i in indices] == [0]
    assert dataset.skipped == [("b_empty.jpg", "b_empty.jpg: file is empty (0 bytes)")]  # ids relative to the folder
    # the draft size is asked for the stored (sideways) image, so the upright result still covers it
    for orientation in ORIENT:
        upright = _sideways_photo(tmp_path / f"o{orientation}.jpg", (64, 48), orientation)
        image = open_image(tmp_path / f"o{orientation}.jpg", draft=(32, 16))
        assert image.size == (32, 24), orientation  # 1/2 scale, upright
        got = pil_to_tensor(image)
        want = pil_to_tensor(Image.fromarray(upright).resize((32, 24), Image.Resampling.BOX))
        assert (got - want).abs().mean() < 0.03, orientation


def test_min_is_white_tiffs_at_every_bit_depth(tmp_path):
    """PhotometricInterpretation 0 (white is 0): Pillow inverts 8-bit files itself, convscope 16-bit ones."""
    import tifffile  # ships with scikit-image

    ramp = np.linspace(0, 1, 16 * 12).reshape(12, 16)
    tifffile.imwrite(tmp_path / "w16.tif", np.round(ramp * 65535).astype(np.uint16), photometric="miniswhite")
    tifffile.imwrite(tmp_path / "w8.tif", np.round(ramp * 255).astype(np.uint8), photometric="miniswhite")
    tifffile.imwrite(tmp_path / "b16.tif", np.round(ramp * 65535).astype(np.uint16))
    for name, expected in [("w16.tif", 1 - ramp), ("w8.tif", 1 - ramp), ("b16.tif", ramp)]:
        loaded = pil_to_tensor(to_mode(open_image(tmp_path / name), 1))[0].numpy()
        assert np.abs(loaded - expected).max() <= 1 / 255, name
