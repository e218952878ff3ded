"""Deep Taylor / LRP conservation on modern networks (issue 25, part 2): residual sums split by contribution, ReLU6
(clipped units are effective biases under ignore_bias), depthwise convolutions with no positive contribution (the
z+ rule as the limit of LRP-gamma), the exposed stabilizer epsilon, and the targets on the default model."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from convscope.core.errors import ConvscopeError
from convscope.core.zoo import wrap
from convscope.techniques.attribution import LRP, lrp
from convscope.techniques.attribution.composites import Composite
from convscope.techniques.attribution.conservation import block_outputs, conservation_trace
from convscope.techniques.attribution.rules import RULES
from test_attribution_methods import run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

#: z+ at every layer, the input layer included (hand computations need no z^B bounds)
ZPLUS = Composite("zplus-all", RULES["zplus"], RULES["zplus"], RULES["zplus"])


def subject_of(model: nn.Module, size) -> object:
    """A one-channel Subject (mean 0, std 1: the model sees the pixel values) whose model reshapes the image into
    the channels the hand computations use."""
    return wrap(model.eval(), size, 1, (0.0,), (1.0,))


class Residual(nn.Module):
    """x -> conv1 (1x1) -> ReLU -> conv2 (1x1) -> + x -> linear, no biases (numbers in the test)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 1, bias=False)
        self.conv2 = nn.Conv2d(2, 2, 1, bias=False)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv1.weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 1.0]])[..., None, None])
            self.conv2.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]])[..., None, None])
            self.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))

    def forward(self, x):
        x = x.reshape(-1, 2, 1, 1)
        return self.fc((self.conv2(torch.relu(self.conv1(x))) + x).flatten(1))


def test_residual_sum_is_split_by_contribution_without_double_counting():
    # x = (0.5, 1): h = conv1 x = (-0.5, 2), relu -> (0, 2), branch b = (2, -2), z = b + x = (2.5, -1), logit 2.5.
    # R_z = (2.5, 0); the addition (z+ on the sum, z > 0): R_b1 = 2 / 2.5 R, R_skip1 = 0.5 / 2.5 R -> (2, 0.5);
    # the branch: conv2 row 1 takes it from relu unit 2, conv1 row 2 splits 2 by x_i w_i = (1, 1) -> (1, 1);
    # the input: (0.5 + 1, 1) = (1.5, 1.0), total 2.5 = the logit (not 2.5 + 2: no double counting).
    subject = subject_of(Residual(), (1, 2))
    x = torch.tensor([0.5, 1.0]).view(1, 1, 1, 2)
    result = lrp(subject, x, 0, composite=ZPLUS, layers=["conv1", "conv2"])
    assert result.output.item() == pytest.approx(2.5)
    assert result.input.flatten().tolist() == pytest.approx([1.5, 1.0], abs=1e-5)
    assert result.layers["conv2"].flatten().tolist() == pytest.approx([2.0, 0.0], abs=1e-5)
    assert result.layers["conv1"].flatten().tolist() == pytest.approx([0.0, 2.0], abs=1e-5)
    trace = conservation_trace(subject, x, 0, ZPLUS, blocks=["conv1", "conv2"])
    assert trace["input"][0] == pytest.approx(2.5, abs=1e-5)
    assert [layer["name"] for layer in trace["layers"]] == ["fc", "conv2", "conv1"]
    assert all(abs(layer["absorbed"][0]) < 1e-5 for layer in trace["layers"])


class ClippedHead(nn.Module):
    """x -> diagonal 1x1 conv (20, 4) -> ReLU6 -> linear (1, 1): h = (10, 1) -> (6, 1), logit 7 for x = (0.5, 0.25)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1, bias=False)
        self.act = nn.ReLU6()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.diag(torch.tensor([20.0, 4.0]))[..., None, None])
            self.fc.weight.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.0]]))

    def forward(self, x):
        return self.fc(self.act(self.conv(x.reshape(-1, 2, 1, 1))).flatten(1))


def test_relu6_passes_relevance_and_a_clipped_unit_is_an_effective_bias():
    subject = subject_of(ClippedHead(), (1, 2))
    x = torch.tensor([0.5, 0.25]).view(1, 1, 1, 2)
    # with biases: pass-through (ReLU6 = relu(z) - relu(z - 6), both parts of the clipped unit sit on z): (6, 1)
    kept = lrp(subject, x, 0, composite=ZPLUS, layers=["act"])
    assert kept.output.item() == pytest.approx(7.0)
    assert kept.layers["act"].flatten().tolist() == pytest.approx([6.0, 1.0], abs=1e-5)
    assert kept.input.flatten().tolist() == pytest.approx([6.0, 1.0], abs=1e-5)
    # ignore_bias: the clipped unit is constant near x (derivative 0), a bias of fc, left out like one: all 7 go to
    # the live unit, and from it to x_2
    ignored = lrp(subject, x, 0, composite=ZPLUS, layers=["act"], ignore_bias=True)
    # (each z+ denominator carries the stabilizer 1e-6: 7 / (1 + 1e-6) per layer)
    assert ignored.layers["act"].flatten().tolist() == pytest.approx([0.0, 7.0], rel=1e-5, abs=1e-6)
    assert ignored.input.flatten().tolist() == pytest.approx([0.0, 7.0], rel=1e-5, abs=1e-6)


class Depthwise(nn.Module):
    """Depthwise (groups=2) 1x2 conv, weights (1, 3) and (-1, -1), biases (0, 4), ReLU6, linear (1, 1).
    x = ((0.5, 0.25), (0.5, 1)): y = (1.25, -1.5 + 4 = 2.5), logit 3.75."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, (1, 2), groups=2)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[1.0, 3.0], [-1.0, -1.0]]).view(2, 1, 1, 2))
            self.conv.bias.copy_(torch.tensor([0.0, 4.0]))
            self.fc.weight.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.0]]))

    def forward(self, x):
        return self.fc(torch.nn.functional.relu6(self.conv(x.reshape(-1, 2, 1, 2))).flatten(1))


def depthwise_case():
    subject = subject_of(Depthwise(), (2, 2))
    x = torch.tensor([[0.5, 0.25], [0.5, 1.0]]).view(1, 1, 2, 2)
    return subject, x


def test_depthwise_rules_per_group_and_no_positive_contribution():
    subject, x = depthwise_case()
    # with biases: channel 0 splits 1.25 by (0.5, 0.75) within its own group; channel 1 has z+ = b+ = 4 only:
    # all its 2.5 goes to its bias, which the trace reports
    kept = lrp(subject, x, 0, composite=ZPLUS, layers=None)
    assert kept.output.item() == pytest.approx(3.75)
    assert kept.input.flatten().tolist() == pytest.approx([0.5, 0.75, 0.0, 0.0], abs=1e-5)
    trace = conservation_trace(subject, x, 0, ZPLUS, blocks=[])
    conv = next(layer for layer in trace["layers"] if layer["name"] == "conv")
    assert conv["absorbed"][0] == pytest.approx(2.5, abs=1e-5)
    assert trace["absorbed_total_fraction"][0] + trace["input_fraction"][0] == pytest.approx(1.0, abs=1e-6)
    # ignore_bias: channel 1 has no positive contribution (z+ = 0): the limit of LRP-gamma is the z rule,
    # x_i w_i / sum x w = (-0.5, -1) / -1.5 of 2.5 -> (0.8333, 1.6667), non-negative and conservative
    ignored = lrp(subject, x, 0, composite=ZPLUS, layers=None, ignore_bias=True)
    assert ignored.input.flatten().tolist() == pytest.approx([0.5, 0.75, 2.5 / 3, 5.0 / 3], abs=1e-5)


def test_epsilon_reaches_the_rules_and_a_larger_one_absorbs_more():
    subject, x = depthwise_case()
    absorbed = {}
    for epsilon in (1e-6, 1.0, 10.0):
        trace = conservation_trace(subject, x, 0, "epsilon", epsilon=epsilon, blocks=[])
        assert trace["epsilon"] == epsilon
        fc = trace["layers"][0]
        assert fc["name"] == "fc"
        # the epsilon rule at fc: R_in = z / (z + eps) R_out, z = R_out = 3.75
        assert fc["relevance_in"][0] == pytest.approx(3.75 * 3.75 / (3.75 + epsilon), rel=1e-5)
        absorbed[epsilon] = fc["absorbed"][0]
        assert trace["input"][0] + trace["absorbed_total_fraction"][0] * 3.75 == pytest.approx(3.75, rel=1e-5)
    assert 0 < absorbed[1e-6] < 1e-5 and absorbed[1e-6] < absorbed[1.0] < absorbed[10.0] < 3.75
    assert LRP(subject, "dtd", epsilon=0.5).explain(x, 0, None).info["epsilon"] == 0.5
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConvscopeError, match="epsilon must be a positive number"):
            LRP(subject, "dtd", epsilon=bad)


def test_epsilon_from_the_cli(digits_subject, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)).save(image)
    argv = ["attribute", str(image), "--model", "digits", "--method", "lrp-epsilon", "--layers", "logits", "--json"]
    status, out, err = run_cli([*argv, "--epsilon", "0.25", "--out", str(tmp_path / "o")], capsys)
    assert status == 0, err
    assert json.loads(out)["info"]["epsilon"] == 0.25
    status, _, err = run_cli([*argv, "--epsilon", "0", "--out", str(tmp_path / "p")], capsys)
    assert status == 2 and "epsilon" in err and len(err.strip().splitlines()) == 1


def test_attribute_reports_what_biases_absorb_per_layer(digits_subject, tmp_path, capsys):
    """The attribute recipe's LRP result says per layer what its biases and stabilizer took (the ledger of one
    explain): with the input's share it makes up the logit, it equals conservation_trace's figures, the CLI prints
    the largest; and the faithfulness CLI takes the same method flags (epsilon, SmoothGrad's) as attribute."""
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(1).random((32, 32)) * 255).astype(np.uint8)).save(image)
    argv = ["attribute", str(image), "--model", "digits", "--method", "dtd", "--layers", "all"]
    status, out, err = run_cli([*argv, "--json", "--out", str(tmp_path / "o")], capsys)
    assert status == 0, err
    result = json.loads(out)
    info = result["info"]
    assert info["absorbed_total"] + result["conservation"] == pytest.approx(1.0, abs=1e-4)
    assert sum(a["fraction"] for a in info["absorbed"]) == pytest.approx(info["absorbed_total"], abs=1e-9)
    picture = digits_subject.load_image(image)
    trace = conservation_trace(digits_subject, picture, result["target"], "dtd", blocks=[])
    by_layer: dict = {}
    for layer in trace["layers"]:
        by_layer[layer["name"]] = by_layer.get(layer["name"], 0.0) + layer["absorbed_fraction"][0]
    assert [a["layer"] for a in info["absorbed"]] == list(reversed(by_layer))  # input side first
    for entry in info["absorbed"]:
        assert entry["fraction"] == pytest.approx(by_layer[entry["layer"]], abs=1e-5)
    names = [layer["name"] for layer in result["layers"]]
    assert [b["layer"] for b in info["blocks"]] == [n for n in block_outputs(digits_subject) if n in names]
    top = info["blocks"][-1]
    assert top["fraction"] == pytest.approx(1.0, abs=1e-5)  # the classifier holds the logit
    status, out, err = run_cli([*argv, "--out", str(tmp_path / "p")], capsys)
    assert status == 0 and "biases and the stabilizer took" in out, err
    faith = ["faithfulness", str(image), "--model", "digits", "--metrics", "completeness", "--json"]
    status, out, err = run_cli(
        [*faith, "--method", "lrp-epsilon", "--epsilon", "0.5", "--out", str(tmp_path / "f")], capsys
    )
    assert status == 0, err
    status, out2, err = run_cli(
        [
            *faith,
            "--method",
            "smoothgrad",
            "--smooth-of",
            "gradient-x-input",
            "--samples",
            "3",
            "--out",
            str(tmp_path / "g"),
        ],
        capsys,
    )
    assert status == 0, err
    assert json.loads(out)["completeness"]["total"] != json.loads(out2)["completeness"]["total"]


@pytest.fixture(scope="module")
def chelsea():
    from skimage import data

    image = torch.from_numpy(data.chelsea().astype(np.float32) / 255).permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)


def test_conservation_targets_on_the_default_model(default_subject, chelsea):
    blocks = block_outputs(default_subject)
    assert blocks[:3] == ["conv_stem", "bn1", "blocks.0"]
    assert blocks[-4:] == ["conv_head", "bn2", "global_pool", "classifier"]
    assert [b for b in blocks if b.startswith("blocks.")] == [f"blocks.{i}" for i in range(7)]
    # ignore_bias: the input keeps >= 95 % of the logit and every block's output is within 5 % of it
    ignored = conservation_trace(default_subject, chelsea, 285, "dtd", ignore_bias=True)
    assert ignored["output"][0] > 5  # chelsea is an Egyptian cat with a clear logit
    assert ignored["input_fraction"][0] >= 0.95
    for block in ignored["blocks"]:
        assert abs(block["fraction"][0] - 1) <= 0.05, block["name"]
    # with biases: the layers' absorbed shares and the input add up to the logit (the ledger misses nothing), the
    # biases of z+ only absorb (>= 0), and the depthwise convolutions take most of it
    kept = conservation_trace(default_subject, chelsea, 285, "dtd")
    assert kept["input_fraction"][0] + kept["absorbed_total_fraction"][0] == pytest.approx(1.0, abs=1e-4)
    assert len(kept["layers"]) == 51  # 49 convolutions, the global average pool and the classifier
    assert all(layer["absorbed_fraction"][0] >= -1e-5 for layer in kept["layers"])
    depthwise = sum(layer["absorbed_fraction"][0] for layer in kept["layers"] if layer["name"].endswith("conv_dw"))
    assert depthwise > 0.5
    # without ignore_bias nothing changes in the relevance at the top: the classifier holds the logit
    assert kept["blocks"][-1]["fraction"][0] == pytest.approx(1.0, abs=1e-5)
