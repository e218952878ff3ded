"""Inspect recipes: models, layers, predict, activations, dead, demo (seed 001 §3.1, §3.3: the prediction, layer
graph and activation-map pages)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..artifacts.files import demo_page, save_maps
from ..core.errors import ConvscopeError
from ..techniques.activations import activation_maps, dead_channels, layers_maps
from ..techniques.predict import predict
from .base import ImagePath, ModelRef, Result, RunContext, Spec, recipe

Fit = Literal["squash", "crop"]


class ModelsSpec(Spec):
    """The model specs convscope understands; `all` also lists every timm and torchvision architecture."""

    all: bool = False


@recipe("models", 1, ModelsSpec, "the model specs convscope understands")
def run_models(spec: ModelsSpec, ctx: RunContext) -> Result:
    """{"builtin": [{spec, description}], "families": [{spec, count}], "timm"?: [...], "torchvision"?: [...]}.
    Writes nothing."""
    import timm
    import torchvision

    from ..core.zoo import BUILTIN

    timm_names = timm.list_models()
    tv_names = torchvision.models.list_models(module=torchvision.models)
    data = {
        "builtin": [{"spec": k, "description": v} for k, v in BUILTIN.items()],
        "families": [
            {"spec": "timm:<name>", "count": len(timm_names)},
            {"spec": "torchvision:<name>", "count": len(tv_names)},
            {"spec": "file:<path>", "count": None},
        ],
    }
    if spec.all:
        data.update(timm=timm_names, torchvision=tv_names)
    return ctx.result("models", data)


class LayersSpec(Spec):
    """The layer graph of a model."""

    model: ModelRef = ModelRef()


@recipe("layers", 1, LayersSpec, "the layer graph: types, kernels, strides, output shapes, nesting, edges")
def run_layers(spec: LayersSpec, ctx: RunContext) -> Result:
    """The LayerGraph's JSON contract (`{"layers": [...], "edges": [[src, dst]], "model", "input_shape"}`, shapes
    without the batch dimension) from one dry run at the model's input size; writes layers.json and layers.txt.
    Raises ConvscopeError for an unknown model or weights."""
    with ctx.subject(spec.model) as subject:
        graph = subject.graph
        ctx.path("layers.json").write_text(graph.to_json(indent=1))
        ctx.path("layers.txt").write_text(graph.table() + "\n")
        return ctx.result("layers", graph.to_dict())


class PredictSpec(Spec):
    """Top-k classes of one image."""

    model: ModelRef = ModelRef()
    image: ImagePath
    top: int = Field(5, ge=1, le=1000, description="how many classes (at most the model's)")
    fit: Fit = "squash"


@recipe("predict", 1, PredictSpec, "top-k classes for an image")
def run_predict(spec: PredictSpec, ctx: RunContext) -> Result:
    """{"image", "predictions": [{"index", "label", "probability" in [0, 1]}]} sorted by probability (softmax of
    the logits). Raises ConvscopeError for an unreadable image or a model without [1, K] class scores."""
    with ctx.subject(spec.model) as subject:
        predictions = predict(subject, subject.load_image(spec.image, spec.fit), spec.top)
    return ctx.result("predict", {"image": spec.image, "predictions": [p.to_dict() for p in predictions]})


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


@recipe("activations", 2, ActivationsSpec, "activation maps of layers for an image, ranked by mean activation")
def run_activations(spec: ActivationsSpec, ctx: RunContext) -> Result:
    """{"layers": [{"layer", "output_shape" [C, H, W], "channels": [{"index", "mean", "max", "image"}], "grid"}],
    and the first layer's "layer", "output_shape", "channels", "grid" at the top (one-layer clients)}. Each map
    is 255 * Y / max(Y) (seed 001, Algorithm 3) in a PNG, colored and gray, and a grid per layer; all layers from
    one forward pass. Raises ConvscopeError (naming the field) for an unknown layer, a channel out of range or a
    layer without a spatial map."""
    names = [name.strip() for name in spec.layer.split(",") if name.strip()]
    if not names:
        raise ConvscopeError("layer: give a layer name, or several separated by commas")
    with ctx.subject(spec.model) as subject:
        per_layer = layers_maps(subject, subject.load_image(spec.image, spec.fit), names, spec.top, spec.channels)
        shapes = {layer: subject.graph.output_shape(layer) for layer in per_layer}
    several = len(per_layer) > 1
    entries = []
    for layer, maps in per_layer.items():
        folder = ctx.out / layer.replace("/", "-") if several else ctx.out
        paths, grid_path = save_maps(maps, folder)
        entries.append(
            {
                "layer": layer,
                "output_shape": shapes[layer],
                "grid": str(grid_path),
                "channels": [
                    {"index": m.index, "mean": m.mean, "max": m.max, "image": str(p)} for m, p in zip(maps, paths)
                ],
            }
        )
    ctx.adopt_tree()
    return ctx.result("activations", {**entries[0], "layers": entries})


class DeadSpec(Spec):
    """Channels of a layer that are never positive on any of the images."""

    model: ModelRef = ModelRef()
    images: list[ImagePath] = Field(min_length=1)
    layer: str = Field(min_length=1)
    fit: Fit = "squash"


@recipe("dead", 1, DeadSpec, "channels of a layer never positive on any of the given images")
def run_dead(spec: DeadSpec, ctx: RunContext) -> Result:
    """{"layer", "channels" (count), "images" (count), "dead": [indices]}: a channel is dead when it is <= 0 at
    every position of every image. Checks the cancel token after each image."""
    with ctx.subject(spec.model) as subject:
        layer = subject.resolve(spec.layer)

        def images():
            for i, path in enumerate(spec.images):
                yield subject.load_image(path, spec.fit)
                ctx.progress("images", i + 1, len(spec.images))

        dead, seen = dead_channels(subject, images(), layer)
        total = subject.num_channels(layer)
    return ctx.result("dead", {"layer": layer, "channels": total, "images": seen, "dead": dead})


class DemoSpec(Spec):
    """The main job: predict skimage's chelsea, the top-16 activation maps of a mid-level layer, the layer table."""

    model: ModelRef = ModelRef()
    layer: str | None = Field(None, description="layer for the activation maps (default: a mid-level layer)")


@recipe("demo", 1, DemoSpec, "predict, activation maps and layer summary for skimage's chelsea image")
def run_demo(spec: DemoSpec, ctx: RunContext) -> Result:
    """{"model", "image", "predictions", "layer", "channels", "grid", "layers"} and an index.html that shows them
    (the input, the top-5 classes, the activation-map grid, the layer table)."""
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
        data_out = {
            "model": subject.name,
            "image": str(input_path),
            "predictions": [p.to_dict() for p in predictions],
            "layer": layer,
            "grid": str(grid_path),
            "layers": str(ctx.out / "layers.json"),
            "channels": [
                {"index": m.index, "mean": m.mean, "max": m.max, "image": str(p)} for m, p in zip(maps, map_paths)
            ],
        }
    ctx.write_json("result.json", data_out)
    ctx.path("index.html").write_text(demo_page(data_out, table))
    ctx.adopt_tree()
    return ctx.result("demo", data_out)
