"""The REST API against its own OpenAPI document (schemathesis, in process over ASGI).

Every operation of `create_app(ServerConfig(data_dir=<tmp>, models=["digits"]))` gets a bounded number of
generated requests (explicit examples, coverage cases and `MAX_EXAMPLES` fuzzed ones); each answer must not be a
server error (5xx) and must conform to the document: a declared status code, a declared content type and a body
valid against the declared response schema. Generated requests almost never get past the first refusal (they
cannot name an upload, a job or a result, nor an offered model), so three more tests send real ones through the
same checks: every 2xx answer (`test_success_answers_...`), the event stream of a job (`test_event_stream_...`)
and plausible-but-often-wrong specs of the interactive recipes (`test_interactive_specs_...`, hypothesis).

The document is read at collection time (`openapi_document`: a throwaway app, closed at once); the requests of
each operation go to a fresh app of its own (`call_and_validate(app=...)`) whose data dir is a pytest temporary folder.
(`schemathesis.pytest.from_fixture` would load the document from a fixture directly, but schemathesis 4.32.5's
lazy schema reads `request.node._nodeid`, which pytest 9 no longer has.) schemathesis' ASGI client starts the app's
lifespan on the first request, and its pytest plugin ends every lifespan at each test's teardown, which runs the
shutdown handler (`Platform.close`: every runner cancelled and joined, the journal closed): hence one app per
test, not per module, and the fixture checks that no worker thread is left. Generated requests cannot name an
existing job, upload or result (those ids are uuid / sha256 strings), so the event stream of an unknown job is a
404 and no stream stays open.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from convscope.server import ServerConfig, create_app
from convscope.server.app import openapi_document

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _config(data_dir: Path) -> ServerConfig:
    return ServerConfig(data_dir=data_dir, models=["digits"])


DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture()
def server_app(tmp_path):
    app = create_app(_config(tmp_path / "data"))
    yield app
    platform = app.state.platform
    platform.close()  # already run by the lifespan's end when a request started it; closing twice is harmless
    assert not any(thread.is_alive() for runner in (platform.long, platform.quick) for thread in runner._threads)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # function_scoped_fixture: one app per operation, shared by its examples on purpose (see the docstring)
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_openapi(case, server_app):
    case.call_and_validate(app=server_app, checks=CHECKS)


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 32), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _caller(app):
    """call(path, method, expected, *params, **case_fields): `path` with `{}` for its parameters (named as the
    document names them), given in order in `params`; the answer goes through CHECKS and must have `expected`."""

    def call(path: str, method: str, expected: int, *params: str, **kwargs):
        template = next(t for t in DOCUMENT["paths"] if re.sub(r"\{[^}]+\}", "{}", t) == path)
        names = re.findall(r"\{([^}]+)\}", template)
        case = schema[template][method].Case(path_parameters=dict(zip(names, params)), **kwargs)
        response = case.call_and_validate(app=app, checks=CHECKS, timeout=60)
        assert response.status_code == expected, (method, path, params, kwargs, response.status_code, response.text)
        return response

    return call


def test_success_answers_conform_to_the_openapi(server_app, digits_subject):  # digits_subject: trained first
    """Upload, layers, predict (first and cached), activations and its artifact, the result, a visualize job (202,
    the job, a preview, the job list, cancelling it when done) and cancelling a long one."""
    call = _caller(server_app)
    upload = call("/api/images", "POST", 201, body={"file": _png(0)}, media_type="multipart/form-data").json()
    assert (upload["width"], upload["height"], upload["mode"]) == (32, 32, "L")
    call("/api/models/{}/layers", "GET", 200, "digits")
    predict = {"recipe": "predict", "spec": {"model": {"spec": "digits"}, "image": upload["id"], "top": 3}}
    first = call("/api/runs", "POST", 200, body=predict).json()
    assert not first["cached"] and first["result"]["data"]["image"] == upload["id"]
    assert call("/api/runs", "POST", 200, body=predict).json()["cached"]
    activations = {"recipe": "activations", "spec": {"model": {"spec": "digits"}, "image": upload["id"]}}
    activations["spec"].update(layer="features.3", top=2)
    result = call("/api/runs", "POST", 200, body=activations).json()["result"]
    key, name = result["hash"], result["artifacts"][0]["name"]
    assert result["artifacts"][0]["url"].startswith(f"/api/artifacts/{key}/")
    call("/api/artifacts/{}/{}", "GET", 200, key, name)
    call("/api/results/{}", "GET", 200, key)

    visualize = {"model": {"spec": "digits"}, "layer": "features.3", "channels": [0], "steps": 8}
    job = call("/api/runs", "POST", 202, body={"recipe": "visualize", "spec": visualize}).json()["job"]
    platform = server_app.state.platform
    platform.long.wait(job, 60)
    view = call("/api/jobs/{}", "GET", 200, job).json()
    assert view["status"] == "done" and view["result"]["artifacts"]
    for preview in platform.job(job).previews:
        call("/api/jobs/{}/previews/{}", "GET", 200, job, preview)
    assert job in {j["id"] for j in call("/api/jobs", "GET", 200).json()["jobs"]}
    assert not call("/api/jobs/{}", "DELETE", 200, job).json()["cancelled"]

    visualize.update(steps=100_000, channels=[1])
    long = call("/api/runs", "POST", 202, body={"recipe": "visualize", "spec": visualize}).json()["job"]
    assert call("/api/jobs/{}", "DELETE", 200, long).json()["cancelled"]
    deadline = time.monotonic() + 10
    while platform.job(long).state != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call("/api/jobs/{}", "GET", 200, long).json()["status"] == "cancelled"
    digits = {"name": "digits", "loaded": True, "kind": "builtin", "arch": None, "channels": 1, "size": [32, 32]}
    assert call("/api/models", "GET", 200).json()["models"] == [digits | {"classes": 10}]


def test_event_stream_conforms_to_the_openapi(server_app, digits_subject):
    """GET /api/jobs/{id}/events of a finished visualize job: the replayed state and progress events, then the end.
    For OpenAPI before 3.2 (FastAPI writes 3.1) schemathesis reads the `text/event-stream` schema as the schema
    of each event ({"event", "data", "id"}), so the document must describe one event (see the report's fix)."""
    call = _caller(server_app)
    visualize = {"model": {"spec": "digits"}, "layer": "features.3", "channels": [0], "steps": 8, "seed": 1}
    job = call("/api/runs", "POST", 202, body={"recipe": "visualize", "spec": visualize}).json()["job"]
    server_app.state.platform.long.wait(job, 60)
    events = call("/api/jobs/{}/events", "GET", 200, job).text
    assert "event: progress" in events and '"state": "done"' in events


LAYERS = ["features", "features.0", "features.3", "features.7", "pool", "classifier", "classifier.3", "logits"]


def _quick_bodies(image_id: str):
    """Bodies of POST /api/runs for the interactive recipes whose values are mostly valid, often not: the specs a
    client gets wrong (unknown or unoffered models, odd weights and outputs, bad layers, channels out of range,
    image paths where uploads are expected, extra fields)."""

    def mostly(valid, invalid):  # a valid value 4 times in 5
        return st.integers(0, 4).flatmap(lambda i: invalid if i == 4 else valid)

    model = st.fixed_dictionaries(
        {"spec": mostly(st.just("digits"), st.sampled_from(["default", "timm:resnet18", "file:/etc/passwd", "x"]))},
        optional={
            "weights": mostly(st.sampled_from(["default", "none", "none:3"]), st.sampled_from(["none:x", "/w.pt", ""])),
            "output": mostly(st.none(), st.sampled_from(["logits", "classifier", "features.3", "0", ""])),
        },
    )
    bad_images = ["0" * 64, image_id.upper(), "../uploads/" + image_id, "/etc/passwd", "", "~/x.png"]
    layer = mostly(
        st.sampled_from(LAYERS),
        st.one_of(st.sampled_from(["", "nope", "features.99", "features.3,features.0"]), st.text(max_size=6)),
    )
    fields = {
        "model": model,
        "image": mostly(st.just(image_id), st.one_of(st.sampled_from(bad_images), st.text(max_size=8))),
        "layer": layer,
        "top": mostly(st.integers(1, 12), st.sampled_from([0, -1, 10**12])),
        "channels": mostly(
            st.one_of(st.none(), st.lists(st.integers(0, 15), max_size=4)), st.lists(st.integers(-3, 70))
        ),
        "fit": mostly(st.sampled_from(["squash", "crop"]), st.just("pad")),
        "all": st.booleans(),
        "bogus": st.integers(),
    }
    wanted = {
        "models": ["all"],
        "layers": ["model"],
        "predict": ["model", "image", "top", "fit"],
        "activations": ["model", "image", "layer", "top", "channels", "fit"],
    }

    @st.composite
    def body(draw):
        recipe = draw(st.sampled_from(sorted(wanted)))
        names = [n for n in wanted[recipe] if draw(st.integers(0, 14)) < 14]  # each field left out now and then
        if draw(st.integers(0, 19)) == 19:
            names.append(draw(st.sampled_from(sorted(fields))))  # a field this recipe does not take
        return {"recipe": recipe, "spec": {name: draw(fields[name]) for name in names}}

    return body()


@pytest.fixture()
def uploaded(server_app):
    case = schema["/api/images"]["POST"].Case(body={"file": _png(1)}, media_type="multipart/form-data")
    response = case.call_and_validate(app=server_app, checks=CHECKS)
    assert response.status_code == 201
    return response.json()["id"]


def _post_run(app, body: dict):
    """POST /api/runs through CHECKS: 200 or a 422 whose messages are no internal exception's (`ValueError: ...`,
    what a job failing on a spec that `admit` should have refused answers)."""
    response = schema["/api/runs"]["POST"].Case(body=body).call_and_validate(app=app, checks=CHECKS, timeout=60)
    assert response.status_code in (200, 422), (body, response.status_code, response.text)
    if response.status_code == 422:
        for item in response.json()["detail"]:
            assert not re.match(r"[A-Z]\w*(Error|Exception): ", item["msg"]), (body, item)
    return response


def test_interactive_specs_conform_to_the_openapi(server_app, uploaded, digits_subject):
    """POST /api/runs with generated specs of the interactive recipes (models, layers, predict, activations) built
    from plausible values: never a 5xx, always a documented answer (200 with the result inline, or 422 naming the
    field), never an internal exception's message."""

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_quick_bodies(uploaded))
    def generated(body):
        _post_run(server_app, body)

    generated()


def test_activations_without_channels_is_refused(server_app, uploaded, digits_subject):
    """Found by the test above: `channels: []` passes admit and preflight, then the run fails inside
    (`ValueError: grid needs at least one image`) and the answer is that internal message (a failed job)."""
    spec = {"model": {"spec": "digits"}, "image": uploaded, "layer": "features.3", "channels": []}
    _post_run(server_app, {"recipe": "activations", "spec": spec})


def test_dataset_upload_answers_conform_to_the_openapi(server_app):
    """Upload a dataset (multipart: a name and image files), list it, read an image of it, turn one into an uploaded
    image, delete it: every answer as the document declares it."""
    call = _caller(server_app)
    body = {"name": "tiny", "files": [_png(1), _png(2)]}
    info = call("/api/datasets", "POST", 201, body=body, media_type="multipart/form-data").json()
    assert info["images"] == 1 and info["kind"] == "uploaded" and info["channels"] == 1
    # (the generated parts carry one file name: the second file of that name is skipped, and said)
    assert [s["reason"] for s in info["skipped"]] == ["the same name twice in the upload: the first kept"]
    assert info["name"] in [d["name"] for d in call("/api/datasets", "GET", 200).json()["datasets"]]
    image = info["thumbnails"][0]
    call("/api/datasets/{}/image", "GET", 200, "tiny", query={"id": image})
    made = call("/api/images/from-dataset", "POST", 201, body={"dataset": "tiny", "id": image}).json()
    assert (made["width"], made["height"]) == (32, 32)
    call("/api/datasets/{}", "DELETE", 204, "tiny")
    call("/api/datasets/{}", "DELETE", 404, "tiny")
