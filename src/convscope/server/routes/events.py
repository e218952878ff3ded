"""A job's server-sent events (GET /api/jobs/{job_id}/events), the preview pictures its `preview` events point
to (GET /api/jobs/{job_id}/previews/{name}) and the history of those previews, to replay a run
(GET /api/jobs/{job_id}/previews). Apart from jobs.py: the streaming half of a job, with its own OpenAPI event
schema (`SSE_EVENT`)."""

from __future__ import annotations

import asyncio
import io
import urllib.parse

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel, Field

from ...core import jsonio
from ...core.units import ascii_int
from ...execution.jobs import MAX_PREVIEW_FRAMES, TERMINAL, Job
from ..deps import PlatformDep
from ..errors import Refused, error_responses

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: one server-sent event, as OpenAPI 3.2 describes an event stream (`itemSchema`); `data` is JSON text
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "enum": ["state", "progress", "preview"]},
        "id": {"type": "string"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "required": ["job", "state", "stage", "done", "total"],
                "properties": {
                    "job": {"type": "string"},
                    "state": {"type": "string"},
                    "stage": {"type": "string"},
                    "done": {"type": "integer"},
                    "total": {"type": "integer"},
                    "time": {"type": "number"},
                    "kind": {"type": "string"},
                    "error": {"type": ["string", "null"]},
                    "seq": {"type": "integer"},
                    "url": {"type": "string", "description": "a preview's picture"},
                },
            },
        },
    },
}


class PreviewFrameView(BaseModel):
    seq: int = Field(description="the preview's event number: fetch it with ?seq=")
    stage: str | None = Field(description="the progress stage it was made at (null: no report yet)")
    done: int | None = Field(description="units of `stage` done when it was made")
    total: int | None = Field(description="units of `stage` in all")
    url: str = Field(description="the picture (PNG)")


class PreviewHistory(BaseModel):
    name: str = Field(description="what the picture shows (a unit, `dream`, `sample` ...)")
    frames: list[PreviewFrameView] = Field(description="oldest first")


class PreviewList(BaseModel):
    """The preview pictures a job kept (at most `limit` per name, thinned evenly over the run beyond it); they live
    as long as the server remembers the job (not stored with the result)."""

    job: str | None = Field(description="the job they are of (null: no remembered job of that result has any)")
    limit: int = Field(MAX_PREVIEW_FRAMES, description="the most frames kept per name")
    previews: list[PreviewHistory]


def preview_list(job: Job | None) -> dict:
    """The PreviewList of a job (no job: an empty list)."""
    if job is None:
        return {"job": None, "limit": MAX_PREVIEW_FRAMES, "previews": []}
    histories = []
    for name, frames in list(job.preview_frames.items()):
        base = f"/api/jobs/{job.id}/previews/{urllib.parse.quote(name)}"
        histories.append(
            {
                "name": name,
                "frames": [
                    {"seq": f.seq, "stage": f.stage, "done": f.done, "total": f.total, "url": f"{base}?seq={f.seq}"}
                    for f in list(frames)
                ],
            }
        )
    return {"job": job.id, "limit": MAX_PREVIEW_FRAMES, "previews": histories}


router = APIRouter()


@router.get(
    "/api/jobs/{job_id}/events",
    response_class=StreamingResponse,
    tags=["jobs"],
    responses={
        200: {"content": {"text/event-stream": {"itemSchema": SSE_EVENT}}, "description": "events"},
        **error_responses(401, 404),
    },
)
async def events(platform: PlatformDep, job_id: str, last_event_id: str | None = Header(None)) -> StreamingResponse:
    """Server-sent events of a job: `state`, `progress` and `preview` events (data: JSON with `job`, `state`,
    `stage`, `done`, `total`, `time`, `error`, `seq`; previews add `url`, the latest picture of that name), each
    with its id (`seq`). Resume with the `Last-Event-ID` header; the stream ends after the terminal state
    (done, failed, cancelled). A comment line keeps an idle stream open every 15 s."""
    job = platform.job(job_id)
    after = ascii_int(last_event_id)  # only ASCII digits are an id (`²` is a digit to isdigit, not to int)
    after = 0 if after is None else after  # anything else is ignored: the whole stream
    if job is None:
        view = platform.job_view(job_id)  # 404 when unknown; a journaled job: its final state only
        final = {"job": job_id, "state": view["status"], "stage": "", "done": 0, "total": 0, "error": view["error"]}
        text = format_sse_event(data_str=jsonio.dumps(final, indent=None), event="state", id=str(after + 1))
        return StreamingResponse(iter([text]), media_type="text/event-stream", headers=SSE_HEADERS)
    runner = platform.runner_for(job.recipe)
    loop = asyncio.get_running_loop()
    pending: asyncio.Queue = asyncio.Queue()
    unsubscribe = runner.subscribe(lambda e: loop.call_soon_threadsafe(pending.put_nowait, e), job_id, replay=True)

    async def stream():
        try:
            while True:
                try:
                    event = await asyncio.wait_for(pending.get(), timeout=15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event.seq <= after:
                    if event.kind == "state" and event.state in TERMINAL:
                        return  # the client has seen the end (or named a later id): the stream ends
                    continue
                data = event.to_dict()
                if data.get("error"):
                    data["error"] = platform.models.hide(data["error"])  # an uploaded model by its name, not its path
                if event.kind == "preview":
                    data["url"] = f"/api/jobs/{job_id}/previews/{urllib.parse.quote(event.stage)}?v={event.seq}"
                yield format_sse_event(data_str=jsonio.dumps(data, indent=None), event=event.kind, id=str(event.seq))
                if event.kind == "state" and event.state in TERMINAL:
                    return
        finally:
            unsubscribe()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get(
    "/api/jobs/{job_id}/previews/{name}",
    response_class=Response,
    tags=["jobs"],
    responses={200: {"content": {"image/png": {}}, "description": "PNG"}, **error_responses(401, 404)},
)
def preview(
    platform: PlatformDep,
    job_id: str,
    name: str,
    seq: int | None = Query(None, ge=0, description="a kept frame (see GET .../previews); default: the latest"),
) -> Response:
    """The latest intermediate picture `name` of a job, or with `seq` one of its kept frames (PNG; not stored)."""
    job = platform.job(job_id)
    if job is None:
        platform.job_view(job_id)  # 404 "no job" when unknown
    if job is None or name not in job.previews:
        raise Refused(404, f"no preview `{name}` of job {job_id}")
    from ...core.images import tensor_to_pil

    buffer = io.BytesIO()
    image = job.previews[name]
    if seq is not None:
        kept = next((f for f in list(job.preview_frames.get(name, ())) if f.seq == seq), None)
        if kept is None:
            raise Refused(404, f"seq: no kept frame {seq} of preview `{name}` of job {job_id}")
        image = kept.image
    (image if hasattr(image, "save") else tensor_to_pil(image.detach().float().cpu())).save(buffer, "PNG")
    return Response(buffer.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/jobs/{job_id}/previews",
    response_model=PreviewList,
    tags=["jobs"],
    responses=error_responses(401, 404),
)
def previews(platform: PlatformDep, job_id: str) -> dict:
    """The preview pictures a job kept, per name, oldest first (to replay its progress); empty for a job of the
    journal (from before a restart: previews are not stored)."""
    job = platform.job(job_id)
    if job is None:
        platform.job_view(job_id)  # 404 "no job" when unknown
    return preview_list(job)
