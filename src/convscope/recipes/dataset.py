"""Data-driven recipes: `examples` (top-k dataset images / patches per unit), `selectivity` (class-specific
units, seed 004 §3: the 40% rule) and `facets` (multifaceted feature visualization, seed 000). Each is a
streaming scan over a dataset that checks the cancel token between batches."""

from __future__ import annotations

from functools import partial
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..core.units import parse_unit
from ..techniques.attribution.lrp import COMPOSITES
from .base import DatasetRef, ModelRef, Result, RunContext, Spec, recipe

Fit = Literal["squash", "crop"]
Composite = Literal[tuple(COMPOSITES)]


class DatasetSpec(Spec):
    model: ModelRef = ModelRef()
    dataset: DatasetRef
    fit: Fit = "squash"
    batch_size: int = Field(32, ge=1, le=4096, description="images per forward pass")


def _skipped(dataset) -> list[dict]:
    return [{"path": path, "reason": reason} for path, reason in dataset.skipped]


class ExamplesSpec(DatasetSpec):
    """The dataset images (or random patches) that most excite units (seed 004 §2.1: top-n examples), or in which
    they are most relevant for the prediction (relevance maximization, Achtibat et al. 2023)."""

    layer: str = Field(min_length=1)
    channels: list[int] = Field(min_length=1)
    top: int = Field(9, ge=1, le=10_000, description="examples per unit")
    patches: int = Field(0, ge=0, le=1000, description="random patches per image (0: whole images)")
    patch_size: int = Field(64, ge=1, le=4096)
    seed: int = 0
    by: Literal["activation", "relevance"] = Field(
        "activation",
        description="activation: the unit's mean activation over space; relevance: the unit's LRP relevance "
        "for the explained class, summed over space",
    )
    composite: Composite = Field("dtd", description="by relevance: the LRP composite")
    target: int | None = Field(
        None, ge=0, description="by relevance: the class explained (default: each image's predicted class)"
    )

    @model_validator(mode="after")
    def _relevance_options(self):
        if self.by == "activation" and (self.target is not None or self.composite != "dtd"):
            raise ValueError("target and composite apply only with by = relevance")
        return self


@recipe(
    "examples",
    3,  # 3: image ids relative to the dataset folder
    ExamplesSpec,
    "the dataset images (or patches) that most excite units, or where they are most relevant",
)
def run_examples(spec: ExamplesSpec, ctx: RunContext) -> Result:
    """{"units": [{"layer", "index", "examples": [{"path", "score", "box"}], "sheet"}], "by", "images",
    "skipped"}: top `top` per unit, best first, one contact sheet each. Scores: by activation, the unit's mean
    activation over space (seed 001 eq. 3.2, the quantity feature visualization maximizes); by relevance, R_c =
    the unit's LRP relevance for the explained class (`target`, default each image's predicted class) summed
    over space, in units of that class's logit (Achtibat et al. 2023, relevance maximization). Raises
    ConvscopeError for an unknown layer or channel, a target out of range, a patch larger than the input, a
    TorchScript model with by = relevance, or a dataset without readable images."""
    from ..artifacts.files import example_sheets
    from ..core.data import open_dataset
    from ..techniques.examples import top_examples

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        layer = subject.resolve(spec.layer)
        scorer = None
        if spec.by == "relevance":
            from ..techniques.attribution.explainer import LRP
            from ..techniques.attribution.relevant import unit_relevance

            explainer = LRP(subject, spec.composite)
            scorer = partial(unit_relevance, explainer, target=spec.target)
        result = top_examples(
            subject,
            dataset,
            [(layer, c) for c in spec.channels],
            spec.top,
            patches=spec.patches,
            patch_size=spec.patch_size,
            batch_size=spec.batch_size,
            seed=spec.seed,
            progress=ctx.progress,
            scorer=scorer,
        )
    sheets = example_sheets(result, dataset, ctx.out)
    output = result.to_dict()
    for unit, sheet in zip(output["units"], sheets):
        unit["sheet"] = ctx.adopt(sheet)
    output.update(by=spec.by, images=result.images_seen, skipped=_skipped(dataset))
    if spec.by == "relevance":
        output.update(composite=spec.composite, target=spec.target)
    return ctx.result("examples", output)


class SelectivitySpec(DatasetSpec):
    """Class-specific units of layers (seed 004 §3): unimodal, bimodal, non-specific, dead."""

    layer: str = Field(min_length=1, description="layer name, or several separated by commas")
    threshold: float = Field(
        0.4,
        gt=0,
        description="a unit is specific to a class whose mean activation exceeds "
        "the mean over all images by more than this fraction",
    )


@recipe("selectivity", 2, SelectivitySpec, "class-specific units of a layer: unimodal, bimodal, non-specific, dead")
def run_selectivity(spec: SelectivitySpec, ctx: RunContext) -> Result:
    """{"units": [{"index", "kind", "classes"}], "fractions": {layer: {kind: share}}, "plots", "skipped"}."""
    from ..artifacts.files import save_plots
    from ..core.data import open_dataset
    from ..techniques.selectivity import selectivity

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        layers = [subject.resolve(name.strip()) for name in spec.layer.split(",") if name.strip()]
        result = selectivity(
            subject, dataset, layers, threshold=spec.threshold, batch_size=spec.batch_size, progress=ctx.progress
        )
    output = result.to_dict()
    output["plots"] = [ctx.adopt(p) for p in save_plots(result, ctx.out)]
    output["skipped"] = _skipped(dataset)
    return ctx.result("selectivity", output)


class FacetsSpec(DatasetSpec):
    """Multifaceted feature visualization (seed 000; Nguyen et al. 2016) of one unit or class."""

    target: str = Field(description="LAYER:UNIT to visualize, e.g. logits:285")
    class_name: str | None = Field(
        None, description="dataset class whose images are clustered (default: the unit's top images)"
    )
    top_images: int = Field(
        200, ge=3, le=100_000, description="the unit's top images clustered (t-SNE and k-means need at least 3)"
    )
    code_layer: str | None = Field(None, description="layer whose codes are clustered (default: the penultimate)")
    k: int = Field(10, ge=1, le=100, description="clusters (at most one per distinct image: the result says how many)")
    m: int = Field(15, ge=1, le=10_000, description="images averaged per cluster (at most the cluster's size)")
    pca: int = Field(
        50, ge=1, le=4096, description="PCA dimensions (at most the number of images and of code features)"
    )
    steps: int | None = Field(
        None, ge=1, le=100_000, description="optimization steps of each facet (default: the preset's)"
    )
    preset: Literal["torchvision", "caffenet"] = "torchvision"
    seed: int = 0

    @field_validator("target")
    @classmethod
    def _unit(cls, value: str) -> str:
        parse_unit(value, "target")  # a UnitSyntaxError is a ValueError: reported at the field
        return value


@recipe("facets", 3, FacetsSpec, "multifaceted feature visualization (MFV) of a unit or class")
def run_facets(spec: FacetsSpec, ctx: RunContext) -> Result:
    """{"target", "images", "code_layer", "used", "steps", "preset", "clusters": [{"id", "members",
    "mean_image", "facet_image", "activation", "mean_activation", "structure", "nearest_image"}],
    "embedding_plot", "points": [{"id", "x", "y", "cluster"}] (the 2-D embedding), "sheet", "skipped"} (seed 000:
    fc7-like codes, PCA, t-SNE 2-D, k-means, mean images of the m nearest members, maximization from each mean
    image in octaves)."""
    from ..core.data import open_dataset

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        output = _facet_images(
            ctx,
            subject,
            dataset,
            parse_unit(spec.target, "target"),
            class_name=spec.class_name,
            top_images=spec.top_images,
            code_layer=spec.code_layer,
            k=spec.k,
            m=spec.m,
            pca_dims=spec.pca,
            steps=spec.steps,
            preset=spec.preset,
            seed=spec.seed,
            batch_size=spec.batch_size,
        )
    output["skipped"] = _skipped(dataset)
    return ctx.result("facets", output)


def _facet_images(
    ctx: RunContext,
    subject,
    dataset,
    target: tuple[str, int],
    *,
    class_name: str | None = None,
    top_images: int = 200,
    code_layer: str | None = None,
    k: int = 10,
    m: int = 15,
    pca_dims: int = 50,
    steps: int | None = None,
    preset: str = "torchvision",
    seed: int = 0,
    batch_size: int = 32,
) -> dict:
    """MFV of a class's images (or the unit's top images): the facets computed, their pictures written through
    `ctx`, the facets JSON returned."""
    from ..core.images import grid, tensor_to_pil
    from ..techniques.examples import top_examples
    from ..techniques.facets import embedding_plot, facets, scaled_octaves

    octaves = scaled_octaves(preset, steps)
    layer = subject.resolve(target[0])
    subject.check_channels(layer, [target[1]])
    if class_name is not None:
        indices = dataset.indices_of_class(dataset.class_index(class_name))
        source = f"class {class_name}"
    else:
        best = top_examples(
            subject, dataset, [(layer, target[1])], top_images, batch_size=batch_size, progress=ctx.progress
        )
        position = {id_: i for i, id_ in enumerate(dataset.ids)}
        indices = [position[e.id] for e in best.examples[0]]
        source = f"top {len(indices)} images of {layer}:{target[1]}"
    found, clusters, kept = facets(
        subject,
        dataset,
        (layer, target[1]),
        indices=indices,
        code_layer=code_layer,
        k=k,
        m=m,
        pca_dims=pca_dims,
        octaves=octaves,
        seed=seed,
        batch_size=batch_size,
        progress=ctx.progress,
        preview=ctx.preview,
    )
    clusters_json, tiles, captions = [], [], []
    for c, facet in enumerate(found):
        paths = {name: ctx.path(f"facet{c}_{name}.png") for name in ("mean", "facet", "nearest")}
        nearest_image = dataset.load(facet.nearest)
        for name, image in (("mean", facet.mean_image), ("facet", facet.facet_image), ("nearest", nearest_image)):
            tensor_to_pil(image).save(paths[name])
            tiles.append(tensor_to_pil(image))
        captions += [
            f"{c} mean {facet.mean_activation:.1f}",
            f"{c} facet {facet.activation:.1f} (r {facet.structure:.2f})",
            f"{c} nearest",
        ]
        clusters_json.append(
            {
                "id": c,
                "members": [dataset.ids[i] for i in facet.members],
                "mean_image": str(paths["mean"]),
                "facet_image": str(paths["facet"]),
                "activation": facet.activation,
                "mean_activation": facet.mean_activation,
                "structure": facet.structure,
                "nearest_image": dataset.ids[facet.nearest],
            }
        )
    plot = ctx.path("embedding.png")
    embedding_plot(clusters, [dataset.load(i) for i in kept]).save(plot)
    sheet = ctx.path("facets.png")
    grid(tiles, captions, columns=3).save(sheet)
    return {
        "target": f"{layer}:{target[1]}",
        "images": source,
        "code_layer": clusters.used["code_layer"],
        "used": clusters.used,
        "steps": sum(o.iterations for o in octaves),
        "preset": preset,
        "clusters": clusters_json,
        "embedding_plot": str(plot),
        "points": [  # the t-SNE embedding, one point per clustered image (for interactive plots)
            {"id": dataset.ids[i], "x": round(float(x), 4), "y": round(float(y), 4), "cluster": int(c)}
            for i, (x, y), c in zip(kept, clusters.embedding, clusters.labels)
        ],
        "sheet": str(sheet),
    }
