"""What the server serves besides the API: the interactive docs at /docs (offline, from the swagger-ui package) and
the browser app at / (built by scripts/build_web.sh into `WEBAPP`). Mounted after the API's routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse


def mount_docs(app: FastAPI) -> None:
    """Interactive docs at /docs from swagger-ui files shipped in a Python package (no CDN: works offline)."""
    import swagger_ui
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(swagger_ui.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="convscope API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


#: where scripts/build_web.sh puts the built browser app
WEBAPP = Path(__file__).resolve().parent.parent / "webapp"


def mount_webapp(app: FastAPI) -> None:
    """The browser app at / (its files are built by scripts/build_web.sh into the package); without them, a page
    that says how to build it."""
    from fastapi.staticfiles import StaticFiles

    if (WEBAPP / "index.html").is_file():
        app.mount("/", StaticFiles(directory=WEBAPP, html=True), name="webapp")
        return

    @app.get("/", include_in_schema=False)
    def not_built() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>convscope</title><h1>convscope</h1><p>The web app is not built: run "
            "<code>scripts/build_web.sh</code> (needs Node.js 20 or newer), then restart <code>convscope serve"
            "</code>. The REST API works without it: <a href='/docs'>/docs</a>.</p>"
        )
