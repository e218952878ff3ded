"""/api/jobs: the jobs of this server (this process's and the journal's), one job, and cancelling one. A job's
event stream and previews are in events.py."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ...execution.jobs import Job
from ..deps import PlatformDep
from ..errors import error_responses
from ..views import CancelView, JobList, JobView

router = APIRouter()


@router.get("/api/jobs", response_model=JobList, tags=["jobs"], responses=error_responses(401, 422))
def jobs(
    platform: PlatformDep,
    limit: int = Query(100, ge=1, le=1000, description="the most recent jobs, at most this many"),
) -> dict:
    """The most recent jobs of this server (this process's and, before them, the journal's), oldest first."""
    live = {job.id: job for job in platform.long.jobs() + platform.quick.jobs()}
    recorded = [r for r in platform.journal.list(limit) if r["id"] not in live]
    newest = sorted([*recorded, *live.values()], key=lambda j: j["created"] if isinstance(j, dict) else j.created)
    return {"jobs": [platform.view(j) if isinstance(j, Job) else platform.record_view(j) for j in newest[-limit:]]}


@router.get("/api/jobs/{job_id}", response_model=JobView, tags=["jobs"], responses=error_responses(401, 404))
def job(platform: PlatformDep, job_id: str) -> dict:
    """One job: state, progress, result (when done) or error (when failed)."""
    return platform.job_view(job_id)


@router.delete("/api/jobs/{job_id}", response_model=CancelView, tags=["jobs"], responses=error_responses(401, 404))
def cancel(platform: PlatformDep, job_id: str) -> dict:
    """Cancel a job: a queued one never starts, a running one stops at its next step (nothing stored)."""
    job = platform.job(job_id)
    if job is None:
        view = platform.job_view(job_id)  # 404 when unknown
        return {"id": job_id, "status": view["status"], "cancelled": False}
    runner = platform.runner_for(job.recipe)
    cancelled = runner.cancel(job_id)
    return {"id": job_id, "status": job.state, "cancelled": cancelled}
