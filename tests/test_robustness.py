"""Issue 12: faults that users of other interpretability tools have hit, replayed on convscope. Each test states the
right value (or the one clear error) for one kind of fault, on the Python API and the CLI."""

import copy
import json
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convscope
from conftest import hooks_left
from convscope.cli.main import main
from convscope.core.errors import ConvscopeError, SizeError
from convscope.core.images import tensor_to_pil
from convscope.techniques.attribution import attribute, grad_cam, gradient_attribution, lrp
from convscope.techniques.attribution.report import METHODS


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str):
    """json.loads that refuses NaN / Infinity, as every strict JSON parser does."""

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def digit_png(tmp_path):
    from convscope.core import digits

    data = digits.load_data()
    path = tmp_path / "digit.png"
    tensor_to_pil(data.images[data.test[0]]).save(path)
    return path


# --- 1. layers whose output a later in-place op rewrites -----------------------------------------------------
def toy(inplace: bool) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )


def test_grad_cam_of_a_layer_rewritten_in_place_is_that_layers():
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    inplace, reference = convscope.wrap(toy(True), size=32), convscope.wrap(toy(False), size=32)
    cam = grad_cam(inplace, x, 2, "2")
    assert torch.allclose(cam.input, grad_cam(reference, x, 2, "2").input, atol=1e-6)
    assert torch.allclose(cam.layers["2"], grad_cam(reference, x, 2, "2").layers["2"], atol=1e-6)
    relu = grad_cam(inplace, x, 2, "3").input  # before the fix, layer 2's map was this one bit for bit
    assert ((cam.input - relu).norm() / relu.norm()).item() > 0.1
    # the same for the gradient family's gradient x activation at every layer, and for capture
    mine = gradient_attribution(inplace, x, 2, "saliency", ["0", "2"])
    theirs = gradient_attribution(reference, x, 2, "saliency", ["0", "2"])
    for name in ("0", "2"):
        assert torch.allclose(mine.layers[name], theirs.layers[name], atol=1e-6)
    assert torch.equal(inplace.capture(x, ["0", "2"])["2"], reference.capture(x, ["0", "2"])["2"])
    assert bool((inplace.capture(x, ["0"])["0"] < 0).any())  # the conv's own output, before the ReLU
    assert hooks_left(inplace.model) == 0
    # the model's output is unchanged by the copies handed to the rest of the forward
    assert torch.allclose(inplace(x), reference(x), atol=1e-6)


def test_grad_cam_of_a_batchnorm_before_a_residual_add_is_the_batchnorms():
    subject = convscope.load("torchvision:resnet18", weights="none")
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    bn2, block = grad_cam(subject, x, 3, "layer4.1.bn2"), grad_cam(subject, x, 3, "layer4.1")
    difference = bn2.layers["layer4.1.bn2"] - block.layers["layer4.1"]
    assert (difference.norm() / block.layers["layer4.1"].norm()).item() > 0.1
    # reference: Grad-CAM of A = bn2's output, with the rest of the network written out of place
    model = subject.model
    with torch.no_grad():
        acts = subject.capture(x, ["layer4.1.bn2", "layer4.0"])
    a = acts["layer4.1.bn2"].clone().requires_grad_(True)
    logits = model.fc(torch.flatten(model.avgpool(F.relu(a + acts["layer4.0"])), 1))
    (grad,) = torch.autograd.grad(logits[0, 3], a)
    expected = (grad.mean((2, 3), keepdim=True) * a).detach()
    assert torch.allclose(bn2.layers["layer4.1.bn2"], expected, atol=1e-5)


# --- 2. models whose forward returns a tuple or a dict ---------------------------------------------------------
class TupleNet(nn.Module):
    """Main logits first, an auxiliary head second (as GoogLeNet / Inception do in training)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.pool = nn.Conv2d(3, 6, 3, padding=1), nn.AdaptiveAvgPool2d(1)
        self.head, self.aux = nn.Linear(6, 4), nn.Linear(6, 2)

    def features(self, x):
        return self.pool(F.relu(self.conv(x))).flatten(1)

    def forward(self, x):
        h = self.features(x)
        return self.head(h), self.aux(h)


class DictNet(TupleNet):
    def forward(self, x):
        h = self.features(x)
        return {"main": self.head(h), "aux": self.aux(h)}


class MainOnly(TupleNet):
    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_the_selected_output(method):
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    reference = attribute(convscope.wrap(MainOnly(), size=16), x, method, 1)
    for subject in (convscope.wrap(TupleNet(), size=16), convscope.wrap(DictNet(), size=16, output="main")):
        result = attribute(subject, x, method, 1)
        assert torch.allclose(result.output, reference.output, atol=1e-6)
        assert torch.allclose(result.input, reference.input, atol=1e-5)
    aux = attribute(convscope.wrap(DictNet(), size=16, output="aux"), x, method, 1)
    assert not torch.allclose(aux.output, reference.output)
    with pytest.raises(ConvscopeError, match="2 tensors .*main, aux.*output"):
        attribute(convscope.wrap(DictNet(), size=16), x, method, 1)


def test_output_rule_for_predict_render_and_errors():
    from convscope import objectives as O
    from convscope.techniques.predict import predict
    from convscope.techniques.render import render

    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    tuple_subject = convscope.wrap(TupleNet(), size=16)
    assert predict(tuple_subject, x, 2) == predict(convscope.wrap(MainOnly(), size=16), x, 2)
    result = render(tuple_subject, O.class_logit(1), steps=3, size=16)
    assert len(result.activations) == 1 and math.isfinite(result.activations[0])
    assert tuple_subject.graph.output_shape("logits") == [4]
    for bad, pattern in [("nope", "without the key `nope`.*main, aux"), ("7", "key `7`")]:
        with pytest.raises(ConvscopeError, match=pattern):
            convscope.wrap(DictNet(), size=16, output=bad)(x)
    with pytest.raises(ConvscopeError, match="index 0..1"):
        convscope.wrap(TupleNet(), size=16, output="5")(x)
    assert torch.equal(convscope.wrap(TupleNet(), size=16, output=1)(x), TupleNet()(tuple_subject.normalize(x))[1])

    class NoTensor(nn.Module):
        def forward(self, x):
            return "scores"

    with pytest.raises(ConvscopeError, match="no tensor"):
        convscope.wrap(NoTensor(), size=16)(x)

    class FeatureMap(nn.Module):  # class scores must be [N, K]
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return self.conv(x)

    with pytest.raises(ConvscopeError, match=r"not class scores"):
        attribute(convscope.wrap(FeatureMap(), size=16), x, "saliency")
    with pytest.raises(ConvscopeError, match=r"not \[1, classes\]"):
        predict(convscope.wrap(FeatureMap(), size=16), x)


def test_cli_tuple_and_dict_torchscript_models(capsys, tmp_path, rgb_png):
    tuple_file, dict_file = tmp_path / "tuple.pt", tmp_path / "dict.pt"
    torch.jit.script(TupleNet().eval()).save(str(tuple_file))
    torch.jit.script(DictNet().eval()).save(str(dict_file))
    code, out, _ = run_cli(capsys, "predict", rgb_png, "--model", f"file:{tuple_file}", "--top", 2, "--json")
    assert code == 0 and len(strict_json(out)["predictions"]) == 2
    code, out, err = run_cli(capsys, "predict", rgb_png, "--model", f"file:{dict_file}", "--json")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--output" in err
    code, out, _ = run_cli(
        capsys,
        "attribute",
        rgb_png,
        "--model",
        f"file:{dict_file}",
        "--output",
        "main",
        "--method",
        "saliency",
        "--json",
        "--out",
        tmp_path / "a",
    )
    subject = convscope.load(f"file:{dict_file}", output="main")
    assert code == 0 and strict_json(out)["output"] == pytest.approx(
        subject(subject.load_image(rgb_png)).max().item(), rel=1e-5
    )
    code, _, err = run_cli(
        capsys,
        "attribute",
        rgb_png,
        "--model",
        f"file:{dict_file}",
        "--output",
        "zzz",
        "--method",
        "saliency",
        "--out",
        tmp_path / "b",
    )
    assert code == 2 and "without the key `zzz`" in err and len(err.strip().splitlines()) == 1


# --- 3. occlusion with a stride larger than the patch; strict JSON everywhere ---------------------------------
def test_occlusion_with_gaps_is_finite_and_reports_them(digits_subject):
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(4))
    result = attribute(digits_subject, image, "occlusion", patch=4, stride=8)
    covered = torch.zeros(32, 32, dtype=torch.bool)
    for top in [*range(0, 29, 8), 28]:
        for left in [*range(0, 29, 8), 28]:
            covered[top : top + 4, left : left + 4] = True
    assert bool(torch.isfinite(result.input).all())
    assert bool((result.input[0, 0][~covered] == 0).all())
    assert result.info["uncovered_fraction"] == pytest.approx(float((~covered).float().mean()))
    assert int((~covered).sum()) == 624


def test_occlusion_cli_json_is_strict(capsys, tmp_path, digit_png):
    code, out, err = run_cli(
        capsys,
        "attribute",
        digit_png,
        "--model",
        "digits",
        "--method",
        "occlusion",
        "--patch",
        4,
        "--stride",
        8,
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    result = strict_json(out)
    assert math.isfinite(result["input_relevance_sum"]) and result["info"]["uncovered_fraction"] > 0.5
    assert "conservation" not in result and all("fraction_of_output" not in e for e in result["layers"])
    strict_json((tmp_path / "digit_occlusion.json").read_text())
    import numpy as np
    from PIL import Image

    heatmap = np.asarray(Image.open(result["heatmap"]))
    assert heatmap.std() > 0  # not a blank picture


def test_strict_json_turns_non_finite_numbers_into_null_with_a_warning():
    from convscope.core import jsonio

    with pytest.warns(jsonio.NonFiniteWarning, match=r"\$\.a\[1\], \$\.b\.c"):
        text = jsonio.dumps({"a": [1.0, float("nan")], "b": {"c": float("inf")}, "d": 2})
    assert strict_json(text) == {"a": [1.0, None], "b": {"c": None}, "d": 2}


def test_conservation_is_reported_for_lrp_only(capsys, tmp_path, digit_png):
    for method, expected in [("dtd", True), ("saliency", False), ("gradcam", False)]:
        code, out, _ = run_cli(
            capsys,
            "attribute",
            digit_png,
            "--model",
            "digits",
            "--method",
            method,
            "--json",
            "--out",
            tmp_path / method,
        )
        result = strict_json(out)
        assert code == 0 and ("conservation" in result) == expected
        assert all(("fraction_of_output" in e) == expected for e in result["layers"])


# --- 4. BatchNorm folding after the weights change ----------------------------------------------------------
def bn_net() -> nn.Module:
    torch.manual_seed(5)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    with torch.no_grad():
        net[1].running_mean.normal_()
        net[1].running_var.uniform_(0.5, 2)
    return net


@pytest.mark.parametrize("change", ["data", "in_place", "load_state_dict", "buffer", "new_parameter"])
def test_lrp_follows_the_model_as_it_is_now(change):
    net = bn_net()
    subject = convscope.wrap(net, size=16)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    before = lrp(subject, x, 0, "dtd", layers="all", ignore_bias=True)
    torch.manual_seed(7)
    if change == "data":
        net[0].weight.data.normal_()
    elif change == "in_place":
        with torch.no_grad():
            net[0].weight.mul_(-2)
    elif change == "load_state_dict":
        state = copy.deepcopy(net.state_dict())
        state["0.weight"] = torch.randn_like(state["0.weight"])
        net.load_state_dict(state)
    elif change == "buffer":
        net[1].running_mean.data += 1
    else:
        net[0].weight = nn.Parameter(torch.randn_like(net[0].weight), requires_grad=False)
    after = lrp(subject, x, 0, "dtd", layers="all", ignore_bias=True)
    fresh = lrp(convscope.wrap(copy.deepcopy(net), size=16), x, 0, "dtd", layers="all", ignore_bias=True)
    assert after.output.item() == pytest.approx(subject(x)[0, 0].item(), abs=1e-5)
    assert not torch.allclose(after.output, before.output)
    assert torch.allclose(after.input, fresh.input, atol=1e-6)
    for name in fresh.layers:
        assert torch.allclose(after.layers[name], fresh.layers[name], atol=1e-6)


def test_render_folding_follows_the_model_as_it_is_now():
    from convscope.core.fold import folded_forward, verify

    net = bn_net()
    subject = convscope.wrap(net, size=16)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    assert verify(subject, folded_forward(subject, ["logits"]), x, ["logits"]) < 1e-5
    net[1].weight.data.mul_(3)
    net[0].bias.data.normal_()
    assert verify(subject, folded_forward(subject, ["logits"]), x, ["logits"]) < 1e-5


# --- 7. sizes too small for a deep layer ----------------------------------------------------------------------
def test_size_too_small_names_the_smallest_size(capsys, tmp_path, rgb_png):
    subject = convscope.load("torchvision:vgg11", weights="none")
    with pytest.raises(SizeError, match=r"size 16x16 is too small for layer `features.20`.* 32x32"):
        subject.check_size(16, ["features.20"])
    subject.check_size(32, ["features.20"])
    code, out, err = run_cli(
        capsys,
        "visualize",
        "--model",
        "torchvision:vgg11",
        "--weights",
        "none",
        "--layer",
        "features.20",
        "--channels",
        0,
        "--size",
        16,
        "--steps",
        2,
        "--out",
        tmp_path,
    )
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "16x16" in err and "features.20" in err and "32x32" in err
    code, _, err = run_cli(
        capsys,
        "dream",
        rgb_png,
        "--model",
        "torchvision:vgg11",
        "--weights",
        "none",
        "--layer",
        "features.20",
        "--octaves",
        4,
        "--octave-scale",
        2,
        "--steps",
        1,
        "--max-size",
        64,
        "--out",
        tmp_path,
    )
    assert code == 2 and "smallest octave" in err and "features.20" in err and len(err.strip().splitlines()) == 1


def test_size_check_for_a_model_that_needs_its_own_size():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 12 * 12, 3))
    subject = convscope.wrap(net, size=12, channels=1, mean=(0.5,), std=(0.5,))
    with pytest.raises(SizeError, match=r"20x20 does not work .*own input size 12x12 does"):
        subject.check_size(20, ["logits"])
    subject.check_size(12, ["logits"])
    subject.check_size(8, ["0"])  # the conv itself works at any size


# --- 8. LRP that float32 cannot hold -------------------------------------------------------------------------
def test_unstable_lrp_is_refused_with_the_reason():
    from skimage import data

    subject = convscope.load("torchvision:resnet18", weights="none")
    photos = [
        torch.tensor(getattr(data, name)()).permute(2, 0, 1).float() / 255
        for name in ("chelsea", "coffee", "astronaut", "rocket")
    ]
    x = torch.stack([F.interpolate(p[None], size=(64, 64), mode="bilinear")[0] for p in photos])
    for module in subject.model.modules():  # BatchNorm statistics from real images, as a trained model has
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    subject.model.train()
    with torch.no_grad():
        subject.model(subject.normalize(x))
    subject.model.eval()
    for composite in ("dtd", "epsilon-plus"):  # z+ rules: finite and within float32 at every layer
        result = lrp(subject, x[:1], None, composite, ignore_bias=True)
        assert all(bool(torch.isfinite(v).all()) for v in [result.input, *result.layers.values()])
    try:
        result = lrp(subject, x[:1], None, "epsilon", ignore_bias=True)
    except ConvscopeError as error:
        assert "numerically unstable" in str(error) and "ignore_bias" in str(error)
    else:  # when it is not refused, it must be finite and conserve the logit
        assert bool(torch.isfinite(result.input).all())
        assert result.input.sum().item() == pytest.approx(result.output.item(), rel=1e-3)


def test_stable_bias_free_epsilon_conserves(digits_subject):
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(9))
    result = lrp(digits_subject, image, None, "epsilon", ignore_bias=True)
    assert result.input.sum().item() == pytest.approx(result.output.item(), rel=1e-3)


# --- 9. --weights none is seeded -------------------------------------------------------------------------------
def test_random_initialization_is_seeded_and_leaves_the_global_seed_alone(capsys, digit_png):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = convscope.load("digits", weights="none")
    assert torch.equal(torch.rand(3), expected)  # loading drew nothing from the caller's generator
    second = convscope.load("digits", weights="none")
    other = convscope.load("digits", weights="none:1")
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name])
    assert not torch.equal(first.model.state_dict()["features.0.weight"], other.model.state_dict()["features.0.weight"])
    outputs = [
        run_cli(capsys, "predict", digit_png, "--model", "digits", "--weights", "none", "--json", "--no-cache")[1]
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    code, _, err = run_cli(capsys, "predict", digit_png, "--model", "digits", "--weights", "none:x")
    assert code == 2 and "none:N" in err


def test_visualize_with_random_weights_repeats(capsys, tmp_path):
    runs = [
        strict_json(
            run_cli(
                capsys,
                "visualize",
                "--model",
                "torchvision:resnet18",
                "--weights",
                "none",
                "--layer",
                "layer1",
                "--channels",
                "0,1",
                "--size",
                32,
                "--steps",
                3,
                "--seed",
                0,
                "--json",
                "--no-cache",
                "--out",
                tmp_path / str(i),
            )[1]
        )
        for i in range(2)
    ]
    assert [e["activation"] for e in runs[0]["images"]] == [e["activation"] for e in runs[1]["images"]]


# --- also noticed -------------------------------------------------------------------------------------------------
def test_softmax_outputs_warn_and_training_mode_is_refused():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3), nn.Softmax(1))
    subject = convscope.wrap(net, size=16)
    x = torch.rand(1, 3, 16, 16)
    with pytest.warns(convscope.core.errors.ConvscopeWarning, match="softmax probabilities"):
        attribute(subject, x, "saliency")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attribute(convscope.wrap(net[:-1], size=16), x, "saliency")  # logits: no warning
    subject.model[0].train()
    for call in (lambda: subject(x), lambda: attribute(subject, x, "dtd"), lambda: subject.capture(x, ["0"])):
        with pytest.raises(ConvscopeError, match=r"training mode \(`0`\).*eval"):
            call()


# --- neighbours found by an independent re-check ---------------------------------------------------------------
def test_training_mode_is_refused_before_anything_runs():
    net = bn_net()
    subject = convscope.wrap(net, size=16)
    net.train()
    before = net[1].running_mean.clone()
    for call in (lambda: subject.graph, lambda: attribute(subject, torch.rand(1, 3, 16, 16), "dtd")):
        with pytest.raises(ConvscopeError, match="training mode"):
            call()
    assert torch.equal(net[1].running_mean, before)  # the dry run never ran in training mode


class Discards(nn.Module):
    """An in-place op whose returned value the forward ignores (it relies on the overwrite)."""

    def __init__(self, kind: str):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.fc, self.kind = nn.Conv2d(3, 4, 3), nn.Linear(4, 2), kind

    def forward(self, x):
        y = self.conv(x)
        if self.kind == "relu_":
            y.relu_()
        elif self.kind == "functional":
            F.relu(y, inplace=True)
        else:
            y = F.relu(y, inplace=True)  # the returned value is used: fine
        return self.fc(y.mean((2, 3)))


@pytest.mark.parametrize("kind", ["relu_", "functional", "used"])
def test_discarded_in_place_results_are_explained_or_refused(kind):
    subject = convscope.wrap(Discards(kind), size=8)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    logit = subject(x)[0, 1].item()
    for method in ("dtd", "lrp-epsilon", "guided-backprop", "deconvnet", "saliency", "gradcam"):
        if kind != "used" and method not in ("saliency", "gradcam"):
            with pytest.raises(ConvscopeError, match="discards the result of an in-place"):
                attribute(subject, x, method, 1)
        else:
            assert attribute(subject, x, method, 1).output.item() == pytest.approx(logit, abs=1e-6)


def test_rewritten_backward_methods_refuse_torchscript(tmp_path):
    path = tmp_path / "m.pt"
    torch.jit.script(toy(False).eval()).save(str(path))
    subject = convscope.load(f"file:{path}")
    x = torch.rand(1, 3, 224, 224)
    assert attribute(subject, x, "saliency").input.shape == (1, 3, 224, 224)
    for method in ("guided-backprop", "deconvnet"):
        with pytest.raises(ConvscopeError, match="TorchScript"):
            attribute(subject, x, method)


def test_hyper_parameters_and_replaced_modules_are_seen():
    net = bn_net()
    subject = convscope.wrap(net, size=16)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    lrp(subject, x, 0, "dtd")
    net[1].eps = 0.5
    assert lrp(subject, x, 0, "dtd").output.item() == pytest.approx(subject(x)[0, 0].item(), abs=1e-6)
    net[1] = nn.BatchNorm2d(4).eval()
    assert torch.allclose(subject.capture(x, ["1", "logits"])["logits"], subject(x))
    assert lrp(subject, x, 0, "dtd").output.item() == pytest.approx(subject(x)[0, 0].item(), abs=1e-6)
    net.double()
    assert subject(x).dtype == torch.float64


def test_output_rule_neighbours():
    from convscope.core.outputs import select_output

    logits, features = torch.zeros(1, 4), torch.ones(1, 6)
    assert select_output(((logits, features), features)) is logits  # depth first
    assert select_output((None, logits)) is logits
    assert select_output({0: logits, 1: features}, "0") is logits  # an int key, spelled as text on the CLI

    class NaNNet(nn.Module):
        def forward(self, x):
            return x.mean((2, 3)) * float("nan")

    with pytest.raises(ConvscopeError, match="not finite"):
        lrp(convscope.wrap(NaNNet(), size=8), torch.rand(1, 3, 8, 8), 0, "epsilon")


def test_degenerate_datasets_give_one_line(capsys, tmp_path, digit_png, digits_subject):
    from PIL import Image

    folder = tmp_path / "same"
    folder.mkdir()
    for i in range(6):
        Image.open(digit_png).save(folder / f"{i}.png")
    code, _, err = run_cli(
        capsys,
        "facets",
        "--model",
        "digits",
        "--dataset",
        folder,
        "--target",
        "logits:3",
        "--k",
        "3",
        "--steps",
        "2",
        "--out",
        tmp_path / "f",
    )
    assert code == 2 and "same code" in err and len(err.strip().splitlines()) == 1


def test_cli_input_errors_are_one_line(capsys, tmp_path, digit_png, monkeypatch, digits_subject):
    code, _, err = run_cli(capsys, "predict", digit_png, "--model", "digits", "--weights", "none:99999999999999999999")
    assert code == 2 and "seed" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, not the usage block
        main(["visualize", "--model", "digits", "--size", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--size" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(
        capsys, "visualize", "--model", "digits", "--class", "1", "--init-from-data", "digits", "--size", "16"
    )
    assert code == 2 and "size (--size) does not apply" in err
    monkeypatch.setenv("CONVSCOPE_MAX_PIXELS", "abc")
    code, _, err = run_cli(capsys, "predict", digit_png, "--model", "digits", "--no-cache")
    assert code == 2 and "CONVSCOPE_MAX_PIXELS" in err and len(err.strip().splitlines()) == 1
