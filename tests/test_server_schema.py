"""The REST API against its own OpenAPI document (schemathesis, in process over ASGI).

Every operation of `create_app(ServerConfig(data_dir=<tmp>, models=["digits"]))` gets a bounded number of
generated requests (explicit examples, coverage cases and `MAX_EXAMPLES` fuzzed ones); each answer must not be a
server error (5xx) and must conform to the document: a declared status code, a declared content type and a body
valid against the declared response schema.

The document is read at collection time from a throwaway app (closed at once); the requests of each operation go
to a fresh app of its own (`call_and_validate(app=...)`) whose data dir is a pytest temporary folder.
(`schemathesis.pytest.from_fixture` would load the document from a fixture directly, but schemathesis 4.32.5's
lazy schema reads `request.node._nodeid`, which pytest 9 no longer has.) schemathesis' ASGI client starts the app's
lifespan on the first request, and its pytest plugin ends every lifespan at each test's teardown, which runs the
shutdown handler (`Platform.close`: every runner cancelled and joined, the journal closed): hence one app per
test, not per module, and the fixture checks that no worker thread is left. Generated requests cannot name an
existing job, upload or result (those ids are uuid / sha256 strings), so the event stream of an unknown job is a
404 and no stream stays open.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from convscope.server import ServerConfig, create_app

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _config(data_dir: Path) -> ServerConfig:
    return ServerConfig(data_dir=data_dir, models=["digits"])


def _openapi() -> dict:
    folder = Path(tempfile.mkdtemp(prefix="convscope-openapi-"))
    try:
        app = create_app(_config(folder))
        try:
            return app.openapi()
        finally:
            app.state.platform.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


DOCUMENT = _openapi()
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
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 32), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_success_answers_conform_to_the_openapi(server_app, digits_subject):  # digits_subject: trained first
    """Generated requests hardly ever succeed (they cannot name an upload, a job or a result), so the 2xx answers
    are checked here on real requests: upload, layers, predict (first and cached), activations and its artifact,
    the result, a visualize job (202, the job, its event stream, a preview, the job list, cancelling it when done
    and cancelling a long one)."""
    import time

    def call(path: str, method: str, expected: int, *params: str, **kwargs):
        """`path` with `{}` for its parameters (named as the document names them), given in order in `params`."""
        template = next(t for t in DOCUMENT["paths"] if re.sub(r"\{[^}]+\}", "{}", t) == path)
        names = re.findall(r"\{([^}]+)\}", template)
        case = schema[template][method].Case(path_parameters=dict(zip(names, params)), **kwargs)
        response = case.call_and_validate(app=server_app, checks=CHECKS, timeout=60)
        assert response.status_code == expected, (method, path, params, kwargs, response.status_code, response.text)
        return response

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
    events = call("/api/jobs/{}/events", "GET", 200, job)
    assert "event: state" in events.text and '"state":"done"' in events.text.replace(" ", "")
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
    assert call("/api/models", "GET", 200).json()["models"] == [{"name": "digits", "loaded": True}]
