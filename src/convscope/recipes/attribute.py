"""The attribution recipe: one image, one method; heatmaps for every layer, filter rankings, the conservation trace
(LRP only), optionally the input attribution as .npy (seed 001 §2.5.5-2.5.6, §3.4-3.5; seed 004 for occlusion).

Over 400 lines on purpose: the spec and the result schema of every method (one TypedDict of details per family) live
with the one run function that fills them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union, cast

import numpy as np
import torch
from PIL import Image
from pydantic import Field, field_validator
from typing_extensions import NotRequired, TypedDict

from ..core.images import tensor_to_pil, upscale
from ..core.subject import LOGITS
from ..core.units import parse_target
from ..techniques.attribution.conservation import absorbed_per_layer, block_outputs
from ..techniques.attribution.gradients import SMOOTH_KINDS, SMOOTHABLE
from ..techniques.attribution.ranking import channel_relevance, rank_filters
from ..techniques.attribution.report import LRP_METHODS, METHODS, attribute, heatmap_image, heatmap_values, is_signed
from .base import ImagePath, ModelRef, Result, RunContext, Spec, recipe
from .results import FilePath, Measured, data_model

Method = Literal[tuple(METHODS)]  # the one list of methods: attribution.report.METHODS


def spelled_target(value):
    """A `target` field's value: a class index stays an int (`"285"` becomes 285); a hidden unit's spelling
    (LAYER:CHANNEL[@Y,X]) is checked (syntax only). Raises ValueError (a 422 on `target`) for a bad spelling."""
    if isinstance(value, str):
        parsed = parse_target(value, "target")
        return parsed if isinstance(parsed, int) else str(parsed)
    return value


#: an `epsilon` field: the LRP rules' stabilizer (attribute, faithfulness, concepts)
Epsilon = Annotated[
    float | None,
    Field(gt=0, le=1e3, description="LRP: the stabilizer of the rules' denominators, z + eps sign(z) (default 1e-6)"),
]

#: a `target` field: a class index, LAYER:CHANNEL or LAYER:CHANNEL@Y,X (checked by `spelled_target`)
Target = Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1, max_length=512)] | None


class MethodOptions(Spec):
    """The options of the attribution methods (report.attribute's keywords), shared by every recipe that runs one:
    `attribute`, `faithfulness`. `method_options()` hands them on."""

    maxpool: Literal["wta", "avg"] = Field("wta", description="LRP at max-pooling: winner takes all, or as averaging")
    ignore_bias: bool = False
    epsilon: Epsilon = None
    alpha: float = Field(2.0, ge=1, le=100, description="lrp-alphabeta: alpha (beta = alpha - 1)")
    layer: str | None = Field(None, description="gradcam: the layer (default: the last spatial one)")
    steps: int = Field(32, ge=1, le=4096, description="integrated-gradients: steps")
    patch: int | None = Field(None, ge=1, le=4096, description="occlusion: patch size in pixels")
    stride: int | None = Field(None, ge=1, le=4096, description="occlusion: stride in pixels")
    fill: Literal["zero", "mean"] = Field("zero", description="occlusion: what covers a patch: 0, or the image's mean")
    smooth_of: Literal[SMOOTHABLE] = Field("saliency", description="smoothgrad: the gradient method smoothed")
    samples: int = Field(16, ge=1, le=4096, description="smoothgrad: noisy copies of the image")
    noise: float = Field(0.15, ge=0, le=10, description="smoothgrad: noise sigma as a fraction of the input range")
    smooth_kind: Literal[SMOOTH_KINDS] = Field(
        "mean", description="smoothgrad: mean (SmoothGrad), squared (SmoothGrad-Squared) or variance (VarGrad)"
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="smoothgrad: the noise's seed (faithfulness: all its draws)")
    fit: Literal["squash", "crop"] = "squash"

    def method_options(self) -> dict:
        """The options as report.attribute's keywords (all but `fit`, which reads the image)."""
        return {name: getattr(self, name) for name in MethodOptions.model_fields if name != "fit"}


class AttributeSpec(MethodOptions):
    """Explain one image's class score with one attribution method."""

    model: ModelRef = ModelRef()
    image: ImagePath
    method: Method = "dtd"
    target: Target = Field(
        None,
        description="what to explain: a class index (default: the predicted class), a hidden channel LAYER:CHANNEL "
        "(its spatial mean activation) or one position of its map LAYER:CHANNEL@Y,X (row, column)",
    )
    layers: str = Field(
        "all",
        min_length=1,
        description="all, or comma-separated layer names for per-layer relevance (LRP and gradient methods)",
    )
    rank: int = Field(5, ge=1, le=4096, description="top filters listed per layer")
    save_npy: bool = Field(False, description="also write the input attribution [C, H, W] as .npy")

    _spelled_target = field_validator("target")(classmethod(lambda cls, value: spelled_target(value)))


def _safe(name: str) -> str:
    return name.replace("/", "-").replace(":", "-")


#: methods whose input map is a magnitude, max |gradient| over channels (Simonyan et al. 2014 §3.1): shown unsigned
MAGNITUDE = ("saliency", "guided-backprop", "deconvnet")
#: the methods with per-layer gradient x activation
GRADIENT_LAYERS = (*MAGNITUDE, "gradient-x-input")
#: methods whose input map is shown on a robust scale: the ramp ends at the 99th percentile of |values|, not at the
#: maximum (a few extreme pixels would leave every other one near 0, the map "nearly blank")
ROBUST = (*MAGNITUDE, "gradient-x-input", "smoothgrad", "integrated-gradients")
ROBUST_PERCENTILE = 99.0


@data_model
class MapScale(TypedDict):
    """How a heatmap's values map to its colours (the colour bar of the map): the ramp runs from `low` to `high`;
    values beyond are shown at the ramp's end."""

    signed: Annotated[
        bool, Field(description="blue (negative) - white (0) - red (positive); false: black - red - yellow - white")
    ]
    low: Annotated[float, Field(description="the value at the ramp's start (signed: -high; unsigned: 0)")]
    high: Annotated[float, Field(description="the value at the ramp's end (>= 0; 0: an all-zero map)")]
    min: Annotated[Measured, Field(description="the map's smallest value (the map's units)")]
    max: Annotated[Measured, Field(description="the map's largest value (the map's units)")]
    percentile: Annotated[
        float | None,
        Field(description="high is this percentile of |values| (a robust scale); null: high is max |value|"),
    ]


def map_display(values: torch.Tensor, signed: bool, robust: bool) -> tuple[Image.Image, MapScale]:
    """A heatmap [H, W] (or [1, C]) as its picture and its colour scale: signed blue-white-red over [-high, high],
    else the heat ramp over [0, high]; high = max |value| (Algorithm 3), or with `robust` the 99th percentile of
    |values| (when that is above 0), the values beyond it clipped for the picture only."""
    array = np.nan_to_num(values.detach().float().cpu().numpy().astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    magnitude = np.abs(array) if signed else np.clip(array, 0, None)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    high, percentile = peak, None
    if robust and magnitude.size:
        robust_high = float(np.percentile(magnitude, ROBUST_PERCENTILE))
        if 0 < robust_high < peak:
            high, percentile = robust_high, ROBUST_PERCENTILE
            array = np.clip(array, -high, high)
    finite = values.detach().float()
    finite = finite[torch.isfinite(finite)]
    scale = MapScale(
        signed=signed,
        low=-high if signed else 0.0,
        high=high,
        min=float(finite.min()) if finite.numel() else None,
        max=float(finite.max()) if finite.numel() else None,
        percentile=percentile,
    )
    return heatmap_image(array, signed), scale


@data_model
class FilterRelevance(TypedDict):
    """One filter (channel) of a layer and its relevance."""

    index: Annotated[int, Field(ge=0, description="channel index")]
    relevance: Annotated[Measured, Field(description="R_c: the channel's relevance summed over space")]


@data_model
class LayerRelevance(TypedDict):
    """The attribution at one layer (LRP: relevance R; gradient methods: gradient x activation; Grad-CAM: the
    channel contributions of its layer)."""

    name: Annotated[str, Field(description="the layer (`logits`: the output)")]
    type: Annotated[str, Field(description="the module's class name")]
    shape: Annotated[list[int], Field(description="the layer's relevance tensor for the image, [C, H, W] or [C]")]
    relevance_sum: Annotated[Measured, Field(description="sum of the layer's relevance (units of the target's logit)")]
    fraction_of_output: NotRequired[
        Annotated[
            float | None,
            Field(description="LRP: relevance_sum / output, the conservation trace (1: all of the logit; null: 0)"),
        ]
    ]
    heatmap: NotRequired[Annotated[FilePath, Field(description="the layer's map (PNG); not for logits")]]
    scale: NotRequired[Annotated[MapScale, Field(description="the colours of `heatmap` (with it)")]]
    top_filters: Annotated[list[FilterRelevance], Field(description="the `rank` channels of largest R_c")]
    filters_for_90_percent: Annotated[
        int | None, Field(description="fewest channels holding 90% of the relevance (null: no positive total)")
    ]
    cumulative: Annotated[
        list[Measured], Field(description="C(k) = sum of the k largest R_c / sum of all R_c, for k = 1..rank")
    ]


@data_model
class CompositeRules(TypedDict):
    """An LRP composite: the rule of the input layer, of convolutions and of linear layers."""

    name: Annotated[str, Field(description="the composite (dtd, epsilon-plus, alpha2beta1 ...)")]
    input: Annotated[str, Field(description="the input layer's rule (zbox, flat, w2 ...)")]
    conv: Annotated[str, Field(description="the convolutions' rule (zplus, epsilon, alphabeta ...)")]
    linear: Annotated[str, Field(description="the linear layers' rule")]


@data_model
class FoldedBatchNorm(TypedDict):
    """A BatchNorm folded into the layer before it (LRP sees one affine layer)."""

    batchnorm: Annotated[str, Field(description="the BatchNorm layer")]
    into: Annotated[str, Field(description="the convolution or linear layer it was folded into")]


@data_model
class CanonizerPlan(TypedDict):
    """How BatchNorm layers were handled for LRP."""

    folded: Annotated[list[FoldedBatchNorm], Field(description="the BatchNorms folded into a layer")]
    standalone_batchnorms: Annotated[list[str], Field(description="BatchNorms without a layer to fold into")]


@data_model
class AbsorbedShare(TypedDict):
    """One layer's loss of relevance to its biases and the stabilizer (Bach et al. 2015, eq. 2)."""

    layer: Annotated[str, Field(description="the layer")]
    absorbed: Annotated[Measured, Field(description="R_out - R_in of its rule, logit units (negative: a gain)")]
    fraction: Annotated[Measured, Field(description="absorbed / the output")]


@data_model
class BlockShare(TypedDict):
    """The relevance at a top-level block's output."""

    layer: Annotated[str, Field(description="the block (a direct child of the model, or of its top Sequential)")]
    fraction: Annotated[Measured, Field(description="its relevance sum / the output (1: conserved so far)")]


@data_model
class LrpInfo(TypedDict):
    """dtd, lrp-epsilon, lrp-alphabeta: how the relevance was propagated."""

    composite: CompositeRules
    maxpool: Annotated[Literal["wta", "avg"], Field(description="max-pooling: winner takes all, or as average pooling")]
    ignore_bias: Annotated[bool, Field(description="biases took no relevance")]
    epsilon: Annotated[float, Field(description="the stabilizer of the rules' denominators, z + eps sign(z)")]
    input_layers: Annotated[list[str], Field(description="the layers given the input rule")]
    canonizers: CanonizerPlan
    fold_deviation: Annotated[
        float | None, Field(description="max |logits after folding - before| (null: not checked)")
    ]
    absorbed: Annotated[
        list[AbsorbedShare],
        Field(description="per layer, input side first: what its biases and the stabilizer took from the relevance"),
    ]
    absorbed_total: Annotated[Measured, Field(description="their sum / the output (0 with ignore_bias and eps -> 0)")]
    blocks: Annotated[
        list[BlockShare],
        Field(description="relevance at each top-level block's output (residual branches merged) / the output"),
    ]


@data_model
class GradientInfo(TypedDict):
    """saliency, guided-backprop, deconvnet: nothing more to say."""


@data_model
class GradCamInfo(TypedDict):
    """gradcam, gradcam-plusplus, scorecam: the layer they weighted."""

    layer: Annotated[str, Field(description="the layer the CAM weighted")]


@data_model
class SmoothGradInfo(TypedDict):
    """smoothgrad: the method smoothed and its noise."""

    of: Annotated[str, Field(description="the gradient method smoothed")]
    samples: Annotated[int, Field(ge=1, description="noisy copies")]
    noise: Annotated[float, Field(description="sigma as a fraction of the input range")]
    sigma: Annotated[list[Measured], Field(description="sigma per image, in the network's (normalized) input units")]
    kind: Annotated[Literal[SMOOTH_KINDS], Field(description="mean, squared (mean of squares) or variance")]
    seed: Annotated[int, Field(description="the noise's seed")]


@data_model
class IntegratedGradientsInfo(TypedDict):
    """integrated-gradients: the path integral's settings and its completeness check."""

    steps: Annotated[int, Field(ge=1, description="path points of the Riemann sum")]
    baseline: Annotated[float, Field(description="the baseline image's constant value, in [0, 1]")]
    output_minus_baseline: Annotated[
        list[Measured], Field(description="F(x) - F(baseline) per image: what the attributions should sum to")
    ]


@data_model
class OcclusionInfo(TypedDict):
    """occlusion: the patches slid over the image."""

    patch: Annotated[int, Field(ge=1, description="patch side in pixels")]
    stride: Annotated[int, Field(ge=1, description="pixels between patch positions")]
    fill: Annotated[Literal["zero", "mean"], Field(description="what covers a patch: 0, or the image's mean")]
    patches: Annotated[int, Field(ge=0, description="patch positions tried")]
    uncovered_fraction: Annotated[float, Field(description="share of the pixels no patch covers (their map is 0)")]


AttributionInfo = Union[LrpInfo, GradCamInfo, IntegratedGradientsInfo, OcclusionInfo, SmoothGradInfo, GradientInfo]


@data_model
class Explained(TypedDict):
    """What a map explains, in the data of every recipe that explains one (attribute, faithfulness)."""

    image: Annotated[str, Field(description="the image, as the spec named it")]
    method: Annotated[Method, Field(description="the attribution method")]
    target: Annotated[int, Field(ge=0, description="the explained class (a hidden unit: its channel)")]
    label: Annotated[str, Field(description="the explained class's name (a hidden unit: its spelling)")]
    unit: NotRequired[
        Annotated[str, Field(description="the hidden unit explained, LAYER:CHANNEL or LAYER:CHANNEL@Y,X (not a class)")]
    ]
    output: Annotated[Measured, Field(description="the target's logit (a hidden unit: its activation score)")]


@data_model
class AttributeFile(Explained):
    """The content of `<image stem>_<method>.json` (paths relative to its folder): the data without `json`."""

    input_relevance_sum: Annotated[
        Measured, Field(description="sum of the input attribution (LRP: the relevance that reached the pixels)")
    ]
    heatmap: Annotated[FilePath, Field(description="the input attribution's map (PNG)")]
    scale: Annotated[
        MapScale,
        Field(
            description="the colours of `heatmap`: relevance per pixel (summed over colour channels); saliency, "
            "guided-backprop, deconvnet: max |gradient| over colour channels, unsigned"
        ),
    ]
    input: Annotated[FilePath, Field(description="the image as the model saw it (its input size, after fit; PNG)")]
    layers: Annotated[
        list[LayerRelevance],
        Field(description="per layer (LRP, saliency, guided-backprop, deconvnet; gradcam: its layer; else none)"),
    ]
    npy: Annotated[FilePath | None, Field(description="save_npy: the input attribution [C, H, W] as float32 .npy")]
    info: Annotated[AttributionInfo, Field(description="method-specific details")]
    conservation: NotRequired[
        Annotated[Measured, Field(description="LRP: input_relevance_sum / output (1: conserved)")]
    ]


@data_model
class AttributeData(AttributeFile):
    """The `attribute` recipe's data."""

    json: Annotated[FilePath, Field(description="this data as a JSON file (`AttributeFile`)")]


@recipe(
    "attribute",
    2,
    AttributeSpec,
    AttributeData,
    "attribution heatmaps (Deep Taylor / LRP at every layer, gradients, "
    "Grad-CAM, integrated gradients, occlusion) and filter ranking",
)
def run_attribute(spec: AttributeSpec, ctx: RunContext) -> Result[AttributeData]:
    """Explain one image's class score (the logit of `target`, default the predicted class) with one method.

    LRP (dtd = Deep Taylor: z^B at the input, z+ elsewhere; lrp-epsilon; lrp-alphabeta) redistributes the logit
    backwards, R_j = sum_k a_j w_jk / sum_j' a_j' w_j'k R_k (per rule), at every layer; gradient methods give
    dF/dx (saliency; guided-backprop and deconvnet modify the ReLU backward), and gradient x activation per layer;
    Grad-CAM weights a layer's channels by their mean gradient, ReLU(sum_c alpha_c A_c); integrated gradients
    IG = (x - x') * mean_k dF/dx(x' + (k + 1/2)/m (x - x')); occlusion the drop of F when a patch is covered.
    Maps are R / max R on the heat ramp (seed 001 Algorithm 3; signed maps blue-white-red); the input maps of
    saliency, guided-backprop and deconvnet (max |gradient|, a magnitude) are unsigned, and those of the gradient
    family and integrated gradients end their ramp at the 99th percentile of |values| (`MapScale`).

    Args:
        spec: the image (at the model's input size, [0, 1]), `method`, `target`, `layers` (all or names, for the
            per-layer relevance), `rank` (top filters listed, 1..4096), LRP options (maxpool, ignore_bias, epsilon,
            alpha), gradcam `layer`, integrated-gradients `steps`, occlusion `patch` / `stride` (px) / `fill`,
            `save_npy`.
        ctx: reports ("steps" / "patches", done, total) for integrated gradients and occlusion (cancel points);
            writes `<stem>_input.png` (the map), `<stem>_image.png` (the image as the model saw it),
            `<stem>_layers/<layer>.png`, `<stem>.json` and with save_npy `<stem>.npy` (stem: `<image stem>_<method>`).

    Returns:
        `AttributeData`: target, label, output (the logit), input_relevance_sum, heatmap, scale (its colours:
        `MapScale`), input (the image seen), `layers` [{name, type, shape, relevance_sum, fraction_of_output (LRP),
        heatmap, scale, top_filters [{index, relevance}],
        filters_for_90_percent, cumulative}], npy, `info` (per method), `conservation` (LRP: input relevance /
        output), json. Relevance is in units of the target's logit.

    Raises:
        ConvscopeError: a bad layer or target, a model LRP cannot handle (TorchScript), or an LRP result float32
            cannot hold; ImageError for an unreadable image.

    References:
        Bach et al. 2015, "On pixel-wise explanations ... by layer-wise relevance propagation"; Montavon et al.
        2017, "Explaining nonlinear classification decisions with deep Taylor decomposition"; Barsch & Eilertsen
        2018 (seed 001), §2.5.5-2.5.6 (eq. 2.12-2.13), §3.4-3.5, Algorithm 3 and Fig. 4.23 (filter ranking);
        Simonyan et al. 2014 (saliency); Springenberg et al. 2015 (guided backprop); Zeiler & Fergus 2014
        (deconvnet, occlusion; seed 004); Selvaraju et al. 2017 (Grad-CAM, eq. 1-2); Sundararajan et al. 2017
        (integrated gradients, eq. 3).
    """
    method = spec.method
    layers = spec.layers if method in LRP_METHODS or method in GRADIENT_LAYERS else None
    conserving = method in LRP_METHODS
    ledger: list | None = [] if conserving else None  # LRP: what each rule's biases and stabilizer took
    with ctx.subject(spec.model) as subject:
        image = subject.load_image(spec.image, spec.fit)
        result = attribute(
            subject,
            image,
            method,
            spec.target,
            layers,
            progress=ctx.progress,
            ledger=ledger,
            **spec.method_options(),
        )
        blocks = block_outputs(subject) if conserving else []
        types = {name: subject.graph.nodes[name].type if name in subject.graph.nodes else "" for name in result.layers}
        unit = getattr(result, "unit", None)
        label = unit if unit else subject.label(int(result.target[0]))
    stem = f"{Path(spec.image).stem}_{method}"
    output = float(result.output[0])
    input_map = heatmap_values(result.input[0], result.info.get("reduce", "sum"))
    input_png = ctx.path(f"{stem}_input.png")
    magnitude = method in MAGNITUDE or result.info.get("reduce") == "max-abs"  # max |gradient| (also smoothed)
    input_signed = False if magnitude else is_signed(result, input_map)
    picture, input_scale = map_display(input_map, input_signed, method in ROBUST)
    picture.save(input_png)
    seen_png = ctx.path(f"{stem}_image.png")
    tensor_to_pil(image[0]).save(seen_png)
    entries: list[LayerRelevance] = []
    for name, relevance in result.layers.items():
        values = relevance[0]
        # the keys after relevance_sum follow below, in their order on the wire
        entry = LayerRelevance(name=name, type=types[name], shape=list(values.shape), relevance_sum=float(values.sum()))  # type: ignore[typeddict-item]
        if conserving:  # the conservation trace; the gradient family's gradient x activation conserves nothing
            entry["fraction_of_output"] = float(values.sum()) / output if output else None
        if name != LOGITS and values.dim() >= 1:
            path = ctx.path(f"{stem}_layers/{_safe(name)}.png")
            layer_map = heatmap_values(values) if values.dim() == 3 else channel_relevance(values)
            picture, entry_scale = map_display(layer_map, is_signed(result, layer_map), robust=False)
            upscale(picture).save(path)
            entry["heatmap"] = str(path)
            entry["scale"] = entry_scale
        ranking = rank_filters(values, spec.rank)
        entry["top_filters"] = ranking["top_filters"]
        entry["filters_for_90_percent"] = ranking["filters_for_90_percent"]
        entry["cumulative"] = ranking["cumulative"][: spec.rank]
        entries.append(entry)
    summary = AttributeFile(
        image=spec.image,
        method=method,
        target=int(result.target[0]),
        label=label,
        output=output,
        input_relevance_sum=float(result.input[0].sum()),
        heatmap=str(input_png),
        scale=input_scale,
        input=str(seen_png),
        layers=entries,
        npy=None,
        # the unit is the result's own `unit`; `reduce` is how the map was drawn
        info=cast(AttributionInfo, {k: v for k, v in result.info.items() if k not in ("reduce", "unit", "condition")}),
    )
    if unit:
        summary["unit"] = unit
    if conserving:
        absorbed = absorbed_per_layer(ledger or [], output)
        summary["info"].update(  # type: ignore[union-attr]
            absorbed=absorbed,
            absorbed_total=sum(a["absorbed"] for a in absorbed) / output if output else None,
            blocks=[
                BlockShare(layer=name, fraction=float(result.layers[name][0].sum()) / output if output else None)
                for name in blocks
                if name in result.layers
            ],
        )
    if output and conserving:
        summary["conservation"] = float(result.input[0].sum()) / output
    if spec.save_npy:
        path = ctx.path(f"{stem}.npy")
        np.save(path, result.input[0].detach().float().cpu().numpy())
        summary["npy"] = str(path)
    ctx.write_json(f"{stem}.json", summary)
    return ctx.result("attribute", AttributeData(**summary, json=str(ctx.out / f"{stem}.json")))
