"""/api/datasets: the datasets a spec may name, uploading and removing datasets, and their images by the ids
results give them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import DatasetList, DatasetView

router = APIRouter()

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name", "files"],
                    "properties": {
                        "name": {"type": "string", "description": "the dataset's name: 1-64 of A-Z a-z 0-9 _ . -"},
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "zip archives (ImageFolder layout: one sub-folder per class; or flat) "
                            "and image files; a file's name may carry its relative path (`cats/a.png`)",
                        },
                    },
                }
            }
        },
    }
}


@router.get("/api/datasets", response_model=DatasetList, tags=["datasets"], responses=error_responses(401))
def datasets(platform: PlatformDep) -> dict:
    """The datasets a spec may name: the built-in ones (`digits`, `photos`: with what they hold) first, then the
    server's --dataset NAME=PATH folders, then the uploaded ones (with image counts, classes, channels, a few
    thumbnails' ids and the files their upload skipped)."""
    return {"datasets": platform.dataset_views()}


@router.post(
    "/api/datasets",
    response_model=DatasetView,
    status_code=201,
    tags=["datasets"],
    openapi_extra=UPLOAD_BODY,
    responses=error_responses(400, 401, 409, 413, 422),
)
async def upload_dataset(platform: PlatformDep, request: Request) -> dict:
    """Upload a dataset: `name` and one or more `files` (zip archives and / or image files, multipart). Unreadable
    files are skipped and listed in `skipped`; the same content uploaded again is stored once. Refused: 409 for a
    name in use, 413 over the server's limits (GET /api/health `limits`), 422 naming the field otherwise (a bad
    name, a corrupt archive, no readable image). Nothing is listed until every image has been decoded."""
    limits = platform.dataset_limits()  # (the body's size: the BodyLimit middleware)
    try:
        form = await request.form(max_files=limits.files + 1, max_fields=16, max_part_size=1 << 16)
    except MultiPartException as exc:
        raise Refused(400, f"the body is not a readable multipart form: {exc}", ["body"]) from None
    except AssertionError:  # not multipart at all (Starlette asserts the content type)
        raise Refused(400, "send the dataset as multipart/form-data (fields name and files)", ["body"]) from None
    try:
        name = form.get("name")
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not isinstance(name, str) or not name:
            raise Refused(422, "the dataset needs a name (form field `name`)", ["body", "name"])
        if not files:
            raise Refused(422, "no files: send zip archives or image files as form field `files`", ["body", "files"])
        sources = [(f.filename or f"file-{i}", f.file) for i, f in enumerate(files)]
        return await asyncio.to_thread(platform.add_dataset, name, sources)
    finally:
        await form.close()


@router.delete("/api/datasets/{name}", status_code=204, tags=["datasets"], responses=error_responses(401, 404, 409))
def remove_dataset(platform: PlatformDep, name: str) -> Response:
    """Remove an uploaded dataset (its files go when no other name holds the same content). 409 for a built-in or
    --dataset one, or while a queued or running job reads it."""
    platform.remove_dataset(name)
    return Response(status_code=204)


@router.get(
    "/api/datasets/{name}/image",
    response_class=Response,
    tags=["datasets"],
    responses={200: {"content": {"image/png": {}}, "description": "PNG"}, **error_responses(401, 404, 422)},
)
def dataset_image(
    platform: PlatformDep, name: str, id: str = Query(min_length=1, description="an image id from a result")
) -> Response:
    """One image of a server dataset by the id results give it (`digits:17`, `photos:chelsea`, or a file of a
    --dataset folder or an uploaded dataset: `cats/a.png`), as a PNG thumbnail (at most 256 px)."""
    return Response(
        platform.dataset_image(name, id), media_type="image/png", headers={"Cache-Control": "public, max-age=3600"}
    )
