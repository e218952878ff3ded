"""Issue 23, item 6: the inverse set's hints. `unit-ranges` gives each unit's observed activation range on a dataset
(equal to a direct computation: every image's channel mean, then numpy's percentiles); an unreachable range's error
states the range and the seeds' values in the same quantity (never a value inside the range as "not reached")."""

import re

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import convscope
from convscope.core.data import open_dataset
from convscope.core.errors import ConvscopeError, UnknownLayerError
from convscope.recipes import ModelRef, parse_spec
from convscope.techniques.generators import make_generator
from convscope.techniques.inverse_set import (
    Constraint,
    Encoder,
    InfeasibleRangeError,
    Problem,
    find_seeds,
    infeasible_message,
)
from convscope.techniques.ranges import summarize

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = ModelRef(spec="digits")


def test_unit_ranges_equal_a_direct_computation(digits_subject, tmp_path):
    spec = {"model": DIGITS, "dataset": "digits", "units": ["logits:3", "features.3:1"], "limit": 300}
    spec["batch_size"] = 64
    result = convscope.run(parse_spec("unit-ranges", spec), out=tmp_path)
    data = result.data
    assert data["images"] == 300 and data["skipped"] == [] and result.artifacts == []
    dataset = open_dataset("digits", digits_subject.input)
    images = torch.stack([dataset.load(i) for i in range(300)])
    with torch.no_grad():
        acts = digits_subject.capture(images, ["features.3", "logits"])
    direct = {
        "logits:3": acts["logits"][:, 3].double().numpy(),
        "features.3:1": acts["features.3"][:, 1].double().mean(dim=(1, 2)).numpy(),
    }
    assert [u["unit"] for u in data["units"]] == ["logits:3", "features.3:1"]
    for unit in data["units"]:
        values = direct[unit["unit"]]
        expected = [values.min(), *np.percentile(values, [5, 50, 95]), values.max(), values.mean()]
        got = [unit[k] for k in ("min", "p5", "p50", "p95", "max", "mean")]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        assert got == sorted(got[:5]) + [got[5]]  # min <= p5 <= p50 <= p95 <= max
    assert data["units"][0]["layer"] == "logits" and data["units"][0]["index"] == 3


def test_percentiles_interpolate_linearly():
    scores = torch.arange(101, dtype=torch.float32)[:, None]  # 0 .. 100
    assert summarize(scores) == [(0.0, 5.0, 50.0, 95.0, 100.0, 50.0)]
    assert summarize(torch.tensor([[2.0], [4.0]])) == [(2.0, 2.1, 3.0, 3.9, 4.0, 3.0)]
    with pytest.raises(ConvscopeError, match="no scores"):
        summarize(torch.zeros(0, 1))


def test_bad_units_are_refused_by_field(digits_subject, tmp_path):
    with pytest.raises(ConvscopeError, match=r"units\[1\] must be LAYER:UNIT"):
        parse_spec("unit-ranges", {"dataset": "digits", "units": ["logits:3", "logits"]})
    spec = parse_spec("unit-ranges", {"model": DIGITS, "dataset": "digits", "units": ["nope:1"], "limit": 4})
    with pytest.raises(UnknownLayerError):
        convscope.run(spec, out=tmp_path)
    from convscope.server import ServerConfig, create_app

    with TestClient(create_app(ServerConfig(data_dir=tmp_path / "data", models=["digits"]))) as client:
        body = {"recipe": "unit-ranges", "spec": {"model": {"spec": "digits"}, "dataset": "digits"}}
        body["spec"]["units"] = ["logits:3", "logits:12"]
        answer = client.post("/api/runs", json=body)
        assert answer.status_code == 422
        (detail,) = answer.json()["detail"]
        assert detail["loc"] == ["body", "spec", "units", 1] and "channel 12 out of range 0..9" in detail["msg"]


# --- the inverse set's error for an unreachable range ---------------------------------------------------------
def problem_for(subject, low, high):
    return Problem(subject, torch.nn.Identity(), Encoder(subject), [Constraint("logits", 3, low, high)])


def test_the_message_states_the_range_and_the_seeds_in_the_same_quantity(digits_subject):
    """One seed at 4.611 inside [4, 6] is not the failure: the failure is the seed farthest out (7.5, above)."""
    problem = problem_for(digits_subject, 4.0, 6.0)
    values = torch.tensor([[4.611], [7.5], [5.0], [3.0]])
    message = infeasible_message(problem, values, 6, 600)
    assert message == (
        "constraint logits:3 in [4, 6] not reached by all 4 seeds: after 6 outer iterations (600 gradient steps), "
        "at best 2 of 4 seeds lay inside every range and the farthest was at 7.5, 1.5 above the range; choose a "
        "range nearer 7.5, fewer seeds (k) or more steps (inner_steps, max_outer)"
    )
    below = infeasible_message(problem, torch.tensor([[3.25]]), 2, 10)
    assert "not reached by the seed:" in below and "the seed was at 3.25, 0.75 below the range" in below
    assert "fewer seeds" not in below


def test_an_unreachable_range_reports_a_value_outside_it(digits_subject):
    encoder = Encoder(digits_subject)
    generator = make_generator("fourier", digits_subject, encoder)
    problem = Problem(digits_subject, generator, encoder, [Constraint("logits", 3, 500.0, 600.0)])
    initial = generator.initial_codes(3, encoder, torch.Generator().manual_seed(0))
    with pytest.raises(InfeasibleRangeError) as failure:
        find_seeds(problem, initial, inner_steps=5, max_outer=2)
    message = str(failure.value)
    found = re.search(
        r"at best (\d) of 3 seeds lay inside every range and the farthest was at (\S+), (\S+) below", message
    )
    assert found, message
    inside, value, gap = int(found[1]), float(found[2]), float(found[3])
    assert inside == 0 and value < 500 and gap == pytest.approx(500 - value, rel=1e-2)
