"""Gradient family, Grad-CAM, integrated gradients, occlusion, the `attribute` CLI contract, relevance-guided
visualization."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from convscope.cli.main import main
from convscope.core.errors import ConvscopeError
from convscope.core.zoo import wrap
from convscope.techniques.attribution.cam import grad_cam
from convscope.techniques.attribution.gradients import gradient_attribution, integrated_gradients
from convscope.techniques.attribution.occlusion import occlusion


def relu6_net(activation=nn.ReLU6) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        activation(inplace=True) if activation is not nn.SiLU else activation(),
        nn.Conv2d(8, 8, 3, padding=1),
        activation(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


@pytest.mark.parametrize("activation", [nn.ReLU6, nn.SiLU])
def test_guided_backprop_and_deconvnet_rewrite_relu6_and_silu(activation):
    subject = wrap(relu6_net(activation), 16)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    plain = gradient_attribution(subject, x, method="saliency", layers=["1"])
    guided = gradient_attribution(subject, x, plain.target, method="guided-backprop", layers=["1"])
    deconv = gradient_attribution(subject, x, plain.target, method="deconvnet", layers=["1"])
    assert not torch.allclose(guided.input, plain.input, atol=1e-6)
    assert not torch.allclose(deconv.input, plain.input, atol=1e-6)
    assert not torch.allclose(deconv.input, guided.input, atol=1e-6)
    # guided backprop: the gradient leaving the first activation (at the first conv's output) is f'(x) max(g, 0)
    grads = {}
    first = subject.model[0]

    def keep_gradient(_module, _inputs, output):
        grads["x"] = output.detach().clone()
        output.register_hook(lambda g: grads.setdefault("g", g))

    handle = first.register_forward_hook(keep_gradient)
    try:
        gradient_attribution(subject, x, plain.target, method="guided-backprop")
    finally:
        handle.remove()
    z = grads["x"].requires_grad_(True)
    (slope,) = torch.autograd.grad(activation()(z).sum(), z)  # f'(x): negative for SiLU below x = -1.28
    assert (grads["g"] * slope.sign() >= 0).all() and grads["g"].abs().sum() > 0
    assert torch.equal(plain.output, guided.output)  # the forward is unchanged


def test_integrated_gradients_completeness(digits_subject):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    result = integrated_gradients(digits_subject, x, steps=64)
    expected = result.info["output_minus_baseline"][0]
    assert result.input.sum().item() == pytest.approx(expected, rel=0.05, abs=0.05)


def test_gradcam_and_occlusion(digits_subject):
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    cam = grad_cam(digits_subject, x)
    assert cam.input.shape == (2, 1, 32, 32) and (cam.input >= 0).all()
    with pytest.raises(ConvscopeError, match="spatial"):
        grad_cam(digits_subject, x, layer="logits")
    occ = occlusion(digits_subject, x, patch=8, stride=4, batch_size=16)
    assert occ.input.shape == (2, 1, 32, 32) and occ.info["patches"] == 49
    # the map is exact: re-occlude the patch at the top-left corner and compare the drop
    with torch.no_grad():
        covered = x[:1].clone()
        covered[..., :8, :8] = -digits_subject.normalize.shift / digits_subject.normalize.scale  # model input 0
        drop = occ.output[0] - digits_subject(covered)[0, occ.target[0]]
    assert occ.input[0, 0, 0, 0].item() == pytest.approx(drop.item(), rel=1e-4, abs=1e-5)
    with pytest.raises(ConvscopeError, match="patch"):
        occlusion(digits_subject, x, patch=64)


def run_cli(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_attribute_cli_contract(digits_subject, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)).save(image)
    status, out, err = run_cli(
        [
            "attribute",
            str(image),
            "--model",
            "digits",
            "--method",
            "dtd",
            "--rank",
            "3",
            "--save-npy",
            "--ignore-bias",
            "--json",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert status == 0, err
    result = json.loads(out)
    assert {"target", "output", "input_relevance_sum", "layers", "npy"} <= result.keys()
    assert result["target"] == int(digits_subject(digits_subject.load_image(image)).argmax())
    saved = np.load(result["npy"])
    assert saved.shape == (1, 32, 32)
    assert saved.sum() == pytest.approx(result["input_relevance_sum"], rel=1e-4)
    layer = result["layers"][-1]
    assert {"name", "relevance_sum", "heatmap", "top_filters"} <= layer.keys()
    assert len(layer["top_filters"]) == 3 and set(layer["top_filters"][0]) == {"index", "relevance"}
    assert (tmp_path / "o").exists() and all(
        __import__("pathlib").Path(e["heatmap"]).exists() for e in result["layers"] if "heatmap" in e
    )
    details_path = __import__("pathlib").Path(result["json"])
    details = json.loads(details_path.read_text())  # the file next to the artifacts: paths relative to its folder
    for saved, printed in zip(details["layers"], result["layers"], strict=True):
        assert {k: v for k, v in saved.items() if k != "heatmap"} == {
            k: v for k, v in printed.items() if k != "heatmap"
        }
        if "heatmap" in printed:
            assert details_path.parent / saved["heatmap"] == __import__("pathlib").Path(printed["heatmap"])
    # the trace is printed without --json
    status, out, _ = run_cli(
        ["attribute", str(image), "--model", "digits", "--method", "saliency", "--out", str(tmp_path / "s")], capsys
    )
    assert status == 0 and "input relevance" in out
    # bad input: one line, status 2
    for argv, message in [
        (["--target", "12"], "target class 12 out of range"),
        (["--layers", "nope"], "unknown layer `nope`"),
        (["--method", "gradcam", "--layer", "logits"], "spatial"),
    ]:
        status, _, err = run_cli(
            ["attribute", str(image), "--model", "digits", "--out", str(tmp_path / "e"), *argv], capsys
        )
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "method",
    ["lrp-epsilon", "lrp-alphabeta", "guided-backprop", "deconvnet", "gradcam", "integrated-gradients", "occlusion"],
)
def test_every_method_runs_from_the_cli(method, digits_subject, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(1).random((32, 32)) * 255).astype(np.uint8)).save(image)
    status, out, err = run_cli(
        [
            "attribute",
            str(image),
            "--model",
            "digits",
            "--method",
            method,
            "--steps",
            "8",
            "--json",
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert status == 0, err
    result = json.loads(out)
    assert np.isfinite(result["input_relevance_sum"]) and result["output"] != 0


def test_visualize_relevant_filters(digits_subject, tmp_path, capsys):
    from PIL import Image

    from convscope.techniques.attribution.relevant import relevant_filters

    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(2).random((32, 32)) * 255).astype(np.uint8)).save(image)
    layer = digits_subject.graph.default_layer()
    chosen = relevant_filters(digits_subject, image, layer, 3)
    assert len(chosen) >= 1 and all(r > 0 for _, r in chosen)
    assert [r for _, r in chosen] == sorted((r for _, r in chosen), reverse=True)
    status, out, err = run_cli(
        [
            "visualize",
            "--model",
            "digits",
            "--relevant",
            str(image),
            "--layer",
            layer,
            "--top",
            "3",
            "--mix",
            "--steps",
            "4",
            "--json",
            "--out",
            str(tmp_path / "v"),
        ],
        capsys,
    )
    assert status == 0, err
    result = json.loads(out)
    assert [e["units"] for e in result["images"][: len(chosen)]] == [[f"{layer}:{c}"] for c, _ in chosen]
    # each visualized filter carries its relevance R_c, its share of the layer's relevance and its mix weight
    from convscope.techniques.attribution import lrp

    layer_relevance = lrp(digits_subject, digits_subject.load_image(image), layers=[layer]).layers[layer][0]
    per_channel = layer_relevance.flatten(1).sum(1)
    assert result["relevant"]["layer_relevance"] == pytest.approx(per_channel.sum().item(), rel=1e-5)
    assert result["relevant"]["target"] == int(digits_subject(digits_subject.load_image(image)).argmax())
    for entry, (c, r) in zip(result["images"], chosen):
        assert entry["filter"] == c
        assert entry["relevance"] == pytest.approx(per_channel[c].item(), rel=1e-5)
        assert entry["relevance_share"] == pytest.approx(per_channel[c].item() / per_channel.sum().item(), rel=1e-5)
        assert entry["mix_weight"] == pytest.approx(r / sum(v for _, v in chosen), rel=1e-6)
    if len(chosen) > 1:
        assert len(result["images"]) == len(chosen) + 1
        mixed = result["images"][-1]
        assert mixed["relevance"] == pytest.approx(sum(r for _, r in chosen), rel=1e-6)
        assert mixed["mix_weight"] == 1.0 and 0 < mixed["relevance_share"] <= 1 + 1e-6
    status, _, err = run_cli(
        [
            "visualize",
            "--model",
            "digits",
            "--relevant",
            str(image),
            "--layer",
            layer,
            "--channels",
            "1",
            "--out",
            str(tmp_path / "v"),
        ],
        capsys,
    )
    assert status == 2 and "--relevant" in err
