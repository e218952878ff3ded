"""Inverse-set sampling (seed 002 §3): samples inside their ranges when re-read from the saved PNGs, diversity
beats the no-diversity baseline on the same initial codes, intersections, unreachable ranges fail fast."""

import time

import pytest
import torch

from convscope.core.errors import ChannelError, ConvscopeError, UnknownLayerError
from convscope.recipes import InverseSetSpec, ModelRef, run
from convscope.techniques.generators import FourierGenerator, make_generator, trained_generator
from convscope.techniques.inverse_set import (
    Constraint,
    Encoder,
    InfeasibleRangeError,
    Problem,
    check_constraints,
    constraint_terms,
    cross_sq_sum,
    default_encoder_layer,
    diversity,
    find_seeds,
    pairwise_sq_sum,
    parse_constraint,
)

#: a cheaper decoder than the default (fewer epochs) so the test session trains it once in well under a minute
TEST_TRAINING = {"epochs": 5}


@pytest.fixture(scope="session")
def digits_decoder(digits_subject):
    return trained_generator(digits_subject, Encoder(digits_subject), "digits", **TEST_TRAINING)


@pytest.fixture
def test_decoder(monkeypatch, digits_decoder):
    """Make `trained:digits` in run_inverse_set return the session's cheaper decoder."""
    import convscope.techniques.generators as generators

    original = generators.make_generator
    monkeypatch.setattr(
        generators,
        "make_generator",
        lambda spec, subject, encoder, progress=False: (
            digits_decoder if spec == "trained:digits" else original(spec, subject, encoder, progress)
        ),
    )


def sample(out, model: str, constraints: list[str], **fields) -> dict:
    """The inverse-set recipe's result data (every file written under `out`)."""
    return run(InverseSetSpec(model=ModelRef(spec=model), constraints=constraints, **fields), out=out).data


def values_from_files(subject, report):
    """Each saved sample read back from disk, independently of the library's own re-measurement."""
    images = torch.cat([subject.load_image(s["path"]) for s in report["samples"]])
    with torch.no_grad():
        acts = {}
        for c in report["constraints"]:
            act = subject.capture(images, [c["layer"]])[c["layer"]]
            acts[(c["layer"], c["unit"])] = act[:, c["unit"]] if act.dim() == 2 else act[:, c["unit"]].mean((1, 2))
    return acts


def assert_all_inside(subject, report):
    acts = values_from_files(subject, report)
    for c in report["constraints"]:
        values = acts[(c["layer"], c["unit"])]
        assert ((values >= c["z1"]) & (values <= c["z2"])).all(), (c, values.min(), values.max())
    assert report["all_inside"]


# --- pieces ---------------------------------------------------------------------------------------------------
def test_parse_constraint():
    assert parse_constraint("logits:3:4.0:6") == Constraint("logits", 3, 4.0, 6.0)
    assert parse_constraint("a:b.c:7:-1:2.5") == Constraint("a:b.c", 7, -1.0, 2.5)
    for bad in ("logits:3:4", "logits:x:1:2", "logits:3:6:4", "logits:3:1:nan", ":3:1:2"):
        with pytest.raises(ConvscopeError):
            parse_constraint(bad)


def test_check_constraints_names_the_problem(digits_subject):
    with pytest.raises(UnknownLayerError, match="featurs.3"):
        check_constraints(digits_subject, [Constraint("featurs.3", 0, 0, 1)])
    with pytest.raises(ChannelError, match="out of range 0..9"):
        check_constraints(digits_subject, [Constraint("logits", 10, 0, 1)])
    with pytest.raises(ConvscopeError, match="at least one"):
        check_constraints(digits_subject, [])


def test_default_encoder_is_first_fc_or_last_pool(digits_subject, default_subject):
    assert default_encoder_layer(digits_subject) == "classifier.1"  # first fc before the classifier
    assert default_encoder_layer(default_subject) == "global_pool"  # its only fc is the classifier


def test_pairwise_sums_match_brute_force():
    x, y = torch.randn(5, 7, dtype=torch.float64), torch.randn(3, 7, dtype=torch.float64)
    brute = sum((x[i] - x[j]).pow(2).sum() for i in range(5) for j in range(5))
    cross = sum((x[i] - y[j]).pow(2).sum() for i in range(5) for j in range(3))
    assert torch.allclose(pairwise_sq_sum(x), brute)
    assert torch.allclose(cross_sq_sum(x, y), cross)
    mean_distance = sum((x[i] - x[j]).norm() for i in range(5) for j in range(i + 1, 5)) / 10
    assert diversity(x) == pytest.approx(mean_distance.item())


def test_slack_makes_the_lagrangian_flat_well_inside():
    """PHR property of eq. (9) with s = max(0, h - lambda/mu): no gradient when h > lambda/mu, -lambda + mu h else."""
    h = torch.tensor([2.0, -1.0], requires_grad=True)
    lam = torch.tensor([1.0, 1.0])
    constraint_terms(h, lam, 10.0).backward()
    assert h.grad[0] == pytest.approx(0, abs=1e-5) and h.grad[1] == pytest.approx(-1.0 + 10.0 * -1.0)


# --- digits with the trained generator -----------------------------------------------------------------------
def test_samples_inside_range_from_saved_files(digits_subject, test_decoder, tmp_path):
    report = sample(
        tmp_path,
        "digits",
        ["logits:3:4:6"],
        n=40,
        k=5,
        generator="trained:digits",
        seed=0,
        bands=4,
        animation=True,
    )
    assert report["n"] == 40 and len(report["samples"]) == 40
    assert_all_inside(digits_subject, report)
    assert report["seed_steps"] > 0
    # fast sampling: 35 samples after the 5 seeds, at most K new ones per step, so at least 7 steps
    assert 7 <= report["sampling_steps"] <= 40
    assert sum(s["count"] for s in report["band_sheets"]) == 40
    assert (tmp_path / "sheet.png").exists() and (tmp_path / "animation.gif").exists()
    # the re-measured activations in the report are those of the files
    from_files = values_from_files(digits_subject, report)[("logits", 3)]
    reported = torch.tensor([s["activations"]["logits:3"] for s in report["samples"]])
    assert torch.allclose(from_files, reported, atol=1e-4)


def test_diverse_objective_beats_no_diversity_on_same_seeds(digits_subject, test_decoder, tmp_path):
    constraint = ["logits:3:4:6"]
    diverse = sample(tmp_path / "d", "digits", constraint, n=30, k=5, generator="trained:digits", seed=1)
    plain = sample(
        tmp_path / "p",
        "digits",
        constraint,
        n=30,
        k=5,
        generator="trained:digits",
        seed=1,
        objective="no-diversity",
    )
    assert_all_inside(digits_subject, plain)
    assert diverse["diversity"] > 1.5 * plain["diversity"], (diverse["diversity"], plain["diversity"])


def test_intersection_of_units_in_two_layers(digits_subject, digits_decoder, tmp_path, test_decoder):
    # ranges around what a real "3" gives, so the intersection is known to be non-empty
    from convscope.core.digits import load_data

    data = load_data()
    three = data.images[(data.labels == 3).nonzero()[0]]
    with torch.no_grad():
        acts = digits_subject.capture(three, ["features.6", "logits"])
    hidden, logit = acts["features.6"][0, 5].mean().item(), acts["logits"][0, 3].item()
    constraints = [f"logits:3:{logit - 2!r}:{logit!r}", f"features.6:5:{hidden - 0.3!r}:{hidden + 0.3!r}"]
    report = sample(tmp_path, "digits", constraints, n=25, k=5, generator="trained:digits")
    assert report["n"] == 25
    assert_all_inside(digits_subject, report)


def test_unreachable_range_fails_with_clear_message(digits_subject, digits_decoder):
    encoder = Encoder(digits_subject)
    problem = Problem(digits_subject, digits_decoder, encoder, [Constraint("logits", 3, 500.0, 600.0)])
    initial = digits_decoder.initial_codes(3, encoder, torch.Generator().manual_seed(0))
    start = time.perf_counter()
    with pytest.raises(InfeasibleRangeError, match=r"logits:3 in \[500, 600\] not reached.*farthest was at .* below"):
        find_seeds(problem, initial, inner_steps=10, max_outer=3)
    assert time.perf_counter() - start < 60


def test_make_generator_rejects_unknown_specs(digits_subject):
    with pytest.raises(ConvscopeError, match="unknown generator `gan`"):
        make_generator("gan", digits_subject, Encoder(digits_subject))


# --- the default model with the Fourier generator --------------------------------------------------------------
@pytest.mark.slow
def test_fourier_generator_on_default_model(default_subject, tmp_path):
    report = sample(
        tmp_path,
        "default",
        ["logits:285:4:7"],
        n=6,
        k=2,
        generator="fourier",
        inner_steps=40,
        seed=0,
    )
    assert report["generator"]["kind"] == "fourier" and report["encoder_layer"] == "global_pool"
    assert report["n"] == 6
    assert_all_inside(default_subject, report)


def test_fourier_generator_is_imageparam_with_quantized_output(default_subject):
    generator = FourierGenerator(3, (64, 64))
    codes = generator.initial_codes(2, None, torch.Generator().manual_seed(0)).requires_grad_(True)
    images = generator(codes)
    assert images.shape == (2, 3, 64, 64) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images * 255, (images * 255).round())  # exactly the 8-bit values a PNG stores
    images.sum().backward()
    assert codes.grad.abs().sum() > 0  # straight-through quantization keeps the gradient
