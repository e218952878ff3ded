"""Issue 23 item 5: POST /api/runs/estimate — how long a run should take, from the journal of past jobs (seconds
per unit of work of the same recipe and model, times the spec's work), with its stated fallbacks, the latest job of
the very spec (a page asks before rerunning a cancelled one), and the same 4xx as POST /api/runs."""

import time

import pytest
from fastapi.testclient import TestClient

from convscope.server import ServerConfig, create_app
from convscope.server.estimate import estimate, work_of

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = {"spec": "digits"}


def record(recipe, spec, seconds, *, key="k", state="done", from_store=False, created=0.0, job="j"):
    return {
        "id": job,
        "recipe": recipe,
        "key": key,
        "spec": spec,
        "state": state,
        "created": created,
        "started": 100.0,
        "ended": 100.0 + seconds,
        "from_store": from_store,
    }


def test_the_work_of_a_spec():
    assert work_of("visualize", {"steps": 100, "channels": [0, 1, 2], "batch_size": 8}) == (100, "step")
    assert work_of("visualize", {"steps": 100, "channels": list(range(20)), "batch_size": 8}) == (300, "step")
    assert work_of("visualize", {"steps": 50, "channels": list(range(20)), "mix": True}) == (50, "step")
    assert work_of("dream", {"steps": 10, "octaves": 3}) == (30, "step")
    assert work_of("atlas", {"steps": 4, "layers": "features.0,features.3", "channels": "0-2"}) == (24, "unit step")
    assert work_of("predict", {"image": "x"}) == (1, "run")


def test_the_rate_of_past_runs_times_the_work():
    spec = {"model": DIGITS, "channels": [0], "steps": 1000, "batch_size": 8}
    past = [
        record("visualize", {**spec, "steps": 100}, 2.0),  # 0.02 s per step
        record("visualize", {**spec, "steps": 200}, 6.0),  # 0.03 s per step
        record("visualize", {**spec, "steps": 100}, 4.0),  # 0.04 s per step
        record("visualize", {**spec, "steps": 100}, 50.0, from_store=True),  # answered by the store: no timing
        record("visualize", {**spec, "steps": 100}, 50.0, state="cancelled"),
        record("visualize", {**spec, "model": {"spec": "default"}}, 500.0),  # another model
        record("dream", {"model": DIGITS, "steps": 10, "octaves": 1}, 90.0),  # another recipe
    ]
    got = estimate("visualize", spec, "new", past, stored=False, model="digits")
    assert got.seconds == pytest.approx(0.03 * 1000) and got.runs == 3 and got.unit == "step" and got.work == 1000
    assert got.basis.startswith("median of 3 past runs of visualize on digits") and got.last is None
    # no run on this model: the median over the other models (0.02 0.03 0.04 0.5 s per step), said to be rough; none
    # at all: no figure
    other = estimate("visualize", {**spec, "model": {"spec": "resnet"}}, "new", past, stored=False, model="resnet")
    assert other.seconds == pytest.approx(35.0) and "rough guide" in other.basis and other.runs == 4
    none = estimate("facets", {"model": DIGITS, "k": 2}, "new", past, stored=False, model="digits")
    assert none.seconds is None and none.basis == "no past run of facets to go by: no estimate"
    # a stored spec is answered at once; the latest job of the very spec is named
    mine = [
        record("visualize", spec, 1.0, key="same", state="cancelled", created=5.0, job="a"),
        record("visualize", spec, 1.0, key="same", state="done", created=3.0, job="b"),
    ]
    stored = estimate("visualize", spec, "same", past + mine, stored=True, model="digits")
    assert stored.seconds == 0 and stored.stored and stored.last.job == "a" and stored.last.status == "cancelled"


def test_dataset_recipes_count_runs_on_the_same_dataset():
    spec = {"model": DIGITS, "dataset": "/data/big"}
    past = [record("examples", {**spec, "dataset": "/data/small"}, 2.0), record("examples", spec, 40.0)]
    got = estimate("examples", spec, "new", past, stored=False, model="digits")
    assert got.seconds == pytest.approx(40.0) and got.runs == 1 and got.unit == "run"
    elsewhere = estimate("examples", {**spec, "dataset": "/data/other"}, "new", past, stored=False, model="digits")
    assert elsewhere.runs == 2 and "other datasets" in elsewhere.basis


@pytest.fixture(scope="module")
def client(tmp_path_factory, digits_subject):
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("estimate") / "data", models=["digits"])
    with TestClient(create_app(config)) as test_client:
        yield test_client


def wait_state(client, job, timeout=120.0):
    end = time.time() + timeout
    while (view := client.get(f"/api/jobs/{job}").json())["status"] not in ("done", "failed", "cancelled"):
        assert time.time() < end, f"job {job} still {view['status']}"
        time.sleep(0.05)
    return view


def test_estimate_over_the_api(client):
    spec = {"model": DIGITS, "layer": "features.3", "channels": [1], "steps": 8}
    ask = lambda s: client.post("/api/runs/estimate", json={"recipe": "visualize", "spec": s})  # noqa: E731
    first = ask(spec)
    assert first.status_code == 200, first.text
    assert first.json()["seconds"] is None and first.json()["last"] is None and first.json()["work"] == 8
    job = client.post("/api/runs", json={"recipe": "visualize", "spec": spec}).json()["job"]
    done = wait_state(client, job)
    assert done["status"] == "done" and done["spec"]["steps"] == 8 and done["spec"]["channels"] == [1]
    took = done["ended"] - done["started"]
    # the same spec: stored (0 s) and its job named; ten times the steps: ten times the measured time
    again = ask(spec).json()
    assert (
        again["seconds"] == 0
        and again["stored"]
        and again["last"] == {"job": job, "status": "done", "created": done["created"]}
    )
    longer = ask({**spec, "steps": 80}).json()
    assert longer["seconds"] == pytest.approx(took * 10, rel=1e-6) and longer["runs"] == 1
    assert longer["basis"].startswith("median of 1 past run of visualize on digits") and longer["last"] is None
    # a cancelled job of a spec is the spec's last job
    slow = {**spec, "steps": 100_000}
    job = client.post("/api/runs", json={"recipe": "visualize", "spec": slow}).json()["job"]
    client.delete(f"/api/jobs/{job}")
    assert wait_state(client, job)["status"] == "cancelled"
    last = ask(slow).json()
    assert last["last"]["job"] == job and last["last"]["status"] == "cancelled" and not last["stored"]
    assert last["seconds"] == pytest.approx(took / 8 * 100_000, rel=1e-6)  # the cancelled run is not a timing


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"recipe": "nope", "spec": {}}, ["body", "recipe"]),
        (
            {"recipe": "visualize", "spec": {"model": DIGITS, "layer": "features.3", "steps": 0}},
            ["body", "spec", "steps"],
        ),
        (
            {"recipe": "visualize", "spec": {"model": DIGITS, "layer": "nope", "channels": [0]}},
            ["body", "spec", "layer"],
        ),
        ({"recipe": "visualize", "spec": {"model": {"spec": "resnet"}}}, ["body", "spec", "model"]),
    ],
)
def test_estimate_refuses_what_runs_refuse(client, body, loc):
    answer = client.post("/api/runs/estimate", json=body)
    runs = client.post("/api/runs", json=body)
    assert answer.status_code == runs.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][: len(loc)] == loc
    assert answer.json()["detail"] == runs.json()["detail"]
