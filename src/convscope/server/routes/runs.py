"""POST /api/runs: run a recipe on a spec (inline for the interactive recipes, else a job to follow)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...core import jsonio
from ..config import QUICK
from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..estimate import Estimate, estimate
from ..views import RunRequest, RunResponse

router = APIRouter()


@router.post(
    "/api/runs",
    response_model=RunResponse,
    tags=["runs"],
    responses={202: {"model": RunResponse, "description": "queued or running"}, **error_responses(400, 401, 422)},
)
async def submit(platform: PlatformDep, body: RunRequest) -> JSONResponse:
    """Run a recipe: `{"recipe", "spec"}` as `--print-spec` prints it. A stored result answers at once
    (`cached`); interactive recipes (models, layers, predict, activations) answer with the result inline
    (200); the others answer 202 with the job to follow (GET /api/jobs/{id}, its events)."""
    config = platform.config
    spec = platform.admit(body.recipe, body.spec)
    await asyncio.to_thread(platform.preflight, spec)
    runner = platform.runner_for(body.recipe)
    job = await asyncio.to_thread(runner.submit, spec, config.device)
    if body.recipe in QUICK and not job.finished:
        try:
            await asyncio.to_thread(runner.wait, job.id, config.quick_wait_s)
        except TimeoutError:
            pass
    view = platform.view(job)
    if job.state == "failed":
        raise Refused(422, view["error"] or "the run failed", ["body", "spec"])  # (no stored model's path)
    payload = {
        "job": job.id,
        "hash": job.key,
        "status": job.state,
        "cached": job.from_store,
        "result": view["result"],
    }
    return JSONResponse(jsonable(payload), status_code=200 if job.finished else 202)


@router.post("/api/runs/estimate", response_model=Estimate, tags=["runs"], responses=error_responses(400, 401, 422))
async def estimate_run(platform: PlatformDep, body: RunRequest) -> Estimate:
    """How long a run of `{"recipe", "spec"}` should take, before running it (nothing runs): the median seconds
    per unit of work (steps x image batches, steps x octaves ...; one run for the others) of the past jobs of the
    same recipe on the same model, times the spec's work; `basis` says what it rests on (a stored spec: 0 s;
    other models: a rough guide; none: null). `last` is the latest job of this very spec, if any (a page asks
    before rerunning a cancelled one). The spec is checked as POST /api/runs checks it (422 naming the field)."""
    from ...recipes.base import spec_key

    spec = platform.admit(body.recipe, body.spec)
    await asyncio.to_thread(platform.preflight, spec)
    key = await asyncio.to_thread(spec_key, spec)
    named = body.spec.get("model")
    model = str(named.get("spec", "default")) if isinstance(named, dict) else "default"
    records = await asyncio.to_thread(platform.journal.list, 1000)
    return estimate(body.recipe, spec.model_dump(mode="json"), key, records, stored=key in platform.store, model=model)


def jsonable(value: Any) -> Any:
    """Strict JSON values (NaN -> null with a warning), as every convscope output."""
    return json.loads(jsonio.dumps(value, indent=None))
