"""Class activation maps on any layer with a spatial output, of a class logit or a hidden unit F:
CAM = ReLU(sum_c w_c A_c), upsampled (bilinear) to the input size, with the channel weights w_c of
    Grad-CAM:   w_c = mean_{h,w} dF / dA_c[h,w]                                              (Selvaraju et al. 2017)
    Grad-CAM++: w_c = sum_{h,w} a_c[h,w] ReLU(g), a = g^2 / (2 g^2 + sum_{h,w} A_c g^3)  (Chattopadhay et al. 2018)
    Score-CAM:  w = softmax_c F(x * M_c), M_c = A_c upsampled and scaled to [0, 1]         (Wang et al. 2020)
with g = dF / dA_c[h, w]. For a hidden unit the CAM layer must run at or below the unit's layer.

References:
    Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra 2017, "Grad-CAM: Visual explanations from deep networks
    via gradient-based localization" (ICCV), eq. 1 (channel weights) and eq. 2 (the map).
    Chattopadhay, Sarkar, Howlader & Balasubramanian 2018, "Grad-CAM++: Generalized gradient-based visual
    explanations for deep convolutional networks" (WACV), eq. 19 (the weights a, with the exponential of the score
    as the paper does, so that higher derivatives are powers of the first) and eq. 7 (w_c with ReLU(g)).
    Wang, Wang, Du, Yang, Zhang, Ding, Mardziel & Hu 2020, "Score-CAM: Score-weighted visual explanations for
    convolutional neural networks" (CVPR workshops), Definition 2 (channel-wise increase of confidence, with
    H = s(Up(A_k)) the min-max scaled upsampled map), the map L = ReLU(sum_k a_k A_k) and Algorithm 1 (softmax of
    the scores).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...core.autograd_checks import explained_errors, gradients, require_gradient
from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import LOGITS, Subject
from ...core.units import HiddenUnit
from .layers import LayerRecorder
from .result import Attribution, Target, explained_output, resolve_target, unit_layers


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


CAM_METHODS = ("gradcam", "gradcam-plusplus", "scorecam")


def cam_layer(subject: Subject, layer: str | None, target) -> str:
    """The CAM layer for a resolved target: `layer` (checked: a [C, h, w] output, and for a hidden unit one that runs
    at or below the unit's layer), or by default `last_spatial_layer` (a class) / the last spatial layer that runs
    before the unit's layer outside it (a hidden unit; the unit's own layer when none does).

    Raises:
        ConvscopeError: a layer without a [C, h, w] output; `layer` runs after the unit's layer.
        UnknownLayerError: an unknown or unreadable layer.
    """
    unit = target if isinstance(target, HiddenUnit) else None
    if layer is None and unit is None:
        return last_spatial_layer(subject)
    if layer is None:
        top = subject.graph.node(subject.resolve(unit.layer))
        below = [
            n.name
            for n in subject.graph.in_execution_order()
            if n.order < top.order
            and not n.name.startswith(top.name + ".")
            and n.calls == 1
            and subject.graph.readable(n.name)
            and len(n.output_shape) == 3
            and n.output_shape[1] * n.output_shape[2] > 1
        ]
        layer = below[-1] if below else unit.layer
    resolved = subject.resolve(layer)
    shape = subject.graph.output_shape(resolved) if resolved != LOGITS else []
    if len(shape) != 3:
        raise ConvscopeError(f"layer: CAM needs a layer with a spatial [C, H, W] output; `{layer}` gives {shape}")
    if unit is not None:
        top = subject.graph.node(subject.resolve(unit.layer))
        if subject.graph.node(resolved).order > top.order:
            raise ConvscopeError(
                f"layer: `{layer}` runs after the target's layer `{unit.layer}`; the CAM layer must be at or below "
                "the explained unit"
            )
    return layer


def grad_cam(subject: Subject, images: torch.Tensor, target: Target = None, layer: str | None = None) -> Attribution:
    """Grad-CAM of `target` (a class logit or a hidden unit) for a batch of images.

    `layer`'s own output is used even when a later in-place op rewrites it (`LayerTap`).

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X` (`result.resolve_target`).
        layer: a layer with a [C, h, w] output (default `cam_layer`; for a hidden unit at or below its layer).
    Returns:
        Attribution `gradcam`: `input` [N, 1, H, W] >= 0 (score units x activation units), `layers[layer]` the
        per-channel contributions alpha_c A_c [N, C, h, w], `output` the target's scores [N], `target` [N] (a unit:
        its channel), `unit`; float32 for a float16 / bfloat16 model; `signed` False.
    Raises:
        ConvscopeError: a layer without a [C, h, w] output, one the target's output does not depend on, one above a
            hidden unit's layer, an output that is not [N, classes] scores, or a target out of range.
        UnknownLayerError: an unknown or unreadable layer.
        GradientPathError: the output or the layer does not depend on the input through autograd (a torch.no_grad()
            in the forward).
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Selvaraju et al. 2017, "Grad-CAM", eq. 1-2.
    """
    with explained_errors(subject, "gradcam"):
        return _gradient_cam(subject, images, target, layer, "gradcam")


def grad_cam_plus_plus(
    subject: Subject, images: torch.Tensor, target: Target = None, layer: str | None = None
) -> Attribution:
    """Grad-CAM++ of `target` (a class logit or a hidden unit): w_c = sum_{h,w} a_c[h,w] ReLU(g_c[h,w]),
    a = g^2 / (2 g^2 + sum_{h,w} A_c g^3) (0 where the denominator is 0), g = dF / dA (Chattopadhay et al. 2018,
    eq. 19 and eq. 7; F's exponential is assumed, as in the paper, so one backward suffices).

    Args:
        subject, images, target, layer: as `grad_cam`.
    Returns:
        Attribution `gradcam-plusplus`: `input` [N, 1, H, W] >= 0 (score units x activation units), `layers[layer]`
        the contributions w_c A_c [N, C, h, w], `output` [N], `target` [N], `unit`; `signed` False.
    Raises:
        As `grad_cam`.
    References:
        Chattopadhay et al. 2018, "Grad-CAM++", eq. 7 and eq. 19.
    """
    with explained_errors(subject, "gradcam-plusplus"):
        return _gradient_cam(subject, images, target, layer, "gradcam-plusplus")


def _gradient_cam(subject: Subject, images: torch.Tensor, target, layer: str | None, method: str) -> Attribution:
    target = resolve_target(subject, target)
    layer = cam_layer(subject, layer, target)  # kept as asked (an alias of a compiled layer: results use it)
    x = subject.normalize(subject.prepare(images)).detach().requires_grad_(True)
    record = list(dict.fromkeys([layer, *unit_layers(target)]))
    with torch.enable_grad(), LayerRecorder(subject, record) as recorder:
        logits = subject.model_output(x)
    activation = recorder.outputs[layer]
    require_gradient(subject, {LOGITS: logits, **recorder.outputs}, x, method)
    output, targets = explained_output(target, logits, recorder.outputs)
    (grad,) = gradients(subject, output, [activation], allow_unused=True)
    if grad is None:
        raise ConvscopeError(
            f"the explained output does not depend on layer `{layer}` (CAM needs a layer on the path to the "
            "logits, or below the explained unit)"
        )
    if method == "gradcam":
        weights = grad.mean((2, 3), keepdim=True)
    else:
        square = grad * grad
        denominator = 2 * square + activation.detach().sum((2, 3), keepdim=True) * square * grad
        a = torch.where(denominator != 0, square / torch.where(denominator != 0, denominator, 1), 0)
        weights = (a * grad.clamp(min=0)).sum((2, 3), keepdim=True)
    contributions = (weights * activation).detach()
    cam = F.relu(contributions.sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    unit = str(target) if isinstance(target, HiddenUnit) else None
    return Attribution(
        method, cam, {layer: contributions}, output.detach(), targets, {"layer": layer}, signed=False, unit=unit
    )


def score_cam(
    subject: Subject,
    images: torch.Tensor,
    target: Target = None,
    layer: str | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Attribution:
    """Score-CAM of `target` (a class logit or a hidden unit): each channel's map A_c, upsampled (bilinear, corners
    aligned) to the input size and scaled to [0, 1], masks the network's (normalized) input, x * M_c; the target's
    scores F(x * M_c) become the weights by a softmax over the channels (Wang et al. 2020, Definition 2 and
    Algorithm 1; F(x_b) of the paper's baseline is one constant, which the softmax removes); CAM = ReLU(sum_c w_c A_c).
    Gradient-free; the masked inputs run `batch_size` per forward.

    Args:
        subject, images, target, layer: as `grad_cam`.
        batch_size: masked inputs per forward (>= 1).
        progress: `progress("channels", done, N x C)` after each batch.
    Returns:
        Attribution `scorecam`: `input` [N, 1, H, W] >= 0 (activation units; the weights sum to 1), `layers[layer]`
        the contributions w_c A_c [N, C, h, w], `output` [N] the target's scores, `target` [N], `unit`, `info`
        {layer}; `signed` False.
    Raises:
        ConvscopeError: batch_size < 1, and as `grad_cam` (no gradient is needed: a model that stops the gradient
            works).
    References:
        Wang et al. 2020, "Score-CAM", Definition 2 and Algorithm 1.
    """
    with explained_errors(subject, "scorecam"):
        return _score_cam(subject, images, target, layer, batch_size, progress)


def _score_cam(subject, images, target, layer, batch_size, progress) -> Attribution:
    if batch_size < 1:
        raise ConvscopeError(f"scorecam batch_size must be at least 1, got {batch_size}")
    target = resolve_target(subject, target)
    layer = cam_layer(subject, layer, target)
    x = subject.normalize(subject.prepare(images)).detach()
    record = list(dict.fromkeys([layer, *unit_layers(target)]))
    with torch.no_grad():
        with LayerRecorder(subject, record) as recorder:
            logits = subject.model_output(x)
        output, targets = explained_output(target, logits, recorder.outputs)
        activation = recorder.outputs[layer].detach()
        work = torch.promote_types(activation.dtype, torch.float32)
        masks = F.interpolate(activation.to(work), size=x.shape[-2:], mode="bilinear", align_corners=True)
        low = masks.flatten(2).amin(2)[..., None, None]
        high = masks.flatten(2).amax(2)[..., None, None]
        masks = (masks - low) / (high - low + 1e-8)
        channels = activation.shape[1]
        scores = torch.zeros(x.shape[0], channels, dtype=work, device=x.device)
        for i in range(x.shape[0]):
            fixed = target if unit_layers(target) else int(targets[i])
            for start in range(0, channels, batch_size):
                batch = x[i] * masks[i, start : start + batch_size, None].to(x.dtype)
                with LayerRecorder(subject, unit_layers(target)) as masked:
                    out = subject.model_output(batch)
                scores[i, start : start + len(batch)] = explained_output(fixed, out, masked.outputs)[0].to(work)
                if progress is not None:
                    progress("channels", i * channels + min(channels, start + batch_size), x.shape[0] * channels)
        weights = torch.softmax(scores, 1)[..., None, None]
        contributions = weights * activation.to(work)
        cam = F.relu(contributions.sum(1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    unit = str(target) if isinstance(target, HiddenUnit) else None
    return Attribution(
        "scorecam", cam, {layer: contributions}, output, targets, {"layer": layer}, signed=False, unit=unit
    )
