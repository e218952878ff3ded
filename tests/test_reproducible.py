"""Per-item random streams: a rendered unit depends on (seed, unit) only, not on its batch mates, its position in
the batch or the batch size."""

import pytest
import torch

import convscope
from convscope import objectives as O
from convscope.core.errors import ConvscopeError
from convscope.techniques.param import ImageParam
from convscope.techniques.render import item_generators, item_seed, render
from convscope.techniques.transforms import Transforms

DIGITS_LAYER = "features.3"  # 32 channels at 16 x 16 for the 32-px digits


def difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    d = (a - b).abs()
    return float(d.max()), float(d.mean())


def test_item_seed_is_stable_and_depends_on_seed_and_unit():
    # blake2b, not Python's per-process salted hash(): the same number in every process and on every machine
    assert item_seed(0, "blocks.3:5") == 2224168122019356468
    seeds = {item_seed(seed, f"blocks.3:{c}") for seed in range(3) for c in range(8)}
    assert len(seeds) == 24 and all(0 <= s < 2**63 for s in seeds)


def test_item_names_of_objectives():
    a, b = O.channel("x", 1), O.channel("y", 2)
    assert O.per_item([a, b]).item_names(2) == ("x:1", "y:2")
    assert a.item_names(3) == ("x:1", "x:1#1", "x:1#2")  # one objective for every item: items still differ
    assert (O.per_item([a, b]) + 0.5 * O.layer_mean("x")).item_names(2) == ("x:1 + 0.5*(x:mean)", "y:2 + 0.5*(x:mean)")
    assert (2 * O.per_item([a, b])).item_names(2) == ("2*(x:1)", "2*(y:2)")
    with pytest.raises(ConvscopeError, match="2 items"):
        O.per_item([a, b]).item_names(3)


@pytest.mark.parametrize("space", ["pixel", "fft", "laplacian"])
def test_parameterization_start_is_per_item(space):
    names = ["a", "b", "c", "d"]
    batch = ImageParam(4, 3, (16, 24), space, generator=item_generators(5, names))
    for i, name in enumerate(names):
        alone = ImageParam(1, 3, (16, 24), space, generator=item_generators(5, [name]))
        for level_batch, level_alone in zip(batch.levels, alone.levels):
            assert torch.equal(level_batch[i], level_alone[0])
    with pytest.raises(ConvscopeError, match="2 random generators for a batch of 4"):
        ImageParam(4, 3, (16, 16), space, generator=item_generators(0, ["a", "b"]))


def test_transforms_are_per_item():
    transforms = Transforms(pad=3, jitter=4, rotate=10, scale=0.2)
    x = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    names = [f"u{i}" for i in range(5)]
    together = transforms(x, item_generators(1, names))
    for i in range(5):
        alone = transforms(x[i : i + 1], item_generators(1, [names[i]]))
        torch.testing.assert_close(together[i], alone[0], atol=1e-6, rtol=0)
    assert all(not torch.allclose(together[0], together[i]) for i in range(1, 5))  # each its own draw
    with pytest.raises(ConvscopeError, match="1 random generators for a batch of 5"):
        transforms(x, item_generators(1, ["u0"]))


def test_jitter_draws_every_shift_uniformly():
    """The shift of each item is an integer in [-jitter, jitter] (from one uniform draw): all values appear."""
    transforms = Transforms(pad=0, jitter=2, rotate=0, scale=0)
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0  # a dot in the centre: where it lands is the shift
    seen = set()
    for k in range(60):
        out = transforms(x + 0.5, item_generators(k, ["dot"]))[0, 0] - 0.5
        row, col = divmod(int(out.flatten().argmax()), 9)
        seen.add((row - 4, col - 4))
    assert {dy for dy, _ in seen} == {dx for _, dx in seen} == {-2, -1, 0, 1, 2}


def test_a_unit_renders_the_same_alone_and_in_any_batch_on_digits(digits_subject):
    """64 steps at the model's 32 px: the unit alone vs among 7 other units at another position."""
    alone = render(digits_subject, O.channel(DIGITS_LAYER, 2), steps=64, seed=0)
    single = render(digits_subject, O.per_item([O.channel(DIGITS_LAYER, 2)]), steps=64, seed=0)
    assert torch.equal(alone.images, single.images)  # per_item([u]) is u
    mates = [8, 9, 10, 11, 12, 2, 13, 14]
    batch = render(digits_subject, O.per_item([O.channel(DIGITS_LAYER, c) for c in mates]), steps=64, seed=0)
    worst, mean = difference(alone.images[0], batch.images[5])
    assert mean <= 0.005, (worst, mean)
    assert abs(alone.activations[0] - batch.activations[5]) <= 0.01 * abs(alone.activations[0])
    other_seed = render(digits_subject, O.channel(DIGITS_LAYER, 2), steps=64, seed=1)
    assert difference(alone.images[0], other_seed.images[0])[1] > 0.02  # the seed still matters


@pytest.fixture(scope="module")
def resnet():
    return convscope.load("torchvision:resnet18", weights="none")


def test_batch_mates_position_and_batch_size_do_not_matter_on_resnet(resnet):
    """In batches of 2 and 8, at positions 0 and 6, among different units: the same image (on the CPU the
    batched kernels are the same per item, so the images are in fact identical)."""
    layer = "layer2.0"
    two = render(resnet, O.per_item([O.channel(layer, c) for c in (7, 30)]), size=64, steps=32, seed=1)
    eight = render(
        resnet, O.per_item([O.channel(layer, c) for c in (20, 21, 22, 23, 24, 25, 7, 26)]), size=64, steps=32, seed=1
    )
    worst, mean = difference(two.images[0], eight.images[6])
    assert mean <= 0.005, (worst, mean)


def test_a_unit_alone_vs_in_a_batch_on_resnet_64_steps(resnet):
    """Alone, PyTorch would run the small 3x3 convolutions of a 64-px resnet18 through another CPU kernel than for
    a batch (ATen picks mkldnn only for batch > 1 or inputs over 20480 values), rounding differences that 64 steps
    amplify to a mean |diff| of 0.03; render runs those layers of a lone image as a batch of two
    (`batch_kernels`), so the image is the same as in a batch of 8."""
    layer = "layer2.0"
    alone = render(resnet, O.channel(layer, 7), size=64, steps=64, seed=1)
    eight = render(
        resnet, O.per_item([O.channel(layer, c) for c in (20, 21, 22, 23, 24, 25, 7, 26)]), size=64, steps=64, seed=1
    )
    worst, mean = difference(alone.images[0], eight.images[1 + 5])
    assert mean <= 0.005, (worst, mean)


def test_batch_kernels_double_only_layers_whose_rounding_changes(resnet):
    """The check runs once per (layer, input shape); a large input keeps its own kernels; the model is restored."""
    from convscope.techniques.render import batch_kernels

    forwards = {name: m.forward for name, m in resnet.model.named_modules()}
    with batch_kernels(resnet.model) as decided, torch.no_grad():
        resnet.capture(torch.rand(1, 3, 64, 64), ["layer2.0"])
        resnet.capture(torch.rand(1, 3, 64, 64), ["layer2.0"])
    assert decided[("conv1", (1, 3, 64, 64))] is False  # 12288 values through a 7x7 kernel: mkldnn either way
    assert decided[("layer2.0.conv2", (1, 128, 8, 8))] is True  # 8192 values, 3x3: Slow2d alone, mkldnn in pairs
    assert len(decided) == 8  # conv1, layer1 (4 convs), layer2.0 (2 convs + downsample), once each
    assert {name: m.forward for name, m in resnet.model.named_modules()} == forwards
    assert all("forward" not in m.__dict__ for m in resnet.model.modules())
