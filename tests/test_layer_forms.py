"""Issue 20 (robustness II): layers in every form a real PyTorch model gives them. Channels-last layer outputs
(Swin, ConvNeXt: [N, H, W, C]; ViT tokens [N, L, C]) are read by channel; layers whose channel axis cannot be
followed, layers that return tuples and layers that never run are refused by name; `torch.compile`d models and
submodules give the eager numbers. Each test states the right value or the one clear line."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convscope
from convscope import objectives as O
from convscope.cli.main import main
from convscope.core.errors import ChannelError, ConvscopeError, UnknownLayerError
from convscope.techniques.attribution import grad_cam, gradient_attribution
from convscope.techniques.attribution.explainer import LRP
from convscope.techniques.attribution.layers import default_layers
from convscope.techniques.dream import dream
from convscope.techniques.render import render

pytestmark = pytest.mark.usefixtures("one_thread")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. channels-last layer outputs -----------------------------------------------------------------------------
class ChannelsLastNet(nn.Module):
    """A ConvNeXt-like toy: conv (NCHW) -> permute -> LayerNorm / Linear / GELU (NHWC) -> a block that returns NHWC
    -> permute back -> head. 12 hidden channels on a 6 x 6 map: no axis has the length of another."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 12, 4, stride=4)  # 24 px -> 6 x 6
        self.norm = nn.LayerNorm(12)
        self.fc = nn.Linear(12, 20)
        self.act = nn.GELU()
        self.proj = nn.Linear(20, 12)
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)  # [N, 6, 6, 12]
        x = x + self.proj(self.act(self.fc(self.norm(x))))
        return self.head(x.mean((1, 2)))


def channels_last_subject():
    return convscope.wrap(ChannelsLastNet(), size=24, mean=(0.5,) * 3, std=(0.5,) * 3)


def test_the_graph_reports_channels_last_layers_channels_first():
    subject = channels_last_subject()
    graph = subject.graph
    assert graph.node("stem").channel_axis == 1 and graph.output_shape("stem") == [12, 6, 6]
    for name, channels in (("norm", 12), ("fc", 20), ("act", 20), ("proj", 12)):
        assert graph.node(name).channel_axis == 3
        assert graph.output_shape(name) == [channels, 6, 6]
        assert subject.num_channels(name) == channels
    assert json.loads(graph.to_json())["layers"][2]["channel_axis"] == 3  # the module's own layout is reported


def test_capture_and_channel_objectives_read_the_channel_axis():
    subject = channels_last_subject()
    x = torch.rand(2, 3, 24, 24)
    assert subject.graph.node("fc").calls == 1  # traced first: the hook below sees only the capture's forward
    raw = {}
    handle = subject.module("fc").register_forward_hook(lambda m, i, o: raw.setdefault("fc", o))
    captured = subject.capture(x, ["fc"])["fc"]
    handle.remove()
    assert captured.shape == (2, 20, 6, 6)
    assert torch.equal(captured, raw["fc"].permute(0, 3, 1, 2))
    subject.check_channels("fc", [19])
    with pytest.raises(ChannelError, match=r"channel 20 out of range 0\.\.19 for layer `fc`"):
        subject.check_channels("fc", [20])
    # a channel objective is the mean of that channel's map, not of a row of the image
    value = O.channel("fc", 7)(subject.capture(x, ["fc"]))
    assert torch.allclose(value, raw["fc"][..., 7].mean((1, 2)), atol=1e-6)


def test_gradients_flow_through_the_channels_first_view():
    """Grad-CAM and gradient x activation at a channels-last layer equal a hand computation on the permuted
    tensor (the view handed to the techniques is on the path to the logits)."""
    subject = channels_last_subject()
    x = torch.rand(1, 3, 24, 24)
    raw = {}
    handle = subject.module("act").register_forward_hook(lambda m, i, o: raw.setdefault("act", o))
    xn = subject.normalize(x).requires_grad_(True)
    logits = subject.model_output(xn)
    handle.remove()
    target = int(logits.argmax())
    (grad,) = torch.autograd.grad(logits[0, target], raw["act"])
    activation, gradient = raw["act"].permute(0, 3, 1, 2), grad.permute(0, 3, 1, 2)
    expected = F.relu((gradient.mean((2, 3), keepdim=True) * activation).sum(1, keepdim=True))
    expected = F.interpolate(expected, size=(24, 24), mode="bilinear", align_corners=False)
    cam = grad_cam(subject, x, target, layer="act")
    assert torch.allclose(cam.input, expected, atol=1e-6) and float(expected.detach().abs().max()) > 0
    saliency = gradient_attribution(subject, x, target, layers=["act"])
    assert torch.allclose(saliency.layers["act"], (activation * gradient).detach(), atol=1e-6)


@pytest.fixture(scope="module")
def swin():
    return convscope.load("timm:swin_tiny_patch4_window7_224", weights="none")


def test_swin_norm_has_768_channels_and_grad_cam_uses_them(swin):
    """The issue's case: `norm` is [N, 7, 7, 768]; it was read as 7 channels of 7 x 768."""
    assert swin.graph.output_shape("norm") == [768, 7, 7]
    assert swin.graph.output_shape("layers.3") == [768, 7, 7]
    swin.check_channels("norm", [100, 767])
    with pytest.raises(ChannelError, match=r"out of range 0\.\.767"):
        swin.check_channels("norm", [800])
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    raw = {}
    handle = swin.module("norm").register_forward_hook(lambda m, i, o: raw.setdefault("norm", o))
    xn = swin.normalize(swin.prepare(x)).requires_grad_(True)
    logits = swin.model_output(xn)
    handle.remove()
    (grad,) = torch.autograd.grad(logits[0, 3], raw["norm"])
    activation, gradient = raw["norm"].permute(0, 3, 1, 2), grad.permute(0, 3, 1, 2)
    expected = F.relu((gradient.mean((2, 3), keepdim=True) * activation).sum(1, keepdim=True))
    expected = F.interpolate(expected, size=(224, 224), mode="bilinear", align_corners=False)
    cam = grad_cam(swin, x, 3, layer="norm")
    correlation = torch.corrcoef(torch.stack([cam.input.flatten(), expected.flatten()]))[0, 1]
    assert float(correlation.detach()) > 0.9999
    assert cam.layers["norm"].shape == (1, 768, 7, 7)


def test_cli_activations_of_a_channels_last_layer(capsys, tmp_path, rgb_png):
    common = ["--model", "timm:swin_tiny_patch4_window7_224", "--weights", "none", "--out", tmp_path, "--no-cache"]
    code, out, err = run_cli(capsys, "activations", rgb_png, "--layer", "norm", "--channels", "100", "--json", *common)
    assert code == 0, err
    result = json.loads(out)
    assert result["output_shape"] == [768, 7, 7] and result["channels"][0]["index"] == 100
    code, _, err = run_cli(capsys, "activations", rgb_png, "--layer", "norm", "--channels", "800", *common)
    assert code == 2 and "channel 800 out of range 0..767" in err and len(err.strip().splitlines()) == 1


def test_torchvision_convnext_linear_layers_inside_blocks():
    """A neighbour: torchvision's ConvNeXt runs the MLP of each block channels-last (Permute modules)."""
    subject = convscope.load("torchvision:convnext_tiny", weights="none")
    graph = subject.graph
    assert graph.output_shape("features.1.0.block.3") == [384, 56, 56]  # Linear(96, 384) on [N, 56, 56, 96]
    assert graph.node("features.1.0.block.3").channel_axis == 3
    assert graph.output_shape("features.1.0") == [96, 56, 56]  # the block's output is channels-first again
    assert graph.node("features.1.0").channel_axis == 1


def test_layers_whose_channel_axis_is_unknown_are_refused_by_name():
    """ViT attention heads ([N, heads, L, head_dim], made by reshapes): no technique reads them by channel."""
    subject = convscope.load("timm:vit_tiny_patch16_224", weights="none")
    graph = subject.graph
    assert graph.node("blocks.0.attn.q_norm").channel_axis is None
    assert graph.output_shape("blocks.0.mlp.fc1") == [768, 197]  # tokens: features first, 197 positions
    message = r"layer `blocks\.0\.attn\.q_norm` .* cannot tell which axis of its output"
    with pytest.raises(UnknownLayerError, match=message):
        subject.num_channels("blocks.0.attn.q_norm")
    with pytest.raises(UnknownLayerError, match=message):
        subject.capture(torch.rand(1, 3, 224, 224), ["blocks.0.attn.q_norm"])
    with pytest.raises(UnknownLayerError, match=message):
        gradient_attribution(subject, torch.rand(1, 3, 224, 224), 0, layers=["blocks.0.attn.q_norm"])
    assert "blocks.0.attn.q_norm" not in default_layers(subject)


# --- 3. torch.compile -------------------------------------------------------------------------------------------
def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    ).eval()


def wrap(module):
    return convscope.wrap(module, size=16, mean=(0.5,) * 3, std=(0.5,) * 3)


def test_a_compiled_model_gives_the_eager_numbers():
    eager = wrap(small_net())
    compiled_module = torch.compile(small_net(), backend="eager")
    compiled_module(torch.rand(1, 3, 16, 16))  # compiled and run once, as users do
    compiled = wrap(compiled_module)
    assert compiled.layer_names == eager.layer_names  # the eager module's names, no `_orig_mod.` prefix
    assert compiled.resolve("_orig_mod.2.0") == "2.0"  # the compiled name still works
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for method, name in (
        (lambda s: gradient_attribution(s, x, 1, layers=["2.0"]), "2.0"),
        (lambda s: grad_cam(s, x, 1, layer="_orig_mod.2.0" if s is compiled else "2.0"), "_orig_mod.2.0"),
    ):
        want, got = method(eager), method(compiled)
        assert torch.allclose(want.input, got.input, atol=1e-6)
        assert list(want.layers) == ["2.0"] and list(got.layers) == [name]  # keyed as asked
        assert torch.allclose(want.layers["2.0"], got.layers[name], atol=1e-6)


def test_a_compiled_submodule_runs_eagerly_so_its_layers_are_seen():
    eager = wrap(small_net())
    model = small_net()
    model[2] = torch.compile(model[2], backend="eager")
    model(torch.rand(1, 3, 16, 16))
    subject = wrap(model)
    assert subject.resolve("2.0") == "2._orig_mod.0"
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    got = gradient_attribution(subject, x, 2, layers=["2.0"])
    want = gradient_attribution(eager, x, 2, layers=["2.0"])
    assert torch.allclose(got.layers["2.0"], want.layers["2.0"], atol=1e-6)  # keyed as asked
    acts = subject.capture(x, ["2.0"])["2.0"]
    assert torch.allclose(acts, eager.capture(x, ["2.0"])["2.0"], atol=1e-6)
    explained = LRP(subject).explain(x, 2, layers=["2.0"])
    assert torch.allclose(explained.input, LRP(eager).explain(x, 2, layers=["2.0"]).input, atol=1e-5)


class Switch(nn.Module):
    """Runs `a` or `b`: which one ran when the graph was traced can differ from a later forward."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.use_a = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1), True
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head((self.a(x) if self.use_a else self.b(x)).mean((2, 3)))


def test_a_requested_layer_that_did_not_run_is_an_error_never_an_empty_result():
    model = Switch()
    subject = convscope.wrap(model, size=8, mean=(0.5,) * 3, std=(0.5,) * 3)
    assert subject.graph.node("a").calls == 1  # traced while `a` runs
    model.use_a = False
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ConvscopeError, match=r"layer `a` did not run in this forward pass"):
        subject.capture(x, ["a"])
    with pytest.raises(ConvscopeError, match=r"layer `a` did not run"):
        gradient_attribution(subject, x, 0, layers=["a"])
    with pytest.raises(ConvscopeError, match=r"layer `a` did not run"):
        grad_cam(subject, x, 0, layer="a")
    with pytest.raises(UnknownLayerError, match=r"layer `b` does not run in the forward pass"):
        subject.capture(x, ["b"])  # the graph never saw `b` run


# --- 5. layers that return a tuple ------------------------------------------------------------------------------
class PairBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y.mean((2, 3))


class PairNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.block = PairBlock()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        maps, pooled = self.block(x)
        return self.head(torch.cat([maps.amax((2, 3)), pooled], 1))


def test_a_layer_returning_a_tuple_is_refused_by_name_everywhere():
    subject = convscope.wrap(PairNet(), size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
    message = r"layer `block` of .* returns 2 tensors \(shapes \[4, 16, 16\], \[4\]\), not one activation map"
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(UnknownLayerError, match=message):
        render(subject, O.channel("block", 0), size=16, steps=2)
    with pytest.raises(UnknownLayerError, match=message):
        dream(subject, x, O.deepdream("block"), steps=1, octaves=1)
    with pytest.raises(UnknownLayerError, match=message):
        gradient_attribution(subject, x, 0, layers=["block"])
    with pytest.raises(UnknownLayerError, match=message):
        LRP(subject).explain(x, 0, layers=["block"])
    # the layer inside it is fine
    assert render(subject, O.channel("block.conv", 0), size=16, steps=2).activations[0] is not None


def test_http_channels_last_layers_and_unknown_axes(tmp_path, rgb_png):
    """Over HTTP: the layer list reports Swin's `norm` channels-first, channel 100 runs, channel 800 is a 422 on
    the channels field."""
    from fastapi.testclient import TestClient

    from convscope.server import ServerConfig, create_app

    swin = "timm:swin_tiny_patch4_window7_224"
    config = ServerConfig(data_dir=tmp_path / "data", models=[swin])
    with TestClient(create_app(config)) as client:
        layers = client.get(f"/api/models/{swin}/layers").json()["data"]["layers"]
        norm = next(layer for layer in layers if layer["name"] == "norm")
        assert norm["output_shape"] == [768, 7, 7] and norm["channel_axis"] == 3
        with open(rgb_png, "rb") as handle:
            image = client.post("/api/images", files={"file": ("x.png", handle, "image/png")}).json()["id"]
        model = {"spec": swin, "weights": "none"}
        spec = {"model": model, "image": image, "layer": "norm", "channels": [100]}
        response = client.post("/api/runs", json={"recipe": "activations", "spec": spec})
        assert response.status_code == 200, response.text
        assert response.json()["result"]["data"]["channels"][0]["index"] == 100
        spec["channels"] = [100, 800]
        response = client.post("/api/runs", json={"recipe": "activations", "spec": spec})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"][0]
        assert detail["loc"][-1] in ("channels", 1) and "channel 800 out of range 0..767" in detail["msg"]


def test_results_are_keyed_by_the_layer_names_as_asked():
    """A compiled submodule's layer asked for without `_orig_mod`: every method keys its result by that name."""
    model = small_net()
    model[2] = torch.compile(model[2], backend="eager")
    subject = wrap(model)
    x = torch.rand(1, 3, 16, 16)
    assert list(gradient_attribution(subject, x, 1, layers=["2.0"]).layers) == ["2.0"]
    assert list(LRP(subject).explain(x, 1, layers=["2.0", "2._orig_mod.0"]).layers) == ["2.0"]  # one layer, once
    assert list(grad_cam(subject, x, 1, layer="2.0").layers) == ["2.0"]


def test_an_objective_on_a_channel_out_of_range_is_one_line():
    """A channel past the end of a layer (render, dream, data-initialized maximization score objectives): the
    ChannelError every other path gives, never an IndexError."""
    subject = channels_last_subject()
    with pytest.raises(ChannelError, match=r"channel 20 out of range 0\.\.19 for layer `fc`"):
        render(subject, O.channel("fc", 20), size=24, steps=1)
    with pytest.raises(ChannelError, match=r"class 5 out of range 0\.\.4 of the model output"):
        render(subject, O.class_logit(5), size=24, steps=1)


def test_inference_mode_in_the_forward_is_named_not_blamed_on_the_size():
    class Inference(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.trunk, self.head = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4, 3)

        def forward(self, x):
            with torch.inference_mode():
                features = self.trunk(x)
            return self.head(features.clone().mean((2, 3)))

    subject = convscope.wrap(Inference(), size=16)
    for method in (lambda: grad_cam(subject, torch.rand(1, 3, 16, 16), 0, layer="trunk"),
                   lambda: gradient_attribution(subject, torch.rand(1, 3, 16, 16), 0)):  # fmt: skip
        with pytest.raises(ConvscopeError, match=r"`trunk` runs under torch\.inference_mode\(\)"):
            method()
