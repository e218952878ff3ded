"""/api/results and /api/artifacts: a stored result by its hash, and the files of one (immutable)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from ...recipes.results import Result
from ..config import IMMUTABLE
from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import TypedResultView

router = APIRouter()


@router.get(
    "/api/results/{hash}", response_model=TypedResultView, tags=["results"], responses=error_responses(401, 404)
)
def result(platform: PlatformDep, hash: str):
    """A stored result by its hash (the spec key), its `data` typed by its recipe (`recipe` tells which)."""
    found = platform.store.get(hash) if re.fullmatch(r"[0-9a-f]{64}", hash) else None
    if found is None:
        raise Refused(404, f"no stored result {hash}")
    view = platform.result_view(hash, found)
    if type(found) is Result:  # a row of an older recipe version (its model refuses it): given as it was stored
        return JSONResponse(view)
    return view


@router.get(
    "/api/artifacts/{hash}/{name:path}",
    response_class=FileResponse,
    tags=["results"],
    responses={200: {"content": {"*/*": {}}, "description": "the file"}, **error_responses(401, 404)},
)
def artifact(platform: PlatformDep, hash: str, name: str):
    """A file of a stored result; immutable (its URL holds the content's key), cached for a year."""
    found = platform.store.get(hash) if re.fullmatch(r"[0-9a-f]{64}", hash) else None
    entry = next((a for a in found.artifacts if a.name == name), None) if found is not None else None
    if entry is None:
        raise Refused(404, f"no artifact `{name}` in result {hash}")
    return FileResponse(
        Path(found.folder) / entry.name,
        media_type=entry.media_type,
        headers={"Cache-Control": IMMUTABLE},
    )
