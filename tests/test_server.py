"""Issue 14: the platform server. Every endpoint, bad input for each (4xx with the field, never 5xx), the token
rule, live progress over server-sent events (resumable), cancel, the journal, and a kill -9 restart."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from convscope.execution.jobs import JobJournal
from convscope.server import ServerConfig, create_app

DIGITS = {"spec": "digits"}


def png_bytes(size=(32, 32), mode="L", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory, digits_subject):
    root = tmp_path_factory.mktemp("server")
    allowed = root / "allowed"
    allowed.mkdir()
    Image.open(io.BytesIO(png_bytes(seed=3))).save(allowed / "three.png")
    config = ServerConfig(
        data_dir=root / "data", models=["digits"], allow_roots=[allowed], datasets={}, max_upload_bytes=200_000
    )
    with TestClient(create_app(config)) as test_client:
        test_client.allowed = allowed
        yield test_client


@pytest.fixture(scope="module")
def image_id(client):
    response = client.post("/api/images", files={"file": ("digit.png", png_bytes(seed=1), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def field_error(response, status=422) -> tuple[list, str]:
    """(loc, msg) of the first failing field of a 422 answer (and the status checked)."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    return detail[0]["loc"], detail[0]["msg"]


def run(client, recipe: str, **spec):
    return client.post("/api/runs", json={"recipe": recipe, "spec": spec})


def wait_state(client, job: str, states=("done", "failed", "cancelled"), timeout=60.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        view = client.get(f"/api/jobs/{job}").json()
        if view["status"] in states:
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job} still {view['status']} after {timeout} s")


# --- read-only endpoints --------------------------------------------------------------------------------------
def test_health_models_datasets_recipes(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["models"] == ["digits"] and health["device"] == "cpu"
    assert set(health["jobs"]) == {"queued", "running"}
    assert client.get("/api/models").json()["models"][0]["name"] == "digits"
    listed = client.get("/api/datasets").json()["datasets"]
    assert [(d["name"], d["kind"]) for d in listed] == [("digits", "builtin"), ("photos", "builtin")]
    recipes = {r["name"]: r for r in client.get("/api/recipes").json()["recipes"]}
    assert {"predict", "visualize", "attribute", "inverse-set"} <= set(recipes)
    assert recipes["predict"]["schema"]["properties"]["top"]["minimum"] == 1


def test_layers_of_a_model_and_unknown_model(client):
    response = client.get("/api/models/digits/layers")
    assert response.status_code == 200
    names = [layer["name"] for layer in response.json()["data"]["layers"]]
    assert "features.3" in names
    response = client.get("/api/models/default/layers")  # not offered by this server
    assert response.status_code == 404 and "not offered" in response.json()["detail"]


def test_openapi_and_offline_docs(client):
    schema = client.get("/openapi.json").json()
    assert "/api/runs" in schema["paths"] and "/api/jobs/{job_id}/events" in schema["paths"]
    assert "400" in schema["paths"]["/api/runs"]["post"]["responses"]  # malformed JSON is declared
    page = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    bundle = client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000  # swagger-ui 5, from the package


# --- uploads ---------------------------------------------------------------------------------------------------
def test_upload_returns_content_id_and_size(client, image_id):
    again = client.post("/api/images", files={"file": ("other-name.png", png_bytes(seed=1), "image/png")}).json()
    assert again == {"id": image_id, "width": 32, "height": 32, "mode": "L"}
    rgb = client.post("/api/images", files={"file": ("c.png", png_bytes((40, 20), "RGB"), "image/png")}).json()
    assert (rgb["width"], rgb["height"], rgb["mode"]) == (40, 20, "RGB")


def test_bad_uploads_are_refused(client, tmp_path):
    loc, msg = field_error(client.post("/api/images", files={"file": ("x.png", b"not an image", "image/png")}))
    assert loc == ["body", "file"] and "not an image" in msg or "corrupt" in msg
    loc, msg = field_error(client.post("/api/images", files={"file": ("x.png", b"", "image/png")}))
    assert loc == ["body", "file"] and "empty" in msg
    loc, _ = field_error(client.post("/api/images", data={"other": "1"}))
    assert loc == ["body", "file"]
    big = client.post("/api/images", files={"file": ("big.png", os.urandom(300_000), "image/png")})
    assert big.status_code == 413 and "larger than 200000 bytes" in big.json()["detail"]
    huge = client.post("/api/images", files={"file": ("huge.png", os.urandom(3_000_000), "image/png")})
    assert huge.status_code == 413 and huge.json()["detail"]  # cut off while it arrives, not spooled whole
    # a decompression bomb: a tiny file that claims 10000 x 10000 pixels is refused from its header
    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, "PNG")
    assert len(bomb.getvalue()) < 200_000
    response = client.post("/api/images", files={"file": ("bomb.png", bomb.getvalue(), "image/png")})
    assert response.status_code == 413 and "too large" in response.json()["detail"]
    assert not list((Path(client.app.state.platform.uploads)).glob(".upload-*"))  # no temporary left


# --- runs: interactive recipes ---------------------------------------------------------------------------------
def test_predict_inline_then_cached(client, image_id, digits_subject):
    first = run(client, "predict", model=DIGITS, image=image_id, top=3)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "done" and body["cached"] is False
    predictions = body["result"]["data"]["predictions"]
    assert len(predictions) == 3
    from convscope.techniques.predict import predict

    expected = predict(digits_subject, digits_subject.load_image(client.app.state.platform.uploads / image_id), 3)
    assert predictions[0]["index"] == expected[0].index
    assert body["result"]["data"]["image"] == image_id  # the upload by its id, no server path
    again = run(client, "predict", model=DIGITS, image=image_id, top=3).json()
    assert again["cached"] is True and again["hash"] == body["hash"] and again["result"] == body["result"]
    stored = client.get(f"/api/results/{body['hash']}").json()
    assert stored["data"] == body["result"]["data"]


def test_activation_maps_are_artifacts_with_types_and_cache_headers(client, image_id):
    body = run(client, "activations", model=DIGITS, image=image_id, layer="features.3", top=2).json()
    artifacts = body["result"]["artifacts"]
    assert artifacts and all(a["url"].startswith(f"/api/artifacts/{body['hash']}/") for a in artifacts)
    grid = body["result"]["data"]["grid"]
    response = client.get(grid)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    assert Image.open(io.BytesIO(response.content)).size[0] > 0
    assert client.get(f"/api/artifacts/{body['hash']}/../index.sqlite").status_code == 404
    assert client.get(f"/api/artifacts/{body['hash']}/nothing.png").status_code == 404
    assert client.get(f"/api/artifacts/{'0' * 64}/a.png").status_code == 404
    assert client.get("/api/results/not-a-hash").status_code == 404


def test_image_paths_only_inside_allowed_roots(client):
    inside = run(client, "predict", model=DIGITS, image=str(client.allowed / "three.png"), top=1)
    assert inside.status_code == 200 and inside.json()["status"] == "done"
    for path, message in [
        ("/etc/passwd", "outside the allowed folders"),
        (str(client.allowed / ".." / "data" / "index.sqlite"), "outside the allowed folders"),
        (str(client.allowed / "missing.png"), "does not exist"),
        ("f" * 64, "no uploaded image with id"),
    ]:
        loc, msg = field_error(run(client, "predict", model=DIGITS, image=path))
        assert loc == ["body", "spec", "image"] and message in msg, msg


@pytest.mark.parametrize(
    "body, loc, message",
    [
        ({"recipe": "nope", "spec": {}}, ["body", "recipe"], "unknown recipe `nope`"),
        ({"recipe": "predict", "spec": {}, "extra": 1}, ["body", "extra"], "Extra inputs"),
        ({"spec": {}}, ["body", "recipe"], "Field required"),
        ({"recipe": "predict", "spec": {"model": DIGITS, "image": "x", "top": 0}}, ["body", "spec", "top"], "greater"),
        ({"recipe": "predict", "spec": {"model": DIGITS, "image": "x", "colour": 1}}, ["body", "spec", "colour"], ""),
        ({"recipe": "predict", "spec": {"model": {"spec": "file:/tmp/x.pt"}, "image": "x"}}, None, "not offered"),
        ({"recipe": "predict", "spec": {"model": {"spec": "digits", "weights": "/tmp/w.pt"}, "image": "x"}}, None, ""),
        ({"recipe": "visualize", "spec": {"model": DIGITS, "layer": "features.99", "channels": [0]}}, None, "unknown"),
        ({"recipe": "visualize", "spec": {"model": DIGITS, "layer": "features.3", "channels": [700]}}, None, "0..31"),
        ({"recipe": "visualize", "spec": {"model": DIGITS, "classes": [12]}}, ["body", "spec", "classes"], "0..9"),
        ({"recipe": "facets", "spec": {"model": DIGITS, "dataset": "digits", "target": "logits:99"}}, None, "0..9"),
        ({"recipe": "examples", "spec": {"model": DIGITS, "dataset": "/etc", "layer": "x", "channels": [0]}}, None, ""),
        (
            {
                "recipe": "inverse-set",
                "spec": {"model": DIGITS, "constraints": ["logits:3:1:2"], "generator": "file:/x"},
            },
            ["body", "spec", "generator"],
            "outside",
        ),
        (
            {"recipe": "inverse-set", "spec": {"model": DIGITS, "constraints": ["nope:1:1:2"]}},
            ["body", "spec", "constraints", 0],
            "unknown layer",
        ),
    ],
)
def test_bad_runs_are_422_naming_the_field(client, body, loc, message):
    response = client.post("/api/runs", json=body)
    got_loc, msg = field_error(response)
    if loc is not None:
        assert got_loc == loc, (got_loc, msg)
    assert got_loc[:1] == ["body"] and message in msg, msg


def test_malformed_json_is_400(client):
    response = client.post("/api/runs", content=b'{"recipe": ', headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["detail"].startswith("malformed JSON body")


def test_unknown_jobs_are_404(client):
    for method, url in [
        ("GET", "/api/jobs/nope"),
        ("DELETE", "/api/jobs/nope"),
        ("GET", "/api/jobs/nope/events"),
        ("GET", "/api/jobs/nope/previews/x"),
    ]:
        response = client.request(method, url)
        assert response.status_code == 404 and "no job" in response.json()["detail"], (url, response.text)


# --- long runs: jobs, events, cancel ---------------------------------------------------------------------------
def events_of(client, job: str, last_event_id: str | None = None) -> list[dict]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    found, current = [], {}
    with client.stream("GET", f"/api/jobs/{job}/events", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if not line:
                if current:
                    found.append(current)
                current = {}
            elif line.startswith(("event:", "id:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
    if current:
        found.append(current)
    return found


def test_visualize_job_streams_progress_and_previews_then_done(client):
    response = run(client, "visualize", model=DIGITS, layer="features.3", channels=[0, 1], steps=24)
    assert response.status_code == 202 and response.json()["status"] in ("queued", "running")
    job = response.json()["job"]
    events = events_of(client, job)
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    data = [json.loads(e["data"]) for e in events]
    progress = [d for e, d in zip(events, data) if e["event"] == "progress"]
    steps = [d for d in progress if d["stage"] == "steps"]
    assert [d["done"] for d in steps] == list(range(1, 25)) and steps[-1]["total"] == 24
    assert [(d["stage"], d["done"]) for d in progress[-2:]] == [("trust", 0), ("trust", 1)]  # then the trust numbers
    previews = [d for e, d in zip(events, data) if e["event"] == "preview"]
    assert {d["stage"] for d in previews} == {"features.3:0", "features.3:1"}
    assert events[-1]["event"] == "state" and data[-1]["state"] == "done"
    picture = client.get(previews[-1]["url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    # resumable: from a Last-Event-ID only the later events, the same ones
    middle = events[len(events) // 2]["id"]
    later = events_of(client, job, last_event_id=middle)
    assert [e["id"] for e in later] == [
        e["id"] for e in events if int(e["id"]) > int(middle) and e["event"] != "preview"
    ]
    view = client.get(f"/api/jobs/{job}").json()
    assert view["status"] == "done" and view["progress"] == {"stage": "trust", "done": 1, "total": 1}
    sheet = view["result"]["data"]["sheet"]
    assert client.get(sheet).status_code == 200
    assert job in [j["id"] for j in client.get("/api/jobs").json()["jobs"]]


def test_cancel_a_running_job_stops_it_and_stores_nothing(client):
    response = run(client, "visualize", model=DIGITS, layer="features.3", channels=[5], steps=100_000)
    job, key = response.json()["job"], response.json()["hash"]
    wait_state(client, job, ("running",))
    time.sleep(0.3)
    cancelled = client.delete(f"/api/jobs/{job}").json()
    assert cancelled["cancelled"] is True
    view = wait_state(client, job, timeout=10)
    assert view["status"] == "cancelled" and view["progress"]["done"] < 100_000
    assert client.get(f"/api/results/{key}").status_code == 404
    assert client.delete(f"/api/jobs/{job}").json()["cancelled"] is False  # already over
    assert events_of(client, job)[-1]["event"] == "state"


def test_a_failing_job_leaves_a_failed_record(client):
    # a dataset folder without images passes the checks and fails in the run
    empty = client.allowed / "empty"
    empty.mkdir(exist_ok=True)
    response = run(client, "selectivity", model=DIGITS, dataset=str(empty), layer="logits")
    view = wait_state(client, response.json()["job"])
    assert view["status"] == "failed" and view["error"] and "Traceback" not in view["error"]


# --- the token rule -------------------------------------------------------------------------------------------
def test_token_is_required_on_every_request(tmp_path):
    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"], token="s3cret"))
    with TestClient(app) as client:
        for url in ["/api/health", "/api/models", "/openapi.json", "/docs", "/api/jobs/x"]:
            response = client.get(url)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", url
        assert client.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_serve_refuses_other_addresses_without_token(capsys):
    from convscope.cli.main import main

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "give --token" in err and len(err.strip().splitlines()) == 1
    assert main(["serve", "--allow-root", "/no/such/folder"]) == 2
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--dataset", "x"])
    assert exit.value.code == 2 and "expected NAME=PATH" in capsys.readouterr().err


# --- the journal and a kill -9 restart ------------------------------------------------------------------------
def test_journal_marks_interrupted_jobs_failed(tmp_path):
    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"]))
    with TestClient(app) as client:
        image = client.post("/api/images", files={"file": ("d.png", png_bytes(seed=9), "image/png")}).json()["id"]
        done = run(client, "predict", model=DIGITS, image=image, top=2).json()
    journal = JobJournal(tmp_path / "jobs.sqlite")
    journal._db.execute("INSERT INTO jobs VALUES ('interrupted1','visualize','k','cpu','{}','running',1,2,NULL,NULL,0)")
    journal.close()
    with TestClient(create_app(ServerConfig(data_dir=tmp_path, models=["digits"]))) as client:
        view = client.get("/api/jobs/interrupted1").json()
        assert view["status"] == "failed" and view["error"].startswith("interrupted")
        old = client.get(f"/api/jobs/{done['job']}").json()
        assert old["status"] == "done" and old["result"]["data"] == done["result"]["data"]
        assert [e["event"] for e in events_of(client, "interrupted1")] == ["state"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "convscope.cli.main", "serve", "--port", str(port), "--model", "digits"]
    process = subprocess.Popen([*command, "--data-dir", str(data_dir)], env=env, stderr=subprocess.PIPE)
    import httpx

    end = time.time() + 60
    while time.time() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not start: " + process.stderr.read().decode()[-2000:])


@pytest.mark.slow
def test_kill_9_mid_job_then_restart(tmp_path, digits_subject):
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    try:
        image = httpx.post(f"{base}/api/images", files={"file": ("d.png", png_bytes(seed=4), "image/png")}).json()
        finished = httpx.post(
            f"{base}/api/runs", json={"recipe": "predict", "spec": {"model": DIGITS, "image": image["id"]}}, timeout=60
        ).json()
        assert finished["status"] == "done"
        spec = {"model": DIGITS, "layer": "features.3", "channels": [2, 3], "steps": 1500}
        long = httpx.post(f"{base}/api/runs", json={"recipe": "visualize", "spec": spec}, timeout=60).json()
        end = time.time() + 60
        while httpx.get(f"{base}/api/jobs/{long['job']}").json()["progress"]["done"] < 20:
            assert time.time() < end
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    server = start_server(tmp_path, port)
    try:
        view = httpx.get(f"{base}/api/jobs/{long['job']}").json()
        assert view["status"] == "failed" and view["error"].startswith("interrupted")
        assert httpx.get(f"{base}/api/results/{long['hash']}").status_code == 404  # nothing partial
        staging = list((tmp_path / "staging").iterdir())
        assert staging == [], staging  # the store's repair reaped the killed run's files
        assert httpx.get(f"{base}/api/results/{finished['hash']}").json()["data"] == finished["result"]["data"]
        again = httpx.post(f"{base}/api/runs", json={"recipe": "visualize", "spec": spec}, timeout=60).json()
        assert again["hash"] == long["hash"] and again["cached"] is False
        end = time.time() + 120
        while (view := httpx.get(f"{base}/api/jobs/{again['job']}").json())["status"] not in ("done", "failed"):
            assert time.time() < end
            time.sleep(0.2)
        assert view["status"] == "done" and len(view["result"]["data"]["images"]) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_chunked_bodies_over_the_limit_are_413(tmp_path):
    """Without a Content-Length the body is counted as it arrives and refused once over the limit (JSON 413)."""
    import asyncio

    import httpx

    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"], max_upload_bytes=1000))

    async def chunks(head: bytes = b"", tail: bytes = b""):
        yield head
        for _ in range(1500):
            yield b"x" * 1000
        yield tail

    async def send() -> list:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://convscope") as client:
            runs = await client.post("/api/runs", content=chunks(), headers={"content-type": "application/json"})
            head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            upload = await client.post(
                "/api/images",
                content=chunks(head, b"\r\n--b--\r\n"),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
        return [runs, upload]

    try:
        for response in asyncio.run(send()):
            assert response.status_code == 413 and "larger than" in response.json()["detail"]
    finally:
        app.state.platform.close()


# --- the new user's findings: every file a spec names goes through the same rules; bounds; one line each ---------
def test_every_file_field_takes_upload_ids_and_refuses_paths(client, image_id):
    dead = run(client, "dead", model=DIGITS, images=[image_id, image_id], layer="features.3")
    view = wait_state(client, dead.json()["job"]) if dead.status_code == 202 else dead.json()
    assert view["status"] == "done", view
    for spec, loc in [
        ({"images": ["/tmp/x.png"], "layer": "features.3"}, ["body", "spec", "images", 0]),
        ({"images": [image_id, "../../etc/passwd"], "layer": "features.3"}, ["body", "spec", "images", 1]),
    ]:
        got, msg = field_error(run(client, "dead", model=DIGITS, **spec))
        assert got == loc and "not accepted" not in msg or "outside" in msg, (got, msg)
    for field, value in [("init_from_data", "/etc"), ("init_from_data", "../.."), ("relevant", "/tmp/x.png")]:
        spec = {"layer": "features.3", field: value, **({"channels": [0]} if field == "init_from_data" else {})}
        got, msg = field_error(run(client, "visualize", model=DIGITS, **spec))
        assert got == ["body", "spec", field], (got, msg)


def test_spec_keys_follow_every_named_file(tmp_path):
    """The spec key fingerprints files named in lists and optional fields too (dead's images, relevant)."""
    from convscope.recipes import parse_spec, spec_key

    image = tmp_path / "a.png"
    image.write_bytes(png_bytes(seed=1))
    dead = parse_spec("dead", {"model": DIGITS, "images": [str(image)], "layer": "features.3"})
    relevant = parse_spec("visualize", {"model": DIGITS, "layer": "features.3", "relevant": str(image)})
    before = spec_key(dead), spec_key(relevant)
    image.write_bytes(png_bytes(seed=2))
    assert spec_key(dead) != before[0] and spec_key(relevant) != before[1]


@pytest.mark.parametrize(
    "recipe, spec, field",
    [
        ("examples", {"dataset": "digits", "layer": "features.3", "channels": [0], "top": 10**9}, "top"),
        ("facets", {"dataset": "digits", "target": "logits:3", "top_images": 10**9}, "top_images"),
        ("visualize", {"layer": "features.3", "channels": [0], "size": 4096}, "size"),
        ("visualize", {"layer": "features.3", "channels": [0], "steps": 10**9}, "steps"),
        ("dream", {"image": "x", "layer": "features.3", "octaves": 10**9}, "octaves"),
        ("inverse-set", {"constraints": ["logits:3:4:6"], "n": 10**9}, "n"),
        ("inverse-set", {"constraints": ["logits:3:4:6"], "generator": "trained"}, "generator"),
        ("inverse-set", {"constraints": ["garbage"]}, "constraints"),
        ("attribute", {"image": "x", "layers": "features.99"}, "layers"),
        ("attribute", {"image": "x", "method": "occlusion", "patch": 100}, "patch"),
        ("predict", {"image": "x", "top": 10**9}, "top"),
    ],
)
def test_sizes_are_bounded_before_anything_runs(client, image_id, recipe, spec, field):
    spec = {key: image_id if value == "x" else value for key, value in spec.items()}
    got, msg = field_error(run(client, recipe, model=DIGITS, **spec))
    assert got[:3] == ["body", "spec", field], (got, msg)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(client, token):
    body = '{"recipe": "visualize", "spec": {"model": {"spec": "digits"}, "layer": "features.3", "channels": [0], '
    response = client.post(
        "/api/runs", content=body + f'"lr": {token}}}}}', headers={"content-type": "application/json"}
    )
    got, msg = field_error(response)
    assert got == ["body", "spec", "lr"] and "finite" in msg, (got, msg)


def test_upload_pixel_limit_is_413_in_the_servers_words(tmp_path):
    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"], max_upload_pixels=1000))
    with TestClient(app) as client:
        response = client.post("/api/images", files={"file": ("a.png", png_bytes((40, 40)), "image/png")})
        assert response.status_code == 413
        assert response.json()["detail"] == "image too large: 40x40 pixels; this server takes at most 1,000 pixels"
        bad = client.post("/api/images", data={"file": "hello"})
        assert field_error(bad)[1].startswith("a file is expected here")


def test_one_server_per_data_dir(tmp_path):
    from convscope.core.errors import ConvscopeError

    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"]))
    try:
        with pytest.raises(ConvscopeError, match="in use by another convscope server"):
            create_app(ServerConfig(data_dir=tmp_path, models=["digits"]))
    finally:
        app.state.platform.close()
    create_app(ServerConfig(data_dir=tmp_path, models=["digits"])).state.platform.close()  # free again


def test_bearer_scheme_is_case_insensitive_and_a_browser_gets_a_cookie(tmp_path):
    app = create_app(ServerConfig(data_dir=tmp_path, models=["digits"], token="s3cret"))
    with TestClient(app) as client:
        assert client.get("/api/health", headers={"Authorization": "bearer s3cret"}).status_code == 200
        first = client.get("/?token=s3cret", follow_redirects=False)
        assert first.status_code == 303 and "convscope_token" in first.headers["set-cookie"]
        assert client.get("/api/health").status_code == 200  # the cookie now
        client.cookies.clear()
        assert client.get("/api/health").status_code == 401
        assert client.get("/?token=wrong", follow_redirects=False).status_code == 401


def test_job_list_is_limited(client):
    assert len(client.get("/api/jobs?limit=2").json()["jobs"]) <= 2
    assert client.get("/api/jobs?limit=0").status_code == 422


def test_dataset_images_by_id(client):
    picture = client.get("/api/datasets/digits/image", params={"id": "digits:17"})
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO(picture.content)).size == (32, 32)
    for name, image_id in [("digits", "digits:999999"), ("digits", "/etc/passwd"), ("photos", "x")]:
        response = client.get(f"/api/datasets/{name}/image", params={"id": image_id})
        assert response.status_code == 404, (name, image_id, response.text)
