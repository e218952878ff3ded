"""Issue 20 (Robustness II), the forms a model's forward takes: float16 / bfloat16 models, forwards that run a part
under `torch.no_grad()`, gradient checkpointing left on, and input normalized in place. Each test states the right
value (the float32 model's within half-precision tolerance, the plain / out-of-place twin's exactly) or the one
clear line, for every method, on the Python API and the CLI."""

import copy
import json

import pytest
import torch
import torch.utils.checkpoint as checkpointing
from torch import nn

import convscope
from conftest import hooks_left
from convscope import objectives as O
from convscope.cli.main import main
from convscope.core.autograd_checks import (
    DtypeError,
    GradientPathError,
    checkpointing_off,
    explained_errors,
    model_dtype,
)
from convscope.core.errors import ConvscopeError, SizeError
from convscope.techniques.attribution import attribute, gradient_attribution, lrp
from convscope.techniques.attribution.report import METHODS
from convscope.techniques.dream import dream
from convscope.techniques.predict import predict
from convscope.techniques.render import render

pytestmark = pytest.mark.usefixtures("one_thread")  # (was a module-level set_num_threads: it leaked)
X = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
GRADIENT_FREE = ("occlusion", "scorecam")  # Score-CAM weighs a layer's maps by forward passes only
GRADIENT_METHODS = [m for m in METHODS if m not in GRADIENT_FREE]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def explain(subject, method, layers="all"):
    """Every method through `attribute`, small settings; LRP's pure epsilon composite through `lrp`."""
    if method == "lrp-epsilon-all":
        return lrp(subject, X, 1, "epsilon", layers)
    return attribute(subject, X, method, 1, layers, steps=8, patch=8, stride=4)


ALL = [*METHODS, "lrp-epsilon-all"]


def assert_same(result, reference, atol):
    assert torch.allclose(result.output, reference.output, atol=atol)
    assert torch.allclose(result.input, reference.input, atol=atol), (result.input - reference.input).abs().max()
    assert set(result.layers) == set(reference.layers)
    for name, tensor in reference.layers.items():
        assert torch.allclose(result.layers[name], tensor, atol=atol), name


class Net(nn.Module):
    """conv-BN-ReLU, conv-ReLU, global average pool, linear: a `backbone` and a `head`."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
        with torch.no_grad():  # BatchNorm statistics that are not the identity
            self.backbone[1].running_mean.uniform_(-0.2, 0.2)
            self.backbone[1].running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        return self.head(self.backbone(x))


# --- 2. float16 / bfloat16 models --------------------------------------------------------------------------------
# Tolerances in units of each type's epsilon (float16 2**-10, bfloat16 2**-7), relative to the float32 model's largest
# value of each map. On a smooth network (SiLU) every method keeps the type's precision. On a ReLU network the
# half-precision model is locally another function where a pre-activation near 0 changes sign (a ReLU mask flips),
# so its gradient maps agree with the float32 ones in norm, not at every pixel. Occlusion maps are differences of
# outputs: their error is a few rounding steps of the output itself.
HALF = [torch.float16, torch.bfloat16]
EPSILON_RULE = "lrp-epsilon-all"  # divides by pre-activations near 0: rounding amplified (16 epsilons)


def smooth_net():
    net = Net()
    net.backbone[2], net.backbone[4] = nn.SiLU(), nn.SiLU()
    return net


@pytest.fixture(scope="module")
def float32_results():
    return {
        kind: {method: explain(convscope.wrap(make(), size=32), method) for method in ALL}
        for kind, make in (("smooth", smooth_net), ("relu", Net))
    }


def relative(result: torch.Tensor, reference: torch.Tensor, norm: bool = False) -> float:
    if norm:
        return float((result - reference).norm() / reference.norm())
    return float((result - reference).abs().max() / reference.abs().max())


@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_models_match_the_float32_model(dtype, float32_results):
    eps = torch.finfo(dtype).eps
    for kind, make in (("smooth", smooth_net), ("relu", Net)):
        subject = convscope.wrap(make().to(dtype), size=32)
        assert subject.dtype == dtype and subject.normalize(X).dtype == dtype
        for method in ALL:
            result, reference = explain(subject, method), float32_results[kind][method]
            for tensor in (result.input, result.output, *result.layers.values()):
                assert tensor.dtype == torch.float32, method  # numpy and JSON take them
            assert torch.equal(result.target, reference.target)
            assert relative(result.output, reference.output) <= 2 * eps
            if method == "occlusion":  # a drop of the output: a few of its rounding steps
                assert (result.input - reference.input).abs().max() <= 2 * eps * reference.output.abs().max()
                continue
            if kind == "smooth":
                limit = (16 if method == EPSILON_RULE else 4) * eps
                assert relative(result.input, reference.input) <= limit, method
                for name, tensor in reference.layers.items():
                    assert relative(result.layers[name], tensor) <= limit, (method, name)
            else:
                assert relative(result.input, reference.input, norm=True) <= 0.1, method
                for name, tensor in reference.layers.items():
                    assert relative(result.layers[name], tensor, norm=True) <= 0.1, (method, name)
        assert hooks_left(subject.model) == 0


@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_predict_capture_render_and_dream(dtype):
    reference, subject = convscope.wrap(Net(), size=32), convscope.wrap(Net().to(dtype), size=32)
    tolerance = 4 * torch.finfo(dtype).eps
    mine, theirs = predict(subject, X[0], 3), predict(reference, X[0], 3)
    assert [p.index for p in mine] == [p.index for p in theirs]
    assert all(abs(a.probability - b.probability) < tolerance * 0.1 for a, b in zip(mine, theirs))
    captured = subject.capture(X, ["backbone.3", "logits"])
    expected = reference.capture(X, ["backbone.3", "logits"])
    assert captured["logits"].dtype == torch.float32  # scores in float32; layer outputs in the model's own type
    assert captured["backbone.3"].dtype == dtype
    for name, tensor in expected.items():
        assert (captured[name].float() - tensor).abs().max() <= tolerance * tensor.abs().max()
    # a short render (plain SGD: Adam's first steps amplify the sign of tiny gradient differences) and DeepDream
    settings = dict(steps=3, size=32, optimizer="sgd", lr=0.5)
    image, image32 = (
        render(subject, O.channel("backbone.3", 2), **settings),
        render(reference, O.channel("backbone.3", 2), **settings),
    )
    assert image.images.dtype == torch.float32
    assert (image.images - image32.images).abs().max() < 1e-3
    assert abs(image.activations[0] - image32.activations[0]) <= tolerance * abs(image32.activations[0])
    dreamt, dreamt32 = (
        dream(s, X, O.deepdream("backbone.3"), octaves=2, steps=3, jitter=2) for s in (subject, reference)
    )
    assert dreamt.image.dtype == torch.float32 and (dreamt.image - dreamt32.image).abs().max() < 1e-2
    assert dreamt.objective_after == pytest.approx(dreamt32.objective_after, rel=tolerance)


def test_half_precision_torchscript_files_on_the_cli(capsys, tmp_path, rgb_png):
    """A float16 TorchScript file (and a frozen bfloat16 one, whose weights are graph constants: no parameters)
    through the CLI: predict and attribute work, and give the float32 model's numbers within tolerance."""
    files = {torch.float16: tmp_path / "half.pt", torch.bfloat16: tmp_path / "frozen.pt"}
    torch.jit.script(Net().eval().half()).save(str(files[torch.float16]))
    with pytest.warns(FutureWarning):
        torch.jit.freeze(torch.jit.script(Net().eval().bfloat16())).save(str(files[torch.bfloat16]))
    reference = convscope.wrap(Net())
    image = reference.load_image(rgb_png)
    expected = reference(image)[0]
    for dtype, path in files.items():
        subject = convscope.load(f"file:{path}")
        assert subject.dtype == dtype
        assert dtype == torch.float16 or list(subject.model.parameters()) == []  # frozen: constants only
        code, out, err = run_cli(capsys, "predict", rgb_png, "--model", f"file:{path}", "--top", 2, "--json")
        assert code == 0, err
        assert json.loads(out)["predictions"][0]["index"] == int(expected.argmax())
        for method in ("saliency", "integrated-gradients", "occlusion"):  # (float16 convolutions are slow on CPU)
            code, out, err = run_cli(
                capsys, "attribute", rgb_png, "--model", f"file:{path}", "--method", method, "--json",
                "--out", tmp_path / method, "--no-cache", "--target", 1, "--steps", 2, "--patch", 112,
            )  # fmt: skip
            assert code == 0, err
            assert json.loads(out)["output"] == pytest.approx(float(expected[1]), rel=4 * torch.finfo(dtype).eps)


def test_an_op_missing_in_half_precision_is_one_line(capsys):
    class MissingKernel(Net):  # what PyTorch raises for an op it has no CPU kernel for in float16
        def forward(self, x):
            raise RuntimeError("\"slow_conv3d_cpu\" not implemented for 'Half'")

    subject = convscope.wrap(MissingKernel().half(), size=32)
    with pytest.raises(DtypeError) as info:
        attribute(subject, X, "saliency", 1, layers=[])
    assert str(info.value) == (
        "saliency cannot run on model custom in float16 (PyTorch has no cpu kernel for `slow_conv3d_cpu` in that "
        "type); convert the model to float32 first (model.float())"
    )
    with pytest.raises(DtypeError, match="predict cannot run on model custom in float16"):
        predict(subject, X[0])
    with explained_errors(subject, "x"), pytest.raises(RuntimeError, match="other"):  # others pass through
        raise RuntimeError("other")


class Mixed(Net):
    """A float16 backbone whose output reaches a float32 head, cast or (a bug of the model) not."""

    def __init__(self, cast: bool):
        super().__init__()
        self.backbone.half()
        self.cast = cast

    def forward(self, x):
        features = self.backbone(x)
        return self.head(features.float() if self.cast else features)


def test_a_model_converted_only_in_part_is_one_line(capsys, tmp_path, rgb_png):
    with pytest.raises(DtypeError) as info:  # (layers=[]: the layer graph's dry run says it otherwise, see below)
        attribute(convscope.wrap(Mixed(False), size=32), X, "saliency", 1, layers=[])
    assert str(info.value).startswith(
        "saliency cannot run model custom: its layers hold different floating-point types (convscope feeds its "
        "input in float16, the type of its first parameter): "
    ) and str(info.value).endswith("convert the whole model to one type first (model.float(), or model.half())")
    casting = convscope.wrap(Mixed(True), size=32)  # a forward that casts between its parts works
    assert (
        relative(
            attribute(casting, X, "gradcam", 1).input, attribute(convscope.wrap(Net(), size=32), X, "gradcam", 1).input
        )
        < 1e-2
    )
    path = tmp_path / "mixed.pt"
    torch.jit.script(Mixed(False).eval()).save(str(path))
    code, out, err = run_cli(capsys, "predict", rgb_png, "--model", f"file:{path}")
    assert code == 2 and one_line(err).startswith(
        f"convscope predict: error: predict cannot run model file:{path}: its"
    )


def test_the_layer_graph_does_not_blame_the_size_for_mixed_types():
    with pytest.raises(DtypeError, match="different floating-point types"):
        convscope.wrap(Mixed(False), size=32).graph.to_json()


def test_model_dtype_of_every_form():
    assert model_dtype(Net().double()) == torch.float64
    assert model_dtype(nn.ReLU()) == torch.float32  # nothing to tell: float32
    buffers_only = nn.BatchNorm2d(3, affine=False).half()
    assert model_dtype(buffers_only) == torch.float16
    x64 = convscope.wrap(Net().double(), size=32)  # a float64 model keeps float64 images and results
    assert x64.prepare(X).dtype == torch.float64 and attribute(x64, X, "saliency", 1).input.dtype == torch.float64


# --- 4. forwards that stop the gradient --------------------------------------------------------------------------
class NoGradBackbone(Net):
    def forward(self, x):
        with torch.no_grad():
            features = self.backbone(x)
        return self.head(features)


class Detached(Net):
    def forward(self, x):
        return self.head(self.backbone(x).detach())


NO_GRAD_LINE = (
    "{method} follows the gradient of the output of model custom back to the input, but the output does not "
    "depend on the input through autograd: `backbone` runs under torch.no_grad() in the model's forward; run that "
    "part of the forward with gradients enabled, or use occlusion (it needs no gradients)"
)


def test_no_grad_forward_is_one_line_for_every_gradient_method():
    subject = convscope.wrap(NoGradBackbone(), size=32)
    names = {"dtd": "LRP (dtd)", "lrp-epsilon": "LRP (epsilon-plus)", "lrp-alphabeta": "LRP (alpha2beta1)"}
    names["lrp-epsilon-all"] = "LRP (epsilon)"
    for method in [*GRADIENT_METHODS, "lrp-epsilon-all"]:
        with pytest.raises(GradientPathError) as info:
            explain(subject, method)
        assert str(info.value) == NO_GRAD_LINE.format(method=names.get(method, method))
    # occlusion and Score-CAM need no gradients: the plain model's numbers
    for method in GRADIENT_FREE:
        assert_same(explain(subject, method), explain(convscope.wrap(Net(), size=32), method), 1e-6)
    assert hooks_left(subject.model) == 0


def test_no_grad_forward_in_render_and_dream_is_not_a_size_error():
    subject = convscope.wrap(NoGradBackbone(), size=32)
    subject.check_size(16, ["backbone.3"])  # the dry runs work: no size is blamed
    with pytest.raises(GradientPathError) as info:
        render(subject, O.channel("backbone.3", 0), steps=2, size=16)
    assert not isinstance(info.value, SizeError)
    assert str(info.value).startswith(
        "feature visualization follows the gradient of layer `backbone.3` of model custom back to the input, but "
        "layer `backbone.3` does not depend on the input through autograd: `backbone` runs under torch.no_grad()"
    )
    with pytest.raises(GradientPathError, match=r"^DeepDream follows the gradient of the output .*`backbone` runs"):
        dream(subject, X, O.class_logit(0), octaves=1, steps=1)


def test_a_detach_in_the_forward_is_named():
    with pytest.raises(GradientPathError, match=r"the model's forward detaches a tensor \(`\.detach\(\)`\); run"):
        attribute(convscope.wrap(Detached(), size=32), X, "integrated-gradients", 1, steps=2)

    class Inner(nn.Module):  # the no_grad inside a submodule's own forward: that module is named
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            with torch.no_grad():
                return self.conv(x)

    model = nn.Sequential(Inner(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(GradientPathError, match=r"`0\.conv` runs under torch.no_grad\(\)"):
        attribute(convscope.wrap(model, size=16), X[..., :16, :16], "gradcam", 1)


def test_no_grad_torchscript_on_the_cli(capsys, tmp_path, rgb_png):
    path = tmp_path / "nograd.pt"
    torch.jit.script(NoGradBackbone().eval()).save(str(path))
    code, out, err = run_cli(
        capsys, "attribute", rgb_png, "--model", f"file:{path}", "--method", "saliency", "--out", tmp_path / "a"
    )
    line = one_line(err)
    assert code == 2 and out == "" and line.startswith("convscope attribute: error: saliency follows the gradient")
    assert "(a torch.no_grad() or .detach() in the model's forward?)" in line  # TorchScript: no module to name
    code, out, err = run_cli(
        capsys, "attribute", rgb_png, "--model", f"file:{path}", "--method", "occlusion", "--patch", 56,
        "--json", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, err


def test_cli_turns_a_stopped_gradient_elsewhere_into_one_line(capsys, tmp_path, rgb_png):
    """Paths that differentiate on their own (data-initialized visualization) get one line from the recipe layer
    (every surface: the CLI, server jobs, the Python API), exit 2."""
    path, data = tmp_path / "nograd.pt", tmp_path / "data"
    torch.jit.script(NoGradBackbone().eval()).save(str(path))
    data.mkdir()
    (data / "a.png").write_bytes(rgb_png.read_bytes())
    code, out, err = run_cli(
        capsys, "visualize", "--model", f"file:{path}", "--class", 1, "--steps", 2, "--init-from-data", data,
        "--out", tmp_path / "v",
    )  # fmt: skip
    assert code == 2 and one_line(err) == (
        f"convscope visualize: error: visualize follows a gradient back to the input of model `file:{path}`, but "
        "what it differentiates does not depend on the input through autograd (a torch.no_grad() or .detach() in "
        "the model's forward?); run that part of the forward with gradients enabled, or use occlusion (it needs no "
        "gradients)"
    )


# --- 9. gradient checkpointing -----------------------------------------------------------------------------------
class Checkpointed(Net):
    def __init__(self, reentrant: bool):
        super().__init__()
        self.reentrant = reentrant

    def forward(self, x):
        return self.head(checkpointing.checkpoint(self.backbone, x, use_reentrant=self.reentrant))


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_in_a_forward_gives_the_plain_numbers(reentrant):
    subject, plain = convscope.wrap(Checkpointed(reentrant), size=32), convscope.wrap(Net(), size=32)
    original = checkpointing.checkpoint
    impl = getattr(checkpointing, "_checkpoint_impl", None)
    for method in ALL:
        assert_same(explain(subject, method), explain(plain, method), 1e-5)
    assert checkpointing.checkpoint is original and getattr(checkpointing, "_checkpoint_impl", None) is impl
    result = render(subject, O.channel("backbone.3", 1), steps=2, size=32)
    assert torch.allclose(result.images, render(plain, O.channel("backbone.3", 1), steps=2, size=32).images, atol=1e-5)


def test_timm_grad_checkpointing_is_off_while_convscope_runs_and_restored():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=10).eval()
    plain = copy.deepcopy(model)
    model.set_grad_checkpointing(True)
    subject, reference = convscope.wrap(model, size=64), convscope.wrap(plain, size=64)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    layers = ["layer1.0", "layer3.0.conv1", "layer4.0"]
    for method in ("guided-backprop", "deconvnet", "dtd", "saliency"):
        result, expected = attribute(subject, x, method, 3, layers), attribute(reference, x, method, 3, layers)
        assert torch.allclose(result.input, expected.input, atol=1e-5), method
        for name in layers:
            assert torch.allclose(result.layers[name], expected.layers[name], atol=1e-5), (method, name)
    assert model.grad_checkpointing is True  # restored
    assert hooks_left(model) == 0


def test_timm_grad_checkpointing_leaves_the_layer_graph_alone():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=10).eval()
    plain = convscope.wrap(copy.deepcopy(model), size=64)
    model.set_grad_checkpointing(True)
    subject = convscope.wrap(model, size=64)
    assert [(n.name, n.calls) for n in subject.graph.in_execution_order()] == [
        (n.name, n.calls) for n in plain.graph.in_execution_order()
    ]


def test_torchvision_memory_efficient_densenet_gives_the_plain_numbers():
    torchvision = pytest.importorskip("torchvision")

    def densenet(memory_efficient: bool):
        torch.manual_seed(0)
        config = dict(growth_rate=8, block_config=(2, 2), num_init_features=16, bn_size=2, num_classes=10)
        return torchvision.models.DenseNet(**config, memory_efficient=memory_efficient).eval()

    model = densenet(True)
    subject, plain = convscope.wrap(model, size=32), convscope.wrap(densenet(False), size=32)
    for method in ("guided-backprop", "deconvnet", "dtd", "saliency"):
        assert_same(attribute(subject, X, method, 3), attribute(plain, X, method, 3), 1e-5)
    assert all(m.memory_efficient for m in model.modules() if type(m).__name__ == "_DenseLayer")  # restored


def test_checkpointing_off_restores_after_errors_and_nests():
    class Flagged(Net):
        def __init__(self):
            super().__init__()
            self.grad_checkpointing = True
            self.backbone.gradient_checkpointing = True

    model = Flagged()
    with pytest.raises(KeyError), checkpointing_off(model):
        with checkpointing_off(model):
            assert model.grad_checkpointing is False and model.backbone.gradient_checkpointing is False
            assert checkpointing.checkpoint(lambda t: t + 1, torch.ones(1), use_reentrant=False) == 2
        assert model.grad_checkpointing is False  # the outer run is still inside
        raise KeyError
    assert model.grad_checkpointing is True and model.backbone.gradient_checkpointing is True


# --- 11. input normalized in place -------------------------------------------------------------------------------
class InPlace(Net):
    def forward(self, x):
        x.sub_(0.5).mul_(2)
        return self.head(self.backbone(x))


class InPlaceStatements(Net):
    def forward(self, x):
        x -= 0.5
        x *= 2
        x[:, 0] -= 0.25  # through a view, then __setitem__
        return self.head(self.backbone(x))


class InPlaceClamped(Net):
    def forward(self, x):
        x.sub_(0.5).div_(0.25).clamp_(-1.5, 1.5)  # an elementwise activation on the input, in place
        return self.head(self.backbone(x))


class OutOfPlaceClamped(Net):
    def forward(self, x):
        return self.head(self.backbone(((x - 0.5) / 0.25).clamp(-1.5, 1.5)))


class OutOfPlace(Net):
    def forward(self, x):
        return self.head(self.backbone((x - 0.5) * 2))


class OutOfPlaceStatements(Net):
    def forward(self, x):
        x = (x - 0.5) * 2
        x = torch.cat([x[:, :1] - 0.25, x[:, 1:]], 1)
        return self.head(self.backbone(x))


@pytest.mark.parametrize(
    "model, twin",
    [(InPlace, OutOfPlace), (InPlaceStatements, OutOfPlaceStatements), (InPlaceClamped, OutOfPlaceClamped)],
)
def test_input_normalized_in_place_gives_the_out_of_place_twins_numbers(model, twin):
    subject, reference = convscope.wrap(model(), size=32), convscope.wrap(twin(), size=32)
    before = X.clone()
    for method in ALL:
        assert_same(explain(subject, method), explain(reference, method), 1e-6)
    assert torch.equal(X, before)  # the caller's images are untouched
    x = subject.normalize(X)
    assert torch.equal(subject.model_output(x), reference.model_output(x)) and torch.equal(x, subject.normalize(X))
    assert [p.to_dict() for p in predict(subject, X[0], 3)] == [p.to_dict() for p in predict(reference, X[0], 3)]
    settings = dict(steps=2, size=32)
    assert torch.equal(
        render(subject, O.channel("backbone.3", 1), **settings).images,
        render(reference, O.channel("backbone.3", 1), **settings).images,
    )
    dreams = [dream(s, X, O.deepdream("backbone.3"), octaves=1, steps=2).image for s in (subject, reference)]
    assert torch.equal(*dreams)


def test_input_normalized_in_place_on_the_cli(capsys, tmp_path, rgb_png):
    results = {}
    for name, model in (("in-place", InPlace), ("twin", OutOfPlace)):
        path = tmp_path / f"{name}.pt"
        torch.jit.script(model().eval()).save(str(path))
        for method in ("occlusion", "saliency", "integrated-gradients"):
            code, out, err = run_cli(
                capsys, "attribute", rgb_png, "--model", f"file:{path}", "--method", method, "--json",
                "--out", tmp_path / name / method, "--no-cache", "--steps", 4, "--patch", 32,
            )  # fmt: skip
            assert code == 0, err
            results[name, method] = json.loads(out)
    for method in ("occlusion", "saliency", "integrated-gradients"):
        mine, theirs = results["in-place", method], results["twin", method]
        assert mine["output"] == theirs["output"]
        assert mine["input_relevance_sum"] == pytest.approx(theirs["input_relevance_sum"], rel=1e-6, abs=1e-9)


def test_errors_of_each_kind_are_convscope_errors():
    for kind in (DtypeError, GradientPathError):
        assert issubclass(kind, ConvscopeError)


class NoGradBranch(nn.Module):
    """The output depends on the input through `main`; `side` runs under no_grad and is added as a constant."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.main = nn.Conv2d(3, 4, 3, padding=1)
        self.side = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        with torch.no_grad():
            side = self.side(x)
        return self.head((self.main(x) + side).mean((2, 3)))


def test_a_layer_in_a_no_grad_branch_is_named_never_left_out():
    """Gradient x activation at a layer whose output does not depend on the input through autograd: one line naming
    it (it used to be dropped from the result silently); the layer on the gradient path works."""
    subject = convscope.wrap(NoGradBranch(), size=8)
    x = torch.rand(1, 3, 8, 8)
    assert list(gradient_attribution(subject, x, 0, layers=["main"]).layers) == ["main"]
    with pytest.raises(GradientPathError, match=r"layer `side` of model custom .* does not depend on the input"):
        gradient_attribution(subject, x, 0, layers=["main", "side"])
