"""Datasets: ImageFolder and plain layouts, digits, odd modes, bad files skipped and reported, deterministic order."""

import numpy as np
import pytest
import torch
from PIL import Image

from convscope.core.data import open_dataset
from convscope.core.errors import ConvscopeError, ImageError
from convscope.core.subject import InputSpec

SPEC = InputSpec(size=(16, 16), channels=3)


def _save(path, mode="RGB", size=(20, 12), value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray(np.full(size[::-1], value * 200, dtype=np.uint16)).save(path)
    elif mode == "CMYK":
        Image.new("CMYK", size, (0, value, 0, 0)).save(path)  # JPEG keeps CMYK
    else:
        Image.new(mode, size, value if mode in ("L", "P") else (value,) * len(mode)).save(path)
    return path


@pytest.fixture()
def messy_folder(tmp_path, monkeypatch):
    """Two classes; odd modes (L, LA, RGBA, P, CMYK, I;16), a corrupt file, a huge image, a text file."""
    root = tmp_path / "data"
    _save(root / "cats" / "a.png", "L")
    _save(root / "cats" / "b.png", "LA")
    _save(root / "cats" / "c.png", "RGBA")
    _save(root / "cats" / "sub" / "d.gif", "P")
    _save(root / "dogs" / "e.jpg", "CMYK")
    _save(root / "dogs" / "f.png", "I;16")
    (root / "dogs" / "g_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    _save(root / "dogs" / "h_huge.png", "RGB", size=(300, 300))
    (root / "dogs" / "notes.txt").write_text("not an image")
    monkeypatch.setenv("CONVSCOPE_MAX_PIXELS", str(200 * 200))
    return root


def test_image_folder_layout_with_odd_modes_and_bad_files(messy_folder):
    dataset = open_dataset(messy_folder, SPEC)
    assert dataset.classes == ["cats", "dogs"]
    names = dataset.ids  # relative to the dataset folder
    assert names == [
        "cats/a.png",
        "cats/b.png",
        "cats/c.png",
        "cats/sub/d.gif",
        "dogs/e.jpg",
        "dogs/f.png",
        "dogs/g_corrupt.png",
        "dogs/h_huge.png",
    ]
    assert dataset.targets == [0, 0, 0, 0, 1, 1, 1, 1]
    x = dataset.load(0)
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.allclose(x, torch.full_like(x, 128 / 255), atol=1e-6)  # L 128 -> grey RGB
    with pytest.raises(ImageError, match="corrupt|not an image"):
        dataset.load(6)
    seen = []
    for images, indices in dataset.batches(3):
        assert images.shape[1:] == (3, 16, 16) and len(indices) == images.shape[0]
        seen += indices
    assert seen == [0, 1, 2, 3, 4, 5]  # order kept, the corrupt and the huge file left out
    reasons = dict(dataset.skipped)
    assert set(reasons) == {f"dogs/{n}" for n in ("notes.txt", "g_corrupt.png", "h_huge.png")}
    assert "over the limit" in reasons["dogs/h_huge.png"]
    list(dataset.batches(4))  # a second pass reports nothing twice
    assert len(dataset.skipped) == 3


def test_plain_folder_grayscale_and_indices(tmp_path):
    for i in range(5):
        _save(tmp_path / f"img{i}.png", "RGB", value=40 * i)
    dataset = open_dataset(tmp_path, InputSpec(size=(8, 10), channels=1, mean=(0.5,), std=(0.5,)))
    assert dataset.classes is None and dataset.targets == [None] * 5 and len(dataset) == 5
    batches = list(dataset.batches(2, indices=[4, 1, 3]))
    assert [b[1] for b in batches] == [[4, 1], [3]]
    assert batches[0][0].shape == (2, 1, 8, 10)
    assert batches[0][0][0].mean().item() == pytest.approx(160 / 255, abs=1e-3)


def test_digits_dataset_matches_the_digits_data():
    from convscope.core import digits

    dataset = open_dataset("digits", InputSpec(size=(32, 32), channels=1, mean=(0.3,), std=(0.3,)))
    data = digits.load_data()
    assert len(dataset) == 1797 and dataset.ids[3] == "digits:3" and dataset.classes == [str(d) for d in range(10)]
    assert dataset.targets[:20] == data.labels[:20].tolist()
    assert torch.equal(dataset.load(7), data.images[7])
    rgb = open_dataset("digits", SPEC).load(7)
    assert rgb.shape == (3, 16, 16) and torch.equal(rgb[0], rgb[2])


def test_bad_dataset_specs(tmp_path):
    with pytest.raises(ConvscopeError, match=r"neither an existing folder nor a built-in dataset \(digits, photos\)"):
        open_dataset(tmp_path / "missing", SPEC)
    with pytest.raises(ConvscopeError, match="holds no image files"):
        open_dataset(tmp_path, SPEC)
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ConvscopeError, match="is a file"):
        open_dataset(tmp_path / "x.png", SPEC)
    dataset = open_dataset(tmp_path, SPEC)
    with pytest.raises(ConvscopeError, match="unknown class `cats`"):
        open_dataset("digits", SPEC).class_index("cats")
    assert list(dataset.batches(2)) == [] and dataset.skipped[0][0].endswith("x.png")


def test_batches_equal_loaded_images_and_out_of_range_indices_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    dataset = open_dataset(tmp_path, SPEC)
    ((images, indices),) = list(dataset.batches(8))
    assert images.dtype == torch.float32 and images.shape == (5, 3, 16, 16)
    assert torch.equal(images, torch.stack([dataset.load(i) for i in indices]))  # one uint8 -> float conversion
    assert torch.equal(dataset.load(2) * 255, (dataset.load(2) * 255).round())  # 8-bit levels, exact
    for bad in (5, -1):
        with pytest.raises(ConvscopeError, match=f"image index {bad} out of range 0..4"):
            list(dataset.batches(2, indices=[0, bad]))
        with pytest.raises(ConvscopeError, match=f"image index {bad} out of range"):
            dataset.load(bad)


def test_big_jpegs_decode_at_reduced_scale_close_to_a_full_decode(tmp_path):
    from convscope.core.images import fit, open_image, pil_to_tensor

    small = np.random.default_rng(1).integers(0, 256, (6, 8, 3), dtype=np.uint8)  # smooth 1600x1200 photo
    Image.fromarray(small).resize((1600, 1200), Image.Resampling.BICUBIC).save(tmp_path / "big.jpg", quality=95)
    spec = InputSpec(size=(224, 224), channels=3)
    drafted = open_image(tmp_path / "big.jpg", draft=(224, 224))
    assert drafted.size == (400, 300)  # DCT scaling by 1/4: the largest reduction still covering 224 x 224
    assert open_image(tmp_path / "big.jpg").size == (1600, 1200)
    for mode in ("squash", "crop"):
        reference = pil_to_tensor(fit(open_image(tmp_path / "big.jpg"), (224, 224), mode))
        got = open_dataset(tmp_path, spec, fit=mode).load(0)
        assert reference.std() > 0.1  # the picture has structure, so the comparison means something
        assert got.shape == (3, 224, 224) and (got - reference).abs().mean() < 0.01
