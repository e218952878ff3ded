"""What a recipe returns: `Result[Data]`, its `data` typed by the recipe's own data model.

Each recipe declares the shape of its `data` (the JSON contract of its command) once, as a pydantic-validated
`TypedDict` next to its run function (`PredictData`, `AtlasData` ...), and registers it with
`@recipe(name, version, SpecClass, DataClass, description)`. Then:

- `def run_predict(spec: PredictSpec, ctx: RunContext) -> Result[PredictData]` says what a run returns, and the
  run builds its data as the model (`PredictData(image=..., predictions=[Prediction(...)])`): a type checker flags
  a missing, misspelt or mistyped key;
- `ctx.result(name, data)` validates the data against the model (every key declared, no key undeclared, JSON types
  exact: `DATA_CONFIG`) and returns the recipe's `Result[Data]` class, so a result whose shape drifted fails the
  run and the tests at once;
- the JSON Schema of every result comes from the same classes (`Recipe.to_dict()["result_schema"]`, the REST
  API's OpenAPI document, the web app's TypeScript types generated from it).

Why `TypedDict` rather than `BaseModel`: a result's `data` stays the plain JSON dict every surface already reads
(`result.data["predictions"]`, the server's path rewriting, the CLI's printing) and optional keys stay absent
rather than null, so the JSON on the wire is the one the commands always printed. `Verbatim` keeps it so: the data
is validated, but the dict kept (and written) exactly as the recipe made it: same key order, an integer stays an
integer in a `float` field.

Non-finite numbers: strict JSON has no NaN or infinity, so a result writes them as null (core.jsonio). Every
number measured on the model (activations, scores, relevance, probabilities ...) is therefore `Measured`:
a float, or null where the computation gave NaN or ±inf.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Generic

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidatorFunctionWrapHandler, WrapValidator
from pydantic import with_config as _with_config
from typing_extensions import Self, TypedDict, TypeVar

#: every data model: no undeclared key, JSON types exact (no "3" for 3, no 3.0 for an integer, no 1 for true)
DATA_CONFIG = ConfigDict(extra="forbid", strict=True)

#: `@data_model` on a TypedDict: the recipes' configuration (DATA_CONFIG)
data_model = _with_config(DATA_CONFIG)

#: a float measured on the model; null where it was NaN or ±inf (strict JSON cannot hold them)
Measured = Annotated[float | None, Field(description="null where the value was not finite (NaN or ±inf)")]

#: a file the run wrote: its path (below the result's folder; an artifact URL over HTTP)
FilePath = Annotated[str, Field(description="a file of the result: its path (over HTTP: its artifact URL)")]


def _validate_keep(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    handler(value)  # raises ValidationError naming the key when the data does not match its model
    return value  # ...but the JSON is kept as the recipe made it (key order, an int in a float field)


def _as_is(value):  # (no return annotation: the serialization schema stays the data model's, not `Any`)
    return value


D = TypeVar("D", bound=Mapping[str, Any], default=dict[str, Any])

#: a field holding a recipe's data: validated against `D`, kept and serialized exactly as given (see the module
#: docstring); also for models outside recipes that carry a result's data (the server's result views)
Verbatim = Annotated[D, WrapValidator(_validate_keep), PlainSerializer(_as_is)]


class Artifact(BaseModel):
    """A file a recipe wrote: its name (relative to the output folder) and media type."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    media_type: str


class Result(BaseModel, Generic[D]):
    """What a recipe returns: `data` (the JSON contract of the command, strict JSON: no NaN) and the files.

    `Result[PredictData]` is the result of `predict`, its data validated by `PredictData` (see the module docstring);
    a plain `Result` takes any JSON object (a recipe registered without a data model, a result stored by another
    version of a recipe)."""

    recipe: str
    data: Verbatim[D]
    artifacts: list[Artifact] = []
    folder: str | None = None  # where the artifacts are (the run's output folder, or the store's copy)

    def _repr_html_(self) -> str:  # Jupyter: the images inline, then the data
        import html

        from ..artifacts.files import inline_html

        pictures = inline_html(self.folder, [(a.name, a.media_type) for a in self.artifacts])
        return pictures + f"<pre>{html.escape(json.dumps(self.data, indent=1)[:4000])}</pre>"

    def moved_to(self, folder: str | Path) -> Self:
        """The same result with its artifacts in `folder`: every path in `data` under the old folder is rewritten
        (the caller copies or moves the files)."""
        old = (self.folder or "").rstrip("/\\")
        new = str(folder).rstrip("/\\")

        def move(value):
            if isinstance(value, dict):
                return {k: move(v) for k, v in value.items()}
            if isinstance(value, list):
                return [move(v) for v in value]
            if (
                isinstance(value, str)
                and old
                and (value == old or value.startswith(old + "/") or value.startswith(old + "\\"))
            ):
                return new + value[len(old) :]
            return value

        return self.model_copy(update={"data": move(self.data), "folder": new})

    def _repr_png_(self) -> bytes | None:  # the first picture, for front ends without HTML
        first = next((a for a in self.artifacts if a.media_type == "image/png"), None)
        return (Path(self.folder) / first.name).read_bytes() if first and self.folder else None


# --- items several recipes share ---------------------------------------------------------------------------------
@data_model
class SkippedFile(TypedDict):
    """A dataset file that could not be read (skipped, never fatal)."""

    path: Annotated[str, Field(description="the file's id in the dataset (relative to its folder)")]
    reason: Annotated[str, Field(description="why it was skipped")]


__all__ = [
    "DATA_CONFIG",
    "Artifact",
    "FilePath",
    "Measured",
    "Result",
    "SkippedFile",
    "Verbatim",
    "data_model",
]
