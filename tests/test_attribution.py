"""LRP engine: conservation, non-negativity, exact BatchNorm folding, model left unchanged, agreement with Zennit."""

import warnings

import pytest
import timm
import torch
import torchvision
from torch import nn

from convscope.core.errors import ConvscopeError
from convscope.core.zoo import wrap
from convscope.techniques.attribution import LRP, lrp
from convscope.techniques.attribution.canonizers import check_folding, plan_folding
from convscope.techniques.attribution.ranking import rank_filters

SIZE = 64


def calibrate(model: nn.Module, size: int = SIZE, batches: int = 3) -> nn.Module:
    """Random init with BatchNorm statistics measured on random batches (cumulative average), so folding matters."""
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
            if module.affine:  # non-trivial affine parameters too
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.uniform_(module.bias, -0.2, 0.2)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(4, 3, size, size))
    return model.eval()


def bias_free(model: nn.Module) -> nn.Module:
    """Every conv / linear bias zero and every BatchNorm a pure scaling (mean 0, shift 0, same second moment)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_var += module.running_mean**2
            module.running_mean.zero_()
            module.bias.data.zero_()
        elif getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    return model


def torchvision_model(arch: str) -> nn.Module:
    extra = {"init_weights": False, "aux_logits": False} if arch == "googlenet" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(torchvision.models, arch)(weights=None, **extra)


def snapshot(model: nn.Module):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        repr(model),
        sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()),
        [p.requires_grad for p in model.parameters()],
    )


def assert_unchanged(model: nn.Module, before) -> None:
    state, structure, hooks, grads = before
    now = model.state_dict()
    assert now.keys() == state.keys()
    assert all(torch.equal(now[k], v) for k, v in state.items())
    assert repr(model) == structure
    assert snapshot(model)[2] == hooks
    assert [p.requires_grad for p in model.parameters()] == grads


def images(n: int = 2, size: int = SIZE) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def sums(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).sum(1)


@pytest.mark.parametrize("arch", ["vgg16", "googlenet"])
def test_dtd_conserves_relevance_on_bias_free_relu_networks(arch):
    model = bias_free(calibrate(torchvision_model(arch)))
    subject = wrap(model, SIZE, channels_last=True)
    before = snapshot(model)
    result = lrp(subject, images(), composite="dtd", layers="all")
    assert_unchanged(model, before)
    assert result.output.abs().min() > 1e-3  # a real signal, not a vanished one
    assert torch.allclose(sums(result.input), result.output, rtol=1e-4, atol=0)
    # every layer on the main path holds the whole relevance (max-pool, concatenation, adaptive pooling)
    main_path = (
        ["features.30", "avgpool", "classifier.3"]
        if arch == "vgg16"
        else ["maxpool2", "inception3a", "inception4e", "maxpool4", "inception5b", "avgpool", "dropout"]
    )
    for name in main_path:
        assert torch.allclose(sums(result.layers[name]), result.output, rtol=1e-4, atol=0), name
    if arch == "googlenet":  # a concatenation splits by channel: the four branches add up
        branches = sum(sums(result.layers[f"inception4c.branch{i}"]) for i in range(1, 5))
        assert torch.allclose(branches, result.output, rtol=1e-4, atol=0)


def test_zplus_and_zbox_relevance_is_non_negative():
    model = calibrate(torchvision_model("vgg16"))
    subject = wrap(model, SIZE, channels_last=True)
    x = images()
    logits = subject(x)
    target = logits.argmax(1)
    assert (logits.gather(1, target[:, None]) > 0).all()
    result = lrp(subject, x, target, composite="dtd", layers=["features.0", "features.10", "classifier.0"])
    assert result.info["input_layers"] == ["features.0"]
    assert (result.input >= 0).all()
    assert result.input.sum() > 0
    for name, relevance in result.layers.items():
        assert (relevance >= -1e-7 * relevance.abs().max()).all(), name
    # maxpool as average pooling (seed 001 §3.4.1) keeps both properties and conservation with ignore_bias
    avg = lrp(subject, x, target, composite="dtd", layers=None, maxpool="avg", ignore_bias=True)
    assert (avg.input >= 0).all()
    assert not torch.allclose(avg.input, result.input)


@pytest.mark.parametrize(
    "spec",
    [
        "timm:tf_efficientnet_lite0",
        pytest.param("torchvision:resnet50", marks=pytest.mark.slow),
        pytest.param("torchvision:densenet121", marks=pytest.mark.slow),
        pytest.param("torchvision:mobilenet_v2", marks=pytest.mark.slow),
    ],
)
def test_batchnorm_folding_is_exact_and_found_from_the_graph(spec):
    family, arch = spec.split(":")
    model = timm.create_model(arch, pretrained=False) if family == "timm" else torchvision_model(arch)
    model = calibrate(model)
    subject = wrap(model, SIZE, channels_last=True)
    before = snapshot(model)
    plan = plan_folding(subject)
    batchnorms = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert set(plan.folded_bns) | set(plan.standalone_bns) == set(batchnorms)
    if arch == "densenet121":  # norm1 / norm5 / transition norms follow a concatenation: nothing to fold into
        assert all(n.endswith(("norm1", "norm5", ".norm")) for n in plan.standalone_bns)
        assert len(plan.folded_bns) == 1 + 58  # norm0 and every norm2
    else:
        assert plan.standalone_bns == []
    deviation = check_folding(subject, plan, images())
    assert deviation <= 1e-5
    # folding is not a no-op: the BN statistics are far from identity
    conv, bn = next((c, b) for b, c in plan.folded_bns.items())
    assert not torch.allclose(plan.weights[conv][0], dict(model.named_modules())[conv].weight, atol=1e-3)
    result = LRP(subject, "dtd").explain(images(), layers=None)
    assert torch.isfinite(result.input).all() and result.input.abs().sum() > 0
    assert_unchanged(model, before)


def test_broken_folding_is_refused_with_the_layer_name():
    model = calibrate(
        nn.Sequential(
            nn.Conv2d(3, 8, 3),
            nn.BatchNorm2d(8),
            nn.ReLU6(),
            nn.Conv2d(8, 8, 3),
            nn.BatchNorm2d(8),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 3),
        ),
        16,
    )
    subject = wrap(model, 16)
    plan = plan_folding(subject)
    assert check_folding(subject, plan, images(2, 16)) <= 1e-5
    assert plan.folded_bns == {"1": "0", "4": "3"}
    weight, bias = plan.weights64["3"]
    plan.weights64["3"] = (weight, bias + 0.1)
    with pytest.raises(ConvscopeError, match="folding BatchNorm `4` into `3` changes its output"):
        check_folding(subject, plan, images(2, 16))


class Product(nn.Module):
    """x * x: a product of two input-dependent tensors, which no LRP rule splits."""

    def forward(self, x):
        return x * x


def test_model_unchanged_after_a_failure():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        Product(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    model = calibrate(model, 16)
    subject = wrap(model, 16, channels_last=True)
    before = snapshot(model)
    with pytest.raises(ConvscopeError, match=r"product of two input-dependent tensors in `3`"):
        lrp(subject, images(1, 16))
    assert_unchanged(model, before)
    assert torch.equal(subject(images(1, 16)), subject(images(1, 16)))


def test_unknown_layer_and_target_are_refused(digits_subject):
    x = torch.rand(1, 1, 32, 32)
    with pytest.raises(ConvscopeError, match="unknown layer"):
        lrp(digits_subject, x, layers=["nope"])
    with pytest.raises(ConvscopeError, match="target class 10 out of range 0..9"):
        lrp(digits_subject, x, target=10)
    with pytest.raises(ConvscopeError, match="unknown LRP composite"):
        lrp(digits_subject, x, composite="nope")


def test_agrees_with_zennit_on_vgg16():
    zennit = pytest.importorskip("zennit")  # a test-only dependency
    from zennit.composites import NameMapComposite
    from zennit.rules import Pass, ZBox, ZPlus

    model = calibrate(torchvision_model("vgg16"))
    subject = wrap(model, SIZE)
    x = images()
    ours = lrp(subject, x, composite="dtd", layers=None)
    normalized = subject.normalize(x)
    low, high = subject.normalize(torch.zeros(1, 3, 1, 1)), subject.normalize(torch.ones(1, 3, 1, 1))
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    composite = NameMapComposite(
        [
            ([names[0]], ZBox(low, high)),
            (names[1:], ZPlus()),
            ([n for n, m in model.named_modules() if isinstance(m, nn.ReLU)], Pass()),
        ]
    )
    normalized.requires_grad_(True)
    with composite.context(model) as modified:
        out = modified(normalized)
        onehot = torch.zeros_like(out).scatter(1, ours.target[:, None], 1.0)
        (relevance,) = torch.autograd.grad(out, normalized, onehot)
    for ours_map, theirs in zip(ours.input.sum(1), relevance.sum(1)):
        correlation = torch.corrcoef(torch.stack([ours_map.flatten(), theirs.flatten()]))[0, 1]
        assert correlation >= 0.99
    assert zennit is not None


def test_filter_ranking_and_cumulative_curve(digits_subject):
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    layer = digits_subject.graph.default_layer()
    result = lrp(digits_subject, x, layers=[layer])
    ranking = rank_filters(result.layers[layer][0], top=5)
    per_channel = result.layers[layer][0].flatten(1).sum(1)
    assert [f["index"] for f in ranking["top_filters"]] == per_channel.argsort(descending=True)[:5].tolist()
    assert ranking["top_filters"][0]["relevance"] == pytest.approx(per_channel.max().item(), rel=1e-6)
    curve = ranking["cumulative"]
    assert len(curve) == per_channel.numel()
    assert curve[-1] == pytest.approx(1.0, abs=1e-6)
    assert all(a <= b + 1e-9 for a, b in zip(curve, curve[1:]))
