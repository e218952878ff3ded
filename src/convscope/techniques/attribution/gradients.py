"""Gradient attributions: saliency (Simonyan et al. 2014), gradient x input (Shrikumar et al. 2016), guided backprop
(Springenberg et al. 2015), deconvnet (Zeiler & Fergus 2014), integrated gradients (Sundararajan et al. 2017) and
SmoothGrad (Smilkov et al. 2017, a noise tunnel around any of them), all wrt the network's (normalized) input, of a
class logit or of a hidden unit (`result.resolve_target`: a channel's spatial mean activation, or its activation at
one position). Over 400 lines on purpose: the methods share one forward / backward (`_gradients_at`) and one path
integral (`_path_gradients`), which SmoothGrad reuses around each of them.

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
    Shrikumar, Greenside, Shcherbina & Kundaje 2016, "Not just a black box: Learning important features through
    propagating activation differences" (arXiv:1605.01713), gradient x input (their §2).
    Smilkov, Thorat, Kim, Viegas & Wattenberg 2017, "SmoothGrad: removing noise by adding noise" (ICML workshop),
    §3 (the mean over noisy copies, M^_c(x)); the squared variant (SmoothGrad-Squared) and VarGrad (the variance) follow
    Adebayo et al. 2018, "Local explanation methods for deep neural networks lack sensitivity to parameter values"
    (ICLR workshop).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.overrides import TorchFunctionMode

from ...core.autograd_checks import explained_errors, gradients, require_gradient
from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import Subject
from ...core.units import HiddenUnit
from .layers import LayerRecorder, resolve_layers
from .ops import ACTIVATIONS, InPlaceGuard, _tensors, rewrites_in_place
from .result import Attribution, Target, explained_output, resolve_target, unit_layers


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


#: the gradient methods: name -> the RectifiedBackward mode (None: the true gradient)
GRADIENT_METHODS = {"saliency": None, "gradient-x-input": None, "guided-backprop": False, "deconvnet": True}
#: the methods SmoothGrad can smooth
SMOOTHABLE = (*GRADIENT_METHODS, "integrated-gradients")
#: SmoothGrad's statistics over the noisy copies
SMOOTH_KINDS = ("mean", "squared", "variance")


def gradient_attribution(
    subject: Subject,
    images: torch.Tensor,
    target: Target = None,
    method: str = "saliency",
    layers: str | Sequence[str] | None = None,
) -> Attribution:
    """The (rewritten) gradient of the target's score wrt the input, and gradient x activation at `layers`.

    The score is the target class's logit, or a hidden unit's score (`result.unit_score`: mean_{h,w} A_c, or A_c[y, x]).

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X` (`result.resolve_target`).
        method: `saliency` (plain gradient dF/dx, Simonyan et al. 2014 §3.1), `gradient-x-input` (x * dF/dx,
            Shrikumar et al. 2016), `guided-backprop` or `deconvnet`.
        layers: `all`, names, or None for the input only.
    Returns:
        Attribution: `input` [N, C, H, W]: the gradient of the target's score wrt the model's (normalized) input
        (score units per input unit), or for gradient-x-input x times it (score units); `layers[name]` gradient x
        activation there (score units); `output` [N] the target's scores; `target` [N] classes (a unit: its
        channel); `unit` the unit's spelling or None; float32 for a float16 / bfloat16 model; `signed` True;
        `info["reduce"]` "max-abs" (the heatmap takes max |.| over channels, as Simonyan et al. do) or "sum"
        (gradient-x-input).
    Raises:
        ConvscopeError: an unknown method, a rewritten backward on TorchScript, an output that is not [N, classes], a
            target out of range (a unit: `target: channel 700 out of range 0..511 ...`, `target: position (40, 3)
            outside the 14x14 map of blocks.3`).
        UnknownLayerError: an unknown or unreadable layer (the target's: `target: unknown layer ...`).
        GradientPathError: the model's output (or a layer) does not depend on the input through autograd (a
            torch.no_grad() in its forward).
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Simonyan et al. 2014, §3.1 (saliency); Shrikumar et al. 2016, §2 (gradient x input); Springenberg et al. 2015
        (guided backprop); Zeiler & Fergus 2014, §2.1 (deconvnet).
    """
    with explained_errors(subject, method):
        _check_method(subject, method)
        target = resolve_target(subject, target)
        names = resolve_layers(subject, layers) if layers else []
        x = subject.normalize(subject.prepare(images)).detach()
        grad, per_layer, output, targets = _gradients_at(subject, x, target, method, names)
        reduce = "sum" if method == "gradient-x-input" else "max-abs"
        return Attribution(
            method, grad, per_layer, output, targets, {"reduce": reduce}, signed=True, unit=_spelling(target)
        )


def _spelling(target) -> str | None:
    """A resolved target's unit spelling (`Attribution.unit`), None for a class."""
    return str(target) if isinstance(target, HiddenUnit) else None


def _check_method(subject: Subject, method: str) -> None:
    if method not in GRADIENT_METHODS:
        raise ConvscopeError(f"unknown gradient method `{method}`; choose one of {', '.join(GRADIENT_METHODS)}")
    if GRADIENT_METHODS[method] is not None and not subject.scriptable_hooks:
        raise ConvscopeError(
            f"model {subject.name} is TorchScript: {method} rewrites the backward of its "
            "activations, which a compiled model hides (it would silently give plain saliency); "
            "use saliency, gradcam, integrated-gradients or occlusion"
        )


def _gradients_at(
    subject: Subject, x: torch.Tensor, target, method: str, names: list[str], label: str | None = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One forward and backward at the normalized input x: (input map, per-layer gradient x activation, output [N],
    targets [N]); `target` resolved; errors name the method as `label` (default `method`: SmoothGrad names itself)."""
    x = x.detach().requires_grad_(True)
    rewrite = GRADIENT_METHODS[method]
    mode = RectifiedBackward(rewrite, [x]) if rewrite is not None else None
    record = list(dict.fromkeys([*names, *unit_layers(target)]))
    with torch.enable_grad(), LayerRecorder(subject, record) as recorder:
        if mode is None:
            logits = subject.model_output(x)
        else:
            with mode:
                logits = subject.model_output(x)
    watched = {k: recorder.outputs[k] for k in unit_layers(target)} or logits
    require_gradient(subject, watched, x, label or method)
    output, targets = explained_output(target, logits, recorder.outputs)
    captured = {n: t for n, t in recorder.tensors.items() if n in names}
    require_gradient(subject, captured, x, label or method)  # never a layer silently left out
    grads = gradients(subject, output, [x, *captured.values()], allow_unused=True)
    per_layer = {
        n: t.detach() * g if g is not None else torch.zeros_like(t) for (n, t), g in zip(captured.items(), grads[1:])
    }
    grad = grads[0] if grads[0] is not None else torch.zeros_like(x)
    if method == "gradient-x-input":
        grad = grad * x.detach().to(grad.dtype)
    return grad.detach(), per_layer, output.detach(), targets


def integrated_gradients(
    subject: Subject,
    images: torch.Tensor,
    target: Target = None,
    steps: int = 32,
    baseline: float = 0.0,
    chunk: int = 16,
    progress: Progress | None = None,
) -> Attribution:
    """Integrated gradients of the target's score (a class logit or a hidden unit) wrt the model's (normalized) input.

    IG_i = (x_i - x'_i) * mean_k dF/dx_i (x' + (k + 1/2)/m (x - x')), k = 0..m-1 (midpoint Riemann sum, m = `steps`),
    with x' the image of constant value `baseline` (both normalized). Completeness: sum IG ~ F(x) - F(x').

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X` (F: its spatial mean activation, or its activation there).
        steps: m, path points (>= 1).
        baseline: the baseline's pixel value in [0, 1] (default 0, black).
        chunk: path points per forward.
        progress: `progress("steps", done, N x steps)` after each chunk of path points (it may raise to stop).
    Returns:
        Attribution `integrated-gradients`: `input` [N, C, H, W] in score units (float32 at least), `output` [N] the
        target's scores, `info["output_minus_baseline"]` F(x) - F(x') per image (to compare with sum IG); no layers;
        `unit` the hidden unit's spelling or None.
    Raises:
        ConvscopeError: steps < 1, a baseline outside [0, 1], an output that is not [N, classes], a target out of
            range (as `gradient_attribution`).
        UnknownLayerError: the target's unknown layer.
        GradientPathError: the model's output does not depend on the input through autograd.
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    References:
        Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks", eq. (1), approximated by eq. (3)
        (here with midpoints).
    """
    with explained_errors(subject, "integrated-gradients"):
        return _integrated_gradients(subject, images, target, steps, baseline, chunk, progress)


def _scores(subject: Subject, x: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    """The target's scores [N] and indices [N] at the normalized input x, without gradients."""
    with torch.no_grad(), LayerRecorder(subject, unit_layers(target)) as recorder:
        logits = subject.model_output(x)
        return explained_output(target, logits, recorder.outputs)


def _integrated_gradients(
    subject: Subject,
    images: torch.Tensor,
    target,
    steps: int,
    baseline: float,
    chunk: int,
    progress: Progress | None,
) -> Attribution:
    if steps < 1:
        raise ConvscopeError(f"integrated gradients needs at least 1 step, got {steps}")
    if not 0.0 <= baseline <= 1.0:
        raise ConvscopeError(f"the baseline must be a pixel value in [0, 1], got {baseline}")
    target = resolve_target(subject, target)
    images = subject.prepare(images)
    x_model = subject.normalize(images)
    x0_model = subject.normalize(torch.full_like(images, baseline))
    output, targets = _scores(subject, x_model, target)
    base, _ = _scores(subject, x0_model, target if unit_layers(target) else targets)
    # the path and the sum in float32 at least (a float16 model gets each path point cast to its own type)
    work = torch.promote_types(subject.dtype, torch.float32)
    x, x0 = x_model.to(work), x0_model.to(work)
    per_image = [target if unit_layers(target) else int(k) for k in targets]
    total = _path_gradients(subject, x, x0, per_image, steps, chunk, progress)
    attribution = (x - x0) * total / steps
    return Attribution(
        "integrated-gradients",
        attribution.detach(),
        {},
        output,
        targets,
        {"steps": steps, "baseline": baseline, "output_minus_baseline": (output - base).tolist()},
        signed=True,
        unit=_spelling(target),
    )


def _path_gradients(subject, x, x0, per_image, steps, chunk, progress=None, done=0, total_steps=None) -> torch.Tensor:
    """sum_k dF/dx at the midpoints of the straight path x0 -> x, per image [N, C, H, W] (`per_image[i]`: image i's
    resolved target, a class index or the hidden unit)."""
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    total = torch.zeros_like(x)
    total_steps = total_steps or x.shape[0] * steps
    for i in range(x.shape[0]):
        for start in range(0, steps, chunk):
            a = alphas[start : start + chunk].view(-1, 1, 1, 1)
            path = (x0[i] + a * (x[i] - x0[i])).detach().requires_grad_(True)
            with torch.enable_grad(), LayerRecorder(subject, unit_layers(per_image[i])) as recorder:
                logits = subject.model_output(path)
            out, _ = explained_output(per_image[i], logits, recorder.outputs)
            require_gradient(subject, out, path, "integrated-gradients")
            (grad,) = gradients(subject, out, [path])
            total[i] += grad.sum(0)
            if progress is not None:
                progress("steps", done + i * steps + min(steps, start + chunk), total_steps)
    return total


def smoothgrad(
    subject: Subject,
    images: torch.Tensor,
    target: Target = None,
    of: str = "saliency",
    samples: int = 16,
    noise: float = 0.15,
    kind: str = "mean",
    seed: int = 0,
    batch_size: int = 16,
    steps: int = 32,
    baseline: float = 0.0,
    progress: Progress | None = None,
) -> Attribution:
    """SmoothGrad: the mean (or the mean square, or the variance) of a gradient method's map over noisy copies of the
    image, M^(x) = 1/n sum_k M(x + e_k), e_k ~ N(0, sigma^2) (Smilkov et al. 2017, §3, the definition of M^_c).

    The noise is drawn in the network's (normalized) input space with sigma = `noise` x (max x - min x) of each
    image there (the paper's noise level sigma / (x_max - x_min)); the draws come from a torch.Generator seeded with
    `seed` on the CPU, [n, C, H, W] per image in the order of the images (the same draws on every device). The target
    is fixed on the clean image (its predicted class by default) and kept for every noisy copy.

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X`.
        of: the method smoothed: `saliency`, `gradient-x-input`, `guided-backprop`, `deconvnet`,
            `integrated-gradients`.
        samples: n, noisy copies per image (1..4096).
        noise: sigma as a fraction of the image's input range, in [0, 10] (the paper finds 0.1-0.2 best).
        kind: `mean` (SmoothGrad, §3), `squared` (mean of squares, SmoothGrad-Squared) or `variance` (VarGrad:
            mean of squares - square of the mean).
        seed: the noise generator's seed.
        batch_size: noisy copies per forward (gradient methods).
        steps, baseline: integrated gradients' path points and baseline pixel value (with of=integrated-gradients).
        progress: `progress("samples", done, N x samples)` after each batch of copies.
    Returns:
        Attribution `smoothgrad`: `input` [N, C, H, W] in the smoothed method's units (squared for squared /
        variance), `output` [N] the target's scores on the clean image, `target` [N], `unit`; `info` of, samples,
        noise, sigma (per image, input units), kind, seed, reduce (the smoothed method's: max-abs or sum); no
        layers; `signed` True for mean, False for squared / variance.
    Raises:
        ConvscopeError: an unknown `of` or `kind`, samples outside 1..4096, noise outside [0, 10], and as the method.
        UnknownLayerError: the target's unknown layer.
        GradientPathError: the output does not depend on the input through autograd.
    References:
        Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise", §3 (M^_c and the noise level
        sigma / (x_max - x_min)); Adebayo et al. 2018 (VarGrad).
    """
    with explained_errors(subject, "smoothgrad"):
        return _smoothgrad(
            subject, images, target, of, samples, noise, kind, seed, batch_size, steps, baseline, progress
        )


def smoothgrad_noise(x: torch.Tensor, samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SmoothGrad's draws for normalized inputs x [N, C, H, W]: (noise [N, samples, C, H, W] on x's device and type,
    sigma [N] = noise x (max x_i - min x_i)); from a CPU torch.Generator seeded with `seed` (Smilkov et al. 2017, §3).
    """
    generator = torch.Generator().manual_seed(seed)
    flat = x.detach().flatten(1).float()
    sigma = noise * (flat.amax(1) - flat.amin(1))
    draws = torch.randn((x.shape[0], samples, *x.shape[1:]), generator=generator, dtype=torch.float32)
    draws = draws * sigma.cpu().view(-1, 1, 1, 1, 1)
    return draws.to(device=x.device, dtype=x.dtype), sigma


def _smoothgrad(subject, images, target, of, samples, noise, kind, seed, batch_size, steps, baseline, progress):
    if of not in SMOOTHABLE:
        raise ConvscopeError(f"smoothgrad cannot smooth `{of}`; choose one of {', '.join(SMOOTHABLE)}")
    if kind not in SMOOTH_KINDS:
        raise ConvscopeError(f"smoothgrad kind must be one of {', '.join(SMOOTH_KINDS)}, not `{kind}`")
    if not 1 <= samples <= 4096:
        raise ConvscopeError(f"smoothgrad samples must be 1..4096, got {samples}")
    if not 0.0 <= noise <= 10.0:
        raise ConvscopeError(f"smoothgrad noise must be in [0, 10] (a fraction of the input range), got {noise}")
    if of in GRADIENT_METHODS:
        _check_method(subject, of)
    elif not (steps >= 1 and 0.0 <= baseline <= 1.0):
        raise ConvscopeError(f"integrated gradients needs steps >= 1 and a baseline in [0, 1], got {steps}, {baseline}")
    target = resolve_target(subject, target)
    images = subject.prepare(images)
    x = subject.normalize(images).detach()
    output, targets = _scores(subject, x, target)
    draws, sigma = smoothgrad_noise(x, samples, noise, seed)
    work = torch.promote_types(subject.dtype, torch.float32)
    total = torch.zeros(x.shape, dtype=work, device=x.device)
    squares = torch.zeros_like(total)
    x0 = subject.normalize(torch.full_like(images, baseline)).to(work) if of == "integrated-gradients" else None
    for i in range(x.shape[0]):
        fixed = target if unit_layers(target) else int(targets[i])
        for start in range(0, samples, batch_size):
            noisy = x[i] + draws[i, start : start + batch_size]
            if x0 is None:
                maps = _gradients_at(subject, noisy, fixed, of, [], label="smoothgrad")[0].to(work)
            else:
                noisy = noisy.to(work)
                start_point = x0[i : i + 1].expand_as(noisy)
                path = _path_gradients(subject, noisy, start_point, [fixed] * len(noisy), steps, steps)
                maps = (noisy - start_point) * path / steps
            total[i] += maps.sum(0)
            squares[i] += (maps * maps).sum(0)
            if progress is not None:
                progress("samples", i * samples + min(samples, start + batch_size), x.shape[0] * samples)
    mean, mean_square = total / samples, squares / samples
    values = {"mean": mean, "squared": mean_square, "variance": mean_square - mean * mean}[kind]
    info = {
        "of": of,
        "samples": samples,
        "noise": noise,
        "sigma": sigma.tolist(),
        "kind": kind,
        "seed": seed,
        "reduce": "max-abs" if of in ("saliency", "guided-backprop", "deconvnet") else "sum",
    }
    return Attribution(
        "smoothgrad", values.detach(), {}, output, targets, info, signed=kind == "mean", unit=_spelling(target)
    )
