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


schema = schemathesis.openapi.from_dict(_openapi())


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
