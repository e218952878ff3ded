"""The whole-model atlas (OpenAI Microscope's view, self-hosted): every unit of the chosen layers with its feature
visualization and the dataset images that excite it most, computed as independent shards and merged.
Over 400 lines on purpose: the atlas spec, its scan shard's spec and data, the merge and the recipe in one place.

Shards, each an ordinary spec stored in the result store under its own key (`RunContext.map`):
- feature visualization: one `visualize` spec per `units_per_shard` channels of a layer (per-item random
  streams make a unit's image independent of its batch mates and of the shard size);
- the dataset scan: one `atlas-scan` spec per `images_per_shard` images, over every unit at once (one forward
  per batch), giving partial top-k examples and per-class activation sums; partial results merge associatively
  (`TopExamples.merge`, sums), so shards can run anywhere, in any order, and a rerun after an interruption
  computes only the shards that are missing.
"""

from __future__ import annotations

import shutil
from typing import Annotated, Literal, cast

import torch
from pydantic import Field, field_validator
from typing_extensions import TypedDict

from ..core.errors import ConvscopeError
from ..core.units import ascii_int
from .base import DatasetRef, ModelRef, Result, RunContext, Spec, recipe
from .dataset import DatasetExample, Fit, UnitTopExamples
from .results import FilePath, Measured, SkippedFile, data_model


def parse_channels(text: str) -> list[int] | None:
    """`all` -> None; `0-15,32,40-41` -> [0, ..., 15, 32, 40, 41] (sorted, no repeats). ValueError otherwise."""
    text = text.strip()
    if text == "all":
        return None
    chosen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        first, last = ascii_int(low, 9), ascii_int(high, 9) if dash else ascii_int(low, 9)
        if first is None or last is None:  # ASCII digits only (`²` is a digit to str.isdigit, not to int)
            raise ValueError(f"`{part}` is not a channel or a range like 0-15 (or give all)")
        if last < first:
            raise ValueError(f"range `{part}` runs backwards")
        if last - first > 100_000:
            raise ValueError(f"range `{part}` is too long")
        chosen.update(range(first, last + 1))
    return sorted(chosen)


class AtlasSpec(Spec):
    """Every unit of the chosen layers: its feature visualization and its top dataset examples."""

    model: ModelRef = ModelRef()
    layers: str = Field("all", min_length=1, description="all (every Conv2d layer) or layer names separated by commas")
    channels: str = Field(
        "all", min_length=1, description="all, or channels and ranges such as 0-15,32 (cut at each layer's count)"
    )
    dataset: DatasetRef | None = Field(None, description="images for the top examples (none: visualizations only)")
    top: int = Field(9, ge=1, le=100, description="examples per unit")
    steps: int = Field(256, ge=1, le=100_000, description="optimization steps of each visualization")
    size: int | None = Field(None, ge=8, le=2048, description="visualization size (default: the model's)")
    seed: int = 0
    param: Literal["maco", "fft", "pixel", "laplacian"] | None = Field(
        None,
        description="the visualizations' parameterization (default: visualize's: maco for colour models, else fft)",
    )
    regularizers: list[str] = Field(
        [], max_length=8, description="the visualizations' regularizers (visualize's forms: `tv:0.1`, `blur:4:0.5` ...)"
    )
    units_per_shard: int = Field(16, ge=1, le=256, description="units per visualization shard")
    images_per_shard: int = Field(512, ge=1, le=1_000_000, description="images per dataset-scan shard")
    batch_size: int = Field(32, ge=1, le=4096, description="images per forward pass of the scan")
    fit: Fit = "squash"

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: str) -> str:
        parse_channels(value)
        return value

    @field_validator("regularizers")
    @classmethod
    def _regularizers(cls, value: list[str]) -> list[str]:
        from ..techniques.regularizers import parse_regularizer

        for i, text in enumerate(value):
            try:
                parse_regularizer(text)
            except ConvscopeError as exc:
                raise ValueError(f"regularizers[{i}]: {exc}") from None
        return value


class AtlasScanSpec(Spec):
    """One shard of an atlas's dataset scan: images [start, stop) of the dataset, every unit of the atlas."""

    model: ModelRef = ModelRef()
    dataset: DatasetRef
    layers: list[str] = Field(min_length=1)
    channels: list[list[int]] = Field(min_length=1, description="per layer, its channels")
    start: int = Field(ge=0)
    stop: int = Field(ge=1)
    top: int = Field(9, ge=1, le=100)
    batch_size: int = Field(32, ge=1, le=4096)
    fit: Fit = "squash"


@data_model
class AtlasScanData(TypedDict):
    """The `atlas-scan` recipe's data: one shard's partial top-k and class sums (merged by `atlas`)."""

    units: Annotated[list[UnitTopExamples], Field(description="every unit of the atlas, layer by layer")]
    images: Annotated[int, Field(ge=0, description="images of [start, stop) read")]
    class_sums: Annotated[
        list[list[Measured]], Field(description="[U][K]: per unit, the sum of its score over the images of class k")
    ]
    class_counts: Annotated[list[int], Field(description="[K]: images of each class read (empty: no classes)")]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files of the shard that could not be read")]


@recipe(
    "atlas-scan", 2, AtlasScanSpec, AtlasScanData, "one shard of an atlas's dataset scan: partial top-k and class sums"
)
def run_atlas_scan(spec: AtlasScanSpec, ctx: RunContext) -> Result[AtlasScanData]:
    """One shard of an atlas's dataset scan: images [start, stop) of the dataset, every unit at once (one forward
    per batch).

    Per unit, the `top` images by the unit's mean activation over space, a_c(x) = mean_hw A_chw(x), and the sum of
    a_c over the shard's images of each class. Shards merge associatively: top-k of the union, sums added.

    Args:
        spec: the dataset, `layers` with their `channels` (one list per layer), [start, stop) (stop is cut at the
            dataset's size), `top`, `batch_size`, `fit`.
        ctx: reports ("images", done, total) after each batch (a cancel point); nothing is written.

    Returns:
        `AtlasScanData`: units [{layer, index, examples [{path, score, box}]}], images (read), class_sums [U][K],
        class_counts [K] (K = the dataset's classes; none for an unlabelled folder), skipped.

    Raises:
        ConvscopeError: channels not one list per layer, `start` past the dataset's end, a dataset without
            readable images; UnknownLayerError / ChannelError for a bad unit. Cancelled: on a cancel.

    References:
        Barsch & Eilertsen 2018 (seed 001), eq. 3.2 (the score).
    """
    from ..core.data import open_dataset
    from ..techniques.examples import top_examples

    if len(spec.channels) != len(spec.layers):
        raise ConvscopeError("channels: one list per layer")
    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        stop = min(spec.stop, len(dataset))
        if spec.start >= stop:
            raise ConvscopeError(f"start: {spec.start} is past the dataset's {len(dataset)} images")
        units = [(layer, c) for layer, channels in zip(spec.layers, spec.channels) for c in channels]
        classes = len(dataset.classes or [])
        sums = torch.zeros(len(units), classes, dtype=torch.float64)
        counts = torch.zeros(classes, dtype=torch.long)

        def observe(scores: torch.Tensor, items: list[int]) -> None:
            if not classes:
                return
            targets = torch.tensor([dataset.targets[i] for i in items])
            sums.index_add_(1, targets, scores.T.double())
            counts.index_add_(0, targets, torch.ones_like(targets))

        result = top_examples(
            subject,
            dataset,
            units,
            spec.top,
            batch_size=spec.batch_size,
            indices=range(spec.start, stop),
            progress=ctx.progress,
            observe=observe,
        )
    data = AtlasScanData(
        units=cast(list[UnitTopExamples], result.to_dict()["units"]),  # TopExamples.to_dict's shape, validated
        images=result.images_seen,
        class_sums=sums.tolist(),
        class_counts=counts.tolist(),
        skipped=[SkippedFile(path=p, reason=r) for p, r in dataset.skipped],
    )
    return ctx.result("atlas-scan", data)


def _units(subject, spec: AtlasSpec) -> list[tuple[str, list[int]]]:
    """(layer, channels) of the atlas, in the model's execution order for `all`, else as named."""
    if spec.layers.strip() == "all":
        modules = dict(subject.model.named_modules())
        layers = [
            n.name
            for n in subject.graph.in_execution_order()
            if isinstance(modules.get(n.name), torch.nn.Conv2d)  # subclasses too (timm's Conv2dSame)
        ]
        if not layers:
            raise ConvscopeError(f"layers: model {subject.name} has no Conv2d layer")
    else:
        layers = list(dict.fromkeys(subject.resolve(n.strip()) for n in spec.layers.split(",") if n.strip()))
        if not layers:
            raise ConvscopeError("layers: give all or layer names separated by commas")
    wanted = parse_channels(spec.channels)
    chosen = []
    for layer in layers:
        count = subject.num_channels(layer)
        channels = list(range(count)) if wanted is None else [c for c in wanted if c < count]
        if not channels:
            raise ConvscopeError(f"channels: layer `{layer}` has {count} channels, none of `{spec.channels}`")
        chosen.append((layer, channels))
    return chosen


@data_model
class AtlasLayer(TypedDict):
    """A layer of the atlas."""

    name: Annotated[str, Field(description="the layer, as the model names it")]
    type: Annotated[str, Field(description="the module's class name")]
    output_shape: Annotated[list[int], Field(description="channels first, without the batch dimension: [C, H, W]")]
    channels: Annotated[list[int], Field(description="the channels in the atlas")]


@data_model
class AtlasUnit(TypedDict):
    """One unit of the atlas: its feature visualization and its top dataset examples."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    index: Annotated[int, Field(ge=0, description="channel index")]
    image: Annotated[FilePath, Field(description="its feature visualization, `units/<layer>/<index>.png`")]
    activation: Annotated[Measured, Field(description="the unit on its visualization (activation units)")]
    examples: Annotated[list[DatasetExample], Field(description="its top dataset images, best first (none without)")]
    sheet: Annotated[FilePath | None, Field(description="the examples' contact sheet (null without a dataset)")]
    class_means: Annotated[
        list[Measured] | None, Field(description="its mean score per dataset class (null: no dataset or no classes)")
    ]


@data_model
class ShardCounts(TypedDict):
    """How the atlas's shards were computed."""

    total: Annotated[int, Field(ge=0, description="shards of the atlas")]
    from_store: Annotated[int, Field(ge=0, description="shards answered by the result store (not computed)")]


@data_model
class AtlasData(TypedDict):
    """The `atlas` recipe's data (also written as atlas.json; docs/atlas.md)."""

    model: Annotated[str, Field(description="the model's name")]
    layers: Annotated[list[AtlasLayer], Field(description="the layers, in the model's execution order for `all`")]
    units: Annotated[list[AtlasUnit], Field(description="every unit, layer by layer, channels ascending")]
    classes: Annotated[list[str] | None, Field(description="the dataset's class names (null: none)")]
    images: Annotated[int, Field(ge=0, description="dataset images scanned (0: visualizations only)")]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files that could not be read")]
    dataset: Annotated[str | None, Field(description="the dataset of the examples (null: visualizations only)")]
    top: Annotated[int, Field(ge=1, description="examples per unit")]
    steps: Annotated[int, Field(ge=1, description="optimization steps of each visualization")]
    seed: Annotated[int, Field(description="the visualizations' random seed")]
    shards: ShardCounts


@recipe(
    "atlas",
    2,
    AtlasSpec,
    AtlasData,
    "every unit of the chosen layers: feature visualization and top dataset examples",
)
def run_atlas(spec: AtlasSpec, ctx: RunContext) -> Result[AtlasData]:
    """The whole-model atlas: every unit of the chosen layers with its feature visualization and, with a dataset,
    the dataset images that excite it most; computed as independent shards (each an ordinary `visualize` or
    `atlas-scan` spec, through `ctx.map`: the result store when run through it, so a rerun computes only the
    shards that are missing) and merged.

    Args:
        spec: `layers` (all Conv2d layers, or names), `channels` (all, or `0-15,32`, cut at each layer's count),
            `dataset` (none: visualizations only), `top` (1..100), `steps` and `size` of the visualizations,
            `seed`, `units_per_shard`, `images_per_shard`, `batch_size`, `fit`.
        ctx: reports ("units", done, total) and ("shards", done, total) as shards finish, and each shard's own
            stages as `shard:<stage>` (cancel points between shards); writes `units/<layer>/<index>.png`,
            `examples/` (a contact sheet per unit) and `atlas.json` (the data).

    Returns:
        `AtlasData`: model, layers [{name, type, output_shape, channels}], units [{layer, index, image, activation,
        examples [{path, score, box}], sheet, class_means}], classes, images, skipped, dataset, top, steps, seed,
        shards {total, from_store}. Visualizations are [C, H, W] in [0, 1]; scores are mean activations.

    Raises:
        ConvscopeError: an unknown layer (naming the field), channels outside every layer, a model without a
            Conv2d layer, a dataset without readable images. Cancelled: on a cancel.

    References:
        OpenAI Microscope (its view, self-hosted); Olah, Mordvintsev & Schubert 2017, "Feature Visualization"
        (Distill); Barsch & Eilertsen 2018 (seed 001), §3.2 (Fourier parameterization, decorrelated colour, the
        seed001 transforms) and eq. 3.2 (the examples' score).
    """
    from ..artifacts.files import example_sheets
    from ..core.data import open_dataset
    from ..techniques.examples import TopExamples
    from .visualize import VisualizeSpec

    with ctx.subject(spec.model) as subject:  # released before the shards run: they lease it themselves
        chosen = _units(subject, spec)
        nodes = {layer: subject.graph.node(layer) for layer, _ in chosen}
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit) if spec.dataset is not None else None
        model_name = subject.name
    width = spec.units_per_shard
    visualize = [
        VisualizeSpec(
            model=spec.model,
            layer=layer,
            channels=channels[i : i + width],
            steps=spec.steps,
            size=spec.size,
            seed=spec.seed,
            batch_size=min(8, width),
            param=spec.param,
            regularizers=spec.regularizers,
            trust=False,  # an atlas of hundreds of units: the unit page measures trust when a unit is opened
        )
        for layer, channels in chosen
        for i in range(0, len(channels), width)
    ]
    scans = []
    if dataset is not None:
        if len(dataset) == 0:
            raise ConvscopeError(f"dataset: {dataset.name} holds no image")
        scans = [
            AtlasScanSpec(
                model=spec.model,
                dataset=spec.dataset,
                layers=[layer for layer, _ in chosen],
                channels=[channels for _, channels in chosen],
                start=start,
                stop=min(start + spec.images_per_shard, len(dataset)),
                top=spec.top,
                batch_size=spec.batch_size,
                fit=spec.fit,
            )
            for start in range(0, len(dataset), spec.images_per_shard)
        ]
    # progress in units: a visualization shard finishes its units; the scan's shards finish none by themselves
    results = ctx.map([*visualize, *scans], units=[len(v.channels) for v in visualize] + [0] * len(scans))
    counts = ctx.shard_counts or {"total": len(results), "from_store": 0}

    # feature visualizations: each unit's picture copied into the atlas (a self-contained result)
    pictures: dict[tuple[str, int], tuple[str, float | None]] = {}  # unit -> (its picture, its activation)
    for shard, result in zip(visualize, results[: len(visualize)]):
        for c, entry in zip(shard.channels, result.data["images"]):
            name = f"units/{shard.layer.replace('/', '-')}/{c}.png"
            target = ctx.path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry["path"], target)
            pictures[(shard.layer, c)] = (str(target), entry["activation"])

    shutil.rmtree(ctx.out / "shards", ignore_errors=True)  # the in-process runner's shard folders (copied from)
    examples: dict[tuple[str, int], tuple[list[DatasetExample], str, list | None]] = {}  # (tops, sheet, means)
    classes, images, skipped = None, 0, []
    if scans:
        parts = results[len(visualize) :]
        merged = None
        sums = None
        counts_per_class = None
        for part in parts:
            scanned = part.data
            top = TopExamples.from_dict(scanned, spec.top, scanned["images"])
            merged = top if merged is None else merged.merge(top)
            skipped += scanned["skipped"]
            part_sums = torch.tensor(scanned["class_sums"], dtype=torch.float64)
            part_counts = torch.tensor(scanned["class_counts"], dtype=torch.long)
            sums = part_sums if sums is None else sums + part_sums
            counts_per_class = part_counts if counts_per_class is None else counts_per_class + part_counts
        images = merged.images_seen
        classes = dataset.classes or None
        means = (sums / counts_per_class.clamp(min=1)).tolist() if classes else None
        sheets = example_sheets(merged, dataset, ctx.out / "examples")
        for u, (unit, unit_examples, sheet) in enumerate(zip(merged.units, merged.examples, sheets)):
            tops = [cast(DatasetExample, e.to_dict()) for e in unit_examples]
            examples[unit] = (tops, ctx.adopt(sheet), means[u] if means is not None else None)

    units = []
    for layer, channels in chosen:
        for c in channels:
            image, act = pictures[(layer, c)]
            tops, unit_sheet, unit_means = examples.get((layer, c), ([], None, None))
            units.append(
                AtlasUnit(
                    layer=layer,
                    index=c,
                    image=image,
                    activation=act,
                    examples=tops,
                    sheet=unit_sheet,
                    class_means=unit_means,
                )
            )
    data = AtlasData(
        model=model_name,
        layers=[
            AtlasLayer(
                name=layer,
                type=nodes[layer].type,
                output_shape=cast(list[int], nodes[layer].output_shape),  # a readable layer's: one tensor
                channels=channels,
            )
            for layer, channels in chosen
        ],
        units=units,
        classes=classes,
        images=images,
        skipped=skipped,
        dataset=dataset.name if dataset is not None else None,  # a served one: its name, no server path
        top=spec.top,
        steps=spec.steps,
        seed=spec.seed,
        shards=cast(ShardCounts, counts),
    )
    ctx.write_json("atlas.json", data)
    return ctx.result("atlas", data)
