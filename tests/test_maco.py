"""MACO (Fel et al. 2023): magnitude spectra, the phase-only parameterization, the canvas seen through random crops
and the transparency map, on tiny inputs and the digits model."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convscope import objectives as O
from convscope.core.errors import ConvscopeError
from convscope.techniques.param import MACO_SCALE, ImageParam, decorrelation_matrix, hermitian_phase
from convscope.techniques.render import Cancelled, item_generators, render
from convscope.techniques.spectrum import builtin_spectrum, magnitude_spectrum
from convscope.techniques.transforms import random_crops

pytestmark = pytest.mark.usefixtures("one_thread")

LAYER = "features.3"  # digits: 32 channels at 16 x 16


def numpy_spectrum(x: np.ndarray, decorrelate: bool) -> np.ndarray:
    """The definition of magnitude_spectrum, written directly in numpy (float64)."""
    if decorrelate:
        inverse = np.linalg.inv(decorrelation_matrix().numpy().astype(np.float64))
        x = np.einsum("ij,njhw->nihw", inverse, x)
    x = x - x.mean(axis=(2, 3), keepdims=True)
    x = x / x.std(axis=(2, 3), keepdims=True)
    return np.abs(np.fft.rfft2(x, norm="ortho")).mean(axis=0)


@pytest.mark.parametrize("channels, decorrelate", [(3, True), (3, False), (1, True)])
def test_magnitude_spectrum_equals_a_direct_computation(channels, decorrelate):
    images = torch.rand(5, channels, 16, 20, generator=torch.Generator().manual_seed(1))
    got = magnitude_spectrum(images, (16, 20), decorrelate=decorrelate)
    assert got.dtype == torch.float32 and got.shape == (channels, 16, 11)
    expected = numpy_spectrum(images.double().numpy(), decorrelate and channels == 3)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert float(got[:, 0, 0].abs().max()) < 1e-5  # standardized channels: no DC


def test_magnitude_spectrum_covers_then_centre_crops():
    images = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    got = magnitude_spectrum(images, (16, 16))
    resized = F.interpolate(images, size=(16, 24), mode="bilinear", align_corners=False, antialias=True)
    expected = numpy_spectrum(resized[..., 4:20].double().numpy(), True)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConvscopeError, match="N, C, H, W"):
        magnitude_spectrum(images[0], (16, 16))


def test_builtin_spectrum_is_image_like_and_memoized():
    colour = builtin_spectrum((64, 64))
    grey = builtin_spectrum((64, 64), channels=1)
    assert colour.shape == (3, 64, 33) and grey.shape == (1, 64, 33)
    colour[0, 1, 1] = -5.0  # a copy: the memoized spectrum is untouched
    assert float(builtin_spectrum((64, 64))[0, 1, 1]) > 0
    # photographs: the magnitude falls roughly as 1/f (a log-log slope near -1, white noise would give 0)
    fy = torch.fft.fftfreq(64)[:, None]
    fx = torch.fft.rfftfreq(64)[None, :]
    radius = (fy**2 + fx**2).sqrt()
    keep = (radius > 0.02) & (radius < 0.45)
    slope = np.polyfit(np.log(radius[keep].numpy()), np.log(grey[0][keep].numpy()), 1)[0]
    assert -2.5 < slope < -0.7, slope
    with pytest.raises(ConvscopeError, match="channels must be 1 or 3"):
        builtin_spectrum((64, 64), channels=2)


@pytest.mark.parametrize("width", [20, 21])
def test_maco_images_have_the_fixed_magnitude(width):
    noise = torch.rand(4, 3, 16, width, generator=torch.Generator().manual_seed(3))
    magnitude = magnitude_spectrum(noise, (16, width))  # a real image's magnitude: even where the real FFT needs it
    param = ImageParam(2, 3, (16, width), "maco", magnitude=magnitude, generator=item_generators(0, ["a", "b"]))
    t = param.raw()
    assert torch.allclose(t.std(dim=(2, 3), correction=0), torch.full((2, 3), MACO_SCALE), atol=1e-5)
    assert float(t.detach().mean(dim=(2, 3)).abs().max()) < 1e-5
    ratio = torch.fft.rfft2(t, norm="ortho").abs() / magnitude  # one constant per item and channel (the scaling)
    ratio = ratio.detach().flatten(2)[..., 1:]  # the DC term is 0 / 0
    assert float((ratio.std(dim=-1) / ratio.mean(dim=-1)).max()) < 1e-4
    image = param().detach()
    assert image.shape == (2, 3, 16, width) and 0 <= float(image.min()) and float(image.max()) <= 1


def test_hermitian_phase_is_odd_on_the_real_fft_columns():
    phase = torch.rand(1, 1, 6, 5, generator=torch.Generator().manual_seed(6)) * 6 - 3
    odd = hermitian_phase(phase, 8)
    for column in (0, 4):
        for u in range(6):
            value = float(odd[0, 0, u, column])
            if u in (0, 3):  # self-conjugate frequencies: real, so phase 0 or π by the sign of cos φ
                assert math.isclose(
                    value, math.pi if math.cos(float(phase[0, 0, u, column])) < 0 else 0.0, abs_tol=1e-6
                )
            else:
                assert math.isclose(value, -float(odd[0, 0, (-u) % 6, column]), abs_tol=1e-6)
    assert torch.equal(odd[..., 1:4], phase[..., 1:4])


def test_maco_start_is_per_item_uniform_and_set_image_keeps_the_phase():
    names = ["a", "b", "c"]
    batch = ImageParam(3, 3, (16, 16), "maco", generator=item_generators(5, names))
    for i, name in enumerate(names):
        alone = ImageParam(1, 3, (16, 16), "maco", generator=item_generators(5, [name]))
        assert torch.equal(batch.levels[0][i], alone.levels[0][0])
    phase = batch.levels[0].detach()
    assert -math.pi <= float(phase.min()) and float(phase.max()) < math.pi
    assert abs(float(phase.std()) - math.pi / math.sqrt(3)) < 0.1  # uniform on [-π, π)
    # its own images come back exactly; a photo comes back with its phase and the fixed magnitude
    own = batch().detach()
    other = ImageParam(3, 3, (16, 16), "maco").set_image(own)
    assert float((other() - own).abs().max()) < 1e-4
    photo = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 0.8 + 0.1
    param = ImageParam(1, 3, (16, 16), "maco").set_image(photo)
    t = torch.linalg.inv(param.color) @ torch.logit(photo).flatten(2)
    expected = torch.fft.rfft2(t.view(1, 3, 16, 16), norm="ortho")
    got = torch.fft.rfft2(param.raw().detach(), norm="ortho")
    cosine = (got * expected.conj()).real / (got.abs() * expected.abs()).clamp_min(1e-12)  # cos of the phase gap
    assert float(cosine.flatten(2)[..., 1:].min()) > 0.999
    with pytest.raises(ConvscopeError, match="magnitude shape"):
        ImageParam(1, 3, (16, 16), "maco", magnitude=torch.ones(3, 16, 16))


def test_random_crops_window_of_the_canvas_and_are_per_item():
    height, width = 40, 50
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width)
    canvas = torch.stack([rows, cols])[None].expand(4, -1, -1, -1).contiguous()
    names = ["p", "q", "r", "s"]
    crops = random_crops(canvas, (32, 40), item_generators(0, names), min_fraction=0.8)
    for i, name in enumerate(names):
        draws = torch.rand(3, generator=item_generators(0, [name])[0])
        fraction = 0.8 + 0.2 * float(draws[0])
        top, left = (1 - fraction) * height * float(draws[2]), (1 - fraction) * width * float(draws[1])
        # the pixel centres of the crop, in canvas pixel coordinates (a linear ramp samples exactly)
        expected_rows = top + (torch.arange(32) + 0.5) * fraction * height / 32 - 0.5
        expected_cols = left + (torch.arange(40) + 0.5) * fraction * width / 40 - 0.5
        torch.testing.assert_close(crops[i, 0, :, 5], expected_rows, atol=1e-3, rtol=0)
        torch.testing.assert_close(crops[i, 1, 5, :], expected_cols, atol=1e-3, rtol=0)
        alone = random_crops(canvas[i : i + 1], (32, 40), item_generators(0, [name]), min_fraction=0.8)
        torch.testing.assert_close(alone[0], crops[i], atol=1e-6, rtol=0)
    whole = random_crops(canvas[:1], (20, 25), item_generators(0, ["p"]), min_fraction=1.0)
    resized = F.interpolate(canvas[:1], size=(20, 25), mode="bilinear", align_corners=False)
    torch.testing.assert_close(whole, resized, atol=1e-4, rtol=0)


def test_maco_render_rises_stays_in_range_and_returns_transparency(digits_subject):
    objective = O.per_item([O.channel(LAYER, c) for c in (2, 5)])
    result = render(digits_subject, objective, param="maco", steps=24, seed=0)
    assert result.images.shape == (2, 1, 32, 32)
    assert 0 <= float(result.images.min()) and float(result.images.max()) <= 1
    assert np.mean(result.history[-1]) > np.mean(result.history[0]) + 0.3, result.history
    transparency = result.transparency
    assert transparency.shape == (2, 1, 32, 32) and float(transparency.min()) >= 0
    torch.testing.assert_close(transparency.flatten(1).amax(dim=1), torch.ones(2))


def test_transparency_is_the_accumulated_gradient_magnitude(digits_subject):
    objective = O.channel(LAYER, 2)
    options = dict(steps=1, seed=3, transforms="none", redirect_relu_steps=0, fold_batchnorm=False)
    result = render(digits_subject, objective, **options)
    param = ImageParam(1, 1, (32, 32), "fft", generator=item_generators(3, objective.item_names(1)))
    image = param()
    (gradient,) = torch.autograd.grad(objective(digits_subject.capture(image, [LAYER])).sum(), image)
    expected = gradient.abs().mean(dim=1, keepdim=True)
    torch.testing.assert_close(result.transparency, expected / expected.max(), atol=1e-5, rtol=1e-4)


def test_maco_on_a_canvas_is_per_item_and_measures_the_whole_canvas(digits_subject):
    alone = render(digits_subject, O.channel(LAYER, 2), param="maco", canvas=1.25, steps=24, seed=0)
    mates = O.per_item([O.channel(LAYER, c) for c in (9, 2, 13)])
    batch = render(digits_subject, mates, param="maco", canvas=1.25, steps=24, seed=0)
    assert alone.images.shape == (1, 1, 40, 40) and batch.transparency.shape == (3, 1, 40, 40)
    assert float((alone.images[0] - batch.images[1]).abs().mean()) <= 0.005
    whole = F.interpolate(alone.images, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        measured = O.channel(LAYER, 2)(digits_subject.capture(whole, [LAYER]))
    assert math.isclose(alone.activations[0], float(measured[0]), rel_tol=1e-4, abs_tol=1e-5)
    assert alone.history[-1][0] > alone.history[0][0]
    with pytest.raises(ConvscopeError, match="canvas must be"):
        render(digits_subject, O.channel(LAYER, 2), canvas=0.5, steps=1)
    with pytest.raises(ConvscopeError, match="magnitude"):
        render(digits_subject, O.channel(LAYER, 2), magnitude=torch.ones(1, 32, 17), steps=1)


def test_maco_render_can_be_cancelled(digits_subject):
    calls = []

    def cancel():
        calls.append(1)
        return True

    with pytest.raises(Cancelled, match="after 1 of 3 steps"):
        render(digits_subject, O.channel(LAYER, 2), param="maco", canvas=1.5, steps=3, cancel=cancel)
    assert len(calls) == 1


def test_a_lone_canvas_crop_on_several_threads_has_the_output_size():
    """The banded grid_sample of a single image (several threads) samples a crop of another size than the canvas
    (a 2x canvas: 192 px sampled at 96 px), the same values as the plain kernel."""
    canvas = torch.rand(1, 3, 192, 192)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        banded = random_crops(canvas, (96, 96), torch.Generator().manual_seed(0), min_fraction=0.5)
        torch.set_num_threads(1)
        plain = random_crops(canvas, (96, 96), torch.Generator().manual_seed(0), min_fraction=0.5)
    finally:
        torch.set_num_threads(before)
    assert banded.shape == (1, 3, 96, 96)
    torch.testing.assert_close(banded, plain)
