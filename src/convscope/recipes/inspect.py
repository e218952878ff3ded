"""Inspect recipes: models, layers, predict, activations, dead, demo (seed 001 §3.1, §3.3: the prediction, layer
graph and activation-map pages).

Over 400 lines on purpose: six small recipes, each with its spec, the data model of its result and its run side
by side (the family's one module; `recipes.results` explains the data models)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from ..artifacts.files import demo_page, save_maps
from ..core.errors import ConvscopeError
from ..core.images import tensor_to_pil
from ..techniques.activations import ChannelMap, activation_maps, dead_channels, layers_maps
from ..techniques.predict import Prediction as Predicted
from ..techniques.predict import predict
from .base import ImagePath, ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, data_model

Fit = Literal["squash", "crop"]


class ModelsSpec(Spec):
    """The model specs convscope understands; `all` also lists every timm and torchvision architecture."""

    all: bool = False


@data_model
class BuiltinModel(TypedDict):
    """A model convscope builds itself."""

    spec: Annotated[str, Field(description="what a ModelRef's spec names it by (`default`, `digits`)")]
    description: Annotated[str, Field(description="architecture, weights and input in words")]


@data_model
class ModelFamily(TypedDict):
    """A family of model specs."""

    spec: Annotated[str, Field(description="the spelling, e.g. `timm:<name>`")]
    count: Annotated[int | None, Field(ge=0, description="architectures in the family (null: any file)")]


@data_model
class ModelsData(TypedDict):
    """The `models` recipe's data."""

    builtin: Annotated[list[BuiltinModel], Field(description="the models convscope builds itself")]
    families: Annotated[list[ModelFamily], Field(description="timm, torchvision and model files")]
    timm: NotRequired[Annotated[list[str], Field(description="with `all`: every timm architecture name")]]
    torchvision: NotRequired[
        Annotated[list[str], Field(description="with `all`: every torchvision classification model name")]
    ]


@recipe("models", 1, ModelsSpec, ModelsData, "the model specs convscope understands")
def run_models(spec: ModelsSpec, ctx: RunContext) -> Result[ModelsData]:
    """The model specs a `ModelRef` accepts. Writes nothing, loads no model.

    Args:
        spec: `all` also lists every timm and torchvision architecture (about 1,400 names).
        ctx: the run's context (nothing is written).

    Returns:
        `ModelsData`: `builtin` [{spec, description}], `families` [{spec, count}] (count: architectures in timm
        and torchvision; null for `file:<path>`), and with `all` the names under `timm` and `torchvision`.
    """
    import timm
    import torchvision

    from ..core.zoo import BUILTIN

    timm_names = timm.list_models()
    tv_names = torchvision.models.list_models(module=torchvision.models)
    data = ModelsData(
        builtin=[BuiltinModel(spec=k, description=v) for k, v in BUILTIN.items()],
        families=[
            ModelFamily(spec="timm:<name>", count=len(timm_names)),
            ModelFamily(spec="torchvision:<name>", count=len(tv_names)),
            ModelFamily(spec="file:<path>", count=None),
        ],
    )
    if spec.all:
        data["timm"], data["torchvision"] = timm_names, tv_names
    return ctx.result("models", data)


class LayersSpec(Spec):
    """The layer graph of a model."""

    model: ModelRef = ModelRef()


#: a size per spatial dimension of the module: [kh, kw] for 2-D ones ([k] for a Conv1d inside, e.g. ECA attention)
PerDimension = list[int]


@data_model
class LayerInfo(TypedDict):
    """One module of the model (or the pseudo-layer `logits`, the model's output), from one dry run."""

    name: Annotated[str, Field(description="dotted module name, as a spec's `layer` names it")]
    type: Annotated[str, Field(description="the module's class name (`Output` for logits)")]
    parent: Annotated[str | None, Field(description="the enclosing module (null at the top)")]
    children: Annotated[list[str], Field(description="the modules directly inside it")]
    output_shape: Annotated[
        list[int] | list[list[int]] | None,
        Field(
            description="channels-first shape without the batch dimension, [C, H, W] or [C]; one per tensor for a "
            "module returning several; null when it never runs"
        ),
    ]
    kernel_size: Annotated[PerDimension | None, Field(description="[kh, kw] in pixels (convolutions, pooling)")]
    stride: Annotated[PerDimension | None, Field(description="[sh, sw] in pixels")]
    padding: Annotated[PerDimension | str | None, Field(description="[ph, pw] in pixels, or `same` / `valid`")]
    dilation: Annotated[PerDimension | None, Field(description="[dh, dw] (convolutions)")]
    groups: Annotated[int | None, Field(description="channel groups of a convolution (1: dense, C: depthwise)")]
    in_channels: Annotated[int | None, Field(description="input channels (features of a Linear)")]
    out_channels: Annotated[int | None, Field(description="output channels (features of a Linear)")]
    params: Annotated[int, Field(ge=0, description="parameters of the module and everything nested in it")]
    calls: Annotated[int, Field(ge=0, description="times the module runs in one forward pass")]
    order: Annotated[int | None, Field(ge=0, description="position of its first call in execution order")]
    channel_axis: Annotated[
        int | None,
        Field(description="the axis of the module's own output holding the channels (3: channels-last; null: unknown)"),
    ]


@data_model
class LayersData(TypedDict):
    """The `layers` recipe's data: the LayerGraph (also written as layers.json)."""

    model: Annotated[str, Field(description="the model's name")]
    input_shape: Annotated[list[int], Field(description="[C, H, W] of the dry run (the model's input size)")]
    layers: Annotated[list[LayerInfo], Field(description="every module, in registration order, then `logits`")]
    edges: Annotated[
        list[Annotated[list[str], Field(min_length=2, max_length=2)]],
        Field(description="[source, destination] pairs of the data flow (`input` is the image)"),
    ]


@recipe("layers", 1, LayersSpec, LayersData, "the layer graph: types, kernels, strides, output shapes, nesting, edges")
def run_layers(spec: LayersSpec, ctx: RunContext) -> Result[LayersData]:
    """The layer graph of a model, from one no-grad dry run on a fixed random image at its input size.

    Args:
        spec: the model (its weights do not change the graph).
        ctx: writes `layers.json` (the data) and `layers.txt` (a table: layer, type, output, kernel, stride,
            parameters).

    Returns:
        `LayersData`: `model`, `input_shape` [C, H, W], `layers` (one `LayerInfo` per module: type, parent,
        children, output shape without the batch dimension, kernel / stride / padding / dilation in pixels,
        groups, channels, parameter count, calls, execution order, channel axis) and `edges` [[source,
        destination]].

    Raises:
        ConvscopeError: an unknown model spec or missing weights (WeightsError).

    References:
        Barsch & Eilertsen 2018 (seed 001), §3.1 (the layer-graph page).
    """
    with ctx.subject(spec.model) as subject:
        graph = subject.graph
        ctx.path("layers.json").write_text(graph.to_json(indent=1))
        ctx.path("layers.txt").write_text(graph.table() + "\n")
        return ctx.result("layers", cast(LayersData, graph.to_dict()))  # LayerGraph.to_dict's shape, validated


class PredictSpec(Spec):
    """Top-k classes of one image."""

    model: ModelRef = ModelRef()
    image: ImagePath
    top: int = Field(5, ge=1, le=1000, description="how many classes (at most the model's)")
    fit: Fit = "squash"


@data_model
class Prediction(TypedDict):
    """One class of a prediction."""

    index: Annotated[int, Field(ge=0, description="class index (the logit's position)")]
    label: Annotated[str, Field(description="class name (the index as text when the model has no labels)")]
    probability: Annotated[Measured, Field(description="softmax of the logits, in [0, 1]")]


def _prediction(p: Predicted) -> Prediction:
    return Prediction(index=p.index, label=p.label, probability=p.probability)


@data_model
class PredictData(TypedDict):
    """The `predict` recipe's data."""

    image: Annotated[str, Field(description="the image, as the spec named it (over HTTP: its upload id)")]
    predictions: Annotated[list[Prediction], Field(description="the top classes, most probable first")]


@recipe("predict", 1, PredictSpec, PredictData, "top-k classes for an image")
def run_predict(spec: PredictSpec, ctx: RunContext) -> Result[PredictData]:
    """Top-k classes of one image: p = softmax(logits), computed in float32 at least.

    Args:
        spec: the image (read at the model's input size: `fit` squash or crop, in [0, 1]) and `top` (1..1000,
            at most the model's class count).
        ctx: nothing is written.

    Returns:
        `PredictData`: `image` and `predictions` [{index, label, probability in [0, 1]}], most probable first.

    Raises:
        ConvscopeError: an unreadable image (ImageError) or a model whose output is not [1, K] class scores.

    References:
        Barsch & Eilertsen 2018 (seed 001), §3.1 (the prediction page).
    """
    with ctx.subject(spec.model) as subject:
        predictions = predict(subject, subject.load_image(spec.image, spec.fit), spec.top)
    return ctx.result("predict", PredictData(image=spec.image, predictions=[_prediction(p) for p in predictions]))


class ActivationsSpec(Spec):
    """Activation maps of one layer or several for one image, ranked by mean activation (seed 001 Algorithm 3
    scaling)."""

    model: ModelRef = ModelRef()
    image: ImagePath
    layer: str = Field(min_length=1, description="layer name, or several separated by commas")
    top: int = Field(16, ge=1, le=4096, description="how many channels per layer (ignored with channels)")
    channels: list[int] | None = Field(
        None, min_length=1, description="these channels instead of the top ones (in every layer)"
    )
    fit: Fit = "squash"


@data_model
class ChannelActivation(TypedDict):
    """One channel's activation map of the image."""

    index: Annotated[int, Field(ge=0, description="channel index")]
    mean: Annotated[Measured, Field(description="mean of the channel's map (the layer's activation units)")]
    max: Annotated[Measured, Field(description="maximum of the channel's map (the layer's activation units)")]
    min: Annotated[
        Measured, Field(description="minimum of the channel's map (activation units; below 0 it is shown as 0)")
    ]
    image: Annotated[
        FilePath, Field(description="the map as a colored PNG, 255 * Y / max(Y) (a `_gray.png` sits beside it)")
    ]


def _channel(m: ChannelMap, path) -> ChannelActivation:
    return ChannelActivation(index=m.index, mean=m.mean, max=m.max, min=m.min, image=str(path))


@data_model
class LayerActivations(TypedDict):
    """The activation maps of one layer."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    output_shape: Annotated[list[int], Field(description="the layer's output, channels first: [C, H, W]")]
    grid: Annotated[FilePath, Field(description="a captioned grid of the maps (PNG)")]
    channels: Annotated[list[ChannelActivation], Field(description="by mean, largest first (or as `channels` named)")]


@data_model
class ActivationsData(LayerActivations):
    """The `activations` recipe's data: every layer under `layers`; the first layer's entry also at the top level
    (one-layer clients)."""

    layers: Annotated[list[LayerActivations], Field(description="one entry per layer named, in the spec's order")]
    input: Annotated[FilePath, Field(description="the image as the model saw it (its input size, after fit; PNG)")]


@recipe(
    "activations",
    3,
    ActivationsSpec,
    ActivationsData,
    "activation maps of layers for an image, ranked by mean activation",
)
def run_activations(spec: ActivationsSpec, ctx: RunContext) -> Result[ActivationsData]:
    """Activation maps of one or several layers for one image, all from one forward pass.

    Each channel's map Y [H, W] is shown as A = 255 * Y / max(Y) (negative values 0), a colored and a gray PNG,
    and a captioned grid per layer; channels are ranked by their mean activation (or taken as `channels` names).

    Args:
        spec: the image (at the model's input size, in [0, 1]), `layer` (a name or several separated by commas;
            each needs a [C, H, W] output), `top` channels per layer (1..4096) or explicit `channels`.
        ctx: writes `channel_NNNN.png`, `channel_NNNN_gray.png` and `grid.png` (into a folder per layer when
            there are several), and `input.png` (the image as the model saw it).

    Returns:
        `ActivationsData`: per layer {layer, output_shape [C, H, W], grid, channels [{index, mean, max, min,
        image}]} under `layers`, the first layer's fields at the top level, and `input`. Means, maxima and minima
        are in the layer's own activation units.

    Raises:
        ConvscopeError: no layer named; UnknownLayerError for an unknown layer or one without a spatial map;
            ChannelError for a channel out of range; ImageError for an unreadable image.

    References:
        Barsch & Eilertsen 2018 (seed 001), §3.3 and Algorithm 3 (A = Y / max(Y), shown as 255 A).
    """
    names = [name.strip() for name in spec.layer.split(",") if name.strip()]
    if not names:
        raise ConvscopeError("layer: give a layer name, or several separated by commas")
    with ctx.subject(spec.model) as subject:
        image = subject.load_image(spec.image, spec.fit)
        per_layer = layers_maps(subject, image, names, spec.top, spec.channels)
        shapes = {layer: subject.graph.output_shape(layer) for layer in per_layer}
    seen = ctx.path("input.png")
    tensor_to_pil(image[0]).save(seen)
    several = len(per_layer) > 1
    entries = []
    for layer, maps in per_layer.items():
        folder = ctx.out / layer.replace("/", "-") if several else ctx.out
        paths, grid_path = save_maps(maps, folder)
        entries.append(
            LayerActivations(
                layer=layer,
                output_shape=shapes[layer],
                grid=str(grid_path),
                channels=[_channel(m, p) for m, p in zip(maps, paths)],
            )
        )
    ctx.adopt_tree()
    return ctx.result("activations", ActivationsData(**entries[0], layers=entries, input=str(seen)))


class DeadSpec(Spec):
    """Channels of a layer that are never positive on any of the images."""

    model: ModelRef = ModelRef()
    images: list[ImagePath] = Field(min_length=1)
    layer: str = Field(min_length=1)
    fit: Fit = "squash"


@data_model
class DeadData(TypedDict):
    """The `dead` recipe's data."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    channels: Annotated[int, Field(ge=0, description="the layer's channel count")]
    images: Annotated[int, Field(ge=0, description="images looked at")]
    dead: Annotated[list[int], Field(description="indices of the channels <= 0 everywhere on every image, ascending")]


@recipe("dead", 1, DeadSpec, DeadData, "channels of a layer never positive on any of the given images")
def run_dead(spec: DeadSpec, ctx: RunContext) -> Result[DeadData]:
    """Dead channels: a channel is dead when its activation is <= 0 at every position of every image.

    Args:
        spec: `images` (each at the model's input size, in [0, 1]) and the `layer`.
        ctx: reports ("images", done, total) after each image (a cancel point); nothing is written.

    Returns:
        `DeadData`: `layer`, `channels` (its channel count), `images` (how many were read) and `dead` (indices).

    Raises:
        UnknownLayerError: an unknown layer. ImageError: an unreadable image. Cancelled: on a cancel.
    """
    with ctx.subject(spec.model) as subject:
        layer = subject.resolve(spec.layer)

        def images():
            for i, path in enumerate(spec.images):
                yield subject.load_image(path, spec.fit)
                ctx.progress("images", i + 1, len(spec.images))

        dead, seen = dead_channels(subject, images(), layer)
        total = subject.num_channels(layer)
    return ctx.result("dead", DeadData(layer=layer, channels=total, images=seen, dead=dead))


class DemoSpec(Spec):
    """The main job: predict skimage's chelsea, the top-16 activation maps of a mid-level layer, the layer table."""

    model: ModelRef = ModelRef()
    layer: str | None = Field(None, description="layer for the activation maps (default: a mid-level layer)")


@data_model
class DemoData(TypedDict):
    """The `demo` recipe's data (also written as result.json, shown by index.html)."""

    model: Annotated[str, Field(description="the model's name")]
    image: Annotated[FilePath, Field(description="the input picture, skimage's chelsea (PNG)")]
    predictions: Annotated[list[Prediction], Field(description="the top 5 classes, most probable first")]
    layer: Annotated[str, Field(description="the layer of the activation maps")]
    grid: Annotated[FilePath, Field(description="the grid of the top-16 activation maps (PNG)")]
    layers: Annotated[FilePath, Field(description="the layer graph, layers.json (`LayersData`)")]
    channels: Annotated[list[ChannelActivation], Field(description="the top 16 channels by mean activation")]


@recipe("demo", 2, DemoSpec, DemoData, "predict, activation maps and layer summary for skimage's chelsea image")
def run_demo(spec: DemoSpec, ctx: RunContext) -> Result[DemoData]:
    """The main job on skimage's chelsea: the top-5 classes, the top-16 activation maps of a mid-level layer, the
    layer table, and an index.html that shows them.

    Args:
        spec: the model and `layer` (default: `LayerGraph.default_layer()`, the last-run shallowest module with a
            [C, H, W] map at least 1/16 of the input height).
        ctx: writes chelsea.png, activations/ (maps and grid), layers.json, layers.txt, result.json, index.html.

    Returns:
        `DemoData`: model, image, predictions [{index, label, probability in [0, 1]}], layer, grid, layers (the
        path of layers.json), channels [{index, mean, max, image}].

    Raises:
        ConvscopeError: an unknown model or layer, missing weights, a model without [1, K] class scores.

    References:
        Barsch & Eilertsen 2018 (seed 001), §3.1 and §3.3, Algorithm 3 (the prediction and activation pages).
    """
    from PIL import Image
    from skimage import data

    with ctx.subject(spec.model) as subject:
        input_path = ctx.path("chelsea.png")
        Image.fromarray(data.chelsea()).save(input_path)
        image = subject.load_image(input_path)
        predictions = predict(subject, image, top=5)
        graph = subject.graph
        layer = subject.resolve(spec.layer) if spec.layer else graph.default_layer()
        maps = activation_maps(subject, image, layer, top=16)
        map_paths, grid_path = save_maps(maps, ctx.out / "activations")
        ctx.path("layers.json").write_text(graph.to_json(indent=1))
        table = graph.table()
        ctx.path("layers.txt").write_text(table + "\n")
        data_out = DemoData(
            model=subject.name,
            image=str(input_path),
            predictions=[_prediction(p) for p in predictions],
            layer=layer,
            grid=str(grid_path),
            layers=str(ctx.out / "layers.json"),
            channels=[_channel(m, p) for m, p in zip(maps, map_paths)],
        )
    ctx.write_json("result.json", data_out)
    ctx.path("index.html").write_text(demo_page(cast(dict, data_out), table))
    ctx.adopt_tree()
    return ctx.result("demo", data_out)
