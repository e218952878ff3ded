"""GET /api/health: liveness and what the server offers."""

from __future__ import annotations

from fastapi import APIRouter

from ...core.version import __version__
from ..deps import PlatformDep
from ..errors import error_responses
from ..views import Health

router = APIRouter()


@router.get("/api/health", response_model=Health, tags=["server"], responses=error_responses(401))
def health(platform: PlatformDep) -> dict:
    """Liveness and what the server offers."""
    config = platform.config
    jobs = platform.long.jobs() + platform.quick.jobs()
    return {
        "status": "ok",
        "version": __version__,
        "device": config.device,
        "models": [*config.models, *(m["name"] for m in platform.models.list())],  # served, then uploaded
        "model_uploads": config.allow_model_upload,
        "limits": {
            "image_bytes": config.max_upload_bytes,
            "image_pixels": config.max_upload_pixels,
            "dataset_files": config.max_dataset_files,
            "dataset_bytes": config.max_dataset_bytes,
            "model_bytes": getattr(config, "max_model_bytes", 1 << 30),
        },
        "jobs": {
            "queued": sum(j.state == "queued" for j in jobs),
            "running": sum(j.state == "running" for j in jobs),
        },
    }
