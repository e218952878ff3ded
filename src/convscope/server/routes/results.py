"""/api/results and /api/artifacts: a stored result by its hash, the files of one (immutable), the whole run as
one zip (its files, its spec and its data), and the preview pictures its run kept (to replay it)."""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from ...recipes.results import Result
from ..config import IMMUTABLE
from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import TypedResultView
from .events import PreviewList, preview_list

#: bytes read from the archive's temporary file at a time
CHUNK = 1 << 20
#: media types stored as they are in the zip (already compressed)
COMPRESSED = ("image/png", "image/jpeg", "application/zip", "application/gzip")

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


def _stored(platform, hash: str) -> Result:
    found = platform.store.get(hash) if re.fullmatch(r"[0-9a-f]{64}", hash) else None
    if found is None:
        raise Refused(404, f"no stored result {hash}")
    return found


@router.get(
    "/api/results/{hash}/archive",
    response_class=StreamingResponse,
    tags=["results"],
    responses={
        200: {"content": {"application/zip": {}}, "description": "the run as one zip"},
        **error_responses(401, 404),
    },
)
def archive(platform: PlatformDep, hash: str):
    """A stored result as one zip: `spec.json` (the recipe and its spec, as POST /api/runs takes it: uploads by
    their ids), `result.json` (its data, file paths relative to the zip) and its files under `files/`."""
    found = _stored(platform, hash)
    spec = json.loads(platform.store.spec_json(hash) or "{}")
    data = found.moved_to("files").data  # paths relative to the zip's root
    # the server's own paths (uploads, datasets, model files) shown as the API names them (platform.result_view)
    spec, data = (platform.result_view(hash, Result(recipe=found.recipe, data=d))["data"] for d in (spec, data))
    handle = tempfile.TemporaryFile()  # built on disk, not in memory: an atlas holds thousands of files
    try:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr("spec.json", json.dumps(spec, indent=1) + "\n")
            zipped.writestr("result.json", json.dumps(data, indent=1) + "\n")
            for entry in found.artifacts:
                kind = zipfile.ZIP_STORED if entry.media_type in COMPRESSED else zipfile.ZIP_DEFLATED
                zipped.write(Path(found.folder) / entry.name, f"files/{entry.name}", compress_type=kind)
        size = handle.tell()
        handle.seek(0)
    except BaseException:
        handle.close()
        raise

    def chunks():
        with handle:
            while block := handle.read(CHUNK):
                yield block

    name = f"convscope-{found.recipe}-{hash[:12]}.zip"
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(size)},
    )


@router.get(
    "/api/results/{hash}/previews",
    response_model=PreviewList,
    tags=["results"],
    responses=error_responses(401, 404),
)
def result_previews(platform: PlatformDep, hash: str) -> dict:
    """The preview pictures kept by the latest remembered job that computed this result (to replay its progress);
    an empty list when none did (a result from the store, or a job the server has forgotten)."""
    jobs = [job for runner in (platform.long, platform.quick) for job in runner.jobs() if job.key == hash]
    if not jobs and not (re.fullmatch(r"[0-9a-f]{64}", hash) and hash in platform.store):
        raise Refused(404, f"no stored result {hash}")
    with_frames = [job for job in jobs if job.preview_frames]
    return preview_list(max(with_frames, key=lambda job: job.created) if with_frames else None)
