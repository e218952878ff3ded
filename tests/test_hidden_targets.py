"""Issue 25, item 4: every non-LRP attribution method explains a hidden unit (LAYER:CHANNEL: its spatial mean
activation; LAYER:CHANNEL@Y,X: one position of its map) and equals a hand-written gradient / loop on a small net;
bad targets are one line naming the field (exit 2 on the CLI, 422 at ["body", "spec", "target"])."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convscope.core.errors import ConvscopeError, UnitSyntaxError
from convscope.core.units import HiddenUnit, parse_target
from convscope.core.zoo import wrap
from convscope.techniques.attribution.cam import grad_cam, grad_cam_plus_plus, score_cam
from convscope.techniques.attribution.gradients import (
    gradient_attribution,
    integrated_gradients,
    smoothgrad,
    smoothgrad_noise,
)
from convscope.techniques.attribution.occlusion import occlusion

pytestmark = pytest.mark.usefixtures("one_thread")


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1, stride=2),
        nn.SiLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


@pytest.fixture(scope="module")
def subject():
    return wrap(small_net(), 16)


@pytest.fixture(scope="module")
def images():
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def unit_of(subject, x, layer: str, channel: int, position=None) -> torch.Tensor:
    """The unit's score [N] for a normalized input x, by a forward hook (the hand computation)."""
    kept = {}
    handle = subject.model.get_submodule(layer).register_forward_hook(lambda m, i, o: kept.update(a=o))
    try:
        subject.model(x)
    finally:
        handle.remove()
    a = kept["a"][:, channel]
    return a.mean((1, 2)) if position is None else a[:, position[0], position[1]]


def hand_gradient(subject, images, layer, channel, position=None) -> torch.Tensor:
    x = subject.normalize(images).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(unit_of(subject, x, layer, channel, position).sum(), x)
    return grad


def test_parse_target_spellings():
    assert parse_target(285) == 285 and parse_target("285") == 285 and parse_target(None) is None
    assert parse_target("blocks.3:12") == HiddenUnit("blocks.3", 12)
    assert parse_target("blocks.3:12@4,5") == HiddenUnit("blocks.3", 12, (4, 5))
    assert str(HiddenUnit("a:b", 1, (2, 3))) == "a:b:1@2,3" and parse_target("a:b:1@2,3").layer == "a:b"
    for bad in ["blocks.3", "blocks.3:x", "blocks.3:4@1", "blocks.3:4@1,y", "-1", "blocks.3:-2", "٣"]:
        with pytest.raises(UnitSyntaxError, match="target"):
            parse_target(bad)


@pytest.mark.parametrize("position", [None, (3, 5)])
@pytest.mark.parametrize("method", ["saliency", "gradient-x-input"])
def test_gradients_of_a_hidden_unit_equal_a_hand_gradient(subject, images, method, position):
    spelled = "3:4" if position is None else "3:4@3,5"
    result = gradient_attribution(subject, images, spelled, method, layers=["1"])
    grad = hand_gradient(subject, images, "3", 4, position)
    expected = grad * subject.normalize(images) if method == "gradient-x-input" else grad
    assert result.input.abs().max() > 0
    torch.testing.assert_close(result.input, expected, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        score = unit_of(subject, subject.normalize(images), "3", 4, position)
    torch.testing.assert_close(result.output, score)
    assert result.unit == spelled and result.target.tolist() == [4, 4]
    assert result.layers["1"].shape == (2, 6, 16, 16)  # gradient x activation below the unit


def test_guided_backprop_of_a_unit_rewrites_only_below_it(subject, images):
    """Guided backprop of a unit right after a ReLU: the gradient of the unit wrt the first ReLU's output is the
    plain one, then the first ReLU's backward keeps only positive gradients where its input was positive."""
    guided = gradient_attribution(subject, images, "2:1", "guided-backprop").input
    x = subject.normalize(images).detach().requires_grad_(True)
    z = subject.model[0](x)
    a = torch.relu(z)
    score = subject.model[2](a)[:, 1].mean((1, 2))
    (g_a,) = torch.autograd.grad(score.sum(), a, retain_graph=True)
    (expected,) = torch.autograd.grad(z, x, (z > 0) * g_a.clamp(min=0))
    torch.testing.assert_close(guided, expected, rtol=1e-5, atol=1e-7)


def test_integrated_gradients_of_a_unit(subject, images):
    steps = 4
    result = integrated_gradients(subject, images, "3:2@1,1", steps=steps, chunk=3)
    x, x0 = subject.normalize(images), subject.normalize(torch.zeros_like(images))
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (x0 + (k + 0.5) / steps * (x - x0)).detach().requires_grad_(True)
        total += torch.autograd.grad(unit_of(subject, point, "3", 2, (1, 1)).sum(), point)[0]
    torch.testing.assert_close(result.input, (x - x0) * total / steps, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        difference = unit_of(subject, x, "3", 2, (1, 1)) - unit_of(subject, x0, "3", 2, (1, 1))
    assert result.info["output_minus_baseline"] == pytest.approx(difference.tolist(), rel=1e-5)


def test_smoothgrad_of_a_unit(subject, images):
    result = smoothgrad(subject, images, "4:3", of="saliency", samples=5, noise=0.2, seed=7, batch_size=2)
    x = subject.normalize(images)
    draws, sigma = smoothgrad_noise(x, 5, 0.2, 7)
    expected = torch.zeros_like(x)
    for i in range(2):
        for k in range(5):
            noisy = (x[i : i + 1] + draws[i, k]).detach().requires_grad_(True)
            expected[i] += torch.autograd.grad(unit_of(subject, noisy, "4", 3).sum(), noisy)[0][0] / 5
    torch.testing.assert_close(result.input, expected, rtol=1e-5, atol=1e-7)
    assert sigma.tolist() == pytest.approx([0.2 * float(x[i].max() - x[i].min()) for i in range(2)])


@pytest.mark.parametrize("cam", [grad_cam, grad_cam_plus_plus])
def test_gradient_cams_of_a_unit(subject, images, cam):
    result = cam(subject, images, "4:6", layer="1")
    x = subject.normalize(images).detach()
    a = subject.model[1](subject.model[0](x)).detach().requires_grad_(True)
    score = subject.model[4](subject.model[3](subject.model[2](a)))[:, 6].mean((1, 2))
    (g,) = torch.autograd.grad(score.sum(), a)
    if cam is grad_cam:
        w = g.mean((2, 3), keepdim=True)
    else:
        denominator = 2 * g**2 + a.detach().sum((2, 3), keepdim=True) * g**3
        alpha = torch.where(denominator != 0, g**2 / torch.where(denominator != 0, denominator, 1), 0)
        w = (alpha * g.clamp(min=0)).sum((2, 3), keepdim=True)
    expected = F.interpolate(F.relu((w * a.detach()).sum(1, keepdim=True)), size=(16, 16), mode="bilinear")
    assert expected.max() > 0
    torch.testing.assert_close(result.input, expected, rtol=1e-5, atol=1e-7)
    assert result.unit == "4:6" and result.info["layer"] == "1"


def test_cam_layer_must_be_at_or_below_the_unit(subject, images):
    with pytest.raises(ConvscopeError, match=r"^layer: `5` runs after the target's layer `2`"):
        grad_cam(subject, images, "2:0", layer="5")
    assert grad_cam(subject, images, "2:0").info["layer"] == "1"  # default: the last spatial layer below the unit


def test_score_cam_of_a_unit_equals_a_hand_loop(subject, images):
    result = score_cam(subject, images[:1], "3:1", layer="1", batch_size=4)
    x = subject.normalize(images[:1])
    with torch.no_grad():
        a = subject.model[1](subject.model[0](x))
        scores = []
        for c in range(6):
            m = F.interpolate(a[:, c : c + 1], size=(16, 16), mode="bilinear", align_corners=True)
            m = (m - m.min()) / (m.max() - m.min() + 1e-8)
            scores.append(unit_of(subject, x * m, "3", 1)[0])
        w = torch.softmax(torch.stack(scores), 0).view(1, 6, 1, 1)
        expected = F.interpolate(F.relu((w * a).sum(1, keepdim=True)), size=(16, 16), mode="bilinear")
    torch.testing.assert_close(result.input, expected, rtol=1e-5, atol=1e-7)


def test_occlusion_of_a_unit_equals_a_hand_loop(subject, images):
    result = occlusion(subject, images, "3:5@2,6", patch=8, stride=8, batch_size=3)
    x = subject.normalize(images)
    expected = torch.zeros(2, 1, 16, 16)
    with torch.no_grad():
        clean = unit_of(subject, x, "3", 5, (2, 6))
        for t in (0, 8):
            for left in (0, 8):
                covered = x.clone()
                covered[..., t : t + 8, left : left + 8] = 0
                drop = clean - unit_of(subject, covered, "3", 5, (2, 6))
                expected[:, 0, t : t + 8, left : left + 8] = drop[:, None, None]
    assert expected.abs().max() > 0
    torch.testing.assert_close(result.input, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "target, message",
    [
        ("9:0", "target: unknown layer `9`"),
        ("3:700", "target: channel 700 out of range 0..7 of layer `3`"),
        ("3:1@40,3", "target: position (40, 3) outside the 8x8 map of 3"),
        ("8:1@0,0", "target: layer `8` gives a [C] vector"),
        ("logits:9", "target class 9 out of range 0..4"),
    ],
)
def test_bad_hidden_targets_are_one_line(subject, images, target, message):
    for run in (
        lambda: gradient_attribution(subject, images, target),
        lambda: integrated_gradients(subject, images, target, steps=2),
        lambda: grad_cam(subject, images, target),
        lambda: occlusion(subject, images, target, patch=8),
    ):
        with pytest.raises(ConvscopeError) as caught:
            run()
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_hidden_target_from_the_cli_and_its_errors(digits_subject, digit_png, tmp_path, capsys):
    import json

    from convscope.cli.main import main

    argv = ["attribute", str(digit_png), "--model", "digits", "--out", str(tmp_path), "--json"]
    assert main([*argv, "--method", "saliency", "--target", "features.3:2@1,1", "--layers", "features.0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unit"] == "features.3:2@1,1" and result["target"] == 2 and result["label"] == "features.3:2@1,1"
    # LRP from the unit through the recipe (its info once carried the unit too, which the result model refused); the
    # relevance at the unit's layer is its score, and the ledger balances
    assert main([*argv, "--method", "dtd", "--target", "features.3:2", "--layers", "features.3"]) == 0
    lrp = json.loads(capsys.readouterr().out)
    assert lrp["unit"] == "features.3:2" and lrp["target"] == 2 and "unit" not in lrp["info"]
    assert lrp["layers"][0]["relevance_sum"] == pytest.approx(lrp["output"], rel=1e-5)
    assert lrp["conservation"] + lrp["info"]["absorbed_total"] == pytest.approx(1.0, abs=1e-4)
    assert main([*argv, "--method", "saliency", "--target", "3"]) == 0  # a class, as before
    as_class = json.loads(capsys.readouterr().out)
    assert as_class["target"] == 3 and "unit" not in as_class
    for target, message in [
        ("features.99:0", "unknown layer `features.99`"),
        ("features.3:700", "channel 700 out of range 0..31"),
        ("features.3:1@40,3", "position (40, 3) outside the"),
        ("features.3:x", "target must be a class index"),
    ]:
        status = main([*argv, "--method", "occlusion", "--target", target])
        err = capsys.readouterr().err
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_bad_hidden_targets_are_422_on_the_field(digits_subject, digit_png, tmp_path):
    from pathlib import Path

    from fastapi.testclient import TestClient

    from convscope.server import ServerConfig, create_app

    config = ServerConfig(
        data_dir=tmp_path / "data", models=["digits"], allow_roots=[Path(digit_png).parent], datasets={}
    )
    with TestClient(create_app(config)) as client:
        for target, message in [
            ("features.99:0", "target: unknown layer `features.99`"),
            ("features.3:700", "target: channel 700 out of range 0..31"),
            ("features.3:1@40,3", "target: position (40, 3) outside the 16x16 map of features.3"),
            ("features.3:x", "target must be a class index"),
        ]:
            spec = {"model": {"spec": "digits"}, "image": digit_png, "method": "saliency", "target": target}
            for recipe in ("attribute", "faithfulness"):  # the faithfulness of a unit's map takes the same target
                response = client.post("/api/runs", json={"recipe": recipe, "spec": spec})
                assert response.status_code == 422, response.text
                detail = response.json()["detail"][0]
                assert detail["loc"] == ["body", "spec", "target"] and message in detail["msg"], (recipe, detail)
        # a unit is watched by its activation: its softmax probability is refused on `score`
        spec = {"model": {"spec": "digits"}, "image": digit_png, "target": "features.3:1", "score": "probability"}
        response = client.post("/api/runs", json={"recipe": "faithfulness", "spec": spec})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["body", "spec", "score"] and "scored by its activation" in detail["msg"], detail
