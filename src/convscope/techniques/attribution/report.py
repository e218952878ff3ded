"""The attribution entry point and its pictures: `attribute` runs one method on a batch; `heatmap_values`,
`heatmap_image` and `trace_table` turn results into heatmaps and the conservation trace (the attribute recipe
writes the files and the JSON).

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001), §3.4.2 and Algorithm 3 (heatmaps).
    Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks", §3.1 (max |gradient| over
    channels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ...core.errors import ConvscopeError
from ...core.images import heat_colormap, scale_to_255
from ...core.progress import Progress
from ...core.subject import Subject
from .explainer import LRP
from .result import Attribution

LRP_METHODS = {"dtd": "dtd", "lrp-epsilon": "epsilon-plus", "lrp-alphabeta": "alpha2beta1"}
METHODS = [
    *LRP_METHODS,
    "saliency",
    "gradient-x-input",
    "guided-backprop",
    "deconvnet",
    "smoothgrad",
    "gradcam",
    "gradcam-plusplus",
    "scorecam",
    "integrated-gradients",
    "occlusion",
]


def attribute(
    subject: Subject,
    images: torch.Tensor,
    method: str = "dtd",
    target: int | Sequence[int] | str | None = None,
    layers: str | Sequence[str] | None = "all",
    *,
    maxpool: str = "wta",
    ignore_bias: bool = False,
    epsilon: float | None = None,
    alpha: float = 2.0,
    layer: str | None = None,
    steps: int = 32,
    patch: int | None = None,
    stride: int | None = None,
    fill: str = "zero",
    smooth_of: str = "saliency",
    samples: int = 16,
    noise: float = 0.15,
    smooth_kind: str = "mean",
    seed: int = 0,
    progress: Progress | None = None,
    ledger: list | None = None,
) -> Attribution:
    """Run one attribution method on a batch of images.

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        method: one of METHODS: `dtd`, `lrp-epsilon` (composite epsilon-plus), `lrp-alphabeta` (alpha2beta1, or
            alpha / alpha - 1), `saliency`, `gradient-x-input`, `guided-backprop`, `deconvnet`, `smoothgrad`,
            `gradcam`, `gradcam-plusplus`, `scorecam`, `integrated-gradients`, `occlusion`.
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X` (`result.resolve_target`).
        layers: the layers of LRP and the gradient methods (`all`, names, None).
        maxpool, ignore_bias, epsilon: LRP options (`LRP`; epsilon: the rules' stabilizer, default 1e-6).
        alpha: alpha of `lrp-alphabeta` (>= 1; beta = alpha - 1).
        layer: the CAM methods' layer.
        steps: integrated gradients' path points.
        patch, stride, fill: occlusion's options.
        smooth_of, samples, noise, smooth_kind, seed: SmoothGrad's method smoothed, noisy copies, noise level (a
            fraction of the input range), statistic (mean, squared, variance) and seed (`gradients.smoothgrad`).
        progress: hears integrated gradients' steps, occlusion's patches, SmoothGrad's samples and Score-CAM's
            channels (the others are one backward pass).
        ledger: LRP only: a list that receives (layer, R_out [N], R_in [N]) per rule application in backward order,
            the relevance sums entering and leaving the rule (their difference: what biases and the stabilizer took;
            `conservation.conservation_trace`).
    Returns:
        The method's Attribution (see `LRP.explain`, `gradient_attribution`, `smoothgrad`, `grad_cam`,
        `grad_cam_plus_plus`, `score_cam`, `integrated_gradients`, `occlusion` for shapes and units).
    Raises:
        ConvscopeError: an unknown method, alpha < 1, or as the method.
    References:
        See the method's function.
    """
    from .cam import grad_cam, grad_cam_plus_plus, score_cam
    from .composites import COMPOSITES, Composite
    from .gradients import gradient_attribution, integrated_gradients, smoothgrad
    from .occlusion import occlusion
    from .rules import Rule

    if method in LRP_METHODS:
        composite = LRP_METHODS[method]
        if method == "lrp-alphabeta" and alpha != 2.0:
            if alpha < 1:
                raise ConvscopeError(f"alpha must be at least 1 (beta = alpha - 1), got {alpha}")
            base = COMPOSITES["alpha2beta1"]
            rule = Rule("alphabeta", alpha=alpha, beta=alpha - 1)
            composite = Composite(f"alpha{alpha:g}beta{alpha - 1:g}", base.input, rule, base.linear)
        explainer = LRP(subject, composite, maxpool=maxpool, ignore_bias=ignore_bias, epsilon=epsilon)
        explainer.ledger = ledger
        return explainer.explain(images, target, layers)
    if method in ("saliency", "gradient-x-input", "guided-backprop", "deconvnet"):
        return gradient_attribution(subject, images, target, method, layers)
    if method == "smoothgrad":
        return smoothgrad(
            subject, images, target, smooth_of, samples, noise, smooth_kind, seed, steps=steps, progress=progress
        )
    if method == "gradcam":
        return grad_cam(subject, images, target, layer)
    if method == "gradcam-plusplus":
        return grad_cam_plus_plus(subject, images, target, layer)
    if method == "scorecam":
        return score_cam(subject, images, target, layer, progress=progress)
    if method == "integrated-gradients":
        return integrated_gradients(subject, images, target, steps, progress=progress)
    if method == "occlusion":
        return occlusion(subject, images, target, patch, stride, fill, progress=progress)
    raise ConvscopeError(f"unknown attribution method `{method}`; choose one of {', '.join(METHODS)}")


def heatmap_values(attribution: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """One heatmap per image: [C, H, W] -> [H, W] by the sum over channels (`reduce` "sum": relevance), or
    max |.| over channels ("max-abs": gradients, Simonyan et al. 2014 §3.1); a vector [C] becomes [1, C]."""
    if attribution.dim() == 1:
        return attribution[None]
    return attribution.abs().amax(0) if reduce == "max-abs" else attribution.sum(0)


def heatmap_image(values: torch.Tensor | np.ndarray, signed: bool) -> Image.Image:
    """A heatmap [H, W] as an RGB PIL image.

    Unsigned: Algorithm 3 of Barsch & Eilertsen 2018 (A = R / max R, shown as 255 A; negative values 0) on the heat
    ramp (`images.heat_colormap`). Signed: divided by max |R| and shown blue (negative) - white (0) - red
    (positive). Non-finite values are shown as 0.
    """
    array = np.asarray(values.detach().float().cpu() if isinstance(values, torch.Tensor) else values, np.float64)
    array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)  # a non-finite value is no evidence: shown as 0
    if array.ndim == 1:
        array = array[None]
    if not signed:
        return Image.fromarray(heat_colormap(scale_to_255(array)))
    peak = np.abs(array).max()
    t = array / peak if peak > 0 else np.zeros_like(array)
    positive, negative = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    rgb = np.stack([1 - negative, 1 - positive - negative, 1 - positive], axis=-1)
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))


def is_signed(result: Attribution, values: torch.Tensor) -> bool:
    """Whether a result's map is shown signed: its `signed` flag, else whether `values` hold any negative value."""
    return bool(result.signed) if result.signed is not None else bool((values < 0).any())


def _safe(name: str) -> str:
    return name.replace("/", "-").replace(":", "-")


def trace_table(summary: dict, limit: int | None = None) -> str:
    """The conservation trace as text: the target's output and input relevance, then per layer (the last
    `limit` layers, or all) the relevance sum, its fraction of the output and the top filters."""
    rows = [
        f"target {summary['target']} ({summary['label']}): output {summary['output']:.4g}, "
        f"input relevance {summary['input_relevance_sum']:.4g}"
    ]
    layers = summary["layers"] if limit is None else summary["layers"][-limit:]
    for entry in layers:
        fraction = entry.get("fraction_of_output")
        top = ", ".join(f"{f['index']}" for f in entry["top_filters"])
        rows.append(
            f"  {entry['name'][:48]:<48} {entry['relevance_sum']:>11.4g} "
            f"{'' if fraction is None else f'{fraction:7.1%}':>8}  top {top}"
        )
    return "\n".join(rows)
