"""BatchNorm folding for the optimization loop (convscope.core.fold): same function, BatchNorms skipped, model
intact."""

import pytest
import torch
from torch import nn

import convscope
from convscope import objectives as O
from convscope.core.fold import folded_forward, verify
from convscope.techniques.render import render


def bn_model() -> convscope.Subject:
    """conv-BN-ReLU6 x 2 -> conv-BN (a BN that feeds a sum is not followed by an activation) with BN statistics far
    from identity, so an unfolded BN would change the numbers a lot."""
    torch.manual_seed(0)
    layers = []
    for cin, cout in ((3, 8), (8, 16), (16, 16)):
        bn = nn.BatchNorm2d(cout)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-0.5, 0.5)
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=cin == 8), bn, nn.ReLU6(inplace=True)]
    return convscope.wrap(nn.Sequential(*layers[:-1]), size=24)


def test_folded_forward_equals_the_model_and_leaves_it_unchanged():
    subject = bn_model()
    before = {k: v.clone() for k, v in subject.model.state_dict().items()}
    mode = folded_forward(subject, keep=["6"])  # the last conv is read: it must not be folded
    assert mode is not None and mode.count == 2
    x = torch.rand(3, 3, 24, 24)
    assert verify(subject, mode, x, ["6", "7", "4"]) < 1e-5  # conv 6 unfolded; BN 7 and ReLU 4 exact
    # gradients with respect to the input agree too
    grads = []
    for m in (None, mode):
        xi = x.clone().requires_grad_(True)
        with m or torch.enable_grad():
            out = subject.capture(xi, ["7"])["7"]
        out.square().mean().backward()
        grads.append(xi.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    after = subject.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_read_conv_or_training_mode_is_not_folded():
    subject = bn_model()
    assert folded_forward(subject, keep=["0", "3", "6"]) is None  # every conv is read
    assert folded_forward(subject, keep=["1"]).count == 2  # reading a BN keeps that pair unfolded
    subject.model.train()
    try:
        assert folded_forward(subject) is None  # BN uses batch statistics: nothing to fold
    finally:
        subject.model.eval()


def test_render_folds_batchnorm_and_measures_on_the_real_model():
    subject = bn_model()
    objective = O.channel("7", 2)
    folded = render(subject, objective, steps=24, size=24, seed=0)
    plain = render(subject, objective, steps=24, size=24, seed=0, fold_batchnorm=False)
    assert folded.folded_batchnorms == 2 and plain.folded_batchnorms == 0  # BN 7 is read: not folded
    # the same optimization: step scores agree closely, and the final activation is re-measured unfolded
    assert folded.history[0] == pytest.approx(plain.history[0], rel=1e-4)
    with torch.no_grad():
        remeasured = objective(subject.capture(folded.images, ["7"])).tolist()
    assert folded.activations == pytest.approx(remeasured, rel=1e-6)
    assert folded.activations[0] == pytest.approx(plain.activations[0], rel=0.05)
    assert folded.activations[0] > folded.history[0][0] + 0.03  # it optimizes (0.319 -> 0.375 in 24 steps)
