"""/api/images and /api/samples: uploading images, reading them back, and the built-in example images."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..config import IMMUTABLE
from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import ImageView, SampleList

router = APIRouter()


@router.post(
    "/api/images",
    response_model=ImageView,
    status_code=201,
    tags=["images"],
    responses=error_responses(400, 401, 413, 422),
)
async def upload(platform: PlatformDep, request: Request, file: UploadFile = File(description="an image file")) -> dict:
    """Upload an image (PNG, JPEG, TIFF, WebP, ...; at most `max_upload_bytes` and `max_upload_pixels`);
    name it in a spec by the returned id."""
    limit = platform.config.max_upload_bytes
    data = bytearray()
    while chunk := await file.read(1 << 20):
        data += chunk
        if len(data) > limit:
            raise Refused(413, f"upload is larger than {limit} bytes")
    if not data:
        raise Refused(422, "the uploaded file is empty (0 bytes)", ["body", "file"])
    return await asyncio.to_thread(platform.save_upload, bytes(data))


class DatasetImage(BaseModel):
    dataset: str = Field(min_length=1, description="a dataset the server offers (GET /api/datasets)")
    id: str = Field(min_length=1, description="an image id of it, as results give it (`photos:chelsea`, `cats/a.png`)")


@router.post(
    "/api/images/from-dataset",
    response_model=ImageView,
    status_code=201,
    tags=["images"],
    responses=error_responses(400, 401, 404, 413, 422),
)
async def from_dataset(platform: PlatformDep, body: DatasetImage) -> dict:
    """One image of a dataset as an uploaded image (its original file; a built-in one as PNG), so that a page on
    one image (attribution, prediction) can name it by the returned id: how a misclassified image of an evaluation
    is explained."""
    return await asyncio.to_thread(platform.dataset_original, body.dataset, body.id)


@router.get(
    "/api/images/{image_id}",
    response_class=FileResponse,
    tags=["images"],
    responses={200: {"content": {"image/*": {}}, "description": "the uploaded file"}, **error_responses(401, 404)},
)
def image(platform: PlatformDep, image_id: str):
    """An uploaded image, as uploaded (immutable: its id is the sha256 of its bytes)."""
    from PIL import Image

    path = platform.upload_path(image_id)
    with Image.open(path) as opened:
        media_type = Image.MIME.get(opened.format or "", "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": IMMUTABLE})


@router.get("/api/samples", response_model=SampleList, tags=["images"], responses=error_responses(401))
async def samples(platform: PlatformDep) -> dict:
    """Example images to run on (uploaded on first use): chelsea (an Egyptian cat), coffee, astronaut, digits."""
    return {"samples": await asyncio.to_thread(platform.samples)}
