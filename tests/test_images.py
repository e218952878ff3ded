"""Decoding with limits, every Pillow mode, Algorithm 3 scaling."""

import numpy as np
import pytest
from PIL import Image

from convscope.core.errors import ImageError
from convscope.core.images import fit, heat_colormap, open_image, pil_to_tensor, scale_to_255, to_mode


def test_not_an_image_truncated_and_missing_files(tmp_path, rgb_png):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ImageError, match="file is not an image"):
        open_image(text)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(rgb_png.read_bytes()[:200])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(truncated)
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        open_image(tmp_path)


def test_pixel_limit_is_checked_before_decoding(rgb_png, monkeypatch):
    with pytest.raises(ImageError, match=r"60x40 = 2,400 pixels, over the limit of 1,000 pixels"):
        open_image(rgb_png, limit=1000)
    monkeypatch.setenv("CONVSCOPE_MAX_PIXELS", "100")
    with pytest.raises(ImageError, match="CONVSCOPE_MAX_PIXELS"):
        open_image(rgb_png)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1", "RGB"])
def test_every_mode_converts(tmp_path, mode):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8))
    image = base.convert("I;16") if mode == "I;16" else base.convert(mode)
    suffix = ".tiff" if mode == "CMYK" else ".png"
    path = tmp_path / f"image{suffix}"
    image.save(path)
    for channels in (3, 1):
        tensor = pil_to_tensor(to_mode(open_image(path), channels))
        assert tensor.shape == (channels, 10, 12)
        assert 0 <= tensor.min() and tensor.max() <= 1 and tensor.max() > 0


def test_transparent_pixels_are_composited_on_white():
    image = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    assert to_mode(image, 3).getpixel((0, 0)) == (255, 255, 255)


def test_fit_squash_and_crop():
    image = Image.new("RGB", (300, 100))
    assert fit(image, (32, 48), "squash").size == (48, 32)
    assert fit(image, (32, 32), "crop").size == (32, 32)


def test_algorithm_3_scaling():
    y = np.array([[0.0, 1.0], [2.0, 4.0]])
    assert scale_to_255(y).tolist() == [[0, 64], [128, 255]]
    assert scale_to_255(np.array([[-1.0, 2.0]])).tolist() == [[0, 255]]  # negatives shown as 0
    assert scale_to_255(np.array([[-1.0, -2.0]])).tolist() == [[0, 0]]  # no positive value: all black
    colored = heat_colormap(np.array([[0, 255]], dtype=np.uint8))
    assert colored[0, 0].tolist() == [0, 0, 0] and colored[0, 1].tolist() == [255, 255, 255]
