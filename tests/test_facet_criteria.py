"""Seed 000's four facet criteria (issue 24, build 2) as numbers: each equals its definition computed directly, orders
the synthetic images it is about as the thesis's wording says, and every facet of the `facets` recipe carries them
(computed on its PNG, against the clustered images' reference)."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import correlate, gaussian_filter

import convscope
from convscope.core import digits
from convscope.core.errors import ConvscopeError
from convscope.core.images import pil_to_tensor
from convscope.recipes import parse_spec
from convscope.techniques.trust import MODERATE_COLOURFULNESS, facet_criteria, reference_statistics

pytestmark = pytest.mark.usefixtures("one_thread")

SOBEL_ROWS = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float)  # d/dy, smoothed along x


def direct_criteria(image: torch.Tensor, reference_colourfulness: float) -> dict:
    """The docstring's definitions, written out with explicit Sobel kernels and a hand-made mask."""
    x = image.double().numpy()
    grey = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2] if len(x) == 3 else x[0]
    h, w = grey.shape
    if len(x) == 3:
        rg, yb = x[0] - x[1], (x[0] + x[1]) / 2 - x[2]
        m = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    else:
        m = 0.0
    colours = 1.0 if reference_colourfulness == 0 else min(1.0, m / reference_colourfulness)
    gy = correlate(grey, SOBEL_ROWS, mode="reflect")
    gx = correlate(grey, SOBEL_ROWS.T, mode="reflect")
    g = np.sqrt(gx**2 + gy**2)
    rows, cols = round(h / math.sqrt(2)), round(w / math.sqrt(2))
    inside = np.zeros((h, w), dtype=bool)
    inside[(h - rows) // 2 : (h - rows) // 2 + rows, (w - cols) // 2 : (w - cols) // 2 + cols] = True
    a = inside.sum() / inside.size
    central = min(1.0, max(0.0, (g[inside].sum() / g.sum() - a) / (1 - a)))
    windowed = (grey - grey.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(windowed)) ** 2
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    structure = power[(f > 0) & (f < 4 / min(h, w))].sum() / power[f > 0].sum()
    n = g.size
    clarity = (math.sqrt(n) - np.abs(g).sum() / math.sqrt((g**2).sum())) / (math.sqrt(n) - 1)
    return {
        "natural_colours": colours,
        "central_object": central,
        "global_structure": structure,
        "clarity_of_details": clarity,
    }


def square(size: int = 48, side: int = 16, top: int | None = None, colour=(0.9, 0.3, 0.2)) -> torch.Tensor:
    """A coloured square on a grey background (centred unless `top` gives its corner)."""
    image = torch.full((3, size, size), 0.5)
    top = (size - side) // 2 if top is None else top
    image[:, top : top + side, top : top + side] = torch.tensor(colour)[:, None, None]
    return image


def test_criteria_equal_their_definitions():
    rng = np.random.default_rng(0)
    images = [
        square(),
        square(top=0),
        torch.tensor(rng.random((3, 40, 56)), dtype=torch.float32),
        torch.tensor(gaussian_filter(rng.random((1, 36, 36)), (0, 3, 3)) * 2 - 0.5).clamp(0, 1).float(),
    ]
    for image in images:
        for reference, m_ref in (
            (None, MODERATE_COLOURFULNESS),
            ({"colourfulness": 0.2}, 0.2),
            ({"colourfulness": 0.0}, 0),
        ):
            got = facet_criteria(image, reference)
            want = direct_criteria(image, m_ref)
            assert list(got) == ["natural_colours", "central_object", "global_structure", "clarity_of_details"]
            for key, value in want.items():
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
                assert 0 <= got[key] <= 1


def test_criteria_order_images_as_the_thesis_describes():
    rng = np.random.default_rng(1)
    centred, corner = facet_criteria(square()), facet_criteria(square(64, 8, top=0))
    assert centred["central_object"] > 0.8 and corner["central_object"] == 0  # one central object, or not
    grey_square = facet_criteria(square(colour=(0.3, 0.3, 0.3)), {"colourfulness": 0.15})
    assert grey_square["natural_colours"] == 0.0 and centred["natural_colours"] == 1.0  # capped at 1
    patch = torch.tensor([0.6, 0.5, 0.45])[:, None, None].expand(3, 32, 32)  # M = 0.3 |(0.1, 0.1)|
    assert facet_criteria(patch, {"colourfulness": 0.1})["natural_colours"] == pytest.approx(
        0.3 * math.hypot(0.1, 0.1) / 0.1
    )
    noise = torch.tensor(rng.random((3, 64, 64)), dtype=torch.float32)
    blob = torch.tensor(gaussian_filter(np.pad(np.ones((24, 24)), 20), 4))[None].float().clamp(0, 1)
    crisp = facet_criteria(square(64, 24))
    assert facet_criteria(noise)["global_structure"] < 0.05 < 0.5 < facet_criteria(blob)["global_structure"]
    assert facet_criteria(noise)["clarity_of_details"] < 0.2 < facet_criteria(blob)["clarity_of_details"]
    assert facet_criteria(blob)["clarity_of_details"] < crisp["clarity_of_details"]  # sharp edges beat blur
    flat = facet_criteria(torch.full((1, 16, 16), 0.3), {"colourfulness": 0.0})
    assert flat == {"natural_colours": 1.0, "central_object": 0.0, "global_structure": 0.0, "clarity_of_details": 0.0}


def test_criteria_refuse_bad_input():
    with pytest.raises(ConvscopeError, match=r"image must be a \[C, H, W\] tensor"):
        facet_criteria(torch.rand(1, 3, 16, 16))
    with pytest.raises(ConvscopeError, match=r"image\[0\] must hold finite values in \[0, 1\]"):
        facet_criteria(torch.rand(3, 16, 16) + 1)
    with pytest.raises(ConvscopeError, match="reference colourfulness must be a finite number >= 0"):
        facet_criteria(torch.rand(3, 16, 16), {"colourfulness": -1.0})


def test_every_facet_carries_the_criteria(tmp_path):
    spec = {
        "model": {"spec": "digits"},
        "dataset": "digits",
        "target": "logits:3",
        "top_images": 30,
        "k": 2,
        "m": 3,
        "pca": 5,
    }
    result = convscope.run(parse_spec("facets", {**spec, "steps": 3, "batch_size": 512}), out=tmp_path / "run")
    data = result.data
    images = digits.load_data().images
    clustered = [images[int(member.split(":")[1])] for c in data["clusters"] for member in c["members"]]
    assert len(clustered) == 30
    reference = reference_statistics(clustered)
    assert data["reference"] == pytest.approx(reference)
    assert (
        reference["colourfulness"] == 0.0 and reference["spectral_slope"] < -2
    )  # grey; upsampled 8x8 digits are very smooth
    for cluster in data["clusters"]:
        picture = pil_to_tensor(Image.open(cluster["facet_image"]))
        assert cluster["criteria"] == pytest.approx(facet_criteria(picture, reference), abs=1e-12)
        assert cluster["criteria"]["natural_colours"] == 1.0  # grey against a grey dataset
