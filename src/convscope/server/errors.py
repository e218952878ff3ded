"""Errors as the API answers them: one line, or for 422 the list of failing fields; never a traceback.

`ErrorBody` is every 4xx / 5xx answer's model, `error_responses` the OpenAPI `responses` entry naming it for the
codes a route may answer, `Refused` the exception a route or the platform raises to refuse a request, and
`install_error_handlers` the handlers that turn every exception into such a body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import ConvscopeError

log = logging.getLogger(__name__)


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every 4xx / 5xx answer: `detail` is one line, or for 422 the list of failing fields."""

    detail: str | list[ErrorItem]


class Refused(Exception):
    """A request refused with `status` and a message (422: with the field's location)."""

    def __init__(self, status: int, message: str, loc: list | None = None, kind: str = "value_error"):
        super().__init__(message)
        self.status, self.message, self.loc, self.kind = status, message, loc, kind

    def body(self) -> dict:
        if self.loc is None:
            return {"detail": self.message}
        return {
            "detail": [
                {
                    "loc": [str(x) if not isinstance(x, int) else x for x in self.loc],
                    "msg": self.message,
                    "type": self.kind,
                }
            ]
        }


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422)}


def error_responses(*codes: int) -> dict:
    """The OpenAPI `responses` of a route that may answer these error codes (each with an ErrorBody)."""
    return {code: ERRORS[code] for code in codes}


def _plain(message: str) -> str:
    """pydantic's wording where it names Python classes, in words a person understands."""
    if "UploadFile" in message:
        return "a file is expected here: send it as the multipart/form-data field `file`"
    return message


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception as an ErrorBody: Refused with its status, an invalid request as 422 naming the fields
    (400 for malformed JSON, 413 for a body cut off by BodyLimit), Starlette's HTTP errors with their status,
    ConvscopeError as 422, anything else as 500 (logged)."""

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if "convscope.body_too_large" in request.scope:
            limit = request.scope["convscope.body_too_large"]
            return JSONResponse({"detail": f"request body is larger than {limit} bytes"}, status_code=413)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            where = next(e for e in errors if e.get("type") == "json_invalid")
            reason = (where.get("ctx") or {}).get("error", "not JSON")
            return JSONResponse({"detail": f"malformed JSON body: {reason}"}, status_code=400)
        items = [
            {
                "loc": [x if isinstance(x, int) else str(x) for x in e.get("loc", ())],
                "msg": _plain(str(e.get("msg", "invalid")).removeprefix("Value error, ")),
                "type": str(e.get("type", "value_error")),
            }
            for e in errors
        ]
        return JSONResponse({"detail": items}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ConvscopeError)
    async def convscope_error(_: Request, exc: ConvscopeError):
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception):
        log.exception("internal error")
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)
