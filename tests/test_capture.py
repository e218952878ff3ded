"""capture(): same tensors as a manual forward, truncation, hooks always removed, gradients, clear errors."""

import pytest
import torch
from torch import nn

import convscope
from conftest import hooks_left
from convscope.core.errors import ChannelError, UnknownLayerError


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return convscope.load("torchvision:vgg16", "none")


def test_capture_equals_manual_forward_even_with_inplace_relu(vgg):
    x = torch.rand(2, 3, 64, 64)
    acts = vgg.capture(x, ["features.0", "features.4", "logits"])
    assert vgg.graph.node("features.0").mutated_later  # ReLU(inplace=True) rewrites the conv output
    with torch.no_grad():
        h = vgg.normalize(x)
        conv0 = vgg.model.features[0](h)
        pooled = vgg.model.features[:5](h)
        logits = vgg.model(h)
    torch.testing.assert_close(acts["features.0"], conv0)
    assert (acts["features.0"] < 0).any()  # the pre-ReLU values, not the rewritten ones
    torch.testing.assert_close(acts["features.4"], pooled)
    torch.testing.assert_close(acts["logits"], logits)
    assert list(acts) == ["features.0", "features.4", "logits"]


def test_capture_stops_after_the_deepest_requested_layer(vgg):
    ran = []
    handle = vgg.model.features[5].register_forward_hook(lambda *_: ran.append("features.5"))
    classifier = vgg.model.classifier.register_forward_hook(lambda *_: ran.append("classifier"))
    try:
        vgg.capture(torch.rand(1, 3, 64, 64), ["features.2", "features.4"])
        assert ran == []
        vgg.capture(torch.rand(1, 3, 64, 64), ["features.4", "logits"])
        assert ran == ["features.5", "classifier"]
    finally:
        handle.remove()
        classifier.remove()


def test_hooks_are_removed_after_success_early_stop_and_errors(vgg):
    before = hooks_left(vgg.model)
    vgg.capture(torch.rand(1, 3, 64, 64), ["features.4"])
    vgg.capture(torch.rand(1, 3, 64, 64), ["features.4", "logits"])
    assert hooks_left(vgg.model) == before

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), Boom(), nn.Flatten())
    subject = convscope.wrap(model, size=8)
    with pytest.raises(ValueError):
        subject.graph  # noqa: B018 - the dry run itself fails
    assert hooks_left(model) == 0
    with pytest.raises(ValueError, match="boom"):
        subject.capture(torch.rand(1, 3, 8, 8), ["logits"])
    assert hooks_left(model) == 0


def test_hooks_removed_when_a_later_layer_raises_during_capture():
    class Flaky(nn.Module):
        fail = False

        def forward(self, x):
            if Flaky.fail:
                raise RuntimeError("flaky")
            return x

    model = nn.Sequential(nn.Conv2d(3, 4, 3), Flaky(), nn.Conv2d(4, 2, 3), nn.Flatten())
    subject = convscope.wrap(model, size=8)
    subject.graph  # noqa: B018 - dry run succeeds
    Flaky.fail = True
    with pytest.raises(RuntimeError, match="flaky"):
        subject.capture(torch.rand(1, 3, 8, 8), ["0", "2"])
    assert hooks_left(model) == 0


def test_reused_module_returns_its_last_call():
    resnet = convscope.load("torchvision:resnet18", "none")
    x = torch.rand(1, 3, 64, 64)
    acts = resnet.capture(x, ["layer1.0.relu", "layer1.0"])
    assert resnet.graph.node("layer1.0.relu").calls == 2
    torch.testing.assert_close(acts["layer1.0.relu"], acts["layer1.0"])


def test_gradients_flow_through_captured_activations(digits_subject):
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    acts = digits_subject.capture(x, ["features.3"])
    acts["features.3"][:, 5].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_layer_and_channel_errors_are_clear(vgg):
    with pytest.raises(UnknownLayerError, match=r"unknown layer `features\.99`.*did you mean `features\.9"):
        vgg.capture(torch.rand(1, 3, 64, 64), ["features.99"])
    with pytest.raises(ChannelError, match=r"channel 700 out of range 0\.\.511 for layer `features\.28`"):
        vgg.check_channels("features.28", [3, 700])
    with pytest.raises(convscope.ConvscopeError, match="takes 3-channel images, got 1"):
        vgg.capture(torch.rand(1, 1, 64, 64), ["features.0"])
