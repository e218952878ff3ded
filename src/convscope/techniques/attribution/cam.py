"""Grad-CAM (Selvaraju et al. 2017) on any layer with a spatial output:
alpha_c = mean_{h,w} dF_k / dA_c[h,w],  CAM = ReLU(sum_c alpha_c A_c), upsampled (bilinear) to the input size.

References:
    Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra 2017, "Grad-CAM: Visual explanations from deep networks
    via gradient-based localization" (ICCV), eq. 1 (channel weights) and eq. 2 (the map).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ...core.autograd_checks import explained_errors, gradients, require_gradient
from ...core.errors import ConvscopeError
from ...core.subject import LOGITS, Subject
from .layers import LayerRecorder
from .result import Attribution, target_classes


def last_spatial_layer(subject: Subject) -> str:
    """Grad-CAM's default layer: the last module (in execution order, running once) whose output is a
    readable [C, H, W] map larger than 1 x 1.

    Raises:
        ConvscopeError: the model has no such layer.
    """
    spatial = [
        n.name
        for n in subject.graph.in_execution_order()
        if n.name != LOGITS
        and n.calls == 1
        and subject.graph.readable(n.name)
        and len(n.output_shape) == 3
        and n.output_shape[1] * n.output_shape[2] > 1
    ]
    if not spatial:
        raise ConvscopeError(f"model {subject.name} has no layer with a spatial output for Grad-CAM")
    return spatial[-1]


def grad_cam(
    subject: Subject, images: torch.Tensor, target: int | Sequence[int] | None = None, layer: str | None = None
) -> Attribution:
    """Grad-CAM of `target` for a batch of images.

    `layer`'s own output is used even when a later in-place op rewrites it (`LayerTap`).

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, or None for each image's predicted class.
        layer: a layer with a [C, h, w] output (default `last_spatial_layer`).
    Returns:
        Attribution `gradcam`: `input` [N, 1, H, W] >= 0 (logit units x activation units), `layers[layer]` the
        per-channel contributions alpha_c A_c [N, C, h, w], `output` the target logits [N], `target` [N];
        float32 for a float16 / bfloat16 model; `signed` False.
    Raises:
        ConvscopeError: a layer without a [C, h, w] output, one the target's output does not depend on, an output
            that is not [N, classes] scores, or a target out of range.
        UnknownLayerError: an unknown or unreadable layer.
        GradientPathError: the output or the layer does not depend on the input through autograd (a torch.no_grad()
            in the forward).
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Selvaraju et al. 2017, "Grad-CAM", eq. 1-2.
    """
    with explained_errors(subject, "gradcam"):
        return _grad_cam(subject, images, target, layer)


def _grad_cam(
    subject: Subject, images: torch.Tensor, target: int | Sequence[int] | None, layer: str | None
) -> Attribution:
    layer = layer or last_spatial_layer(subject)  # kept as asked (an alias of a compiled layer: results use it)
    resolved = subject.resolve(layer)
    shape = subject.graph.output_shape(resolved) if resolved != LOGITS else []
    if len(shape) != 3:
        raise ConvscopeError(f"Grad-CAM needs a layer with a spatial [C, H, W] output; `{layer}` gives {shape}")
    x = subject.normalize(subject.prepare(images)).detach().requires_grad_(True)
    with torch.enable_grad(), LayerRecorder(subject, [layer]) as recorder:
        logits = subject.model_output(x)
    activation = recorder.outputs[layer]
    require_gradient(subject, {LOGITS: logits, layer: activation}, x, "gradcam")
    targets = target_classes(logits.detach(), target)
    output = logits.gather(1, targets[:, None])[:, 0]
    (grad,) = gradients(subject, output, [activation], allow_unused=True)
    if grad is None:
        raise ConvscopeError(
            f"the model's output does not depend on layer `{layer}` (Grad-CAM needs a layer on the path to the logits)"
        )
    weights = grad.mean((2, 3), keepdim=True)
    contributions = (weights * activation).detach()
    cam = F.relu(contributions.sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return Attribution("gradcam", cam, {layer: contributions}, output.detach(), targets, {"layer": layer}, signed=False)
