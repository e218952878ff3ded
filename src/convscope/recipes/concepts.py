"""The concepts recipe: concept-conditional relevance (CRP, Achtibat et al. 2023) of one image: per chosen channel of
a layer (default: the most relevant ones) its conditional heatmap, relevance and share, and the lower-layer channels
that feed it most (the edges of a concept graph); docs/attribution.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from typing_extensions import TypedDict

from ..techniques.attribution.composites import COMPOSITES
from ..techniques.attribution.crp import conditional_relevance, graph_edges
from ..techniques.attribution.explainer import LRP
from ..techniques.attribution.ranking import channel_relevance
from ..techniques.attribution.report import heatmap_values
from .attribute import Epsilon, MapScale, Target, map_display, spelled_target
from .base import ImagePath, ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, data_model

CompositeName = Literal[tuple(COMPOSITES)]


class ConceptsSpec(Spec):
    """Where in the image each channel of a layer contributes to the explained class (CRP)."""

    model: ModelRef = ModelRef()
    image: ImagePath
    target: Target = Field(
        None,
        description="what to explain: a class index (default: the predicted class), or a hidden unit above the layer, "
        "LAYER:CHANNEL or LAYER:CHANNEL@Y,X",
    )
    layer: str = Field(min_length=1, description="the layer whose channels condition the relevance")
    channels: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, max_length=256, description="the channels (default: the `top` most relevant ones)"
    )
    top: int = Field(5, ge=1, le=256, description="channels explained when `channels` is not given")
    composite: CompositeName = Field("dtd", description="the LRP composite (default dtd: Deep Taylor)")
    lower_layer: str | None = Field(None, min_length=1, description="a layer below `layer`: the concept graph's edges")
    lower_top: int = Field(5, ge=1, le=256, description="lower-layer channels listed per channel")
    maxpool: Literal["wta", "avg"] = Field("wta", description="LRP at max-pooling: winner takes all, or as averaging")
    ignore_bias: bool = False
    epsilon: Epsilon = None
    fit: Literal["squash", "crop"] = "squash"

    _spelled_target = field_validator("target")(classmethod(lambda cls, value: spelled_target(value)))


@data_model
class ConceptChannel(TypedDict):
    """One channel of the layer and its conditional relevance."""

    channel: Annotated[int, Field(ge=0, description="the channel")]
    relevance: Annotated[Measured, Field(description="R(theta | x): its relevance at the layer (output units)")]
    share: Annotated[float | None, Field(description="relevance / the layer's total relevance (null: a total of 0)")]
    input_relevance: Annotated[Measured, Field(description="the sum of its conditional heatmap (output units)")]
    heatmap: Annotated[FilePath, Field(description="its conditional heatmap R(x | theta) (PNG)")]
    scale: Annotated[MapScale, Field(description="the colours of `heatmap`")]


@data_model
class ConceptEdge(TypedDict):
    """Relevance from a channel of the layer to a channel of the lower layer."""

    source: Annotated[str, Field(description="LAYER:CHANNEL of the upper concept")]
    to: Annotated[str, Field(description="LOWER_LAYER:CHANNEL it passes relevance to")]
    relevance: Annotated[Measured, Field(description="the relevance passed, summed over positions (output units)")]
    share: Annotated[float, Field(description="relevance / sum of |relevance| over the lower layer's channels")]


@data_model
class ConceptsFile(TypedDict):
    """The content of `<image stem>_concepts.json` (paths relative to its folder): the data without `json`."""

    image: Annotated[str, Field(description="the image, as the spec named it")]
    target: Annotated[int, Field(ge=0, description="the explained class (a hidden unit: its channel)")]
    unit: Annotated[str | None, Field(description="the hidden unit explained, LAYER:CHANNEL[@Y,X] (null: a class)")]
    label: Annotated[str, Field(description="the explained class's name, or the unit")]
    output: Annotated[Measured, Field(description="the explained logit, or the unit's score")]
    composite: Annotated[str, Field(description="the LRP composite")]
    layer: Annotated[str, Field(description="the conditioning layer")]
    layer_relevance: Annotated[Measured, Field(description="the layer's total relevance (unconditional)")]
    heatmap: Annotated[FilePath, Field(description="the unconditional heatmap (PNG)")]
    scale: Annotated[MapScale, Field(description="the colours of `heatmap`")]
    channels: Annotated[list[ConceptChannel], Field(description="per channel, in the order asked (or by relevance)")]
    lower_layer: Annotated[str | None, Field(description="the lower layer of the concept graph (null: none)")]
    edges: Annotated[list[ConceptEdge], Field(description="the concept graph: lower_top edges per channel")]


@data_model
class ConceptsData(ConceptsFile):
    """The `concepts` recipe's data."""

    json: Annotated[FilePath, Field(description="this data as a JSON file (`ConceptsFile`)")]


def _safe(name: str) -> str:
    return name.replace("/", "-").replace(":", "-")


@recipe(
    "concepts",
    1,
    ConceptsSpec,
    ConceptsData,
    "concept-conditional relevance (CRP): each channel's heatmap for a class and its concept graph",
)
def run_concepts(spec: ConceptsSpec, ctx: RunContext) -> Result[ConceptsData]:
    """Concept Relevance Propagation of one image: the LRP backward for the target (a class, or a hidden unit above
    `layer`) masked at `layer` to one channel at a time, R(x | theta) for theta = {target, channel c}.

    Args:
        spec: the image, `target`, `layer`, `channels` (default: the `top` channels of largest relevance R_c at the
            layer), `composite`, `lower_layer` / `lower_top` (the concept graph), maxpool, ignore_bias, epsilon (the
            rules' stabilizer, default 1e-6), fit.
        ctx: writes `<stem>_input.png` (the unconditional heatmap), `<stem>_channels/<layer>-<c>.png` per channel and
            `<stem>.json` (stem: `<image stem>_concepts`).
    Returns:
        `ConceptsData`: target, unit, label, output, layer_relevance, heatmap + scale, channels [{channel,
        relevance, share, input_relevance, heatmap, scale}], lower_layer, edges [{source, to, relevance, share}].
    Raises:
        ConvscopeError: a bad layer, channel, target or lower layer (one line naming the field), as
            `conditional_relevance`; ImageError for an unreadable image.
    References:
        Achtibat et al. 2023, "From attribution maps to human-understandable explanations through Concept Relevance
        Propagation" (Nature Machine Intelligence): conditional relevance, concept composition.
    """
    with ctx.subject(spec.model) as subject:
        image = subject.load_image(spec.image, spec.fit)
        explainer = LRP(
            subject, spec.composite, maxpool=spec.maxpool, ignore_bias=spec.ignore_bias, epsilon=spec.epsilon
        )
        plain = explainer.explain(image, spec.target, layers=[spec.layer])
        scores = channel_relevance(plain.layers[spec.layer][0].float().cpu())
        channels = spec.channels or scores.argsort(descending=True)[: spec.top].tolist()
        result = conditional_relevance(
            subject, image, spec.target, spec.layer, channels, explainer=explainer, lower_layer=spec.lower_layer
        )
        label = plain.unit or subject.label(int(plain.target[0]))
    stem = f"{Path(spec.image).stem}_concepts"
    total = float(scores.sum())
    unconditional = heatmap_values(plain.input[0])
    signed = bool((result.heatmaps < 0).any() or (unconditional < 0).any())
    picture, scale = map_display(unconditional, signed, robust=False)
    input_png = ctx.path(f"{stem}_input.png")
    picture.save(input_png)
    entries = []
    for k, channel in enumerate(result.channels):
        picture, channel_scale = map_display(result.heatmaps[k], signed, robust=False)
        path = ctx.path(f"{stem}_channels/{_safe(spec.layer)}-{channel}.png")
        picture.save(path)
        relevance = float(result.relevance[k])
        entries.append(
            ConceptChannel(
                channel=channel,
                relevance=relevance,
                share=relevance / total if total else None,
                input_relevance=float(result.input[k].sum()),
                heatmap=str(path),
                scale=channel_scale,
            )
        )
    edges = []
    if spec.lower_layer is not None:
        for edge in graph_edges(result, spec.lower_top):
            edges.append(
                ConceptEdge(source=edge["from"], to=edge["to"], relevance=edge["relevance"], share=edge["share"])
            )
    summary = ConceptsFile(
        image=spec.image,
        target=result.target,
        unit=plain.unit,
        label=label,
        output=result.output,
        composite=explainer.composite.name,
        layer=spec.layer,
        layer_relevance=total,
        heatmap=str(input_png),
        scale=scale,
        channels=entries,
        lower_layer=spec.lower_layer,
        edges=edges,
    )
    ctx.write_json(f"{stem}.json", summary)
    return ctx.result("concepts", ConceptsData(**summary, json=str(ctx.out / f"{stem}.json")))
