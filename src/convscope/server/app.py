"""The REST API (docs/server.md): `create_app` composes the FastAPI application from the server's parts.

- `platform.Platform` holds the state: two JobRunners sharing one ResultStore. `quick` (2 worker threads, its own
  SubjectPool) runs the interactive recipes (models, layers, predict, activations) so that they keep answering
  while `long` (1 worker per device, another SubjectPool) runs feature visualization and the other long recipes.
  A Subject is leased to one run at a time, so the two pools hold a model twice: the price of never queueing a
  prediction behind a 10-minute render.
- A spec arrives exactly as `--print-spec` prints it, except that images are named by upload id (or by a path
  inside an `--allow-root` folder), datasets by the server's names (or such a path), and models only from the
  server's list. `preflight.SpecPolicy` checks all of that and answers 422 naming the field.
- Every state change of a job is journaled (data dir `jobs.sqlite`): after a restart a job interrupted by the
  stop reads `failed` ("interrupted: ..."), finished ones keep their result (from the store).
- `routes/` holds one APIRouter per resource (they reach the Platform through `deps.PlatformDep`), `errors` the
  error bodies and handlers, `middleware` the body limit and the token, `static` the docs and the web app.

`BodyLimit`, `ServerConfig`, `WEBAPP` and `is_loopback` are re-exported here for the callers that import them from
`convscope.server.app`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI

from ..core.version import __version__
from .config import ServerConfig, is_loopback
from .errors import install_error_handlers
from .middleware import BodyLimit, token_auth
from .platform import Platform
from .routes import atlases, datasets, events, health, images, jobs, models, recipes, results, runs
from .static import WEBAPP, mount_docs, mount_webapp

__all__ = ["BodyLimit", "ServerConfig", "WEBAPP", "create_app", "is_loopback", "openapi_document"]

#: one router per resource, in the order of the OpenAPI document's paths
ROUTERS = [m.router for m in (health, models, datasets, recipes, images, runs, jobs, events, atlases, results)]


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI application for `config` (default: models default and digits, nothing on disk reachable)."""
    config = config or ServerConfig()
    platform = Platform(config)
    app = FastAPI(
        title="convscope",
        version=__version__,
        description="Look inside convolutional networks: every recipe over HTTP, with jobs, live progress and a "
        "result store (docs/server.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = platform
    app.router.add_event_handler("shutdown", platform.close)

    # the last added runs first: the token, then CORS, then the body limit
    uploads = {"/api/datasets": config.max_dataset_bytes + (16 << 20)}  # (a zip's directory, the form's parts)
    if config.allow_model_upload:  # the weights, a labels file and the form's parts
        uploads["/api/models"] = config.max_model_bytes + (8 << 20)
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes + (1 << 20), paths=uploads)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"], allow_headers=["*"])
    if config.token:
        app.middleware("http")(token_auth(config.token))

    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_docs(app)
    mount_webapp(app)  # last: it answers every path the API does not
    return app


def openapi_document() -> dict:
    """The OpenAPI document of the API (for the web app's generated client), from a throwaway app."""
    with tempfile.TemporaryDirectory(prefix="convscope-openapi-") as folder:
        app = create_app(ServerConfig(data_dir=Path(folder)))
        try:
            return app.openapi()
        finally:
            app.state.platform.close()
