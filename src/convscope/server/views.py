"""The API's request and response models: the OpenAPI contract of every JSON answer (errors: `errors.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..recipes import data_models
from ..recipes.results import Verbatim


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


def _typed_view(name: str, data: type) -> type[ResultView]:
    """The result view of recipe `name`: `recipe` fixed to the name, `data` its data model (kept verbatim)."""
    title = "".join(part.title() for part in name.split("-"))  # inverse-set -> InverseSetResultView
    return create_model(
        f"{title}ResultView",
        __base__=ResultView,
        __doc__=f"A stored `{name}` result: its data as the recipe's model, file paths as artifact URLs.",
        recipe=(Literal[name], ...),
        data=(Verbatim[data], ...),
    )


#: {recipe: its typed result view}; every result the API returns is one of them, told apart by `recipe`
RESULT_VIEWS: dict[str, type[ResultView]] = {name: _typed_view(name, data) for name, data in data_models().items()}
TypedResultView = Annotated[Union[tuple(RESULT_VIEWS.values())], Field(discriminator="recipe")]  # noqa: UP007


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
    spec: dict[str, Any] = Field(
        default_factory=dict, description="the job's spec, every field (images by upload id, datasets by name)"
    )
    created: float
    started: float | None
    ended: float | None
    error: str | None
    result: TypedResultView | None


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
    result: TypedResultView | None = None


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


class UploadLimits(BaseModel):
    image_bytes: int = Field(description="largest image file (bytes), alone or inside a dataset upload")
    image_pixels: int = Field(description="largest image (width x height) a server decodes")
    dataset_files: int = Field(description="most files in one dataset upload (zip members or files)")
    dataset_bytes: int = Field(description="largest dataset upload, uncompressed (bytes)")
    model_bytes: int = Field(description="largest model weights file (bytes)")


class Health(BaseModel):
    status: str
    version: str
    device: str
    models: list[str]
    jobs: JobCounts
    model_uploads: bool = Field(
        False, description="whether POST /api/models is open (convscope serve --allow-model-upload)"
    )
    limits: UploadLimits | None = None


class ModelView(BaseModel):
    name: str
    loaded: bool
    kind: str = Field(
        "spec", description="builtin (default, digits), spec (timm:/torchvision:/file: named at start) or uploaded"
    )
    arch: str | None = Field(None, description="an uploaded model's architecture spec (timm:NAME, torchvision:NAME)")
    channels: int | None = Field(None, description="input channels (1 grayscale, 3 RGB); null when unknown")
    size: list[int] | None = Field(None, description="input [height, width] in pixels")
    classes: int | None = Field(None, description="number of class labels the model names; null without labels")


class ModelList(BaseModel):
    models: list[ModelView]


class UploadSkipped(BaseModel):
    id: str = Field(description="the file's path inside the upload")
    reason: str


class DatasetView(BaseModel):
    name: str
    kind: str = Field(description="builtin, folder (--dataset NAME=PATH) or uploaded")
    description: str | None = Field(None, description="what a built-in dataset holds (size, labels, what it suits)")
    images: int | None = Field(None, description="number of images (null for a --dataset folder: not scanned)")
    classes: list[str] | None = Field(
        None, description="class names (ImageFolder sub-folders, sorted); null: unlabelled"
    )
    channels: int | None = Field(None, description="1 when every image is grayscale, 3 otherwise; null when unknown")
    thumbnails: list[str] = Field(
        default_factory=list, description="a few image ids (GET /api/datasets/{name}/image?id=)"
    )
    skipped: list[UploadSkipped] = Field(default_factory=list, description="files of the upload that were not kept")
    hash: str | None = Field(None, description="an uploaded dataset's content hash (the same content reuses it)")
    created: float | None = Field(None, description="when it was uploaded (seconds since the epoch)")


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
