"""Gradient attributions: saliency (Simonyan et al. 2014), guided backprop (Springenberg et al. 2015), deconvnet
(Zeiler & Fergus 2014) and integrated gradients (Sundararajan et al. 2017), all wrt the network's input.

Guided backprop and deconvnet rewrite the backward of every elementwise activation f, whatever it is (ReLU,
ReLU6, SiLU, Hardswish, GELU, LeakyReLU ...; module or functional), not only nn.ReLU modules:
  guided backprop:  g_in = f'(x) * max(g_out, 0)      (ReLU: 1[x > 0] max(g, 0); ReLU6: 1[0 < x < 6] max(g, 0))
  deconvnet:        g_in = max(g_out, 0)              (the forward's mask / slope is dropped)
Max-pool keeps its switches (its true gradient); gates (sigmoid) and everything else keep the true gradient.
The per-layer result of these methods is gradient x activation at the layer.

References:
    Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks: Visualising image classification
    models and saliency maps" (ICLR workshop), §3.1 (class saliency).
    Springenberg, Dosovitskiy, Brox & Riedmiller 2015, "Striving for simplicity: The all convolutional net" (ICLR
    workshop), guided backpropagation (their Fig. 1).
    Zeiler & Fergus 2014, "Visualizing and understanding convolutional networks" (ECCV), §2.1 (deconvnet).
    Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks" (ICML), eq. (1) and its Riemann-sum
    approximation eq. (3).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.overrides import TorchFunctionMode

from ...core.autograd_checks import explained_errors, gradients, require_gradient
from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import Subject
from .layers import LayerRecorder, resolve_layers
from .ops import ACTIVATIONS, InPlaceGuard, _tensors, rewrites_in_place
from .result import Attribution, target_classes


class _Rectified(torch.autograd.Function):
    """Identity forward; backward local * max(g, 0) (guided) or max(g, 0) (deconvnet)."""

    @staticmethod
    def forward(ctx, x, local, deconvnet: bool):
        ctx.save_for_backward(local)
        ctx.deconvnet = deconvnet
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        (local,) = ctx.saved_tensors
        rectified = grad.clamp(min=0)
        return (rectified if ctx.deconvnet else local * rectified), None, None


class RectifiedBackward(TorchFunctionMode):
    """TorchFunctionMode: the forward unchanged, the backward of every elementwise activation rewritten
    to guided backprop (`deconvnet` False) or deconvnet (True) (module docstring).

    Args:
        deconvnet: True for the deconvnet rule g_in = max(g_out, 0), False for guided backprop.
        inputs: the model input (in-place ops on it, and on the copy `Subject.model_output` makes, are written back).
    Raises:
        ConvscopeError: (during the forward) the model goes on using a tensor an in-place activation was meant to
            overwrite (`ops.InPlaceGuard`).
    """

    def __init__(self, deconvnet: bool, inputs: Sequence[torch.Tensor] = ()):
        super().__init__()
        self.deconvnet = deconvnet
        self.guard = InPlaceGuard()
        self.inputs = {id(t): t for t in inputs}  # the model input, and the copy `Subject.model_output` makes

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self.guard.stale:
            self.guard.check(_tensors((args, kwargs)), "")
        is_input = bool(args) and isinstance(args[0], torch.Tensor) and self.inputs.get(id(args[0])) is args[0]
        if is_input and name in ("to", "clone"):
            output = func(*args, **kwargs)
            self.inputs[id(output)] = output
            return output
        if name not in ACTIVATIONS or not (args and isinstance(args[0], torch.Tensor) and args[0].requires_grad):
            return func(*args, **kwargs)
        if rewrites_in_place(name, args, kwargs):
            if is_input:  # the forward's own `x.clamp_(0, 1)` on its input copy: written back, as its out-of-place
                target = args[0]  # twin `x = x.clamp(0, 1)` would (the copy is fresh: nothing saved it)
                target.copy_(self.__torch_function__(func, types, (target.clone(), *args[1:]), kwargs))
                return target
            self.guard.note(name, args)
        x = args[0]
        args = tuple(False if a is True else a for a in args)  # a positional inplace flag
        plain = dict(kwargs, inplace=False) if "inplace" in kwargs else kwargs
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            y = func(leaf.clone(), *args[1:], **plain)
            (local,) = torch.autograd.grad(y.sum(), leaf)  # f'(x), elementwise
        passed = _Rectified.apply(x, local, self.deconvnet)
        return y.detach() + (passed - passed.detach())


def gradient_attribution(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None = None,
    method: str = "saliency",
    layers: str | Sequence[str] | None = None,
) -> Attribution:
    """The (rewritten) gradient of the target logit wrt the input, and gradient x activation at `layers`.

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, or None for each image's predicted class.
        method: `saliency` (plain gradient), `guided-backprop` or `deconvnet`.
        layers: `all`, names, or None for the input only.
    Returns:
        Attribution: `input` the gradient of the target logit wrt the model's (normalized) input [N, C, H, W] (logit
        units per input unit), `layers[name]` gradient x activation there (logit units), `output` [N] the target
        logits; float32 for a float16 / bfloat16 model; `signed` True; `info["reduce"]` "max-abs" (the heatmap
        takes max |.| over channels, as Simonyan et al. do).
    Raises:
        ConvscopeError: an unknown method, a rewritten backward on TorchScript, an output that is not [N, classes], a
            target out of range.
        UnknownLayerError: an unknown or unreadable layer.
        GradientPathError: the model's output (or a layer) does not depend on the input through autograd (a
            torch.no_grad() in its forward).
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Simonyan et al. 2014, §3.1 (saliency); Springenberg et al. 2015 (guided backprop); Zeiler & Fergus 2014,
        §2.1 (deconvnet).
    """
    with explained_errors(subject, method):
        return _gradient_attribution(subject, images, target, method, layers)


def _gradient_attribution(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None,
    method: str,
    layers: str | Sequence[str] | None,
) -> Attribution:
    modes = {"saliency": None, "guided-backprop": False, "deconvnet": True}
    if method not in modes:
        raise ConvscopeError(f"unknown gradient method `{method}`; choose one of {', '.join(modes)}")
    if modes[method] is not None and not subject.scriptable_hooks:
        raise ConvscopeError(
            f"model {subject.name} is TorchScript: {method} rewrites the backward of its "
            "activations, which a compiled model hides (it would silently give plain saliency); "
            "use saliency, gradcam, integrated-gradients or occlusion"
        )
    names = resolve_layers(subject, layers) if layers else []
    x = subject.normalize(subject.prepare(images)).detach().requires_grad_(True)
    mode = RectifiedBackward(modes[method], [x]) if modes[method] is not None else None
    with torch.enable_grad(), LayerRecorder(subject, names) as recorder:
        if mode is None:
            logits = subject.model_output(x)
        else:
            with mode:
                logits = subject.model_output(x)
    require_gradient(subject, logits, x, method)
    targets = target_classes(logits.detach(), target)
    output = logits.gather(1, targets[:, None])[:, 0]
    require_gradient(subject, recorder.tensors, x, method)  # never a layer silently left out
    captured = recorder.tensors
    grads = gradients(subject, output, [x, *captured.values()], allow_unused=True)
    per_layer = {
        n: t.detach() * g if g is not None else torch.zeros_like(t) for (n, t), g in zip(captured.items(), grads[1:])
    }
    return Attribution(
        method, grads[0].detach(), per_layer, output.detach(), targets, {"reduce": "max-abs"}, signed=True
    )


def integrated_gradients(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None = None,
    steps: int = 32,
    baseline: float = 0.0,
    chunk: int = 16,
    progress: Progress | None = None,
) -> Attribution:
    """Integrated gradients of the target logit wrt the model's (normalized) input.

    IG_i = (x_i - x'_i) * mean_k dF/dx_i (x' + (k + 1/2)/m (x - x')), k = 0..m-1 (midpoint Riemann sum, m = `steps`),
    with x' the image of constant value `baseline` (both normalized). Completeness: sum IG ~ F(x) - F(x').

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, or None for each image's predicted class.
        steps: m, path points (>= 1).
        baseline: the baseline's pixel value in [0, 1] (default 0, black).
        chunk: path points per forward.
        progress: `progress("steps", done, N x steps)` after each chunk of path points (it may raise to stop).
    Returns:
        Attribution `integrated-gradients`: `input` [N, C, H, W] in logit units (float32 at least), `output` [N] the
        target logits, `info["output_minus_baseline"]` F(x) - F(x') per image (to compare with sum IG); no layers.
    Raises:
        ConvscopeError: steps < 1, a baseline outside [0, 1], an output that is not [N, classes], a target out of
            range.
        GradientPathError: the model's output does not depend on the input through autograd.
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks", eq. (1), approximated by eq. (3)
        (here with midpoints).
    """
    with explained_errors(subject, "integrated-gradients"):
        return _integrated_gradients(subject, images, target, steps, baseline, chunk, progress)


def _integrated_gradients(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None,
    steps: int,
    baseline: float,
    chunk: int,
    progress: Progress | None,
) -> Attribution:
    if steps < 1:
        raise ConvscopeError(f"integrated gradients needs at least 1 step, got {steps}")
    if not 0.0 <= baseline <= 1.0:
        raise ConvscopeError(f"the baseline must be a pixel value in [0, 1], got {baseline}")
    images = subject.prepare(images)
    with torch.no_grad():
        logits = subject(images)
        base_logits = subject(torch.full_like(images, baseline))
    targets = target_classes(logits, target)
    # the path and the sum in float32 at least (a float16 model gets each path point cast to its own type)
    work = torch.promote_types(subject.dtype, torch.float32)
    x = subject.normalize(images).to(work)
    x0 = subject.normalize(torch.full_like(images, baseline)).to(work)
    alphas = (torch.arange(steps, dtype=work, device=x.device) + 0.5) / steps
    total = torch.zeros_like(x)
    for i in range(x.shape[0]):
        for start in range(0, steps, chunk):
            a = alphas[start : start + chunk].view(-1, 1, 1, 1)
            path = (x0[i] + a * (x[i] - x0[i])).detach().requires_grad_(True)
            with torch.enable_grad():
                out = subject.model_output(path)[:, targets[i]]
                require_gradient(subject, out, path, "integrated-gradients")
                (grad,) = gradients(subject, out, [path])
            total[i] += grad.sum(0)
            if progress is not None:
                progress("steps", i * steps + min(steps, start + chunk), x.shape[0] * steps)
    attribution = (x - x0) * total / steps
    output = logits.gather(1, targets[:, None])[:, 0]
    difference = output - base_logits.gather(1, targets[:, None])[:, 0]
    return Attribution(
        "integrated-gradients",
        attribution.detach(),
        {},
        output,
        targets,
        {"steps": steps, "baseline": baseline, "output_minus_baseline": difference.tolist()},
        signed=True,
    )
