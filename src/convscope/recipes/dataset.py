"""Data-driven recipes: `examples` (top-k dataset images / patches per unit), `selectivity` (class-specific
units, seed 004 §3: the 40% rule) and `facets` (multifaceted feature visualization, seed 000). Each is a
streaming scan over a dataset that checks the cancel token between batches.

Over 400 lines on purpose: three recipes, each with its spec, the data model of its result and its run side by
side (the family's one module; `recipes.results` explains the data models)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal, cast

from pydantic import Field, field_validator, model_validator
from typing_extensions import NotRequired, TypedDict

from ..core.units import parse_unit
from ..techniques.attribution.composites import COMPOSITES
from ..techniques.selectivity import KINDS
from .base import DatasetRef, ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, SkippedFile, data_model

Fit = Literal["squash", "crop"]
Composite = Literal[tuple(COMPOSITES)]


class DatasetSpec(Spec):
    model: ModelRef = ModelRef()
    dataset: DatasetRef
    fit: Fit = "squash"
    batch_size: int = Field(32, ge=1, le=4096, description="images per forward pass")


def _skipped(dataset) -> list[SkippedFile]:
    return [SkippedFile(path=path, reason=reason) for path, reason in dataset.skipped]


@data_model
class DatasetExample(TypedDict):
    """One of a unit's top dataset examples."""

    path: Annotated[
        str, Field(description="the image's id: relative to the dataset folder, or `digits:N` (not a file path)")
    ]
    score: Annotated[Measured, Field(description="the unit's score on it (activation or relevance units)")]
    box: Annotated[
        list[int],
        Field(
            min_length=4,
            max_length=4,
            description="[left, top, right, bottom] in pixels of the image at the model's input size (the whole "
            "image, or the patch)",
        ),
    ]


@data_model
class UnitTopExamples(TypedDict):
    """A unit's best examples, best first."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    index: Annotated[int, Field(ge=0, description="channel index")]
    examples: Annotated[list[DatasetExample], Field(description="the top images (or patches), best first")]


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


@data_model
class UnitExamples(UnitTopExamples):
    """A unit's top examples and their contact sheet."""

    sheet: Annotated[FilePath, Field(description="the examples side by side, captioned with their scores (PNG)")]


@data_model
class ExamplesData(TypedDict):
    """The `examples` recipe's data."""

    units: Annotated[list[UnitExamples], Field(description="one per channel, in the spec's order")]
    by: Annotated[Literal["activation", "relevance"], Field(description="what the scores are")]
    images: Annotated[int, Field(ge=0, description="dataset images scanned")]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files that could not be read")]
    composite: NotRequired[Annotated[Composite, Field(description="by relevance: the LRP composite")]]
    target: NotRequired[
        Annotated[int | None, Field(description="by relevance: the class explained (null: each image's predicted)")]
    ]


@recipe(
    "examples",
    3,  # 3: image ids relative to the dataset folder
    ExamplesSpec,
    ExamplesData,
    "the dataset images (or patches) that most excite units, or where they are most relevant",
)
def run_examples(spec: ExamplesSpec, ctx: RunContext) -> Result[ExamplesData]:
    """The `top` dataset images (or random patches) that most excite each unit, in one streaming pass.

    Scores: by activation, the unit's mean activation over space, a_c(x) = mean_hw A_chw(x) (the quantity
    feature visualization maximizes; for [N, C] outputs such as logits, the value); by relevance, R_c(x) = the
    unit's LRP relevance for the explained class summed over space, in units of that class's logit. With
    `patches` = n, n random `patch_size` squares per image are cut, resized to the input size and scored alone.

    Args:
        spec: the dataset (a folder or `digits`), `layer` and `channels`, `top` (1..10,000), `patches`,
            `patch_size` (px), `seed`, `by`, and by relevance `composite` and `target`; `batch_size`, `fit`.
        ctx: reports ("images", done, total) after each batch (a cancel point); writes one contact sheet per unit
            (`examples_<layer>_<channel>.png`).

    Returns:
        `ExamplesData`: `units` [{layer, index, examples [{path (the image's id), score, box [l, t, r, b]}],
        sheet}], `by`, `images` (scanned), `skipped` [{path, reason}], and by relevance `composite`, `target`.

    Raises:
        ConvscopeError: an unknown layer or a channel out of range, a target out of range, a patch larger than
            the input, a TorchScript model with by = relevance, or a dataset without readable images.
            Cancelled: on a cancel.

    References:
        Barsch & Eilertsen 2018 (seed 001), eq. 3.2 and §3.2.9 (image examples, 64 x 64 patches); Achtibat et al.
        2023, "From attribution maps to human-understandable explanations through Concept Relevance Propagation"
        (relevance maximization).
    """
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
    units = cast(list[UnitTopExamples], result.to_dict()["units"])  # TopExamples.to_dict's shape, validated
    output = ExamplesData(
        units=[UnitExamples(**unit, sheet=ctx.adopt(sheet)) for unit, sheet in zip(units, sheets)],
        by=spec.by,
        images=result.images_seen,
        skipped=_skipped(dataset),
    )
    if spec.by == "relevance":
        output["composite"], output["target"] = spec.composite, spec.target
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


Kind = Literal[KINDS]  # unimodal, bimodal, non-specific, dead

#: the share of a layer's units of each kind (`non-specific` is not a Python name: the functional form, configured
#: by a call rather than a decorator)
KindFractions = TypedDict(
    "KindFractions",
    {
        "unimodal": Annotated[float, Field(description="share specific to exactly one class")],
        "bimodal": Annotated[float, Field(description="share specific to exactly two classes")],
        "non-specific": Annotated[float, Field(description="share specific to none or to three and more")],
        "dead": Annotated[float, Field(description="share never positive")],
    },
)
data_model(KindFractions)
KindFractions.__doc__ = "The share of a layer's units of each kind, in [0, 1] (they sum to 1)."


@data_model
class UnitSelectivity(TypedDict):
    """One unit's class selectivity."""

    layer: Annotated[str, Field(description="the layer, as the model names it")]
    index: Annotated[int, Field(ge=0, description="channel index")]
    kind: Annotated[
        Kind,
        Field(description="unimodal: specific to 1 class, bimodal: to 2, non-specific: to none or 3+, dead: never > 0"),
    ]
    classes: Annotated[list[str], Field(description="the classes it is specific to (class names)")]
    overall_mean: Annotated[Measured, Field(description="m_u: its mean activation over all images")]
    class_means: Annotated[
        list[Measured], Field(description="m_u(c) per class, in the order of `classes` (rounded to 6 decimals)")
    ]


@data_model
class SelectivityData(TypedDict):
    """The `selectivity` recipe's data."""

    units: Annotated[list[UnitSelectivity], Field(description="every unit of every layer, layer by layer")]
    fractions: Annotated[dict[str, KindFractions], Field(description="per layer (by name): the share of each kind")]
    classes: Annotated[list[str], Field(description="the dataset's class names")]
    class_counts: Annotated[list[int], Field(description="images per class")]
    images: Annotated[int, Field(ge=0, description="images read")]
    threshold: Annotated[float | None, Field(description="the specificity threshold (0.4: seed 004's 40% rule)")]
    plots: Annotated[
        list[FilePath], Field(description="`profiles_<layer>.png` per layer (class means), then `fractions.png`")
    ]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files that could not be read")]


@recipe(
    "selectivity",
    2,
    SelectivitySpec,
    SelectivityData,
    "class-specific units of a layer: unimodal, bimodal, non-specific, dead",
)
def run_selectivity(spec: SelectivitySpec, ctx: RunContext) -> Result[SelectivityData]:
    """Class-selective units of one or several layers, over a labelled dataset.

    A unit's activation a_u(x) is its channel's mean over space. With m_u(c) its mean over the images of class c
    and m_u its mean over all images (both after shifting a unit that takes negative values by its floor over the
    dataset), u is specific to c when m_u(c) - m_u > threshold * |m_u|. Specific to 1 class: unimodal; to 2:
    bimodal; to none or 3+: non-specific; never positive at any position of any image: dead.

    Args:
        spec: the dataset (class sub-folders, or `digits`), `layer` (names separated by commas), `threshold`
            (> 0; 0.4 is the paper's 40%), `batch_size`, `fit`.
        ctx: reports ("images", done, total) after each batch (a cancel point); writes the plots (PNG).

    Returns:
        `SelectivityData`: `units` [{layer, index, kind, classes, overall_mean, class_means}], `fractions`
        {layer: {kind: share in [0, 1]}}, classes, class_counts, images, threshold, plots, skipped.

    Raises:
        ConvscopeError: a dataset without classes or readable images; UnknownLayerError for an unknown layer.
            Cancelled: on a cancel.

    References:
        "Visualisation of maximising images for deep neural networks" (seed 004), §3, Fig. 4 and 5.
    """
    from ..artifacts.files import save_plots
    from ..core.data import open_dataset
    from ..techniques.selectivity import selectivity

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        layers = [subject.resolve(name.strip()) for name in spec.layer.split(",") if name.strip()]
        result = selectivity(
            subject, dataset, layers, threshold=spec.threshold, batch_size=spec.batch_size, progress=ctx.progress
        )
    output = cast(SelectivityData, result.to_dict())  # Selectivity.to_dict's shape (plots, skipped follow), validated
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


@data_model
class FacetsUsed(TypedDict):
    """What the clustering really used (k, m and the PCA dimensions are capped by the images)."""

    k: Annotated[int, Field(ge=1, description="clusters")]
    pca_dims: Annotated[int, Field(ge=1, description="PCA dimensions of the codes")]
    perplexity: Annotated[float, Field(description="t-SNE perplexity: min(30, (images - 1) / 3)")]
    images: Annotated[int, Field(ge=0, description="images clustered")]
    m: Annotated[int, Field(ge=1, description="images averaged per cluster")]
    code_layer: Annotated[str, Field(description="the layer whose codes were clustered")]


@data_model
class FacetCriteria(TypedDict):
    """Seed 000's four criteria of a facet picture (the PNG), each in [0, 1], 1 best (`techniques.trust.facet_criteria`,
    docs/data-driven.md)."""

    natural_colours: Annotated[
        float,
        Field(ge=0, le=1, description="colourfulness (Hasler & Suesstrunk 2003) over the clustered images', at most 1"),
    ]
    central_object: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="share s of the Sobel edge energy inside the central half of the area, as (s - a) / (1 - a) "
            "with a the central area's share (0.5): 0 = edges spread evenly or at the border, 1 = all central",
        ),
    ]
    global_structure: Annotated[
        float, Field(ge=0, le=1, description="share of the non-DC power below 4 cycles per image (global layout)")
    ]
    clarity_of_details: Annotated[
        float,
        Field(
            ge=0,
            le=1,
            description="Hoyer sparseness of the Sobel edge magnitude: crisp edges on calm surfaces near 1, "
            "noise or busy texture about 0.1",
        ),
    ]


@data_model
class NaturalStatistics(TypedDict):
    """Medians of natural-image statistics over the clustered images (`techniques.trust.reference_statistics`)."""

    spectral_slope: Annotated[
        Measured, Field(description="slope of log10 power vs log10 frequency of the grey image (photos: -2 to -3)")
    ]
    high_frequency_share: Annotated[
        Measured, Field(description="power above 0.25 cycles per pixel over all non-DC power, in [0, 1]")
    ]
    colourfulness: Annotated[Measured, Field(description="Hasler & Suesstrunk 2003 M on [0, 1] values (0 = grey)")]


@data_model
class Facet(TypedDict):
    """One cluster of images and the facet visualized from its mean image."""

    id: Annotated[int, Field(ge=0, description="the cluster's number")]
    members: Annotated[list[str], Field(description="the images of the cluster (dataset ids)")]
    mean_image: Annotated[FilePath, Field(description="the mean of its m images nearest the centre (PNG)")]
    facet_image: Annotated[FilePath, Field(description="the unit maximized from the mean image (PNG)")]
    activation: Annotated[Measured, Field(description="the unit on the facet image (activation units)")]
    mean_activation: Annotated[Measured, Field(description="the unit on the mean image")]
    structure: Annotated[Measured, Field(description="correlation r of the facet with its mean image, in [-1, 1]")]
    nearest_image: Annotated[str, Field(description="the member nearest the cluster's centre (dataset id)")]
    criteria: FacetCriteria


@data_model
class EmbeddingPoint(TypedDict):
    """One clustered image in the 2-D t-SNE embedding."""

    id: Annotated[str, Field(description="the image (dataset id)")]
    x: Annotated[Measured, Field(description="t-SNE coordinate (rounded to 4 decimals)")]
    y: Measured
    cluster: Annotated[int, Field(ge=0, description="its cluster's id")]


@data_model
class FacetsData(TypedDict):
    """The `facets` recipe's data."""

    target: Annotated[str, Field(description="the unit, `LAYER:UNIT`")]
    images: Annotated[str, Field(description="which images were clustered (`class C` or `top N images of U`)")]
    code_layer: Annotated[str, Field(description="the layer whose codes were clustered")]
    used: FacetsUsed
    steps: Annotated[int, Field(ge=1, description="maximization iterations of each facet (all octaves)")]
    preset: Annotated[
        Literal["torchvision", "caffenet"], Field(description="the maximization's octaves and regularization")
    ]
    clusters: Annotated[list[Facet], Field(description="one per cluster (at most k)")]
    reference: NaturalStatistics
    embedding_plot: Annotated[FilePath, Field(description="the t-SNE embedding with the images, by cluster (PNG)")]
    points: Annotated[list[EmbeddingPoint], Field(description="the 2-D embedding, one point per clustered image")]
    sheet: Annotated[FilePath, Field(description="per cluster: mean image, facet, nearest image (PNG)")]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files that could not be read")]


@recipe("facets", 3, FacetsSpec, FacetsData, "multifaceted feature visualization (MFV) of a unit or class")
def run_facets(spec: FacetsSpec, ctx: RunContext) -> Result[FacetsData]:
    """Multifaceted feature visualization of one unit: the kinds of images that excite it, one picture each.

    The images U (a class's, or the unit's `top_images` top examples) are embedded by their codes at `code_layer`
    (fc7-like, default the penultimate layer), reduced by PCA, embedded in 2-D by t-SNE and clustered by
    k-means; each cluster's m images nearest its centre are averaged, and the unit is maximized from that mean
    image in octaves (gradient ascent with blur / total-variation regularization): one facet per cluster.

    Args:
        spec: the dataset, `target` (`LAYER:UNIT`, e.g. logits:285), `class_name`, `top_images` (>= 3),
            `code_layer`, `k` clusters (1..100), `m` images per mean (1..10,000), `pca` dimensions, `steps`,
            `preset`, `seed`, `batch_size`, `fit`.
        ctx: reports ("images", done, total) while the codes are read and ("steps", done, clusters x
            iterations) while maximizing (cancel points), previews `facet C` 8 times; writes
            `facet<C>_{mean,facet,nearest}.png`, `embedding.png`, `facets.png`.

    Returns:
        `FacetsData`: target, images (which were clustered), code_layer, used {k, pca_dims, perplexity, images,
        m, code_layer}, steps, preset, clusters [{id, members, mean_image, facet_image, activation,
        mean_activation, structure, nearest_image, criteria {natural_colours, central_object, global_structure,
        clarity_of_details}, each in [0, 1] (seed 000's four criteria, `techniques.trust.facet_criteria`, on the
        facet's PNG)}], reference {spectral_slope, high_frequency_share, colourfulness} (medians over the
        clustered images), embedding_plot, points [{id, x, y, cluster}], sheet, skipped. Images are [C, H, W] in
        [0, 1] at the model's input size.

    Raises:
        ConvscopeError: an unknown layer or unit, an unknown class, fewer than 2 different images, a dataset
            without readable images. Cancelled: on a cancel.

    References:
        Nguyen, Yosinski & Clune 2016, "Multifaceted feature visualization" (ICML Visualization for Deep Learning
        workshop); Mayer, "Interpretable Neural Network using Feature Visualization" (seed 000), §3.2, eq. 3.1,
        Fig. 3-4, §4.II.B.
    """
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
) -> FacetsData:
    """MFV of a class's images (or the unit's top images): the facets computed, their pictures written through
    `ctx`, the facets data returned (its `skipped` read once the scans are done)."""
    from ..core.images import grid, pil_to_tensor, tensor_to_pil
    from ..techniques.examples import top_examples
    from ..techniques.facets import embedding_plot, facets, scaled_octaves
    from ..techniques.trust import facet_criteria, reference_statistics

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
    clustered = [dataset.load(i) for i in kept]
    reference = reference_statistics(clustered)  # the criteria's natural colours are relative to these images'
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
            Facet(
                id=c,
                members=[dataset.ids[i] for i in facet.members],
                mean_image=str(paths["mean"]),
                facet_image=str(paths["facet"]),
                activation=facet.activation,
                mean_activation=facet.mean_activation,
                structure=facet.structure,
                nearest_image=dataset.ids[facet.nearest],
                criteria=cast(  # of the picture as saved (8-bit PNG), which is what a viewer judges
                    FacetCriteria, facet_criteria(pil_to_tensor(tensor_to_pil(facet.facet_image)), reference)
                ),
            )
        )
    plot = ctx.path("embedding.png")
    embedding_plot(clusters, clustered).save(plot)
    sheet = ctx.path("facets.png")
    grid(tiles, captions, columns=3).save(sheet)
    return FacetsData(
        target=f"{layer}:{target[1]}",
        images=source,
        code_layer=clusters.used["code_layer"],
        used=cast(FacetsUsed, clusters.used),
        steps=sum(o.iterations for o in octaves),
        preset=cast(Literal["torchvision", "caffenet"], preset),
        clusters=clusters_json,
        reference=cast(NaturalStatistics, reference),
        embedding_plot=str(plot),
        points=[  # the t-SNE embedding, one point per clustered image (for interactive plots)
            EmbeddingPoint(id=dataset.ids[i], x=round(float(x), 4), y=round(float(y), 4), cluster=int(c))
            for i, (x, y), c in zip(kept, clusters.embedding, clusters.labels)
        ],
        sheet=str(sheet),
        skipped=_skipped(dataset),
    )
