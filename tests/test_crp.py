"""LRP from a hidden unit and concept-conditional relevance (CRP, Achtibat et al. 2023): conservation from a unit,
a hand-written z+ backward, conditional heatmaps summing to the unconditional one, agreement with zennit-crp."""

import pytest
import torch
import torch.nn.functional as F
from crp.attribution import CondAttribution
from torch import nn
from zennit.composites import NameMapComposite
from zennit.rules import Norm, Pass, ZBox, ZPlus

from convscope.core.errors import ChannelError, ConvscopeError
from convscope.core.zoo import wrap
from convscope.techniques.attribution import lrp
from convscope.techniques.attribution.composites import Composite
from convscope.techniques.attribution.crp import concept_graph, conditional_relevance, graph_edges
from convscope.techniques.attribution.rules import RULES
from test_attribution import bias_free, calibrate, torchvision_model

pytestmark = pytest.mark.usefixtures("one_thread")

ZPLUS = Composite("zplus", RULES["zplus"], RULES["zplus"], RULES["zplus"], "z+ everywhere, input layer too")


def tiny(bias: bool = False) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 3, bias=bias),
    ).eval()


def tiny_subject(bias: bool = False):
    # identity normalization: the model sees x in [0, 1] (non-negative, so z+ is x w+ / sum x w+ everywhere)
    return wrap(tiny(bias), 8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def image(size: int = 8, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def zplus_step(x: torch.Tensor, weight: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
    """The z+ rule for a bias-free conv on x >= 0 by hand: R_i = x_i sum_j w_ij^+ R_j / z_j^+."""
    positive = weight.clamp(min=0)
    z = F.conv2d(x, positive, padding=1)
    s = relevance / (z + 1e-6)
    return x * F.conv_transpose2d(s, positive, padding=1)


def test_lrp_from_a_unit_equals_a_hand_written_zplus_backward():
    subject = tiny_subject()
    model = subject.model
    x = image()
    for position in (None, (2, 5)):
        result = lrp(subject, x, composite=ZPLUS, layers=["1", "3"], unit=("3", 2, position))
        a1 = model[1](model[0](x))
        a3 = model[3](model[2](a1))
        start = torch.zeros_like(a3)
        if position is None:  # the channel's score: its spatial mean activation
            start[:, 2] = a3[:, 2] / 64
        else:
            start[:, 2, position[0], position[1]] = a3[:, 2, position[0], position[1]]
        r1 = zplus_step(a1, model[2].weight, start)  # through the ReLU (pass-through) and conv 2
        r0 = zplus_step(x, model[0].weight, r1)
        assert torch.allclose(result.layers["3"], start, atol=1e-6)
        assert torch.allclose(result.layers["1"], r1, rtol=1e-4, atol=1e-6)
        assert torch.allclose(result.input, r0, rtol=1e-4, atol=1e-6)
        assert result.output.item() == pytest.approx(start.sum().item(), rel=1e-6)
        assert result.target.tolist() == [2]
        assert result.info["unit"] == {"layer": "3", "channel": 2, "position": position}
        assert result.unit == ("3:2" if position is None else "3:2@2,5")
        # bias-free: the unit's activation is conserved down to the pixels
        assert result.input.sum().item() == pytest.approx(start.sum().item(), rel=1e-4)


def test_lrp_from_a_unit_conserves_on_a_bias_free_vgg16():
    subject = wrap(bias_free(calibrate(torchvision_model("vgg16"))), 64)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    result = lrp(subject, x, "features.22:7", composite="dtd", layers=["features.15"])  # the unit spelled as target
    assert result.unit == "features.22:7" and result.info["unit"]["channel"] == 7
    activation = result.output.item()
    assert activation > 0
    assert result.input.sum().item() == pytest.approx(activation, rel=1e-4)
    assert result.layers["features.15"].sum().item() == pytest.approx(activation, rel=1e-4)
    assert (result.input >= 0).all()


def test_unit_and_condition_errors_name_the_field():
    subject = tiny_subject()
    x = image()
    with pytest.raises(ChannelError, match=r"channel 9 out of range 0..4 for layer `3`"):
        lrp(subject, x, unit=("3", 9, None))
    with pytest.raises(ConvscopeError, match=r"position \(8, 0\) outside the 8x8 map of layer `3`"):
        lrp(subject, x, unit=("3", 1, (8, 0)))
    with pytest.raises(ConvscopeError, match="unknown layer `nope`"):
        lrp(subject, x, unit=("nope", 1, None))
    with pytest.raises(ConvscopeError, match="a class target or a unit"):
        lrp(subject, x, target=1, unit=("3", 1, None))
    with pytest.raises(ConvscopeError, match=r"mask shaped \[1, 7\] does not fit layer `3`"):
        lrp(subject, x, condition=("3", torch.ones(1, 7)))
    with pytest.raises(ConvscopeError, match="does not depend on the condition's layer"):
        lrp(subject, x, unit=("1", 0, None), condition=("3", torch.ones(1, 5)))
    with pytest.raises(ConvscopeError, match="lower_layer: `3` does not run before `1`"):
        conditional_relevance(subject, x, 0, "1", [0], lower_layer="3")
    with pytest.raises(ChannelError, match=r"channel 4 out of range 0..3 for layer `1`"):
        conditional_relevance(subject, x, 0, "1", [0, 4])


def test_conditional_heatmaps_of_all_channels_sum_to_the_unconditional_one():
    subject = tiny_subject(bias=True)
    x = image()
    plain = lrp(subject, x, 1, composite="dtd", layers=["1"])
    crp = conditional_relevance(subject, x, 1, "1", range(4), batch_size=3)  # two batches: 3 + 1
    assert crp.heatmaps.shape == (4, 8, 8) and crp.input.shape == (4, 3, 8, 8)
    assert torch.allclose(crp.input.sum(0), plain.input[0], rtol=1e-4, atol=1e-6)
    # each channel's relevance R(theta | x) is its share of the unconditional relevance at the layer
    assert torch.allclose(crp.relevance, plain.layers["1"][0].flatten(1).sum(1), rtol=1e-5, atol=1e-7)
    assert crp.output == pytest.approx(plain.output.item())
    # a unit above the layer: the unit's heatmap splits into the layer's channels the same way
    unit = lrp(subject, x, composite="dtd", layers=None, unit=("3", 4, None))
    split = conditional_relevance(subject, x, ("3", 4, None), "1", range(4))
    assert torch.allclose(split.input.sum(0), unit.input[0], rtol=1e-4, atol=1e-6)


def zennit_dtd(model: nn.Module, subject) -> NameMapComposite:
    low, high = subject.normalize(torch.zeros(1, 3, 1, 1)), subject.normalize(torch.ones(1, 3, 1, 1))
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return NameMapComposite(
        [
            ([names[0]], ZBox(low, high)),
            (names[1:], ZPlus()),
            ([n for n, m in model.named_modules() if isinstance(m, nn.ReLU)], Pass()),
            # average pooling: x_i / sum x (convscope: a linear op with weights 1/k under z+, on x >= 0 the same)
            ([n for n, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d)], Norm()),
        ]
    )


def zennit_resnet_dtd(model: nn.Module, subject):
    """Deep Taylor for a torchvision ResNet in Zennit: its ResNetCanonizer (BatchNorm merged, each residual sum a
    Sum module) with ZBox at the first convolution, z+ at the others and the classifier, the residual sums and the
    average pool split by contribution (Norm), ReLU passed."""
    from zennit.core import Composite as ZennitComposite
    from zennit.layer import Sum
    from zennit.torchvision import ResNetCanonizer

    low, high = subject.normalize(torch.zeros(1, 3, 1, 1)), subject.normalize(torch.ones(1, 3, 1, 1))

    def rule(ctx, name, module):
        if name == "conv1":
            return ZBox(low, high)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            return ZPlus()
        if isinstance(module, (Sum, nn.AdaptiveAvgPool2d)):
            return Norm()
        if isinstance(module, nn.ReLU):
            return Pass()
        return None

    return ZennitComposite(module_map=rule, canonizers=[ResNetCanonizer()])


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()


@pytest.mark.parametrize("arch", ["tiny", "vgg16", "resnet18"])
def test_conditional_heatmaps_and_concept_graph_agree_with_zennit_crp(arch):
    # ResNet: Zennit splits a residual sum x_i / sum x (its Norm rule), convscope by positive contribution (z+ on the
    # sum); they differ where a branch is negative. Over 5 random inits the conditional heatmaps correlate
    # 0.973-0.998 (median 0.995), the lower layer's channel relevances 0.995-0.9997, and the top-3 order can swap
    residual = arch == "resnet18"
    composite = zennit_dtd
    if arch == "tiny":
        subject = wrap(tiny(bias=True), 8)
        x, layer, lower = image(), "2", "0"
    elif arch == "resnet18":  # residual sums and BatchNorm: the conditioning layer is a block's output
        torch.manual_seed(0)
        subject = wrap(calibrate(torchvision_model("resnet18")), 64)
        x, layer, lower = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)), "layer3.1", "layer2.1"
        composite = zennit_resnet_dtd
    else:
        subject = wrap(calibrate(torchvision_model("vgg16")), 64)
        x, layer, lower = (
            torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)),
            "features.21",
            "features.14",
        )
    model = subject.model
    target = int(subject(x).argmax(1))
    plain = lrp(subject, x, target, composite="dtd", layers=[layer])
    channels = plain.layers[layer][0].flatten(1).sum(1).argsort(descending=True)[:2].tolist()
    ours = conditional_relevance(subject, x, target, layer, channels, lower_layer=lower)

    attribution = CondAttribution(model, no_param_grad=False)
    data = subject.normalize(x).detach().requires_grad_(True)
    conditions = [{"y": [target], layer: [c]} for c in channels]
    theirs = attribution(data, conditions, composite(model, subject), record_layer=[lower])
    for k in range(len(channels)):
        assert correlation(ours.heatmaps[k], theirs.heatmap[k]) >= (0.98 if residual else 0.99)
        reference = theirs.relevances[lower][k].flatten(1).sum(1)
        assert correlation(ours.lower[k], reference) >= 0.99
        top = 1 if residual else 3
        assert (
            ours.lower[k].argsort(descending=True)[:top].tolist() == reference.argsort(descending=True)[:top].tolist()
        )
    # the graph edges: the top lower channels of the first channel, largest first, shares as zennit-crp's
    edges = concept_graph(subject, x, target, layer, channels[0], lower, top=3)
    reference = theirs.relevances[lower][0].flatten(1).sum(1)
    assert [e["to"] for e in edges][:top] == [f"{lower}:{c}" for c in reference.argsort(descending=True)[:top].tolist()]
    assert edges[0]["from"] == f"{layer}:{channels[0]}"
    normalized = reference / reference.abs().sum()
    assert edges[0]["share"] == pytest.approx(normalized.max().item(), rel=5e-2 if residual else 1e-3)
    assert graph_edges(ours, 1)[1]["from"] == f"{layer}:{channels[1]}"


def test_the_concepts_recipe_and_command_take_the_maps_epsilon(digit_png, tmp_path, capsys):
    """`concepts --epsilon` (and the recipe's `epsilon`, which the attribution page hands on from an LRP map) runs
    CRP with that stabilizer: each channel's relevance equals `conditional_relevance` with the same epsilon, and
    differs from the default 1e-6's."""
    import json

    import convscope
    from convscope.cli.main import main
    from convscope.techniques.attribution.explainer import LRP

    subject = convscope.load("digits")
    x = subject.load_image(digit_png)
    everyone = conditional_relevance(subject, x, None, "features.3", range(32), explainer=LRP(subject, "epsilon"))
    channels = everyone.relevance.abs().argsort(descending=True)[:2].tolist()  # two channels that carry relevance
    argv = ["concepts", digit_png, "--model", "digits", "--layer", "features.3", "--json"]
    argv += ["--channels", ",".join(map(str, channels))]
    assert main([*argv, "--epsilon", "2.5", "--composite", "epsilon", "--out", str(tmp_path / "a")]) == 0
    wide = json.loads(capsys.readouterr().out)
    assert main([*argv, "--composite", "epsilon", "--out", str(tmp_path / "b")]) == 0
    narrow = json.loads(capsys.readouterr().out)
    by_hand = conditional_relevance(
        subject, x, None, "features.3", channels, explainer=LRP(subject, "epsilon", epsilon=2.5)
    )
    ours = [c["relevance"] for c in wide["channels"]]
    assert ours == pytest.approx(by_hand.relevance.tolist(), rel=1e-5)
    assert all(abs(a - b) > 1e-3 * abs(b) for a, b in zip(ours, [c["relevance"] for c in narrow["channels"]]))
    assert main([*argv, "--epsilon", "-1"]) == 2 and "epsilon" in capsys.readouterr().err
