"""GET /api/atlases: the atlases in the result store, newest first (each one whole: GET /api/results/{hash})."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import PlatformDep
from ..errors import error_responses
from ..views import AtlasList

router = APIRouter()


@router.get("/api/atlases", response_model=AtlasList, tags=["results"], responses=error_responses(401))
def atlases(platform: PlatformDep) -> dict:
    """Every atlas in the result store (computed here, by `convscope atlas` on this data dir, or on a cluster
    writing to it), newest first: browse one with GET /api/results/{hash} or the web app's atlas page."""
    found = []
    for entry in reversed(platform.store.list("atlas")):
        result = platform.store.get(entry.key)
        if result is None:
            continue
        data = result.data
        found.append(
            {
                "hash": entry.key,
                "model": data["model"],
                "layers": [layer["name"] for layer in data["layers"]],
                "units": len(data["units"]),
                "images": data["images"],
                "dataset": platform.dataset_names.get(data.get("dataset"), data.get("dataset")),
                "top": data.get("top"),
                "steps": data["steps"],
                "seed": data.get("seed"),
                "created": entry.created,
            }
        )
    return {"atlases": found}
