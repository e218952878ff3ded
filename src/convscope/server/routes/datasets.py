"""/api/datasets: the datasets a spec may name, and their images by the ids results give them."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ...core.data import BUILTIN_DATASETS
from ..deps import PlatformDep
from ..errors import error_responses
from ..views import DatasetList

router = APIRouter()


@router.get("/api/datasets", response_model=DatasetList, tags=["datasets"], responses=error_responses(401))
def datasets(platform: PlatformDep) -> dict:
    """The datasets a spec may name: the built-in ones (`digits`, `photos`: with what they hold) first, then the
    server's --dataset NAME=PATH folders."""
    return {
        "datasets": [
            {"name": name, "kind": "builtin", "description": builtin.description}
            for name, builtin in BUILTIN_DATASETS.items()
        ]
        + [{"name": name, "kind": "folder"} for name in platform.config.datasets]
    }


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
    --dataset folder),
    as a PNG thumbnail (at most 256 px)."""
    return Response(
        platform.dataset_image(name, id), media_type="image/png", headers={"Cache-Control": "public, max-age=3600"}
    )
