"""/api/models: the models a spec may name (the server's own, then the uploaded ones), uploading and removing
models (`convscope serve --allow-model-upload`: execution.models.ModelLibrary validates them), a model's layer
graph."""

from __future__ import annotations

import asyncio
import threading

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from ...core import zoo
from ...core.errors import ConvscopeError, UploadError
from ...execution.models import MAX_LABEL_BYTES
from ..deps import PlatformDep
from ..errors import Refused, error_responses
from ..views import RESULT_VIEWS, ModelList, ModelView

router = APIRouter()

UPLOADS_OFF = "model uploads are off on this server: start it with `convscope serve --allow-model-upload`"
_ARCHITECTURES: dict[str, dict] = {}  # a served spec -> its channels, size, classes (built once per process)
_ARCHITECTURES_LOCK = threading.Lock()


def _architecture(spec: str) -> dict:
    """{channels, size, classes} of a served model spec, from its architecture alone (weights none), built once per
    server process; nulls when it does not build (a request naming it then says why)."""
    with _ARCHITECTURES_LOCK:
        if spec not in _ARCHITECTURES:
            try:
                subject = zoo.load(spec, "none")
                labels = subject.labels
                _ARCHITECTURES[spec] = {
                    "channels": subject.input.channels,
                    "size": list(subject.input.size),
                    "classes": len(labels) if labels else None,
                }
            except ConvscopeError:
                _ARCHITECTURES[spec] = {"channels": None, "size": None, "classes": None}
        return _ARCHITECTURES[spec]


def _loaded(platform) -> set[str]:
    """The model specs a runner's pool holds a Subject of."""
    return {key[0] for runner in (platform.long, platform.quick) for key in list(runner.subjects._subjects)}


def _uploaded_view(platform, info: dict, loaded: set[str]) -> dict:
    return {
        "name": info["name"],
        "loaded": platform.models.spec(info["name"]) in loaded,
        "kind": "uploaded",
        "arch": info["arch"],
        "channels": info["channels"],
        "size": info["size"],
        "classes": info["classes"],
    }


@router.get("/api/models", response_model=ModelList, tags=["models"], responses=error_responses(401))
def models(platform: PlatformDep) -> dict:
    """The models a spec may name (loaded on first use): the server's own (`builtin`: default, digits; `spec`: the
    others it was started with), then the uploaded ones; each with its input channels, size and class count."""
    loaded = _loaded(platform)
    served = [
        {
            "name": name,
            "loaded": name in loaded,
            "kind": "builtin" if name in zoo.BUILTIN else "spec",
            **_architecture(name),
        }
        for name in platform.config.models
    ]
    return {"models": served + [_uploaded_view(platform, m, loaded) for m in platform.models.list()]}


@router.post(
    "/api/models",
    response_model=ModelView,
    status_code=201,
    tags=["models"],
    responses=error_responses(400, 401, 403, 409, 413, 422),
)
async def upload_model(
    platform: PlatformDep,
    name: str = Form(
        description="the model's name in specs: 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)"
    ),
    weights: UploadFile = File(description="a .safetensors state dict, or a safetensors convscope checkpoint"),
    arch: str | None = Form(None, description="timm:NAME or torchvision:NAME (optional for a convscope checkpoint)"),
    labels: UploadFile | None = File(None, description="class names: UTF-8 text, one per line, or a JSON list"),
) -> dict:
    """Add a model (when the server allows it: `convscope serve --allow-model-upload`): an architecture and its
    weights as safetensors (never a pickle: torch files are refused unread), optional labels. Validated before it
    is listed: the architecture builds, the weights fit it strictly, a dry run on a zero image passes with finite
    outputs, the labels count equals the outputs. 403 when uploads are off, 409 for a name in use, 413 over
    `max_model_bytes`, 422 naming the field (`name`, `arch`, `weights`, `labels`) otherwise."""
    config = platform.config
    if not config.allow_model_upload:
        raise Refused(403, UPLOADS_OFF)
    limit = config.max_model_bytes
    staged = platform.models.staging_file()
    try:
        size = await asyncio.to_thread(_copy_limited, weights.file, staged, limit)
        if size > limit:
            raise Refused(
                413, f"the weights are larger than this server's limit of {limit:,} bytes", ["body", "weights"]
            )
        if size == 0:
            raise Refused(422, "the weights file is empty (0 bytes)", ["body", "weights"])
        text = None
        if labels is not None:
            text = await labels.read(MAX_LABEL_BYTES + 1)
            if len(text) > MAX_LABEL_BYTES:
                raise Refused(413, f"the labels file is larger than {MAX_LABEL_BYTES:,} bytes", ["body", "labels"])
            if not text and not labels.filename:
                text = None  # an empty optional file field: no labels
        taken = [*config.models, *zoo.BUILTIN]
        try:
            info = await asyncio.to_thread(
                platform.models.add, name, arch or None, staged, text, limit, taken, weights.filename, True
            )
        except UploadError as exc:
            raise Refused(exc.status, str(exc), ["body", exc.field]) from None
    finally:
        staged.unlink(missing_ok=True)
    return _uploaded_view(platform, info, set())


@router.delete("/api/models/{name}", status_code=204, tags=["models"], responses=error_responses(401, 403, 404, 409))
def remove_model(platform: PlatformDep, name: str) -> Response:
    """Remove an uploaded model (when the server allows uploads; its file goes when no other name holds the same
    content). A job running on it finishes; later requests naming it are refused. 409 for a model the server was
    started with, 404 for an unknown name."""
    config = platform.config
    if not config.allow_model_upload:
        raise Refused(403, UPLOADS_OFF)
    if name in config.models:
        raise Refused(409, f"model `{name}` is one this server was started with, not an uploaded one: not removed")
    spec = platform.models.spec(name)
    if spec is None:
        raise Refused(404, f"no uploaded model `{name}`")
    runners = (platform.long, platform.quick)
    in_use = any(not job.finished and spec in job.spec.model_dump_json() for r in runners for job in r.jobs())
    try:
        platform.models.remove(name, keep_file=in_use)
    except UploadError as exc:  # removed by another request meanwhile
        raise Refused(exc.status, str(exc)) from None
    if not in_use and platform.models.name_of(spec) is None:  # nothing names the file any more: free its Subjects
        for runner in runners:
            _evict(runner.subjects, spec)
    return Response(status_code=204)


def _evict(pool, spec: str) -> None:
    """Drop the pool's idle Subjects of `spec` (one leased by a run stays: that run holds it)."""
    with pool._lock:
        for key in [k for k in pool._subjects if k[0] == spec]:
            lock = pool._subjects[key][1]
            if lock.acquire(blocking=False):
                try:
                    del pool._subjects[key]
                finally:
                    lock.release()


def _copy_limited(source, target, limit: int) -> int:
    """Copy a file object into `target`, stopping once more than `limit` bytes came; the bytes read."""
    copied = 0
    with open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            copied += len(chunk)
            if copied > limit:
                break
            out.write(chunk)
    return copied


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
    if model not in config.models and platform.models.spec(model) is None:
        offered = [*config.models, *(m["name"] for m in platform.models.list())]
        raise Refused(404, f"model `{model}` is not offered by this server; models: {', '.join(offered)}")
    # the layer graph does not depend on the weights: built without them (no weights file needed, faster)
    spec = platform.admit("layers", {"model": {"spec": model, "weights": "none"}})
    job = platform.quick.submit(spec, config.device)
    job = platform.quick.wait(job.id)
    if job.state != "done":
        raise Refused(422, platform.models.hide(job.error or f"layers {job.state}"))
    return platform.result_view(job.key, job.result)
