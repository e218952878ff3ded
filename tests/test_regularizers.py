"""Regularizers (Yosinski et al. 2015; Mahendran & Vedaldi 2015): penalty values against hand computations, the
projections, the text form, and their effect inside render on the digits model."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from convscope import objectives as O
from convscope.core.errors import ConvscopeError
from convscope.techniques import regularizers as R
from convscope.techniques.render import render

pytestmark = pytest.mark.usefixtures("one_thread")

LAYER = "features.3"


@pytest.fixture(scope="module")
def images():
    return torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(0))


def hand_tv(x: np.ndarray, beta: float) -> float:
    """Mahendran & Vedaldi's V^β, written as loops, divided by the number of terms."""
    channels, height, width = x.shape
    total = 0.0
    for c in range(channels):
        for i in range(height - 1):
            for j in range(width - 1):
                d = (x[c, i, j + 1] - x[c, i, j]) ** 2 + (x[c, i + 1, j] - x[c, i, j]) ** 2
                total += d ** (beta / 2)
    return total / (channels * (height - 1) * (width - 1))


def test_penalties_equal_hand_computations(images):
    x = images.double().numpy()
    u = x - 0.5
    for n in range(2):
        count = u[n].size
        expected = {
            "l1:0.3": 0.3 * np.abs(u[n]).sum() / count,
            "l2:0.3": 0.3 * (u[n] ** 2).sum() / count,
            "alpha:0.3:6": 0.3 * (np.abs(u[n]) ** 6).sum() / count,
            "alpha:2:3": 2 * (np.abs(u[n]) ** 3).sum() / count,
            "tv:0.3": 0.3 * hand_tv(x[n], 2.0),
            "tv:0.3:1": 0.3 * hand_tv(x[n], 1.0),
        }
        for text, value in expected.items():
            got = R.parse_regularizer(text).penalty(images.double())
            assert got.shape == (2,)
            assert abs(float(got[n]) - value) <= 1e-9 + 1e-6 * abs(value), (text, float(got[n]), value)
    assert torch.equal(R.l2(1.0).penalty(torch.full((1, 3, 4, 4), 0.5)), torch.zeros(1))  # grey costs nothing
    assert torch.equal(R.blur().penalty(images), torch.zeros(2))  # a projection adds no penalty


def test_penalties_are_size_independent():
    small = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    large = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # the same picture at twice the size
    for regularizer in (R.l1(1), R.l2(1), R.alpha_norm(1, 6)):
        torch.testing.assert_close(regularizer.penalty(small), regularizer.penalty(large))


def test_blur_equals_scipy_and_keeps_constants():
    x = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(2)).double()
    for sigma in (0.5, 1.0):
        got = R.gaussian_blur(x, sigma).numpy()
        expected = gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=3.0)
        np.testing.assert_allclose(got, expected, atol=1e-12)
    flat = torch.full((1, 1, 5, 5), 0.3)
    torch.testing.assert_close(R.blur(1, 1.0).project(flat), flat)
    assert R.blur(4).due(3) and not R.blur(4).due(2) and R.blur(4).due(7) and not R.l1(1).due(0)


def test_clip_projections_grey_out_what_they_say(images):
    norms = (images - 0.5).norm(dim=1)
    clipped = R.clip(25).project(images)
    for n in range(2):
        threshold = torch.quantile(norms[n].flatten(), 0.25)
        low = norms[n] < threshold
        assert torch.equal(clipped[n][:, low], torch.full_like(clipped[n][:, low], 0.5))
        assert torch.equal(clipped[n][:, ~low], images[n][:, ~low])
        assert int(low.sum()) == 11  # 42 pixels: the 25th percentile lies between the 11th and 12th smallest
    gradient = torch.randn(images.shape, generator=torch.Generator().manual_seed(3))
    contribution = ((images - 0.5) * gradient).sum(dim=1).abs()
    kept = R.clip_contribution(50).project(images, gradient)
    for n in range(2):
        low = contribution[n] < torch.quantile(contribution[n].flatten(), 0.5)
        assert torch.equal(kept[n][:, low], torch.full_like(kept[n][:, low], 0.5))
        assert torch.equal(kept[n][:, ~low], images[n][:, ~low])
    assert torch.equal(R.clip_contribution(50).project(images, None), images)  # no gradient yet: nothing to rank


def test_parse_regularizer_forms_and_errors():
    assert R.parse_regularizer("l1:0.01").name == "l1:0.01"
    assert R.parse_regularizer("alpha:0.01").name == "alpha:0.01:6"
    assert R.parse_regularizer("TV:0.1").name == "tv:0.1:2"
    blur = R.parse_regularizer("blur:4:0.5")
    assert (blur.kind, blur.every, blur.name) == ("projection", 4, "blur:4:0.5")
    assert R.parse_regularizer("clip-contribution:10").name == "clip-contribution:10"
    assert R.parse_regularizer("clip:10").kind == "projection" and R.parse_regularizer("l2:0.05").kind == "penalty"
    bad = {
        "tv:x": "regularizer `tv:x`: weight must be a number",
        "tv:-1": "regularizer `tv:-1`: .*>= 0",
        "l1": "regularizer `l1`: `l1` takes 1 to 1 values",
        "l2:1:2": "takes 1 to 1 values",
        "blur:2.5": "every must be a whole number",
        "clip:150": "percentile must be a number in \\[0, 100\\]",
        "sharpen:1": "unknown name `sharpen`",
        "alpha:1:0.5": "exponent must be a number >= 1",
    }
    for text, message in bad.items():
        with pytest.raises(ConvscopeError, match=message) as error:
            R.parse_regularizer(text)
        assert "l1:W" in str(error.value)  # the accepted forms


def tv_of(images: torch.Tensor) -> float:
    return float(R.tv_terms(images).mean())


def test_regularizers_in_render(digits_subject):
    objective = O.per_item([O.channel(LAYER, c) for c in (2, 5)])
    plain = render(digits_subject, objective, steps=24, seed=0)
    smooth = render(digits_subject, objective, steps=24, seed=0, regularizers=[R.total_variation(20.0)])
    assert smooth.history[0] == plain.history[0]  # the history is the objective alone; the penalty steers the steps
    assert tv_of(smooth.images) < 0.7 * tv_of(plain.images), (tv_of(smooth.images), tv_of(plain.images))
    assert np.mean(smooth.history[-1]) > np.mean(smooth.history[0])
    blurred = render(digits_subject, objective, steps=24, seed=0, regularizers=[R.blur(1, 1.0)])
    assert tv_of(blurred.images) < 0.7 * tv_of(plain.images)
    clipped = render(digits_subject, objective, steps=24, seed=0, regularizers=[R.parse_regularizer("clip:50")])
    grey = ((clipped.images - 0.5).abs() < 1e-3).flatten(1).float().mean(dim=1)
    assert bool((grey >= 0.45).all()), grey  # the last projection greyed the lower half of the pixel norms
    assert 0 <= float(clipped.images.min()) and float(clipped.images.max()) <= 1
    assert np.mean(clipped.history[-1]) > np.mean(clipped.history[0])
    with pytest.raises(ConvscopeError, match="is not a Regularizer"):
        render(digits_subject, objective, steps=1, regularizers=["tv:1"])
