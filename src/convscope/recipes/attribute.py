"""The attribution recipe: one image, one method; heatmaps for every layer, filter rankings, the conservation trace
(LRP only), optionally the input attribution as .npy (seed 001 §2.5.5-2.5.6, §3.4-3.5; seed 004 for occlusion)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from ..core.images import upscale
from ..core.subject import LOGITS
from ..techniques.attribution.ranking import channel_relevance, rank_filters
from ..techniques.attribution.report import LRP_METHODS, METHODS, attribute, heatmap_image, heatmap_values, is_signed
from .base import ImagePath, ModelRef, Result, RunContext, Spec, recipe

Method = Literal[tuple(METHODS)]  # the one list of methods: attribution.report.METHODS


class AttributeSpec(Spec):
    """Explain one image's class score with one attribution method."""

    model: ModelRef = ModelRef()
    image: ImagePath
    method: Method = "dtd"
    target: int | None = Field(None, ge=0, description="class to explain (default: the predicted class)")
    layers: str = Field(
        "all",
        min_length=1,
        description="all, or comma-separated layer names for per-layer relevance (LRP and gradient methods)",
    )
    rank: int = Field(5, ge=1, le=4096, description="top filters listed per layer")
    maxpool: Literal["wta", "avg"] = "wta"
    ignore_bias: bool = False
    alpha: float = Field(2.0, ge=1, le=100, description="lrp-alphabeta: alpha (beta = alpha - 1)")
    layer: str | None = Field(None, description="gradcam: the layer (default: the last spatial one)")
    steps: int = Field(32, ge=1, le=4096, description="integrated-gradients: steps")
    patch: int | None = Field(None, ge=1, le=4096, description="occlusion: patch size in pixels")
    stride: int | None = Field(None, ge=1, le=4096, description="occlusion: stride in pixels")
    fill: Literal["zero", "mean"] = "zero"
    save_npy: bool = False
    fit: Literal["squash", "crop"] = "squash"


def _safe(name: str) -> str:
    return name.replace("/", "-").replace(":", "-")


@recipe(
    "attribute",
    1,
    AttributeSpec,
    "attribution heatmaps (Deep Taylor / LRP at every layer, gradients, "
    "Grad-CAM, integrated gradients, occlusion) and filter ranking",
)
def run_attribute(spec: AttributeSpec, ctx: RunContext) -> Result:
    """{"image", "method", "target", "label", "output" (the target's logit), "input_relevance_sum", "heatmap",
    "layers": [{"name", "type", "shape", "relevance_sum", "fraction_of_output" (LRP), "heatmap", "top_filters",
    "filters_for_90_percent", "cumulative"}], "npy", "info", "conservation" (LRP: input relevance / output)}.
    Heatmaps: seed 001 Algorithm 3 (R / max R on the heat ramp), signed maps blue-white-red. Raises
    ConvscopeError for a bad layer, target or a result float32 cannot hold (LRP)."""
    method = spec.method
    layers = spec.layers if method in LRP_METHODS or method in ("saliency", "guided-backprop", "deconvnet") else None
    with ctx.subject(spec.model) as subject:
        image = subject.load_image(spec.image, spec.fit)
        result = attribute(
            subject,
            image,
            method,
            spec.target,
            layers,
            maxpool=spec.maxpool,
            ignore_bias=spec.ignore_bias,
            alpha=spec.alpha,
            layer=spec.layer,
            steps=spec.steps,
            patch=spec.patch,
            stride=spec.stride,
            fill=spec.fill,
            progress=ctx.progress,
        )
        types = {name: subject.graph.nodes[name].type if name in subject.graph.nodes else "" for name in result.layers}
        label = subject.label(int(result.target[0]))
    stem = f"{Path(spec.image).stem}_{method}"
    output = float(result.output[0])
    input_map = heatmap_values(result.input[0], result.info.get("reduce", "sum"))
    input_png = ctx.path(f"{stem}_input.png")
    heatmap_image(input_map, is_signed(result, input_map)).save(input_png)
    conserving = method in LRP_METHODS
    entries = []
    for name, relevance in result.layers.items():
        values = relevance[0]
        entry = {"name": name, "type": types[name], "shape": list(values.shape), "relevance_sum": float(values.sum())}
        if conserving:  # the conservation trace; the gradient family's gradient x activation conserves nothing
            entry["fraction_of_output"] = float(values.sum()) / output if output else None
        if name != LOGITS and values.dim() >= 1:
            path = ctx.path(f"{stem}_layers/{_safe(name)}.png")
            layer_map = heatmap_values(values) if values.dim() == 3 else channel_relevance(values)
            upscale(heatmap_image(layer_map, is_signed(result, layer_map))).save(path)
            entry["heatmap"] = str(path)
        ranking = rank_filters(values, spec.rank)
        entry["top_filters"] = ranking["top_filters"]
        entry["filters_for_90_percent"] = ranking["filters_for_90_percent"]
        entry["cumulative"] = ranking["cumulative"][: spec.rank]
        entries.append(entry)
    summary = {
        "image": spec.image,
        "method": method,
        "target": int(result.target[0]),
        "label": label,
        "output": output,
        "input_relevance_sum": float(result.input[0].sum()),
        "heatmap": str(input_png),
        "layers": entries,
        "npy": None,
        "info": {k: v for k, v in result.info.items() if k != "reduce"},
    }
    if output and conserving:
        summary["conservation"] = summary["input_relevance_sum"] / output
    if spec.save_npy:
        path = ctx.path(f"{stem}.npy")
        np.save(path, result.input[0].detach().float().cpu().numpy())
        summary["npy"] = str(path)
    ctx.write_json(f"{stem}.json", summary)
    summary["json"] = str(ctx.out / f"{stem}.json")
    return ctx.result("attribute", summary)
