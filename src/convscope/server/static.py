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


#: the file types served gzip-compressed to a client that accepts it (text); images and fonts are compressed already
COMPRESSED_TYPES = {".js", ".mjs", ".css", ".html", ".json", ".svg", ".txt", ".map", ".wasm"}
#: files smaller than this go as they are (the gzip header would eat the gain)
MIN_COMPRESSED = 1024


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (a `gzip` or `*` token whose q is not 0)."""
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.replace(" ", "").removeprefix("q=")
            try:
                return not params or float(q) > 0
            except ValueError:
                return True
    return False


def _webapp_files():
    """StaticFiles that sends the text files (COMPRESSED_TYPES, from MIN_COMPRESSED bytes) gzip-compressed to a
    client that accepts gzip — compressed once per file version (path, size, mtime) and kept in memory — with
    `Vary: Accept-Encoding` and an ETag of their own; the content-hashed build files (assets/) may be cached for a
    year. Everything else (the cards' JPEGs, a client without gzip) goes as the plain file."""
    import gzip
    import os
    import threading

    from starlette.datastructures import Headers
    from starlette.responses import FileResponse, Response
    from starlette.staticfiles import NotModifiedResponse, StaticFiles

    cache: dict[tuple[str, int, int], bytes] = {}
    lock = threading.Lock()

    class CompressedStaticFiles(StaticFiles):
        def file_response(self, full_path, stat_result, scope, status_code: int = 200) -> Response:
            request = Headers(scope=scope)
            path = str(full_path)
            immutable = "/assets/" in path.replace(os.sep, "/")
            suffix = os.path.splitext(path)[1].lower()
            if (
                suffix not in COMPRESSED_TYPES
                or stat_result.st_size < MIN_COMPRESSED
                or not _accepts_gzip(request.get("accept-encoding", ""))
            ):
                response = super().file_response(full_path, stat_result, scope, status_code)
                if immutable:
                    response.headers["cache-control"] = "public, max-age=31536000, immutable"
                return response
            plain = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
            headers = {
                "content-type": plain.headers["content-type"],
                "etag": plain.headers["etag"].rstrip('"') + '-gzip"',
                "last-modified": plain.headers["last-modified"],
                "content-encoding": "gzip",
                "vary": "Accept-Encoding",
            }
            if immutable:
                headers["cache-control"] = "public, max-age=31536000, immutable"
            if self.is_not_modified(Headers(headers), request):
                return NotModifiedResponse(Headers(headers))
            key = (path, stat_result.st_size, int(stat_result.st_mtime_ns))
            with lock:
                body = cache.get(key)
                if body is None:
                    with open(path, "rb") as file:
                        body = gzip.compress(file.read(), compresslevel=9, mtime=0)
                    for old in [k for k in cache if k[0] == path]:  # an older build of the same file
                        del cache[old]
                    cache[key] = body
            return Response(body, status_code=status_code, headers=headers)

    return CompressedStaticFiles


def mount_webapp(app: FastAPI) -> None:
    """The browser app at / (its files are built by scripts/build_web.sh into the package; text files go gzip-
    compressed); without them, a page that says how to build it."""
    if (WEBAPP / "index.html").is_file():
        app.mount("/", _webapp_files()(directory=WEBAPP, html=True), name="webapp")
        return

    @app.get("/", include_in_schema=False)
    def not_built() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>convscope</title><h1>convscope</h1><p>The web app is not built: run "
            "<code>scripts/build_web.sh</code> (needs Node.js 20 or newer), then restart <code>convscope serve"
            "</code>. The REST API works without it: <a href='/docs'>/docs</a>.</p>"
        )
