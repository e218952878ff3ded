"""Issue 23, item 2: a whole run as one zip (GET /api/results/{hash}/archive) and the preview pictures a run keeps
to replay it (GET /api/jobs/{job}/previews, GET /api/results/{hash}/previews, a frame by ?seq=)."""

import io
import json
import time
import zipfile

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from convscope.execution.jobs import MAX_PREVIEW_FRAMES, JobRunner
from convscope.execution.store import ResultStore
from convscope.recipes.base import REGISTRY, RunContext, Spec, recipe
from convscope.server import ServerConfig, create_app

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = {"spec": "digits"}
NAME = "test-previews-many"


class ManySpec(Spec):
    """`steps` steps, a preview (a gray picture of value step / steps) before each step's report."""

    steps: int = 200


def run_many(spec: ManySpec, ctx: RunContext):
    for step in range(spec.steps):
        ctx.preview("picture", torch.full((1, 4, 4), (step + 1) / spec.steps))
        ctx.progress("steps", step + 1, spec.steps)
    return ctx.result(NAME, {"steps": spec.steps})


def _families_first() -> None:  # as in test_jobs: the family recipes load before a test recipe registers
    from convscope.recipes import registry

    registry()


_families_first()
if NAME not in REGISTRY:
    recipe(NAME, 1, ManySpec, "test: many previews")(run_many)


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 32), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory, digits_subject):
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("archive") / "data", models=["digits"], datasets={})
    with TestClient(create_app(config)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def image_id(client):
    response = client.post("/api/images", files={"file": ("digit.png", png(1), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def done(client, recipe: str, spec: dict, timeout=120.0) -> dict:
    """Run a spec and wait: (the submit answer, the finished job's view)."""
    answer = client.post("/api/runs", json={"recipe": recipe, "spec": spec})
    assert answer.status_code in (200, 202), answer.text
    job = answer.json()["job"]
    end = time.time() + timeout
    while (view := client.get(f"/api/jobs/{job}").json())["status"] not in ("done", "failed", "cancelled"):
        assert time.time() < end, f"job {job} still {view['status']}"
        time.sleep(0.05)
    assert view["status"] == "done", view["error"]
    return view


def test_a_run_downloads_as_one_zip_of_its_files_spec_and_data(client, image_id):
    spec = {"model": DIGITS, "image": image_id, "layer": "features.3", "top": 3}
    view = done(client, "activations", spec)
    key, result = view["hash"], view["result"]
    response = client.get(f"/api/results/{key}/archive")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == f'attachment; filename="convscope-activations-{key[:12]}.zip"'
    assert int(response.headers["content-length"]) == len(response.content)
    zipped = zipfile.ZipFile(io.BytesIO(response.content))
    assert zipped.testzip() is None  # every member's CRC checks
    names = set(zipped.namelist())
    files = {f"files/{a['name']}" for a in result["artifacts"]}
    assert names == {"spec.json", "result.json"} | files
    # 3 maps, their gray twins, the grid and the image as the model saw it
    assert len(files) == 8 and "files/input.png" in files
    for artifact in result["artifacts"]:  # each file byte for byte as /api/artifacts serves it
        assert zipped.read(f"files/{artifact['name']}") == client.get(artifact["url"]).content
    # the spec as POST /api/runs takes it: the upload by its id, never the server's path
    written = json.loads(zipped.read("spec.json"))
    assert written["recipe"] == "activations" and written["spec"]["image"] == image_id
    assert written["spec"]["layer"] == "features.3" and written["spec"]["top"] == 3
    again = client.post("/api/runs", json=written).json()  # and it is the same run: answered from the store
    assert again["hash"] == key and again["cached"] is True
    # the data with its paths inside the zip
    data = json.loads(zipped.read("result.json"))
    assert data["input"] == "files/input.png" and data["grid"] == "files/grid.png"
    assert [c["image"] for c in data["channels"]] == [f"files/{c['image'].rsplit('/', 1)[1]}" for c in data["channels"]]
    assert all(c["image"] in names for c in data["channels"])
    assert data["channels"] == [
        {**c, "image": f"files/{c['image'].rsplit('/', 1)[1]}"} for c in result["data"]["channels"]
    ]
    assert Image.open(io.BytesIO(zipped.read("files/input.png"))).size == (32, 32)


def test_an_unknown_or_malformed_result_has_no_archive(client):
    unknown = client.get(f"/api/results/{'0' * 64}/archive")
    assert unknown.status_code == 404 and f"no stored result {'0' * 64}" in unknown.json()["detail"]
    assert client.get("/api/results/nothex/archive").status_code == 404
    assert client.get(f"/api/results/{'0' * 64}/previews").status_code == 404


def test_a_visualization_keeps_its_previews_to_replay(client):
    view = done(client, "visualize", {"model": DIGITS, "layer": "features.3", "channels": [0, 1], "steps": 24})
    job, key = view["id"], view["hash"]
    listing = client.get(f"/api/jobs/{job}/previews").json()
    assert listing["job"] == job and listing["limit"] == MAX_PREVIEW_FRAMES
    assert {h["name"] for h in listing["previews"]} == {"features.3:0", "features.3:1"}
    for history in listing["previews"]:
        frames = history["frames"]
        # 8 previews a run (core.progress.PREVIEWS), each at the step it shows: 3, 6, ... 24 of 24
        assert [(f["stage"], f["done"], f["total"]) for f in frames] == [("steps", 3 * i, 24) for i in range(1, 9)]
        assert [f["seq"] for f in frames] == sorted({f["seq"] for f in frames})
        pictures = [client.get(f["url"]) for f in frames]
        assert all(p.status_code == 200 and p.headers["content-type"] == "image/png" for p in pictures)
        arrays = [np.asarray(Image.open(io.BytesIO(p.content))) for p in pictures]
        assert all(a.shape == (32, 32) for a in arrays)  # the digits model's 32 x 32 gray input
        assert all(not np.array_equal(a, b) for a, b in zip(arrays, arrays[1:]))  # the image changes every time
        # the last kept frame is the latest preview
        latest = client.get(f"/api/jobs/{job}/previews/{history['name']}")
        assert latest.content == pictures[-1].content
    # the result's page finds them by the result's hash
    assert client.get(f"/api/results/{key}/previews").json() == listing
    first = listing["previews"][0]
    name = first["name"]
    missing = client.get(f"/api/jobs/{job}/previews/{name}", params={"seq": 10**9})
    assert missing.status_code == 404 and "seq" in missing.json()["detail"]
    bad = client.get(f"/api/jobs/{job}/previews/{name}", params={"seq": -1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "seq"]
    assert client.get("/api/jobs/nope/previews").status_code == 404


def test_a_stored_result_has_no_previews_to_replay(client, image_id):
    spec = {"model": DIGITS, "image": image_id, "top": 3}
    view = done(client, "predict", spec)
    listing = client.get(f"/api/results/{view['hash']}/previews")
    assert listing.status_code == 200 and listing.json() == {"job": None, "limit": MAX_PREVIEW_FRAMES, "previews": []}


def test_the_preview_history_is_bounded_and_spans_the_run(tmp_path):
    runner = JobRunner(ResultStore(tmp_path / "data"), workers={"cpu": 1})
    try:
        for steps in (200, 255, 256, 257):
            job = runner.submit(ManySpec(steps=steps))
            runner.wait(job.id, 30)
            frames = job.preview_frames["picture"]
            assert MAX_PREVIEW_FRAMES // 2 <= len(frames) <= MAX_PREVIEW_FRAMES
            assert [f.done for f in frames][:: len(frames) - 1] == [1, steps]  # the first and the last stay
        steps = [f.done for f in frames]  # (the last run's: 257 previews)
        gaps = np.diff(steps)  # evenly spread over the run (not just the newest), then the newest
        assert len(set(gaps[:-1])) == 1 and 1 <= gaps[-1] <= gaps[0], gaps
        # each frame's picture is the preview of its step (gray (step) / 200, as 8 bits)
        for frame in frames:
            assert np.asarray(frame.image).max() == round(frame.done / 257 * 255)
    finally:
        runner.shutdown()


def test_only_the_newest_finished_jobs_keep_their_preview_history(tmp_path):
    """A server remembers 1,000 jobs; the 8-bit preview history (up to 64 pictures per name) is kept for the newest
    REPLAYABLE finished ones only, so memory does not grow with every run."""
    from convscope.execution.jobs import REPLAYABLE

    runner = JobRunner(ResultStore(tmp_path / "data"), workers={"cpu": 1})
    try:
        jobs = []
        for steps in range(3, 3 + REPLAYABLE + 3):  # (each spec new: nothing comes from the store)
            jobs.append(runner.submit(ManySpec(steps=steps)))
            runner.wait(jobs[-1].id, 30)
        runner.submit(ManySpec(steps=1000 + REPLAYABLE))  # the next submit drops the old histories
        kept = [bool(job.preview_frames) for job in jobs]
        assert kept == [False] * 3 + [True] * REPLAYABLE, kept
        assert all(job.previews for job in jobs)  # the latest preview of each name stays
    finally:
        runner.shutdown()
