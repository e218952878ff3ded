"""Issue 23, items 1 and 2, in the recipes' data: each heatmap's colour scale (MapScale) and the image the model saw
(attribute, activations), the robust scale of gradient magnitude maps, each activation map's minimum, and a
visualization's objective per step (its curve)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import convscope
from convscope.core.images import tensor_to_pil
from convscope.recipes import get, run
from convscope.recipes.visualize import CURVE_POINTS, _curve

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = {"spec": "digits"}


def attribution(digit_png, tmp_path, method: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """The attribute recipe's data, its input attribution [C, H, W] (save_npy) and its map picture as RGB."""
    spec = get("attribute").spec(model=DIGITS, image=digit_png, method=method, save_npy=True)
    data = run(spec, out=tmp_path / method).data
    return data, np.load(data["npy"]), np.asarray(Image.open(data["heatmap"]).convert("RGB"))


def test_a_deep_taylor_map_states_its_scale_and_the_image_it_explains(digit_png, tmp_path):
    data, npy, picture = attribution(digit_png, tmp_path, "dtd")
    relevance = npy.sum(0)  # relevance per pixel: summed over colour channels
    scale = data["scale"]
    # z+ passes only positive relevance: unsigned, the heat ramp from 0 to the largest pixel (Algorithm 3)
    assert scale["signed"] is False and scale["low"] == 0 and scale["percentile"] is None
    assert scale["high"] == pytest.approx(relevance.max(), rel=1e-6) and scale["max"] == scale["high"]
    assert scale["min"] == pytest.approx(relevance.min(), rel=1e-6) and scale["min"] >= 0
    assert 1e-5 < scale["high"] < 1  # a relevance a page printing "0.00" would hide
    peak = np.unravel_index(relevance.argmax(), relevance.shape)
    assert tuple(picture[peak]) == (255, 255, 255)  # the ramp's end (white) is at the largest value
    # the image the model saw, beside the map: the digit at the model's 32 x 32
    seen = np.asarray(Image.open(data["input"]))
    expected = np.asarray(tensor_to_pil(convscope.load("digits").load_image(digit_png)[0]))
    assert seen.shape == (32, 32) and np.array_equal(seen, expected)
    # each layer's map states its own scale: the channel sum of that layer's relevance
    for layer in data["layers"]:
        if "heatmap" in layer:
            assert layer["scale"]["high"] >= 0 and layer["scale"]["low"] == (
                -layer["scale"]["high"] if layer["scale"]["signed"] else 0
            )
    written = json.loads((tmp_path / "dtd" / "digit_dtd.json").read_text())
    assert written["scale"] == scale and written["input"] == "digit_dtd_image.png"


def test_a_signed_map_is_symmetric_around_zero(digit_png, tmp_path):
    data, npy, picture = attribution(digit_png, tmp_path, "lrp-epsilon")
    relevance = npy.sum(0)
    scale = data["scale"]
    assert scale["signed"] is True and relevance.min() < 0 < relevance.max()
    assert scale["high"] == pytest.approx(np.abs(relevance).max(), rel=1e-6) and scale["low"] == -scale["high"]
    assert (scale["min"], scale["max"]) == pytest.approx((relevance.min(), relevance.max()), rel=1e-6)
    strongest = np.unravel_index(np.abs(relevance).argmax(), relevance.shape)
    assert tuple(picture[strongest]) in ((255, 0, 0), (0, 0, 255))  # full red or full blue at the ramp's end


def test_saliency_is_a_magnitude_on_a_robust_scale_not_nearly_blank(digit_png, tmp_path):
    data, npy, picture = attribution(digit_png, tmp_path, "saliency")
    magnitude = np.abs(npy).max(0)  # max |gradient| over colour channels (Simonyan et al. 2014)
    scale = data["scale"]
    assert scale["signed"] is False and scale["low"] == 0 and scale["percentile"] == 99.0
    assert scale["high"] == pytest.approx(np.percentile(magnitude, 99), rel=1e-6)
    assert scale["max"] == pytest.approx(magnitude.max(), rel=1e-6) and scale["high"] < scale["max"]
    # the picture: the heat ramp of min(|g| / high, 1); 1% of the pixels reach its end
    t = np.clip(magnitude / scale["high"], 0, 1)
    brightness = picture.astype(float).sum(-1) / (3 * 255)  # on the heat ramp, (r + g + b) / 3 = t
    assert np.abs(brightness - t).max() < 2 / 255
    assert (brightness >= 1 - 1 / 255).mean() >= 0.01
    # what the old scale (max |g| -> white, signed: white everywhere but a few pixels) could not show: a brighter
    # picture (by max / p99, less what clips; 1.25x on the digits model of version 2, 1.3x+ on version 1)
    assert brightness.mean() > 1.1 * (magnitude / magnitude.max()).mean()


def test_activation_maps_state_their_range_and_the_image(digit_png, tmp_path):
    spec = get("activations").spec(model=DIGITS, image=digit_png, layer="features.2", top=4)
    data = run(spec, out=tmp_path / "maps").data
    subject = convscope.load("digits")
    image = subject.load_image(digit_png)
    with torch.no_grad():
        maps = subject.activations(image, "features.2")[0]
    for channel in data["channels"]:
        values = maps[channel["index"]]
        assert channel["min"] == pytest.approx(float(values.min()), abs=1e-6)
        assert channel["max"] == pytest.approx(float(values.max()), abs=1e-6)
        assert channel["min"] <= channel["mean"] <= channel["max"]
    seen = np.asarray(Image.open(data["input"]))
    assert np.array_equal(seen, np.asarray(tensor_to_pil(image[0])))
    assert any(a.name == "input.png" for a in run(spec, out=tmp_path / "again").artifacts)


def test_a_visualization_records_its_objective_at_every_step(tmp_path):
    spec = get("visualize").spec(model=DIGITS, layer="features.3", channels=[0, 1], steps=20, transforms="none")
    images = run(spec, out=tmp_path / "vis").data["images"]
    for image in images:
        assert image["curve_steps"] == list(range(1, 21)) and len(image["curve"]) == 20
        assert all(np.isfinite(image["curve"]))
        assert image["curve"][-1] > image["curve"][0]  # gradient ascent raised it


def test_a_long_curve_is_thinned_evenly_keeping_the_first_and_last_step():
    history = [[float(i), -float(i)] for i in range(2500)]
    steps, values = _curve(history, 1)
    assert len(steps) == CURVE_POINTS and steps[0] == 1 and steps[-1] == 2500
    assert values == [-float(s - 1) for s in steps]
    assert max(np.diff(steps)) - min(np.diff(steps)) <= 1
    assert _curve([[float("nan")], [1.0]], 0) == ([1, 2], [None, 1.0])
