"""Feature visualization: activation reached, batching, parameterizations, transforms, hooks, odd models."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from torch import nn

import convscope
from conftest import hooks_left
from convscope import objectives as O
from convscope.core.images import pil_to_tensor
from convscope.techniques.param import ImageParam, color_matrix
from convscope.techniques.render import Cancelled, render
from convscope.techniques.transforms import Transforms

LAYER, CHANNELS, SIZE = "blocks.3", [0, 5, 17, 33], 128


@pytest.fixture(scope="module")
def rendered(default_subject):
    objective = O.per_item([O.channel(LAYER, c) for c in CHANNELS])
    return render(default_subject, objective, size=SIZE, steps=48, seed=0)


def natural_images(size):
    images = []
    for name in (
        "astronaut",
        "chelsea",
        "coffee",
        "rocket",
        "immunohistochemistry",
        "hubble_deep_field",
        "retina",
        "colorwheel",
    ):
        array = getattr(data, name)()
        if array.ndim == 3:
            images.append(pil_to_tensor(Image.fromarray(array[..., :3]).resize((size, size), Image.BICUBIC)))
    return torch.stack(images)


def test_visualization_far_exceeds_natural_images(default_subject, rendered):
    with torch.no_grad():
        natural = default_subject.capture(natural_images(SIZE), [LAYER])[LAYER].mean(dim=(2, 3))[:, CHANNELS]
    best_natural = natural.max(dim=0).values
    reached = torch.tensor(rendered.activations)
    assert (reached >= 2 * best_natural.clamp_min(0.5)).all(), (reached, best_natural)
    assert rendered.images.shape == (4, 3, SIZE, SIZE)  # exactly the size asked for, no hidden upsampling
    assert 0 <= rendered.images.min() and rendered.images.max() <= 1
    assert np.mean(rendered.history[-1]) > np.mean(rendered.history[0])


def test_each_image_of_a_batch_excites_its_own_channel_most(default_subject, rendered):
    with torch.no_grad():
        acts = default_subject.capture(rendered.images, [LAYER])[LAYER].mean(dim=(2, 3))[:, CHANNELS]
    assert (acts.argmax(dim=0) == torch.arange(4)).all(), acts
    np.testing.assert_allclose(acts.diagonal().numpy(), rendered.activations, rtol=1e-4)


def test_render_is_deterministic_and_leaves_no_hooks(digits_subject):
    before = hooks_left(digits_subject.model)
    runs = [render(digits_subject, O.channel("features.3", 2), steps=5, seed=7) for _ in range(2)]
    assert torch.equal(runs[0].images, runs[1].images)
    assert hooks_left(digits_subject.model) == before


def test_no_hooks_remain_when_a_render_raises_or_is_cancelled(default_subject):
    model = default_subject.model
    before = hooks_left(model)
    inplace = [m.inplace for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]

    def explode(stage, done, total):
        raise RuntimeError("progress callback failed")

    with pytest.raises(RuntimeError, match="progress callback failed"):
        render(default_subject, O.channel("blocks.1", 0), size=32, steps=3, progress=explode)
    with pytest.raises(Cancelled, match="after 1 of 3 steps"):
        render(default_subject, O.channel("blocks.1", 0), size=32, steps=3, cancel=lambda: True)
    assert hooks_left(model) == before
    assert inplace == [m.inplace for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


@pytest.mark.parametrize("space", ["pixel", "fft", "laplacian"])
@pytest.mark.parametrize("decorrelate", [True, False])
@pytest.mark.parametrize("squash", ["sigmoid", "clamp"])
def test_parameterizations_round_trip_a_real_image(space, decorrelate, squash):
    image = pil_to_tensor(Image.fromarray(data.astronaut()).resize((48, 40)))[None] * 0.9 + 0.05
    param = ImageParam(1, 3, (40, 48), space, decorrelate=decorrelate, squash=squash, levels=3)
    with torch.no_grad():
        torch.testing.assert_close(param.set_image(image)(), image, atol=2e-4, rtol=0)


def test_fourier_space_has_1_over_f_amplitudes():
    param = ImageParam(16, 3, (64, 64), "fft", decorrelate=False, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        amplitude = torch.fft.rfft2(param.raw(), norm="ortho").abs().mean(dim=(0, 1))
    low, high = amplitude[2, 2], amplitude[16, 16]  # frequency ratio 8: amplitude ratio ~ 8 for decay 1
    assert 5 < float(low / high) < 12


def test_color_matrix_from_a_dataset_decorrelates_it():
    images = natural_images(32)
    matrix = color_matrix(images)
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1)
    whitened = torch.linalg.inv(matrix) @ (pixels - pixels.mean(dim=1, keepdim=True))
    torch.testing.assert_close(torch.cov(whitened), torch.eye(3), atol=1e-3, rtol=0)


def test_transforms_keep_gradients_and_draw_per_image_values():
    x = torch.rand(1, 3, 32, 32).repeat(4, 1, 1, 1).requires_grad_(True)
    out = Transforms(pad=4, jitter=3, rotate=10, scale=0.2)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and (x.grad.abs().flatten(1).sum(dim=1) > 0).all()
    assert all(not torch.allclose(out[0], out[i]) for i in range(1, 4))  # each image its own transform


@pytest.mark.parametrize("threads, height", [(2, 224), (3, 96), (2, 33)])
def test_banded_sampling_equals_grid_sample_values_and_gradients(threads, height):
    from convscope.techniques.transforms import sample_bilinear

    theta = torch.tensor([[[0.97, 0.08, 0.03], [-0.08, 1.02, -0.05]]])
    grid = torch.nn.functional.affine_grid(theta, [1, 3, height, 64], align_corners=False)
    x = torch.rand(1, 3, height, 64, requires_grad=True)
    weights = torch.rand(1, 3, height, 64)
    expected = torch.nn.functional.grid_sample(x, grid, align_corners=False)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = sample_bilinear(x, grid)
        (grad,) = torch.autograd.grad((out * weights).sum(), x)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=0)


def test_identity_pad_and_pure_jitter_are_exact():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(Transforms(pad=0, jitter=0, rotate=0, scale=0)(x), x)
    framed = Transforms(pad=4, jitter=0, rotate=0, scale=0)(x)  # the 24-px gray canvas seen at 16 px
    canvas = torch.nn.functional.pad(x, (4, 4, 4, 4), value=0.5)
    expected = torch.nn.functional.interpolate(canvas, size=(16, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(framed, expected, atol=1e-5, rtol=0)
    jittered = Transforms(pad=0, jitter=2, rotate=0, scale=0)(x, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=0.5)
    matches = [
        any(
            torch.allclose(jittered[i], padded[i, :, 2 + dy : 18 + dy, 2 + dx : 18 + dx], atol=1e-5)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        )
        for i in range(2)
    ]
    assert all(matches)


def test_objectives_compose_and_declare_their_layers():
    acts = {"a": torch.rand(3, 4, 5, 5), "b": torch.rand(3, 6, 2, 2)}
    mixed = 0.5 * O.channel("a", 1) + 2 * O.channel("b", 3) - O.layer_mean("a") / 4
    expected = 0.5 * acts["a"][:, 1].mean((1, 2)) + 2 * acts["b"][:, 3].mean((1, 2)) - acts["a"].mean((1, 2, 3)) / 4
    torch.testing.assert_close(mixed(acts), expected)
    assert mixed.layers == ("a", "b") and mixed.units == ("a:1", "b:3", "a")
    torch.testing.assert_close(O.neuron("a", 2)(acts), acts["a"][:, 2, 2, 2])
    torch.testing.assert_close(O.deepdream("b")(acts), acts["b"].pow(2).mean((1, 2, 3)))
    v = torch.tensor([1.0, 0, 0, 1.0])
    torch.testing.assert_close(O.direction("a", v)(acts), (acts["a"][:, 0] + acts["a"][:, 3]).mean((1, 2)) / 2**0.5)
    same = {"a": torch.ones(2, 4, 3, 3)}
    torch.testing.assert_close(O.diversity("a")(same), torch.tensor([-1.0, -1.0]))
    items = O.per_item([O.channel("a", 0), O.channel("a", 1), O.channel("b", 2)])
    torch.testing.assert_close(
        items(acts), torch.stack([acts["a"][0, 0].mean(), acts["a"][1, 1].mean(), acts["b"][2, 2].mean()])
    )
    with pytest.raises(convscope.ConvscopeError, match="batch"):
        items + O.per_item([O.channel("a", 0)])


def test_class_objective_refuses_a_softmax_output():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3), nn.Softmax(dim=1))
    subject = convscope.wrap(model, size=8)
    with pytest.raises(convscope.ConvscopeError, match="softmax probabilities"):
        render(subject, O.class_logit(1), steps=1, transforms="none")


def test_grayscale_32px_model_class_visualization(digits_subject):
    result = render(digits_subject, O.per_item([O.class_logit(k) for k in (3, 7)]), steps=40, seed=0)
    assert result.images.shape == (2, 1, 32, 32)
    with torch.no_grad():
        logits = digits_subject(result.images)[:, [3, 7]]
        gray = digits_subject(torch.full((1, 1, 32, 32), 0.5))[0, [3, 7]]
    assert (logits.diagonal() > logits.flip(0).diagonal()).all()  # each image raises its own class more
    assert (logits.diagonal() > gray + 10).all()


def test_rgb_32px_model_works():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    subject = convscope.wrap(model, size=32)
    result = render(subject, O.per_item([O.channel("2", c) for c in range(4)]), steps=30, seed=1, transforms="standard")
    with torch.no_grad():
        start = subject.capture(torch.full((1, 3, 32, 32), 0.5), ["2"])["2"].mean(dim=(2, 3))[0]
    assert (torch.tensor(result.activations) > start).all()


def test_redirected_relu_revives_dead_starts():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 2, 3)
    with torch.no_grad():
        conv.bias.fill_(-0.5)  # every unit starts off: the ordinary ReLU gradient is exactly zero
    model = nn.Sequential(conv, nn.ReLU(inplace=True), nn.Conv2d(2, 2, 1), nn.ReLU())
    subject = convscope.wrap(model, size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
    objective = O.channel("1", 0)
    plain = render(subject, objective, steps=60, redirect_relu_steps=0, transforms="none", param="pixel")
    redirected = render(subject, objective, steps=60, redirect_relu_steps=30, transforms="none", param="pixel")
    assert plain.activations[0] == 0.0 and plain.history[-1] == [0.0]  # stuck: no gradient ever arrives
    assert redirected.activations[0] > 1e-3  # units switched on, so the ordinary gradient takes over
    assert model[1].inplace  # restored


def test_deepdream_raises_the_objective_and_keeps_the_image(default_subject):
    from convscope.techniques.dream import dream

    image = pil_to_tensor(Image.fromarray(data.chelsea()).resize((120, 80)))[None]
    result = dream(default_subject, image, O.deepdream("blocks.2"), octaves=2, steps=4, step_size=0.02)
    assert result.image.shape == image.shape and result.sizes[-1] == (80, 120)
    assert result.objective_after > 1.5 * result.objective_before
    assert (result.image - image).abs().mean() < 0.15  # a dream of the image, not a new image
