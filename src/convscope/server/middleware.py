"""The server's own middleware: `BodyLimit` (413 for a body over the limit) and `token_auth` (the bearer token,
or the cookie a browser gets from `?token=`, on every request)."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.units import ascii_int


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 (JSON) — from its Content-Length
    before any byte is read, or, for a chunked body, as soon as the bytes received pass the limit (raised as an
    HTTPException from `receive`, inside the route, so the JSON error handler answers). `paths`: larger limits
    for the POSTs of some exact paths (dataset and model uploads)."""

    def __init__(self, app, limit: int, paths: dict[str, int] | None = None):
        self.app, self.default, self.paths = app, limit, dict(paths or {})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        post = scope.get("method") == "POST"
        limit = self.paths.get(scope.get("path", ""), self.default) if post else self.default
        return await self._limited(scope, receive, send, limit)

    async def _limited(self, scope, receive, send, limit: int):
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        declared = ascii_int(length)  # (bytes.isdigit is ASCII-only, but int() refuses more than 4300 digits)
        if declared is not None and declared > limit or declared is None and length.isdigit():
            shown = f"of {declared} bytes " if declared is not None else ""
            response = JSONResponse({"detail": f"request body {shown}is larger than {limit} bytes"}, status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                scope["convscope.body_too_large"] = limit  # (FastAPI's body parsing may re-raise as 400/422)
                raise StarletteHTTPException(413, f"request body is larger than {limit} bytes")
            return message

        return await self.app(scope, counted, send)


def token_auth(token: str):
    """The `http` middleware (`app.middleware("http")(token_auth(token))`) that answers 401 to a request without
    `Authorization: Bearer <token>` or the cookie; `?token=TOKEN` sets the cookie and redirects to the same path."""
    expected = token.encode()

    cookie_value = hashlib.sha256(f"convscope:{token}".encode()).hexdigest()

    async def bearer_token(request: Request, call_next):
        scheme, _, given_token = request.headers.get("authorization", "").partition(" ")
        given = given_token.strip().encode() if scheme.lower() == "bearer" else b""
        query = request.query_params.get("token")
        if query is not None and hmac.compare_digest(query.encode(), token.encode()):
            # a browser opens http://host:port/?token=TOKEN once; a cookie carries it from then on
            response = Response(status_code=303, headers={"Location": request.url.path})
            response.set_cookie("convscope_token", cookie_value, httponly=True, samesite="strict")
            return response
        cookie = request.cookies.get("convscope_token", "").encode()
        if not hmac.compare_digest(given, expected) and not hmac.compare_digest(cookie, cookie_value.encode()):
            return JSONResponse(
                {"detail": "a bearer token is required: Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)

    return bearer_token
