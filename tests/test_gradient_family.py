"""Issue 25, item 5: SmoothGrad equals Captum's NoiseTunnel fed the same noise; Grad-CAM++ and Score-CAM correlate
>= 0.99 with pytorch-grad-cam 1.5.7 on the same model, layer and image; the new methods run from the recipe."""

import numpy as np
import pytest
import torch
from captum.attr import InputXGradient, NoiseTunnel, Saliency
from pytorch_grad_cam import GradCAMPlusPlus, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from convscope.core.zoo import wrap
from convscope.techniques.attribution.cam import grad_cam_plus_plus, score_cam
from convscope.techniques.attribution.gradients import smoothgrad, smoothgrad_noise

pytestmark = pytest.mark.usefixtures("one_thread")


def net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 12, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(12, 12, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, 6),
    )


@pytest.fixture(scope="module")
def subject():
    model = net()
    with torch.no_grad():  # logits of a few units, as a trained net gives: pytorch-grad-cam's Grad-CAM++ adds
        model[-1].weight.mul_(50)  # eps = 1e-6 to a denominator of g^2 ~ 1e-6 on a random net's tiny gradients
    return wrap(model, 32)


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))


def correlation(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel())[0, 1])


@pytest.mark.parametrize(
    "kind, nt_type", [("mean", "smoothgrad"), ("squared", "smoothgrad_sq"), ("variance", "vargrad")]
)
@pytest.mark.parametrize("of", ["saliency", "gradient-x-input"])
def test_smoothgrad_equals_captum_noise_tunnel(subject, image, of, kind, nt_type, monkeypatch):
    samples, noise, seed = 6, 0.15, 11
    ours = smoothgrad(subject, image, 2, of=of, samples=samples, noise=noise, kind=kind, seed=seed, batch_size=4)
    x = subject.normalize(image)
    draws, sigma = smoothgrad_noise(x, samples, noise, seed)
    # Captum draws its own noise inside; feed it ours (the same draws, in its order: the samples of each image)
    monkeypatch.setattr(
        NoiseTunnel,
        "_add_noise_to_input",
        staticmethod(lambda inp, stdev, n: inp.repeat_interleave(n, dim=0) + draws.flatten(0, 1)[: inp.shape[0] * n]),
    )
    method = Saliency(subject.model) if of == "saliency" else InputXGradient(subject.model)
    extra = {"abs": False} if of == "saliency" else {}
    theirs = NoiseTunnel(method).attribute(
        x, nt_type=nt_type, nt_samples=samples, stdevs=float(sigma[0]), target=2, **extra
    )
    assert theirs.abs().max() > 0
    torch.testing.assert_close(ours.input, theirs, rtol=1e-4, atol=1e-6)
    assert correlation(ours.input, theirs) >= 0.999


def test_smoothgrad_draws_depend_on_the_seed_and_average_out(subject, image):
    x = subject.normalize(image)
    a, _ = smoothgrad_noise(x, 4, 0.1, 0)
    b, _ = smoothgrad_noise(x, 4, 0.1, 0)
    c, _ = smoothgrad_noise(x, 4, 0.1, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    plain = smoothgrad(subject, image, 1, samples=1, noise=0.0).input  # no noise: the gradient itself
    saliency = torch.autograd.grad(subject.model(x.requires_grad_(True))[:, 1].sum(), x)[0]
    torch.testing.assert_close(plain, saliency)


@pytest.mark.parametrize("ours, reference", [(grad_cam_plus_plus, GradCAMPlusPlus), (score_cam, ScoreCAM)])
def test_cam_variants_match_pytorch_grad_cam(subject, image, ours, reference):
    layer = "3"
    mine = ours(subject, image, 4, layer=layer).input[0, 0]
    x = subject.normalize(image).requires_grad_(True)  # the wrapped model's parameters are frozen
    with reference(model=subject.model, target_layers=[subject.model[3]]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(4)])[0]
    assert mine.max() > 0 and theirs.max() > 0
    assert correlation(mine, theirs) >= 0.99


def test_new_methods_run_from_the_recipe(digits_subject, digit_png, tmp_path, capsys):
    import json

    from convscope.cli.main import main

    argv = ["attribute", digit_png, "--model", "digits", "--json", "--out", str(tmp_path)]
    for extra in (
        ["--method", "smoothgrad", "--smooth-of", "saliency", "--samples", "3", "--noise", "0.1"],
        ["--method", "gradcam-plusplus"],
        ["--method", "scorecam", "--layer", "features.6"],
        ["--method", "gradient-x-input", "--layers", "features.0"],
    ):
        assert main([*argv, *extra]) == 0, capsys.readouterr().err
        result = json.loads(capsys.readouterr().out)
        assert result["method"] == extra[1] and result["scale"]["high"] > 0
    assert result["layers"][0]["name"] == "features.0"  # gradient-x-input keeps the per-layer maps
