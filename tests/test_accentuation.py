"""Feature accentuation (Hamblin et al. 2024) on the digits model: the closeness term, the start from a real image,
the layer's activations kept near the original while the unit rises, per-item seeding, cancel and the errors."""

import math

import pytest
import torch

from convscope import objectives as O
from convscope.core import digits
from convscope.core.errors import ConvscopeError, UnknownLayerError
from convscope.techniques.accentuation import accentuate, closeness
from convscope.techniques.render import Cancelled, render

pytestmark = pytest.mark.usefixtures("one_thread")

UNIT_LAYER, KEEP_LAYER = "features.6", "features.3"


@pytest.fixture(scope="module")
def seeds():
    data = digits.load_data()
    return torch.stack([data.images[data.test[i]] for i in range(2)]).float()  # [2, 1, 32, 32] in [0, 1]


def relative_distance(subject, images, reference):
    with torch.no_grad():
        a, b = (subject.capture(x, [KEEP_LAYER])[KEEP_LAYER] for x in (images, reference))
    return ((a - b).flatten(1).pow(2).sum(1) / b.flatten(1).pow(2).sum(1)).tolist()


def test_closeness_equals_a_hand_computation():
    reference = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    moved = reference + 0.1 * torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    score = closeness("x", reference)({"x": moved})
    for n in range(2):
        expected = -float(((moved[n] - reference[n]) ** 2).sum() / (reference[n] ** 2).sum())
        assert math.isclose(float(score[n]), expected, rel_tol=1e-5)
    assert torch.equal(closeness("x", reference)({"x": reference}), torch.zeros(2))
    with pytest.raises(ConvscopeError, match="closeness"):
        closeness("x", reference)({"x": moved[:, :2]})


def test_accentuation_raises_the_unit_and_stays_close_inside(digits_subject, seeds):
    assert seeds.shape == (2, 1, 32, 32) and 0 <= float(seeds.min()) and float(seeds.max()) <= 1
    # each image's own most active channel (chosen from the model: the digits net is trained on first use, and which
    # of its channels a digit drives depends on that training)
    with torch.no_grad():
        active = digits_subject.capture(seeds, [UNIT_LAYER])[UNIT_LAYER].mean((2, 3)).argmax(1).tolist()
    objective = O.per_item([O.channel(UNIT_LAYER, c) for c in active])
    with torch.no_grad():
        start = objective(digits_subject.capture(seeds, [UNIT_LAYER]))
    free = accentuate(digits_subject, objective, seeds, KEEP_LAYER, weight=0.0, steps=32)
    kept = accentuate(digits_subject, objective, seeds, KEEP_LAYER, weight=100.0, steps=32)
    plain = render(digits_subject, objective, init=seeds, steps=32, seed=0)
    assert torch.equal(free.images, plain.images)  # weight 0 is render from the image (same random streams)
    for result in (free, kept):
        assert 0 <= float(result.images.min()) and float(result.images.max()) <= 1
        with torch.no_grad():
            reached = objective(digits_subject.capture(result.images, [UNIT_LAYER]))
        assert bool((reached > start).all()), (reached, start)
    free_distance = relative_distance(digits_subject, free.images, seeds)
    kept_distance = relative_distance(digits_subject, kept.images, seeds)
    assert all(k < 0.5 * f for k, f in zip(kept_distance, free_distance)), (kept_distance, free_distance)
    assert kept.transparency.shape == (2, 1, 32, 32)


def test_accentuation_is_per_item_and_can_be_cancelled(digits_subject, seeds):
    together = accentuate(
        digits_subject, O.per_item([O.channel(UNIT_LAYER, c) for c in (3, 10)]), seeds, KEEP_LAYER, 5.0, steps=16
    )
    alone = accentuate(digits_subject, O.channel(UNIT_LAYER, 10), seeds[1:], KEEP_LAYER, 5.0, steps=16)
    assert float((together.images[1] - alone.images[0]).abs().mean()) <= 0.005
    with pytest.raises(Cancelled, match="after 1 of 4 steps"):
        accentuate(
            digits_subject, O.channel(UNIT_LAYER, 3), seeds[:1], KEEP_LAYER, steps=4, param="maco", cancel=lambda: True
        )


def test_accentuation_errors_name_the_field(digits_subject, seeds):
    unit = O.channel(UNIT_LAYER, 3)
    with pytest.raises(UnknownLayerError, match="unknown layer `features.99`"):
        accentuate(digits_subject, unit, seeds[:1], "features.99", steps=1)
    with pytest.raises(ConvscopeError, match="weight must be"):
        accentuate(digits_subject, unit, seeds[:1], KEEP_LAYER, weight=-1.0, steps=1)
    with pytest.raises(ConvscopeError, match=r"image must be \[N, 1, H, W\]"):
        accentuate(digits_subject, unit, seeds[0], KEEP_LAYER, steps=1)
    with pytest.raises(ConvscopeError, match=r"image must be \[N, 1, H, W\]"):
        accentuate(digits_subject, unit, seeds.expand(-1, 3, -1, -1), KEEP_LAYER, steps=1)
    with pytest.raises(ConvscopeError, match="values must be in"):
        accentuate(digits_subject, unit, seeds[:1] * 2, KEEP_LAYER, steps=1)
    with pytest.raises(ConvscopeError, match="the objective needs 2"):
        accentuate(digits_subject, O.per_item([unit, unit]), seeds[:1], KEEP_LAYER, steps=1)
