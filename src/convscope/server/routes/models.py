"""/api/models: the models a spec may name, and a model's layer graph."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import RESULT_VIEWS, ModelList

router = APIRouter()


@router.get("/api/models", response_model=ModelList, tags=["models"], responses=error_responses(401))
def models(platform: PlatformDep) -> dict:
    """The models a spec may name (loaded on first use)."""
    loaded = {key[0] for key in platform.long.subjects._subjects} | {
        key[0] for key in platform.quick.subjects._subjects
    }
    return {"models": [{"name": name, "loaded": name in loaded} for name in platform.config.models]}


@router.get(
    "/api/models/{model}/layers",
    response_model=RESULT_VIEWS["layers"],
    tags=["models"],
    responses=error_responses(401, 404, 422),
)
def layers(platform: PlatformDep, model: str) -> dict:
    """The layer graph of a model (the `layers` recipe's JSON: types, kernels, strides, shapes, nesting), built
    from the architecture alone (random weights), so it answers even where the model's weights are missing."""
    config = platform.config
    if model not in config.models:
        raise Refused(404, f"model `{model}` is not offered by this server; models: {', '.join(config.models)}")
    # the layer graph does not depend on the weights: built without them (no weights file needed, faster)
    spec = platform.admit("layers", {"model": {"spec": model, "weights": "none"}})
    job = platform.quick.submit(spec, config.device)
    job = platform.quick.wait(job.id)
    if job.state != "done":
        raise Refused(422, job.error or f"layers {job.state}")
    return platform.result_view(job.key, job.result)
