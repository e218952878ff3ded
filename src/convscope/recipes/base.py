"""The recipe contract that every surface calls (Python, CLI, REST API, distributed atlas).

Over 400 lines on purpose: the spec, the run context, the registry and the spec key are the one contract every
surface and the result store rely on (the typed results are in `recipes.results`).

- `Spec`: a frozen pydantic model of one request: typed fields, `Literal` choices, bounds; the model, images and
  datasets by reference (`ModelRef`, `ImagePath`, `DatasetRef`); no execution options (device, workers, output
  folder) in it.
- `run(spec, ctx) -> Result[Data]`: a recipe computes, writes its files through `ctx` and returns a JSON-ready
  `Result` (`data`, the command's JSON contract, typed by the recipe's data model — `recipes.results` —, and the
  named `artifacts` it wrote).
- `RunContext`: progress(stage, done, total), previews, a cancel token checked in every loop, the output folder
  (the artifact sink), the device and a pool of Subjects.
- `spec_key(spec)`: the hash of the canonical spec JSON + the recipe's version + convscope's version + content
  fingerprints of every file the spec only names (weights files, `file:` models, images, dataset files): the
  result store's key, so a result computed anywhere is found everywhere.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, cast

import xxhash
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.autograd_checks import NO_GRADIENT_ADVICE, model_form_error
from ..core.errors import Cancelled, ConvscopeError
from ..core.subject import Subject
from .results import Artifact, D, Result

#: field metadata marking a string as a reference whose content belongs in the spec key
FILE, DATASET = "file", "dataset"


class Reference:
    """Annotation on a spec field: the field names a file (`FILE`) or a dataset (`DATASET`, a folder or `digits`)
    whose content fingerprint enters `spec_key`."""

    def __init__(self, kind: str):
        self.kind = kind


def reference_kind(info) -> str | None:
    """FILE or DATASET when a spec field (a pydantic FieldInfo) names files or datasets — directly, in an Optional
    or in a list (`ImagePath | None`, `list[ImagePath]`) —, else None."""
    import typing

    for item in info.metadata:
        if isinstance(item, Reference):
            return item.kind
    pending = [info.annotation]
    while pending:
        annotation = pending.pop()
        for item in getattr(annotation, "__metadata__", ()):
            if isinstance(item, Reference):
                return item.kind
        pending.extend(typing.get_args(annotation))
    return None


ImagePath = Annotated[str, Reference(FILE), Field(min_length=1, description="an image file (path)")]
DatasetRef = Annotated[
    str,
    Reference(DATASET),
    Field(min_length=1, description="a folder of images (class sub-folders or plain), `digits` or `photos`"),
]


class Frozen(BaseModel):
    """Specs are immutable, take no unknown field and no NaN or infinity in any number."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ModelRef(Frozen):
    """A model by reference: the spec (`default`, `digits`, `timm:NAME`, `torchvision:NAME`, `file:PATH`), its
    weights (`default`, `none`, `none:SEED` or a file) and which output holds the class scores."""

    spec: str = Field("default", min_length=1)
    weights: str = Field("default", min_length=1)
    output: str | None = None


class Spec(Frozen):
    """Base class of every recipe's spec. `recipe` (a class variable) names the recipe it belongs to."""

    recipe: ClassVar[str] = ""


S = TypeVar("S", bound=Spec)


class SubjectPool:
    """One Subject per (model reference, device), built on first use; `lease` hands a Subject to one thread at a
    time (a Subject's hooks and caches are not meant to be shared by concurrent runs)."""

    def __init__(self):
        self._subjects: dict[tuple, tuple[Subject, threading.Lock]] = {}
        self._lock = threading.Lock()

    def lease(self, ref: ModelRef, device: str = "cpu", progress: Callable[[str, int, int], None] | None = None):
        """The Subject for `ref` on `device` (loading it on first use, reporting first-use work to `progress`),
        as a context manager that holds its lock."""
        key = (ref.spec, ref.weights, ref.output, str(device))
        with self._lock:
            if key not in self._subjects:
                from ..core.zoo import load

                subject = load(ref.spec, ref.weights, output=ref.output, progress=progress)
                if device != "cpu":
                    subject.to(device)
                self._subjects[key] = (subject, threading.Lock())
            return _Lease(*self._subjects[key])


class _Lease:
    def __init__(self, subject: Subject, lock: threading.Lock):
        self.subject, self.lock = subject, lock

    def __enter__(self) -> Subject:
        self.lock.acquire()
        return self.subject

    def __exit__(self, *exc) -> None:
        self.lock.release()


class RunContext:
    """Everything a run needs besides its spec. `out` is the folder the recipe writes its artifacts into."""

    def __init__(
        self,
        out: str | Path,
        *,
        device: str = "cpu",
        on_progress: Callable[[str, int, int], None] | None = None,
        on_preview: Callable[[str, Any], None] | None = None,
        cancel: threading.Event | None = None,
        subjects: SubjectPool | None = None,
        quiet: bool = True,
        shards: "ShardRunner | None" = None,
    ):
        self.out = Path(out)
        self.shards = shards  # how `map` runs sub-specs (set by the execution layer: the store, a Ray pool)
        self.shard_counts: dict | None = None  # {"total", "from_store"} of the last `map`
        self._shard_units: list[int] | None = None  # units each shard of the current `map` finishes
        self._units_done = 0
        self.device = device
        self.on_progress, self.on_preview = on_progress, on_preview
        self.cancel_event = cancel or threading.Event()
        self.subjects = subjects or SubjectPool()
        self.quiet = quiet  # no progress bars on the terminal (the CLI's --json, servers, workers)
        self.artifacts: dict[str, Artifact] = {}
        self.started = time.time()

    # --- progress, previews, cancel ----------------------------------------------------------------------
    def progress(self, stage: str, done: int, total: int) -> None:
        """Report `done` of `total` units of `stage` (steps, batches, octaves ...), then honour a cancel."""
        if self.on_progress is not None:
            self.on_progress(stage, done, total)
        self.check_cancel()

    def preview(self, name: str, image: Any) -> None:
        """An intermediate picture (a [C, H, W] tensor in [0, 1] or a PIL image) for live displays."""
        if self.on_preview is not None:
            self.on_preview(name, image)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancel(self) -> None:
        """Raise `Cancelled` once the cancel token is set (called inside every loop of a run)."""
        if self.cancel_event.is_set():
            raise Cancelled("the run was cancelled")

    # --- sub-runs (shards) ---------------------------------------------------------------------------------
    def map(self, specs: Sequence["Spec"], units: Sequence[int] | None = None) -> list["Result"]:
        """Run sub-specs (an atlas's shards) and return their results in order. Through `self.shards` when the
        execution layer set one (the result store: each shard stored under its own key, finished shards answered
        from it; a Ray pool: shards spread over workers); otherwise one after another in this process, into
        `out/shards/<i>`. Reports ("shards", done, total) and, with `units` (how many units each shard
        finishes), ("units", done, total) as shards finish in any order; honours the cancel token between
        shards."""
        specs = list(specs)
        self._shard_units = list(units) if units is not None else None
        self._units_done = 0
        if self.shards is not None:
            return self.shards(specs, self)
        results = []
        self.shard_finished(None, 0, len(specs))
        for i, spec in enumerate(specs):
            sub = self.child(self.out / "shards" / str(i))
            sub.out.mkdir(parents=True, exist_ok=True)
            results.append(REGISTRY[spec.recipe].run(spec, sub))
            self.shard_finished(i, i + 1, len(specs))
        self.shard_counts = {"total": len(specs), "from_store": 0}
        return results

    def child(self, out: str | Path) -> "RunContext":
        """The context of one shard: this run's device, subjects and cancel token; its progress reaches this run's
        listener as `shard:<stage>`."""
        return RunContext(
            out, device=self.device, cancel=self.cancel_event, subjects=self.subjects, on_progress=self._sub_progress
        )

    def shard_finished(self, index: int | None, done: int, total: int) -> None:
        """A shard runner's report: shard `index` finished (None: the start), `done` of `total` shards."""
        units = self._shard_units
        if units:
            if index is not None:
                self._units_done += units[index]
            self.progress("units", self._units_done, sum(units))
        self.progress("shards", done, total)

    def _sub_progress(self, stage: str, done: int, total: int) -> None:
        """A shard's own progress reaches this run's listener as `shard:<stage>` (only the cancel check else)."""
        if self.on_progress is not None:
            self.on_progress(f"shard:{stage}", done, total)
        self.check_cancel()

    # --- subjects ------------------------------------------------------------------------------------------
    def subject(self, ref: ModelRef) -> "_Lease":
        """`with ctx.subject(spec.model) as subject:` a Subject for the model on this context's device."""
        return self.subjects.lease(ref, self.device, self.progress)

    # --- artifacts -----------------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """Where the artifact `name` (a relative path such as `maps/3.png`) is written; records it."""
        target = self.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.artifacts[name] = Artifact(name=name, media_type=_media_type(name))
        return target

    def adopt(self, path: str | Path) -> str:
        """Record a file a technique already wrote inside `out`; returns its path as a string."""
        path = Path(path)
        name = path.resolve().relative_to(self.out.resolve()).as_posix()
        self.artifacts[name] = Artifact(name=name, media_type=_media_type(name))
        return str(path)

    def adopt_tree(self) -> None:
        """Record every file below `out` written during this run (for techniques that write their own files)."""
        for path in sorted(self.out.rglob("*")):
            if path.is_file() and path.stat().st_mtime >= self.started - 1:
                self.adopt(path)

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write `data` as strict JSON into the artifact `name`, with every path inside `out` made relative to
        `out` (the file stays valid wherever the folder is copied: the result store, --out)."""
        from ..core import jsonio

        folder = str(self.out)

        def relative(value):
            if isinstance(value, dict):
                return {k: relative(v) for k, v in value.items()}
            if isinstance(value, list):
                return [relative(v) for v in value]
            if isinstance(value, str) and value.startswith(folder + "/"):
                return value[len(folder) + 1 :]
            return value

        path = self.path(name)
        path.write_text(jsonio.dumps(relative(data)))
        return path

    def result(self, recipe: str, data: D) -> Result[D]:
        """The run's Result: `data` as strict JSON (a non-finite number becomes null, with a warning), validated
        by the recipe's data model (`Recipe.result`: ValidationError naming the key when its shape drifted), and
        the artifacts recorded through this context, in this context's folder."""
        from ..core import jsonio

        entry = REGISTRY.get(recipe)
        model = cast("type[Result[D]]", entry.result if entry is not None else Result)
        return model(
            recipe=recipe,
            data=json.loads(jsonio.dumps(data, indent=None)),
            artifacts=sorted(self.artifacts.values(), key=lambda a: a.name),
            folder=str(self.out),
        )


# runs an atlas's shards: (specs, the parent's context) -> their results, in order (RunContext.map)
ShardRunner = Callable[[list[Spec], RunContext], list[Result]]


def _media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".gif": "image/gif",
        ".json": "application/json",
        ".html": "text/html",
        ".txt": "text/plain",
        ".npy": "application/octet-stream",
        ".svg": "image/svg+xml",
        ".csv": "text/csv",
    }.get(suffix, "application/octet-stream")


# --- the registry ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """One technique end to end: its name, version (bump when results change), Spec class, run function and the
    model of its result's data (a TypedDict; None for a recipe registered without one: its data is any JSON
    object)."""

    name: str
    version: int
    spec: type[Spec]
    run: Callable[[Spec, RunContext], Result[Any]]
    description: str
    data: type | None = None

    @property
    def result(self) -> type[Result]:
        """The class of this recipe's results: `Result[data]` (pydantic caches it: always the same class), or
        the plain `Result` without a data model."""
        return Result[self.data] if self.data is not None else Result  # type: ignore[name-defined]

    def schema(self) -> dict:
        return self.spec.model_json_schema()

    def result_schema(self) -> dict:
        """The JSON Schema of the result's `data` (an open object without a data model)."""
        return copy.deepcopy(_json_schema(self.data if self.data is not None else dict[str, Any]))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "schema": self.schema(),
            "result_schema": self.result_schema(),
        }


@functools.cache
def _json_schema(data: Any) -> dict:
    from pydantic import TypeAdapter

    return TypeAdapter(data).json_schema()


REGISTRY: dict[str, Recipe] = {}


def recipe(name: str, version: int, spec: type[Spec], data: type | str, description: str | None = None):
    """Decorator registering `run(spec, ctx) -> Result[data]` as the recipe `name`:
    `@recipe("predict", 1, PredictSpec, PredictData, "top-k classes for an image")`. `data` is the model of the
    result's data (a TypedDict, see `recipes.results`). The older form `recipe(name, version, spec, description)`
    registers a recipe whose data is any JSON object (tests, plugins)."""
    model = None if isinstance(data, str) else data
    if isinstance(data, str):
        description = data
    if description is None:
        raise TypeError(f"recipe {name}: give a description")

    def register(run: Callable[[S, RunContext], Result[D]]) -> Callable[[S, RunContext], Result[D]]:
        if name in REGISTRY:
            raise RuntimeError(f"recipe {name} registered twice")
        spec.recipe = name
        REGISTRY[name] = Recipe(name, version, spec, _explained(name, run), description, model)
        return run

    return register


def _explained(name: str, run: Callable[[S, RunContext], Result[D]]) -> Callable[[Spec, RunContext], Result[Any]]:
    """`run` with the torch errors that come from the model's form (gradient checkpointing, float16 / bfloat16
    kernels or mixed types, a forward that stops the gradient: `autograd_checks.model_form_error`) turned into one
    ConvscopeError naming the recipe and the model, on every surface (CLI, server jobs, Python API), for the
    techniques that take gradients on their own; anything else passes through unchanged."""

    @functools.wraps(run)
    def explained(spec: Spec, ctx: RunContext) -> Result[Any]:
        try:
            return run(spec, ctx)  # type: ignore[arg-type]
        except RuntimeError as exc:
            model = getattr(spec, "model", None)
            shown = f"`{model.spec}`" if isinstance(model, ModelRef) else "of this run"
            form = model_form_error(exc, name, shown, advice=NO_GRADIENT_ADVICE)
            if form is None:
                raise
            raise form from None

    return explained


def parse_spec(recipe_name: str, fields: dict) -> Spec:
    """The Spec of `recipe_name` from JSON-like fields; one clear ConvscopeError naming the field otherwise."""
    from . import get

    entry = get(recipe_name)
    try:
        return entry.spec.model_validate(fields)
    except ValidationError as exc:
        raise ConvscopeError(validation_message(exc, recipe_name)) from None


def validation_message(exc: ValidationError, recipe_name: str) -> str:
    """pydantic's errors as one line: `recipe predict: top: Input should be greater than or equal to 1 (got 0)`."""
    parts = []
    for error in exc.errors()[:3]:
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        if not error["loc"]:  # a check across fields: its message names them
            parts.append(message)
            continue
        where = ".".join(str(p) for p in error["loc"])
        shown = "" if isinstance(got, dict) or error["type"] == "value_error" else f" (got {got!r})"
        parts.append(f"{where}: {message}{shown}")
    more = f"; and {len(exc.errors()) - 3} more" if len(exc.errors()) > 3 else ""
    return f"recipe {recipe_name}: " + "; ".join(parts) + more


# --- the key of a result ---------------------------------------------------------------------------------------
def canonical_json(spec: Spec) -> str:
    """The spec as canonical JSON: {"recipe": name, "spec": fields} with sorted keys and no whitespace."""
    return json.dumps(
        {"recipe": spec.recipe, "spec": spec.model_dump(mode="json")}, sort_keys=True, separators=(",", ":")
    )


def spec_key(spec: Spec) -> str:
    """sha256 of canonical_json(spec) + the recipe's version + convscope's version + the content fingerprints of
    every file the spec names (see the module docstring); a named file that does not exist counts as `missing`."""
    from ..core.version import __version__
    from . import get

    digest = hashlib.sha256()
    digest.update(canonical_json(spec).encode())
    digest.update(f"|recipe-version={get(spec.recipe).version}|convscope={__version__}".encode())
    for label, fingerprint in sorted(_fingerprints(spec)):
        digest.update(f"|{label}={fingerprint}".encode())
    return digest.hexdigest()


def _fingerprints(spec: Spec) -> Iterator[tuple[str, str]]:
    for name, info in type(spec).model_fields.items():
        value = getattr(spec, name)
        kind = reference_kind(info)
        if isinstance(value, ModelRef):
            yield from _model_fingerprints(name, value)
        elif kind is not None and value is not None:
            for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
                yield f"{name}[{i}]", (_dataset_fingerprint(item) if kind == DATASET else _fingerprint_if_file(item))


def _model_fingerprints(name: str, ref: ModelRef) -> Iterator[tuple[str, str]]:
    if ref.spec.startswith("file:"):
        yield f"{name}.spec", _fingerprint_if_file(ref.spec[5:])
    if ref.weights not in ("default", "none") and not ref.weights.startswith("none:"):
        yield f"{name}.weights", _fingerprint_if_file(ref.weights)
    if ref.spec in ("default", "digits") or ref.weights == "default":
        import torch

        yield f"{name}.torch", torch.__version__.split("+")[0]  # the digits model is trained with this torch


_FINGERPRINTS: dict[tuple, str] = {}


def _fingerprint_if_file(path: str) -> str:
    """A named file's fingerprint, or `missing` when there is no such file: the recipe itself then refuses it with
    its own message (so the key never hides the real error), and a failed run is never stored."""
    try:
        return file_fingerprint(path)
    except ConvscopeError:
        return "missing"


def file_fingerprint(path: str | Path) -> str:
    """xxh3-128 of a file's bytes (~3 GB/s), remembered per (device, inode, size, mtime) so that a cached lookup
    does not read a large weights file again (one stat call). As git does with racily clean files, a file modified
    in the last 2 seconds is always read (a rewrite within the file system's timestamp granularity would keep its
    stamp). Raises ConvscopeError for a missing path or one that is not a regular file."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        raise ConvscopeError(f"{path}: no such file") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConvscopeError(f"{path}: not a file")
    stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    if stamp in _FINGERPRINTS:
        return _FINGERPRINTS[stamp]
    digest = xxhash.xxh3_128()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if time.time() - info.st_mtime > 2.0:
        _FINGERPRINTS[stamp] = digest.hexdigest()
    return digest.hexdigest()


def _dataset_fingerprint(reference: str) -> str:
    """A built-in dataset (`digits`, `photos`) by its fingerprint; a folder by the relative path and content hash
    of every file below it (those of a linked class sub-folder too; a link the dataset must not read, out of its
    confinement, broken or a loop, by name only: its target is never opened)."""
    from ..core.data import BUILTIN_DATASETS, dataset_files

    if reference in BUILTIN_DATASETS:
        return BUILTIN_DATASETS[reference].fingerprint()
    root = Path(reference).expanduser()
    if not root.is_dir():
        return "missing"  # open_dataset refuses it with its own message
    digest = xxhash.xxh3_128()
    for name, path in dataset_files(root):
        digest.update(f"{name}:{file_fingerprint(path) if path is not None else 'not read'};".encode())
    return digest.hexdigest()
