"""The REST API (docs/server.md): FastAPI routes over two JobRunners sharing one ResultStore.

- `quick` (2 worker threads, its own SubjectPool) runs the interactive recipes (models, layers, predict,
  activations) so that they keep answering while `long` (1 worker per device, another SubjectPool) runs
  feature visualization and the other long recipes. A Subject is leased to one run at a time, so the two pools
  hold a model twice: the price of never queueing a prediction behind a 10-minute render.
- A spec arrives exactly as `--print-spec` prints it, except that images are named by upload id (or by a path
  inside an `--allow-root` folder), datasets by the server's names (or such a path), and models only from the
  server's list. `admit` checks all of that and answers 422 naming the field.
- Every state change of a job is journaled (data dir `jobs.sqlite`): after a restart a job interrupted by the
  stop reads `failed` ("interrupted: ..."), finished ones keep their result (from the store).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import ipaddress
import logging
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI, File, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core import jsonio
from ..core.data import confine, dataset_file
from ..core.errors import ConvscopeError, ImageError
from ..core.units import ascii_int
from ..core.version import __version__
from ..execution.jobs import TERMINAL, Job, JobJournal, JobRunner, UnknownJobError
from ..execution.store import ResultStore, default_data_dir
from ..recipes import registry
from ..recipes.base import FILE, ModelRef, Result, SubjectPool, reference_kind

log = logging.getLogger(__name__)

#: recipes answered by the `quick` runner (and, within `quick_wait_s`, inline in POST /api/runs)
QUICK = frozenset({"models", "layers", "predict", "activations"})
SEVERAL_LAYERS = frozenset({"selectivity", "activations"})  # recipes whose `layer` may name several, comma-separated
UPLOAD_ID = re.compile(r"^[0-9a-f]{64}$")
IMMUTABLE = "public, max-age=31536000, immutable"
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


@dataclass
class ServerConfig:
    """What `convscope serve` offers. `models`: the model specs a request may name (lazily loaded);
    `datasets`: NAME -> folder (plus the built-in `digits`); `allow_roots`: folders inside which a request may
    name image or dataset paths (nothing else on disk is reachable); `token`: bearer token required on every
    request (required when binding beyond loopback); `cors_origins`: allowed browser origins (none: CORS off)."""

    data_dir: Path | None = None
    models: list[str] = field(default_factory=lambda: ["default", "digits"])
    datasets: dict[str, str] = field(default_factory=dict)
    allow_roots: list[Path] = field(default_factory=list)
    token: str | None = None
    device: str = "cpu"
    cors_origins: list[str] = field(default_factory=list)
    max_upload_bytes: int = 32 * 1024 * 1024
    max_upload_pixels: int = 40_000_000
    quick_wait_s: float = 30.0
    keep_jobs: int = 1000


# --- response and request models (the OpenAPI contract) -----------------------------------------------------------
class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every 4xx / 5xx answer: `detail` is one line, or for 422 the list of failing fields."""

    detail: str | list[ErrorItem]


class Progress(BaseModel):
    stage: str
    done: int
    total: int


class ArtifactView(BaseModel):
    name: str
    media_type: str
    url: str


class ResultView(BaseModel):
    """A stored result: `data` as the CLI's JSON with every file path replaced by its artifact URL."""

    hash: str
    recipe: str
    data: dict[str, Any]
    artifacts: list[ArtifactView]


class AtlasSummary(BaseModel):
    hash: str = Field(description="the atlas result's key: GET /api/results/{hash} gives it whole")
    model: str
    layers: list[str]
    units: int
    dataset: str | None = Field(None, description="the dataset of the top examples (none: visualizations only)")
    images: int = Field(description="dataset images scanned for the top examples (0: visualizations only)")
    top: int | None = None
    steps: int
    seed: int | None = None
    created: float = Field(description="when it was stored (unix seconds)")


class AtlasList(BaseModel):
    atlases: list[AtlasSummary]


class JobView(BaseModel):
    id: str
    recipe: str
    hash: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    cached: bool = Field(description="the result came from the store: nothing ran")
    device: str
    progress: Progress = Field(description="the latest progress report, of whatever stage")
    stages: dict[str, Progress] = Field(
        default_factory=dict, description="the latest report of every stage (an atlas: units, shards, shard:steps)"
    )
    created: float
    started: float | None
    ended: float | None
    error: str | None
    result: ResultView | None


class JobList(BaseModel):
    jobs: list[JobView]


class RunRequest(BaseModel):
    """A recipe and its spec: exactly what `convscope <command> --print-spec` prints, images by upload id."""

    model_config = ConfigDict(extra="forbid")
    recipe: str = Field(min_length=1, examples=["predict"])
    spec: dict[str, Any] = Field(default_factory=dict, examples=[{"model": {"spec": "digits"}, "image": "<id>"}])


class RunResponse(BaseModel):
    job: str
    hash: str
    status: str
    cached: bool
    result: ResultView | None = None


class ImageView(BaseModel):
    id: str = Field(description="sha256 of the uploaded bytes; name the image by it in a spec")
    width: int
    height: int
    mode: str


class SampleView(ImageView):
    name: str


class SampleList(BaseModel):
    samples: list[SampleView]


class JobCounts(BaseModel):
    queued: int
    running: int


class Health(BaseModel):
    status: str
    version: str
    device: str
    models: list[str]
    jobs: JobCounts


class ModelView(BaseModel):
    name: str
    loaded: bool


class ModelList(BaseModel):
    models: list[ModelView]


class DatasetView(BaseModel):
    name: str
    kind: str = Field(description="builtin or folder")


class DatasetList(BaseModel):
    datasets: list[DatasetView]


class RecipeView(BaseModel):
    name: str
    version: int
    description: str
    schema_: dict[str, Any] = Field(alias="schema")


class RecipeList(BaseModel):
    recipes: list[RecipeView]


class CancelView(BaseModel):
    id: str
    status: str
    cancelled: bool = Field(description="false when the job had already finished")


class Refused(Exception):
    """A request refused with `status` and a message (422: with the field's location)."""

    def __init__(self, status: int, message: str, loc: list | None = None, kind: str = "value_error"):
        super().__init__(message)
        self.status, self.message, self.loc, self.kind = status, message, loc, kind

    def body(self) -> dict:
        if self.loc is None:
            return {"detail": self.message}
        return {
            "detail": [
                {
                    "loc": [str(x) if not isinstance(x, int) else x for x in self.loc],
                    "msg": self.message,
                    "type": self.kind,
                }
            ]
        }


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 413, 422)}


def _errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


# --- the application ----------------------------------------------------------------------------------------------
class Platform:
    """The server's state: store, runners, journal, uploads; and the spec policy (`admit`)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.data_dir = Path(config.data_dir or default_data_dir()).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_data_dir(self.data_dir)
        self.store = ResultStore(self.data_dir)
        self.uploads = self.data_dir / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.journal = JobJournal(self.data_dir / "jobs.sqlite")
        device = config.device
        self.long = JobRunner(self.store, {device: 1}, SubjectPool(), keep=config.keep_jobs, journal=self.journal)
        self.quick = JobRunner(self.store, {device: 2}, SubjectPool(), keep=config.keep_jobs, journal=self.journal)
        self.allow_roots = [Path(root).expanduser().resolve() for root in config.allow_roots]
        # every dataset a request may name reads only inside the allowed folders (a named one: its own folder
        # too), whichever recipe opens it (convscope.core.data.confine); named ones appear in results by their names
        self.dataset_names: dict[str, str] = {}
        for name, folder in config.datasets.items():
            real = confine(folder, [folder, *self.allow_roots], name=name)
            self.dataset_names[str(real)] = name
        self._samples: list[dict] | None = None

    def close(self) -> None:
        for runner in (self.long, self.quick):
            runner.shutdown(wait=True, cancel=True)
        self.journal.close()
        if not self._lock.closed:
            self._lock.close()  # releases the data dir for the next server

    # --- jobs -----------------------------------------------------------------------------------------------------
    def runner_for(self, recipe: str) -> JobRunner:
        return self.quick if recipe in QUICK else self.long

    def job(self, job_id: str) -> Job | None:
        for runner in (self.long, self.quick):
            try:
                return runner.get(job_id)
            except UnknownJobError:
                continue
        return None

    def job_view(self, job_id: str) -> dict:
        """A job of this process, else of the journal (404 when neither knows it)."""
        job = self.job(job_id)
        if job is not None:
            return self.view(job)
        record = self.journal.get(job_id)
        if record is None:
            raise Refused(404, f"no job {job_id}")
        return self.record_view(record)

    def record_view(self, record: dict) -> dict:
        """A journaled job (from before a restart): its record has a Job's fields; no progress; a done job's
        result from the store."""
        result = self.store.get(record["key"]) if record["state"] == "done" else None
        return self.view(SimpleNamespace(**record, stage="", done=0, total=0, stages={}, result=result))

    def view(self, job: Job | SimpleNamespace) -> dict:
        """The JobView fields of a job."""
        return {
            "id": job.id,
            "recipe": job.recipe,
            "hash": job.key,
            "status": job.state,
            "cached": job.from_store,
            "device": job.device,
            "progress": {"stage": job.stage, "done": job.done, "total": job.total},
            "stages": {name: {"stage": name, "done": d, "total": t} for name, (d, t) in job.stages.items()},
            "created": job.created,
            "started": job.started,
            "ended": job.ended,
            "error": job.error,
            "result": self.result_view(job.key, job.result) if job.result is not None else None,
        }

    def result_view(self, key: str, result: Result) -> dict:
        """The result with its file paths as artifact URLs and uploaded images as their ids (no server path)."""
        base = f"/api/artifacts/{key}"
        moved = result.moved_to(base)
        uploads = str(self.uploads) + "/"

        def hide(value):
            if isinstance(value, dict):
                return {k: hide(v) for k, v in value.items()}
            if isinstance(value, list):
                return [hide(v) for v in value]
            if isinstance(value, str) and value.startswith(uploads):
                return value[len(uploads) :]
            if isinstance(value, str) and value in self.dataset_names:  # a --dataset folder: by its name
                return self.dataset_names[value]
            return value

        return {
            "hash": key,
            "recipe": result.recipe,
            "data": hide(moved.data),
            "artifacts": [
                {"name": a.name, "media_type": a.media_type, "url": f"{base}/{urllib.parse.quote(a.name)}"}
                for a in result.artifacts
            ],
        }

    # --- the spec policy ------------------------------------------------------------------------------------------
    def admit(self, recipe: str, fields: dict):
        """The Spec of a request, with upload ids and dataset names replaced by their paths; Refused (404 for an
        unknown recipe, 422 naming the field) otherwise."""
        entries = registry()
        if recipe not in entries or recipe.startswith("test-"):
            known = ", ".join(sorted(n for n in entries if not n.startswith("test-")))
            raise Refused(422, f"unknown recipe `{recipe}`; recipes: {known}", ["body", "recipe"])
        spec_class = entries[recipe].spec
        try:
            spec = spec_class.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", "spec", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
        rewritten = {}
        for name, info in spec_class.model_fields.items():
            value = getattr(spec, name)
            kind = reference_kind(info)
            loc = ["body", "spec", name]
            if isinstance(value, ModelRef):
                self._check_model(value, loc)
            elif kind is not None and value is not None:
                many = isinstance(value, (list, tuple))
                items = [
                    self._image(v, loc + ([i] if many else [])) if kind == FILE else self._dataset(v, loc)
                    for i, v in enumerate(value if many else [value])
                ]
                rewritten[name] = items if many else items[0]
        if recipe == "inverse-set":
            rewritten["generator"] = self._generator(spec.generator, ["body", "spec", "generator"])
        if not rewritten:
            return spec
        return spec_class.model_validate({**spec.model_dump(mode="json"), **rewritten})

    def preflight(self, spec) -> None:
        """Check what a spec names against its model before the job is queued, so that a typo is a 422 naming the
        field at once rather than a failed job later: the model itself (its weights load), `layer` (several
        separated by commas for selectivity and activations), `layers` (attribute), `code_layer`,
        `encoder_layer`, `channels` (of each `layer`), `classes`, `target` (LAYER:UNIT, or a class index for
        attribute and examples), `constraints` (LAYER:UNIT:Z1:Z2), patch sizes against the input size, the atlas's
        `layers` and `channels`, and every size a run renders at against the layers it reads (visualize's and the
        atlas's `size`, DeepDream's octaves: too small, or not the size a fixed-size model such as a ViT takes).
        Uses the quick pool's Subject (loading the model on first use)."""
        from ..core.subject import LOGITS
        from ..core.units import parse_unit, parse_unit_range

        model = getattr(spec, "model", None)
        if not isinstance(model, ModelRef):
            return

        def at(name, index=None):
            return ["body", "spec", name] + ([index] if index is not None else [])

        def refuse(exc: Exception, loc: list):
            return Refused(422, " ".join(str(exc).split()), loc)

        try:
            lease = self.quick.subjects.lease(model, self.config.device)
        except ConvscopeError as exc:
            raise refuse(exc, at("model")) from None
        with lease as subject:
            checks = []
            layer = getattr(spec, "layer", None)
            names = []
            if isinstance(layer, str):
                names = [n.strip() for n in layer.split(",")] if spec.recipe in SEVERAL_LAYERS else [layer]
                checks += [(at("layer"), lambda n=n: subject.resolve(n)) for n in names]
            if spec.recipe == "attribute" and spec.layers not in ("all", "none"):
                checks += [(at("layers"), lambda n=n: subject.resolve(n.strip())) for n in spec.layers.split(",")]
            for name in ("code_layer", "encoder_layer"):
                if isinstance(getattr(spec, name, None), str):
                    checks.append((at(name), lambda name=name: subject.resolve(getattr(spec, name))))
            channels = getattr(spec, "channels", None)
            if channels and spec.recipe != "selectivity":
                checks += [
                    (at("channels"), lambda n=n: subject.check_channels(subject.resolve(n), channels)) for n in names
                ]
            if getattr(spec, "classes", None):
                checks.append((at("classes"), lambda: subject.check_channels(LOGITS, spec.classes)))
            target = getattr(spec, "target", None)
            if isinstance(target, int):
                checks.append((at("target"), lambda: subject.check_channels(LOGITS, [target])))
            elif isinstance(target, str):
                checks.append((at("target"), lambda: _check_unit(subject, parse_unit(target, "target"))))
            for i, text in enumerate(getattr(spec, "constraints", None) or []):
                checks.append(
                    (
                        at("constraints", i),
                        lambda t=text, i=i: _check_unit(subject, parse_unit_range(t, f"constraints[{i}]")),
                    )
                )
            if spec.recipe == "visualize" and not (spec.layer or spec.classes):
                checks.append((at("layer"), lambda: _refuse_plain("visualize needs a layer (or classes)")))
            if spec.recipe == "attribute" and spec.method == "gradcam" and spec.layer:
                checks.append((at("layer"), lambda: _spatial_layer(subject, spec.layer)))
            side = min(subject.input.size)
            if spec.recipe == "attribute" and spec.method == "occlusion" and (spec.patch or 0) > side:
                checks.append((at("patch"), lambda: _too_big("patch", spec.patch, side)))
            if spec.recipe == "examples" and spec.patches and spec.patch_size > side:
                checks.append((at("patch_size"), lambda: _too_big("patch_size", spec.patch_size, side)))
            if spec.recipe == "atlas":
                if spec.layers.strip() != "all":
                    checks += [(at("layers"), lambda n=n: subject.resolve(n.strip())) for n in spec.layers.split(",")]
                checks.append((at("channels"), lambda: _atlas_units(subject, spec)))
            # every size a run renders at (not the model's own): visualize's and the atlas's `size`, DeepDream's
            # octaves (from the image's size): too small, or another size than a fixed-size model takes
            if spec.recipe in ("visualize", "atlas") and spec.size is not None:
                checks.append((at("size"), lambda: subject.check_size(spec.size, _rendered_layers(subject, spec))))
            if spec.recipe == "dream":
                dreamed = {}
                checks.append((at("image"), lambda: dreamed.update(image=_native_image(subject, spec))))
                checks.append((at("octaves"), lambda: _octaves_fit(subject, spec, dreamed["image"])))
            for loc, check in checks:
                try:
                    check()
                except ConvscopeError as exc:
                    raise refuse(exc, loc) from None

    def _check_model(self, ref: ModelRef, loc: list) -> None:
        if ref.spec not in self.config.models:
            raise Refused(
                422,
                f"model `{ref.spec}` is not offered by this server; models: {', '.join(self.config.models)}",
                loc + ["spec"],
            )
        weights = ref.weights
        if weights not in ("default", "none") and not re.fullmatch(r"none:[0-9]{1,19}", weights):
            raise Refused(
                422,
                "weights must be default, none or none:SEED (weights files are not taken from requests)",
                loc + ["weights"],
            )

    def _image(self, value: str, loc: list) -> str:
        if UPLOAD_ID.match(value):
            path = self.uploads / value
            if not path.is_file():
                raise Refused(422, f"no uploaded image with id {value}; upload it with POST /api/images", loc)
            return str(path)
        return str(self._inside_roots(value, loc, "image"))

    def _dataset(self, value: str, loc: list) -> str:
        """A dataset reference as the recipes read it: `digits`, a --dataset folder or a folder inside the allowed
        ones, resolved, and confined to them (convscope.core.data.confine: a file behind a link that leads out is
        skipped and reported by every recipe that reads the dataset, never opened)."""
        if value == "digits":
            return value
        if value in self.config.datasets:
            folder = self.config.datasets[value]
            return str(confine(folder, [folder, *self.allow_roots], name=value))
        if not self.allow_roots:
            names = ", ".join(["digits", *self.config.datasets])
            raise Refused(422, f"unknown dataset `{value}`; datasets: {names}", loc)
        path = self._inside_roots(value, loc, "dataset")
        if not path.is_dir():
            raise Refused(422, f"dataset path `{value}` is not a folder", loc)
        return str(confine(path, self.allow_roots))

    def _generator(self, value: str, loc: list) -> str:
        if value.startswith("file:"):
            return "file:" + str(self._inside_roots(value[5:], loc, "generator file"))
        if value.startswith("trained:"):
            return "trained:" + self._dataset(value[8:], loc)
        return value

    def _inside_roots(self, value: str, loc: list, what: str) -> Path:
        if not self.allow_roots:
            raise Refused(
                422, f"{what} paths are not accepted by this server (no --allow-root); upload images instead", loc
            )
        try:
            path = Path(value).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            raise Refused(422, f"{what} path `{value}` cannot be resolved", loc) from None
        if not any(path == root or root in path.parents for root in self.allow_roots):
            raise Refused(422, f"{what} path `{value}` is outside the allowed folders", loc)
        if not path.exists():
            raise Refused(422, f"{what} path `{value}` does not exist", loc)
        return path

    def dataset_image(self, name: str, image_id: str) -> bytes:
        """PNG bytes of one image of a dataset the server offers (digits, or a --dataset folder), at most 256 px."""
        from PIL import Image

        buffer = io.BytesIO()
        if name == "digits":
            from ..core.digits import load_data

            data = load_data()
            index = ascii_int(image_id.removeprefix("digits:")) if image_id.startswith("digits:") else None
            if index is None or index >= len(data.images):
                raise Refused(404, f"no image {image_id} in dataset digits")
            pixels = (data.images[index, 0].numpy() * 255).round().astype("uint8")
            Image.fromarray(pixels).save(buffer, "PNG")
            return buffer.getvalue()
        if name not in self.config.datasets:
            raise Refused(404, f"no dataset {name}; datasets: {', '.join(['digits', *self.config.datasets])}")
        path = dataset_file(self.config.datasets[name], image_id)  # a file of it, inside the allowed folders
        if path is None:
            raise Refused(404, f"no image {image_id} in dataset {name}")
        from ..core.images import open_image, to_mode

        try:
            image = to_mode(open_image(path), 3)
        except ImageError:
            raise Refused(404, f"image {image_id} of dataset {name} cannot be read") from None
        image.thumbnail((256, 256))
        image.save(buffer, "PNG")
        return buffer.getvalue()

    # --- uploads --------------------------------------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """Built-in example images (skimage's chelsea, coffee, astronaut; three test digits), uploaded on first
        use, so every page has something to run on."""
        if self._samples is None:
            import numpy as np
            from PIL import Image
            from skimage import data as skdata

            from ..core.digits import load_data

            pictures = [(name, Image.fromarray(getattr(skdata, name)())) for name in ("chelsea", "coffee", "astronaut")]
            digits = load_data()
            for index in digits.test[:3].tolist():
                label = int(digits.labels[index])
                pixels = (digits.images[index, 0].numpy() * 255).round().astype(np.uint8)
                pictures.append((f"digit {label}", Image.fromarray(pixels)))
            found = []
            for name, picture in pictures:
                buffer = io.BytesIO()
                picture.save(buffer, "PNG")
                found.append({"name": name, **self.save_upload(buffer.getvalue())})
            self._samples = found
        return self._samples

    def upload_path(self, image_id: str) -> Path:
        path = self.uploads / image_id
        if not UPLOAD_ID.match(image_id) or not path.is_file():
            raise Refused(404, f"no uploaded image {image_id}")
        return path

    def save_upload(self, data: bytes) -> dict:
        from ..core.images import open_image

        digest = hashlib.sha256(data).hexdigest()
        target = self.uploads / digest
        handle, temporary = tempfile.mkstemp(dir=self.uploads, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            limit = self.config.max_upload_pixels
            size = _header_size(temporary)  # from the header only: a decompression bomb costs nothing
            if size is None or size[0] * size[1] > limit:
                shown = f"{size[0]}x{size[1]} pixels" if size else "its header claims a huge size"
                raise Refused(413, f"image too large: {shown}; this server takes at most {limit:,} pixels")
            try:
                image = open_image(temporary, limit=limit)
            except ImageError as exc:
                raise Refused(422, str(exc).replace(temporary, "the upload"), ["body", "file"]) from None
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return {"id": digest, "width": image.width, "height": image.height, "mode": image.mode}


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 (JSON) — from its Content-Length
    before any byte is read, or, for a chunked body, as soon as the bytes received pass the limit (raised as an
    HTTPException from `receive`, inside the route, so the JSON error handler answers)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        declared = ascii_int(length)  # (bytes.isdigit is ASCII-only, but int() refuses more than 4300 digits)
        if declared is not None and declared > self.limit or declared is None and length.isdigit():
            shown = f"of {declared} bytes " if declared is not None else ""
            response = JSONResponse(
                {"detail": f"request body {shown}is larger than {self.limit} bytes"}, status_code=413
            )
            return await response(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                scope["convscope.body_too_large"] = self.limit  # (FastAPI's body parsing may re-raise as 400/422)
                raise StarletteHTTPException(413, f"request body is larger than {self.limit} bytes")
            return message

        return await self.app(scope, counted, send)


def _lock_data_dir(folder: Path):
    """An exclusive lock on `folder`/server.lock, held while the server lives: a second server on the same data dir
    would mark the first one's running jobs interrupted. Raises ConvscopeError naming the holder's pid."""
    import fcntl

    handle = open(folder / "server.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConvscopeError(
            f"data dir {folder} is in use by another convscope server (pid {holder}); use another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _plain(message: str) -> str:
    """pydantic's wording where it names Python classes, in words a person understands."""
    if "UploadFile" in message:
        return "a file is expected here: send it as the multipart/form-data field `file`"
    return message


def _header_size(path: str) -> tuple[int, int] | None:
    """(width, height) from an image file's header; None when Pillow calls it a decompression bomb; (0, 0) when it
    is no image Pillow knows (the full decoder then says what is wrong)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except Exception:  # not an image, truncated header ...: open_image reports it
        return (0, 0)


def _check_unit(subject, unit: tuple) -> None:
    """(layer, unit, ...) names a layer of the subject and a unit inside its channels."""
    subject.check_channels(subject.resolve(unit[0]), [unit[1]])


def _refuse_plain(message: str) -> None:
    raise ConvscopeError(message)


def _spatial_layer(subject, layer: str) -> None:
    """Grad-CAM's layer must give [C, H, W] maps."""
    shape = subject.graph.output_shape(subject.resolve(layer))
    if not isinstance(shape, list) or len(shape) != 3 or not all(isinstance(n, int) for n in shape):
        raise ConvscopeError(f"Grad-CAM needs a layer with a spatial [C, H, W] output; `{layer}` gives {shape}")


def _too_big(name: str, value: int, side: int) -> None:
    raise ConvscopeError(f"{name}={value} is larger than the model's input ({side} pixels)")


def _atlas_units(subject, spec) -> list:
    """The atlas's (layer, channels) (ConvscopeError naming the field for channels outside every layer)."""
    from ..recipes.atlas import _units

    return _units(subject, spec)


def _rendered_layers(subject, spec) -> list[str]:
    """The layers a visualize or atlas spec's objectives read (logits for classes)."""
    from ..core.subject import LOGITS

    if spec.recipe == "atlas":
        return [layer for layer, _ in _atlas_units(subject, spec)]
    return [LOGITS] if spec.classes else [spec.layer] if spec.layer else []


def _native_image(subject, spec):
    """DeepDream's image as the run reads it (at its own resolution, reduced to max_size)."""
    from ..recipes.visualize import load_image_native

    return load_image_native(spec.image, subject.input.channels, spec.max_size)


def _octaves_fit(subject, spec, image) -> None:
    """DeepDream's octave sizes reach its layer (a fixed-size model runs them all at its own size)."""
    from ..techniques.dream import octave_sizes

    height, width = image.shape[2:]
    octave_sizes(subject, (height, width), spec.octaves, spec.octave_scale, [subject.resolve(spec.layer)])


def _bind_error_response(exc: Refused) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI application for `config` (default: models default and digits, nothing on disk reachable)."""
    config = config or ServerConfig()
    platform = Platform(config)
    app = FastAPI(
        title="convscope",
        version=__version__,
        description="Look inside convolutional networks: every recipe over HTTP, with jobs, live progress and a "
        "result store (docs/server.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = platform
    app.router.add_event_handler("shutdown", platform.close)

    app.add_middleware(BodyLimit, limit=config.max_upload_bytes + (1 << 20))

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"], allow_headers=["*"])

    if config.token:
        expected = config.token.encode()

        cookie_value = hashlib.sha256(f"convscope:{config.token}".encode()).hexdigest()

        @app.middleware("http")
        async def bearer_token(request: Request, call_next):
            scheme, _, given_token = request.headers.get("authorization", "").partition(" ")
            given = given_token.strip().encode() if scheme.lower() == "bearer" else b""
            query = request.query_params.get("token")
            if query is not None and hmac.compare_digest(query.encode(), config.token.encode()):
                # a browser opens http://host:port/?token=TOKEN once; a cookie carries it from then on
                response = Response(status_code=303, headers={"Location": request.url.path})
                response.set_cookie("convscope_token", cookie_value, httponly=True, samesite="strict")
                return response
            cookie = request.cookies.get("convscope_token", "").encode()
            if not hmac.compare_digest(given, expected) and not hmac.compare_digest(cookie, cookie_value.encode()):
                return JSONResponse(
                    {"detail": "a bearer token is required: Authorization: Bearer <token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return await call_next(request)

    # --- errors: one line or the failing fields; never a traceback ------------------------------------------------
    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused):
        return _bind_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if "convscope.body_too_large" in request.scope:
            limit = request.scope["convscope.body_too_large"]
            return JSONResponse({"detail": f"request body is larger than {limit} bytes"}, status_code=413)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            where = next(e for e in errors if e.get("type") == "json_invalid")
            reason = (where.get("ctx") or {}).get("error", "not JSON")
            return JSONResponse({"detail": f"malformed JSON body: {reason}"}, status_code=400)
        items = [
            {
                "loc": [x if isinstance(x, int) else str(x) for x in e.get("loc", ())],
                "msg": _plain(str(e.get("msg", "invalid")).removeprefix("Value error, ")),
                "type": str(e.get("type", "value_error")),
            }
            for e in errors
        ]
        return JSONResponse({"detail": items}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ConvscopeError)
    async def convscope_error(_: Request, exc: ConvscopeError):
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception):
        log.exception("internal error")
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)

    # --- routes ---------------------------------------------------------------------------------------------------
    @app.get("/api/health", response_model=Health, tags=["server"], responses=_errors(401))
    def health() -> dict:
        """Liveness and what the server offers."""
        jobs = platform.long.jobs() + platform.quick.jobs()
        return {
            "status": "ok",
            "version": __version__,
            "device": config.device,
            "models": config.models,
            "jobs": {
                "queued": sum(j.state == "queued" for j in jobs),
                "running": sum(j.state == "running" for j in jobs),
            },
        }

    @app.get("/api/models", response_model=ModelList, tags=["models"], responses=_errors(401))
    def models() -> dict:
        """The models a spec may name (loaded on first use)."""
        loaded = {key[0] for key in platform.long.subjects._subjects} | {
            key[0] for key in platform.quick.subjects._subjects
        }
        return {"models": [{"name": name, "loaded": name in loaded} for name in config.models]}

    @app.get(
        "/api/models/{model}/layers",
        response_model=ResultView,
        tags=["models"],
        responses=_errors(401, 404, 422),
    )
    def layers(model: str) -> dict:
        """The layer graph of a model (the `layers` recipe's JSON: types, kernels, strides, shapes, nesting), built
        from the architecture alone (random weights), so it answers even where the model's weights are missing."""
        if model not in config.models:
            raise Refused(404, f"model `{model}` is not offered by this server; models: {', '.join(config.models)}")
        # the layer graph does not depend on the weights: built without them (no weights file needed, faster)
        spec = platform.admit("layers", {"model": {"spec": model, "weights": "none"}})
        job = platform.quick.submit(spec, config.device)
        job = platform.quick.wait(job.id)
        if job.state != "done":
            raise Refused(422, job.error or f"layers {job.state}")
        return platform.result_view(job.key, job.result)

    @app.get("/api/datasets", response_model=DatasetList, tags=["datasets"], responses=_errors(401))
    def datasets() -> dict:
        """The datasets a spec may name (`digits` is built in; others come from --dataset NAME=PATH)."""
        return {
            "datasets": [{"name": "digits", "kind": "builtin"}]
            + [{"name": name, "kind": "folder"} for name in config.datasets]
        }

    @app.get(
        "/api/datasets/{name}/image",
        response_class=Response,
        tags=["datasets"],
        responses={200: {"content": {"image/png": {}}, "description": "PNG"}, **_errors(401, 404, 422)},
    )
    def dataset_image(name: str, id: str = Query(min_length=1, description="an image id from a result")) -> Response:
        """One image of a server dataset by the id results give it (`digits:17`, or a file of a --dataset folder),
        as a PNG thumbnail (at most 256 px)."""
        return Response(
            platform.dataset_image(name, id), media_type="image/png", headers={"Cache-Control": "public, max-age=3600"}
        )

    @app.get("/api/recipes", response_model=RecipeList, tags=["recipes"], responses=_errors(401))
    def recipes() -> dict:
        """Every recipe: name, version (results change with it) and its spec's JSON Schema."""
        return {
            "recipes": [entry.to_dict() for name, entry in sorted(registry().items()) if not name.startswith("test-")]
        }

    @app.post(
        "/api/images",
        response_model=ImageView,
        status_code=201,
        tags=["images"],
        responses=_errors(400, 401, 413, 422),
    )
    async def upload(request: Request, file: UploadFile = File(description="an image file")) -> dict:
        """Upload an image (PNG, JPEG, TIFF, WebP, ...; at most `max_upload_bytes` and `max_upload_pixels`);
        name it in a spec by the returned id."""
        limit = config.max_upload_bytes
        data = bytearray()
        while chunk := await file.read(1 << 20):
            data += chunk
            if len(data) > limit:
                raise Refused(413, f"upload is larger than {limit} bytes")
        if not data:
            raise Refused(422, "the uploaded file is empty (0 bytes)", ["body", "file"])
        return await asyncio.to_thread(platform.save_upload, bytes(data))

    @app.get(
        "/api/images/{image_id}",
        response_class=FileResponse,
        tags=["images"],
        responses={200: {"content": {"image/*": {}}, "description": "the uploaded file"}, **_errors(401, 404)},
    )
    def image(image_id: str):
        """An uploaded image, as uploaded (immutable: its id is the sha256 of its bytes)."""
        from PIL import Image

        path = platform.upload_path(image_id)
        with Image.open(path) as opened:
            media_type = Image.MIME.get(opened.format or "", "application/octet-stream")
        return FileResponse(
            path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"}
        )

    @app.get("/api/samples", response_model=SampleList, tags=["images"], responses=_errors(401))
    async def samples() -> dict:
        """Example images to run on (uploaded on first use): chelsea (an Egyptian cat), coffee, astronaut, digits."""
        return {"samples": await asyncio.to_thread(platform.samples)}

    @app.post(
        "/api/runs",
        response_model=RunResponse,
        tags=["runs"],
        responses={202: {"model": RunResponse, "description": "queued or running"}, **_errors(400, 401, 422)},
    )
    async def submit(body: RunRequest) -> JSONResponse:
        """Run a recipe: `{"recipe", "spec"}` as `--print-spec` prints it. A stored result answers at once
        (`cached`); interactive recipes (models, layers, predict, activations) answer with the result inline
        (200); the others answer 202 with the job to follow (GET /api/jobs/{id}, its events)."""
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
            raise Refused(422, job.error or "the run failed", ["body", "spec"])
        payload = {
            "job": job.id,
            "hash": job.key,
            "status": job.state,
            "cached": job.from_store,
            "result": view["result"],
        }
        return JSONResponse(jsonable(payload), status_code=200 if job.finished else 202)

    @app.get("/api/jobs", response_model=JobList, tags=["jobs"], responses=_errors(401, 422))
    def jobs(limit: int = Query(100, ge=1, le=1000, description="the most recent jobs, at most this many")) -> dict:
        """The most recent jobs of this server (this process's and, before them, the journal's), oldest first."""
        live = {job.id: job for job in platform.long.jobs() + platform.quick.jobs()}
        recorded = [r for r in platform.journal.list(limit) if r["id"] not in live]
        newest = sorted([*recorded, *live.values()], key=lambda j: j["created"] if isinstance(j, dict) else j.created)
        return {"jobs": [platform.view(j) if isinstance(j, Job) else platform.record_view(j) for j in newest[-limit:]]}

    @app.get("/api/jobs/{job_id}", response_model=JobView, tags=["jobs"], responses=_errors(401, 404))
    def job(job_id: str) -> dict:
        """One job: state, progress, result (when done) or error (when failed)."""
        return platform.job_view(job_id)

    @app.delete("/api/jobs/{job_id}", response_model=CancelView, tags=["jobs"], responses=_errors(401, 404))
    def cancel(job_id: str) -> dict:
        """Cancel a job: a queued one never starts, a running one stops at its next step (nothing stored)."""
        job = platform.job(job_id)
        if job is None:
            view = platform.job_view(job_id)  # 404 when unknown
            return {"id": job_id, "status": view["status"], "cancelled": False}
        runner = platform.runner_for(job.recipe)
        cancelled = runner.cancel(job_id)
        return {"id": job_id, "status": job.state, "cancelled": cancelled}

    @app.get(
        "/api/jobs/{job_id}/events",
        response_class=StreamingResponse,
        tags=["jobs"],
        responses={
            200: {"content": {"text/event-stream": {"itemSchema": SSE_EVENT}}, "description": "events"},
            **_errors(401, 404),
        },
    )
    async def events(job_id: str, last_event_id: str | None = Header(None)) -> StreamingResponse:
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
                    if event.kind == "preview":
                        data["url"] = f"/api/jobs/{job_id}/previews/{urllib.parse.quote(event.stage)}?v={event.seq}"
                    yield format_sse_event(
                        data_str=jsonio.dumps(data, indent=None), event=event.kind, id=str(event.seq)
                    )
                    if event.kind == "state" and event.state in TERMINAL:
                        return
            finally:
                unsubscribe()

        return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    @app.get(
        "/api/jobs/{job_id}/previews/{name}",
        response_class=Response,
        tags=["jobs"],
        responses={200: {"content": {"image/png": {}}, "description": "PNG"}, **_errors(401, 404)},
    )
    def preview(job_id: str, name: str) -> Response:
        """The latest intermediate picture `name` of a running job (PNG; not stored)."""
        job = platform.job(job_id)
        if job is None:
            platform.job_view(job_id)  # 404 "no job" when unknown
        if job is None or name not in job.previews:
            raise Refused(404, f"no preview `{name}` of job {job_id}")
        from ..core.images import tensor_to_pil

        buffer = io.BytesIO()
        image = job.previews[name]
        (image if hasattr(image, "save") else tensor_to_pil(image.detach().float().cpu())).save(buffer, "PNG")
        return Response(buffer.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/atlases", response_model=AtlasList, tags=["results"], responses=_errors(401))
    def atlases() -> dict:
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

    @app.get("/api/results/{hash}", response_model=ResultView, tags=["results"], responses=_errors(401, 404))
    def result(hash: str) -> dict:
        """A stored result by its hash (the spec key)."""
        found = platform.store.get(hash) if re.fullmatch(r"[0-9a-f]{64}", hash) else None
        if found is None:
            raise Refused(404, f"no stored result {hash}")
        return platform.result_view(hash, found)

    @app.get(
        "/api/artifacts/{hash}/{name:path}",
        response_class=FileResponse,
        tags=["results"],
        responses={200: {"content": {"*/*": {}}, "description": "the file"}, **_errors(401, 404)},
    )
    def artifact(hash: str, name: str):
        """A file of a stored result; immutable (its URL holds the content's key), cached for a year."""
        found = platform.store.get(hash) if re.fullmatch(r"[0-9a-f]{64}", hash) else None
        entry = next((a for a in found.artifacts if a.name == name), None) if found is not None else None
        if entry is None:
            raise Refused(404, f"no artifact `{name}` in result {hash}")
        return FileResponse(
            Path(found.folder) / entry.name,
            media_type=entry.media_type,
            headers={"Cache-Control": IMMUTABLE},
        )

    _mount_docs(app)
    _mount_webapp(app)
    return app


def openapi_document() -> dict:
    """The OpenAPI document of the API (for the web app's generated client), from a throwaway app."""
    with tempfile.TemporaryDirectory(prefix="convscope-openapi-") as folder:
        app = create_app(ServerConfig(data_dir=Path(folder)))
        try:
            return app.openapi()
        finally:
            app.state.platform.close()


def jsonable(value: Any) -> Any:
    """Strict JSON values (NaN -> null with a warning), as every convscope output."""
    import json

    return json.loads(jsonio.dumps(value, indent=None))


def _mount_docs(app: FastAPI) -> None:
    """Interactive docs at /docs from swagger-ui files shipped in a Python package (no CDN: works offline)."""
    import swagger_ui
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(swagger_ui.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="convscope API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


#: where scripts/build_web.sh puts the built browser app
WEBAPP = Path(__file__).resolve().parent.parent / "webapp"


def _mount_webapp(app: FastAPI) -> None:
    """The browser app at / (its files are built by scripts/build_web.sh into the package); without them, a page
    that says how to build it."""
    from fastapi.staticfiles import StaticFiles

    if (WEBAPP / "index.html").is_file():
        app.mount("/", StaticFiles(directory=WEBAPP, html=True), name="webapp")
        return

    @app.get("/", include_in_schema=False)
    def not_built() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>convscope</title><h1>convscope</h1><p>The web app is not built: run "
            "<code>scripts/build_web.sh</code> (needs Node.js 20 or newer), then restart <code>convscope serve"
            "</code>. The REST API works without it: <a href='/docs'>/docs</a>.</p>"
        )


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
