"""render: the optimization loop of feature visualization (over 400 lines: the loop and the machinery that keeps
a unit's image independent of its batch, redirected ReLUs and per-lone-image kernels, belong together).

    parameters -> ImageParam -> Transforms -> Subject (stops at the deepest layer needed) -> Objective -> step

One loop serves feature visualization, relevance-guided visualization and (with other parts) DeepDream, MFV and
inverse-set sampling. The model's weights never get gradients (the Subject is frozen); the run is deterministic
for a given seed. Every image of the batch has its own random stream, a torch.Generator seeded from (seed, the
name of the item's objective) (`item_seed`): its starting noise and every step's pad / jitter / scale / rotation
come from it alone, so a unit renders the same alone or in any batch, at any position (up to float rounding).

MACO (param="maco", Fel et al. 2023): a fixed natural-image magnitude spectrum and only the phase optimized
(techniques.param / techniques.spectrum); with `canvas` > 1 the parameterized image is a canvas `canvas` times larger
per side and the network sees one random crop of it per item and step (techniques.transforms.random_crops, drawn from
the item's generator before its transforms, which then apply to the crop). Every render returns MACO's transparency
map: |d objective / d image| accumulated over all steps. Regularizers (techniques.regularizers: Yosinski et al. 2015,
Mahendran & Vedaldi 2015) are penalties on the image or projections after each step.

References:
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill): optimization with preconditioned
    parameterizations and transformation robustness; Lucid's redirected ReLU.
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2 (eq. 3.2-3.5, transformations §3.2.2, defaults Table 3.1).
    Fel et al. 2023, "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained Optimization"
    (NeurIPS), §3: phase-only optimization, the large canvas seen through random crops, the transparency map.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..core.autograd_checks import backward, explained_errors, require_gradient
from ..core.errors import ConvscopeError
from ..core.fold import TOLERANCE as FOLD_TOLERANCE
from ..core.fold import folded_forward, verify
from ..core.progress import Preview, Progress, preview_due
from ..core.subject import Subject
from .objectives import Objective
from .param import DEFAULT_LR, ImageParam
from .regularizers import PENALTY, PROJECTION, Regularizer
from .transforms import Transforms, preset, random_crops

#: what to do when the objective's layers do not depend on the image through autograd
RENDER_ADVICE = "run that part of the forward with gradients enabled (optimizing an image needs its gradient)"


class Cancelled(ConvscopeError):
    """The caller's cancel() returned True; the render stopped cleanly."""


@dataclass
class RenderResult:
    """The result of `render`: `images` [N, C, H, W] in [0, 1] (CPU), `history` [steps][N] (each item's score
    at each step, under transforms, objective units), `activations` [N] (each item's objective re-measured on the
    final untransformed image), `seconds_per_step`, `steps`, the objective's `units`, `folded_batchnorms` (conv ->
    BatchNorm pairs substituted in the loop, convscope.core.fold), and `transparency` [N, 1, H, W] in [0, 1] (MACO's
    transparency map, Fel et al. 2023: |d objective / d image| summed over all steps, averaged over the channels,
    each item divided by its maximum; the same H, W as `images`)."""

    images: torch.Tensor  # [N, C, H, W] in [0, 1]
    history: list[list[float]]  # score of every item at every step (under transforms)
    activations: list[float]  # each item's objective re-measured on the final untransformed image
    seconds_per_step: float
    steps: int
    units: tuple[str, ...] = field(default_factory=tuple)
    folded_batchnorms: int = 0  # conv -> BatchNorm pairs substituted in the loop (convscope.core.fold), counting
    # those past the deepest layer read, which a truncated forward never reaches
    transparency: torch.Tensor | None = None  # [N, 1, H, W] in [0, 1]: accumulated |d objective / d image|


class _RedirectedReLUGrad(torch.autograd.Function):
    """ReLU / ReLU6 forward; backward as Lucid's redirected ReLU: where an image's ordinary ReLU gradient is all
    zero (every unit it needs is off), pass the gradient through except where it would push inputs further
    outside the active range, so dead starts can recover (lucid#68, lucent#9)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(0, upper)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        ordinary = grad * ((x > 0) & (x < ctx.upper))
        dead = ordinary.flatten(1).abs().amax(dim=1) == 0
        if not bool(dead.any()):  # the usual case once units are on: plain ReLU gradient, nothing more to do
            return ordinary, None
        # grad is d(loss)/dy with loss minimized: grad > 0 lowers x, grad < 0 raises it
        wrong_way = ((x <= 0) & (grad > 0)) | ((x >= ctx.upper) & (grad < 0))
        redirected = grad.masked_fill(wrong_way, 0)
        return torch.where(dead.view(-1, *[1] * (grad.dim() - 1)), redirected, ordinary), None


@contextmanager
def redirected_relus(model: nn.Module, active: Callable[[], bool]) -> Iterator[int]:
    """Context manager: while `active()` is true (and grad is enabled), nn.ReLU / nn.ReLU6 modules of
    `model` use the redirected gradient (Lucid's redirected ReLU: where an image's ordinary ReLU gradient is all zero,
    pass the gradient through except where it would push inputs further outside the active range, so dead starts can
    recover). Yields how many modules were patched. In-place flags are switched off meanwhile (the input must
    survive) and restored afterwards, with the hooks."""
    patched, handles = [], []

    def hook(module, inputs, output):
        if not active() or not torch.is_grad_enabled():
            return None
        upper = 6.0 if isinstance(module, nn.ReLU6) else float("inf")
        return _RedirectedReLUGrad.apply(inputs[0], upper)

    try:
        for module in model.modules():
            if type(module) in (nn.ReLU, nn.ReLU6):
                patched.append((module, module.inplace))
                module.inplace = False
                handles.append(module.register_forward_hook(hook))
        yield len(patched)
    finally:
        for handle in handles:
            handle.remove()
        for module, inplace in patched:
            module.inplace = inplace


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """A torch optimizer over `params` with learning rate `lr`: `adam`, `sgd` or `adamw` (Adam / AdamW
    fused where the build supports it).

    Raises:
        ConvscopeError: another name.
    """
    optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
    if name not in optimizers:
        raise ConvscopeError(f"unknown optimizer `{name}`: use {', '.join(optimizers)}")
    params = list(params)
    if name in ("adam", "adamw"):  # the fused kernel saves ~0.3 ms a step on a 224-px FFT parameterization
        try:
            return optimizers[name](params, lr=lr, fused=True)
        except (RuntimeError, TypeError):
            pass
    return optimizers[name](params, lr=lr)


def item_seed(seed: int, name: str) -> int:
    """The seed of one batch item's random stream: the first 63 bits of blake2b("seed:name") (stable across
    processes and machines, unlike Python's salted hash()). `name` is the item's objective name, e.g.
    `blocks.3:5` for `objectives.channel("blocks.3", 5)` (`Objective.item_names`)."""
    digest = hashlib.blake2b(f"{int(seed)}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def item_generators(seed: int, names: Sequence[str]) -> list[torch.Generator]:
    """One CPU torch.Generator per item, seeded with `item_seed(seed, name)`."""
    return [torch.Generator().manual_seed(item_seed(seed, name)) for name in names]


#: per module: (input shape, dtype, device type, threads) -> whether a lone input rounds differently (weak keys:
#: forgotten with the module; the choice depends on shapes and threads, not on the weights' values)
_KERNEL_CHOICES: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


@contextmanager
def batch_kernels(model: nn.Module, active: bool = True) -> Iterator[dict]:
    """Context manager: a Conv2d or Linear of `model` given a lone input [1, ...] computes it as a batch of
    two (the input and a detached copy, whose output is dropped) wherever that changes its rounding, so a lone render
    follows the same arithmetic as any batch and a unit renders the same alone as in a batch
    (docs/feature-visualization.md, "Per-item random streams").

    Why: on the CPU PyTorch picks a kernel per call. An ungrouped convolution with a small kernel on a batch of
    one small input (at most 20480 values) runs natively (Slow2d), the same convolution on a batch of two through
    mkldnn (ATen's `use_mkldnn`, which also weighs strides, 1x1 kernels and the thread count); a Linear on one row
    is a matrix-vector product, on two a matrix product. Their last-bit differences grow over many optimization
    steps. Rather than restate those rules, each (module, input shape, dtype, thread count) is tried once, alone
    and doubled (output and input gradient), and the answer kept for the module's lifetime (`_KERNEL_CHOICES`, so
    later renders pay nothing); only the pairs that differ in any bit are doubled.

    Args:
        model: the module whose Conv2d / Linear layers are patched.
        active: False: patch nothing.
    Yields:
        {(module name, input shape): doubled?}; the modules are restored on exit.
    """
    decided: dict[tuple[str, tuple[int, ...]], bool] = {}
    if not active:
        yield decided
        return
    modules = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    saved = [m.__dict__.get("forward") for _, m in modules]
    for name, module in modules:
        forward = module.forward  # calling forward() directly: no hooks run twice

        def paired(x, *args, name=name, forward=forward, **kwargs):
            if not isinstance(x, torch.Tensor) or x.shape[:1] != (1,):
                return forward(x, *args, **kwargs)
            memo = _KERNEL_CHOICES.setdefault(module, {})
            key = (tuple(x.shape), x.dtype, x.device.type, torch.get_num_threads())
            if key not in memo:
                memo[key] = _rounding_differs(forward, x.detach(), args, kwargs)
            decided[(name, tuple(x.shape))] = memo[key]
            if memo[key]:
                return forward(torch.cat([x, x.detach()]), *args, **kwargs)[:1]
            return forward(x, *args, **kwargs)

        module.forward = paired
    try:
        yield decided
    finally:
        for (_, module), previous in zip(modules, saved):
            del module.forward
            if previous is not None:
                module.forward = previous


def _rounding_differs(forward: Callable, x: torch.Tensor, args: tuple, kwargs: dict) -> bool:
    """Whether `forward` gives input [1, ...] another output or input gradient alone than inside a batch of two."""
    with torch.enable_grad():
        alone_in = x.clone().requires_grad_(True)
        pair_in = torch.cat([x, x]).requires_grad_(True)
        alone, pair = forward(alone_in, *args, **kwargs), forward(pair_in, *args, **kwargs)
        cotangent = alone.detach()
        (alone_grad,) = torch.autograd.grad(alone, alone_in, cotangent)
        (pair_grad,) = torch.autograd.grad(pair, pair_in, torch.cat([cotangent, cotangent]))
    return not (torch.equal(alone.detach(), pair[:1].detach()) and torch.equal(alone_grad, pair_grad[:1]))


def render(
    subject: Subject,
    objective: Objective,
    *,
    batch: int | None = None,
    size: int | None = None,
    param: ImageParam | str = "fft",
    decorrelate: bool = True,
    transforms: Transforms | str = "seed001",
    steps: int = 256,
    lr: float | None = None,
    optimizer: str = "adam",
    seed: int = 0,
    redirect_relu_steps: int = 16,
    init: torch.Tensor | None = None,
    progress: Progress | None = None,
    preview: Preview | None = None,
    cancel: Callable[[], bool] | None = None,
    fold_batchnorm: bool = True,
    magnitude: torch.Tensor | None = None,
    canvas: float = 1.0,
    regularizers: Sequence[Regularizer] = (),
) -> RenderResult:
    """Maximize `objective` over images (feature visualization by activation maximization).

    Randomness is per item: item i draws its starting noise (when `param` is a space name) and every step's
    transforms from its own generator, seeded with `item_seed(seed, objective.item_names(N)[i])`, i.e. from
    the seed and the name of that item's objective (`per_item([channel("blocks.3", 5), ...])` item 0 is named
    `blocks.3:5`; an objective without per-item names names item i `name#i` for i > 0). So an item's image
    depends neither on its batch mates, nor on its position, nor on the batch size (except through objectives
    that compare items, such as `diversity`), and equals the image of the same objective rendered alone, up to
    float rounding (on the CPU a batch of one small image can take another convolution kernel than a batch of
    several; docs/feature-visualization.md, "Per-item random streams").

    Args:
        subject: the model under study.
        objective: what to maximize (techniques.objectives).
        batch: the number of images N (default: the objective's batch, else `init`'s, else 1).
        size: the side in pixels the network sees (no hidden upsampling; >= 8; default the model's input size).
        param: an ImageParam (with canvas > 1: of the canvas' size), or the name of a space (`pixel` / `fft` /
            `laplacian` / `maco`).
        decorrelate: color decorrelation of a named space.
        transforms: a Transforms or a preset name (`seed001`, `standard`, `none`); pad and jitter scale down for
            images under 128 px.
        steps: optimizer steps (>= 1).
        lr: learning rate (> 0; default DEFAULT_LR of the space).
        optimizer: `adam`, `sgd` or `adamw`.
        seed: the per-item random streams.
        redirect_relu_steps: the first steps use Lucid's redirected ReLU gradient (0: never).
        init: [N, C, H, W] in [0, 1]: start from real images (at the canvas' size; maco: their phase only).
        progress: `progress("steps", done, steps)` after every step (it may raise to stop the run).
        preview: `preview(item name, image [C, H, W] in [0, 1])` for every item at `preview_due` steps.
        cancel: stop when `cancel()` returns True.
        fold_batchnorm: run the loop with eval-mode BatchNorms folded into their convs (convscope.core.fold: the
            same function up to ~1e-6 rounding, ~0.8x the time on BN-heavy CPU models); the final activations are
            always measured on the unmodified model.
        magnitude: param="maco": the fixed magnitude [C, H', W'//2+1] at the canvas' size H' x W'
            (`spectrum.magnitude_spectrum`; default the built-in spectrum of scikit-image's photographs).
        canvas: >= 1 (at most 4): the image is `canvas` times the size per side and each step the network sees one
            random crop per item (a fraction in [1/canvas, 1] of the canvas side, resized to the size; then the
            transforms). The result's images are the whole canvas (round(canvas H) x round(canvas W)); its
            activations are measured on the whole canvas resized to the size (antialiased). 1: no crops (nothing
            drawn; exactly the render without a canvas).
        regularizers: `regularizers.Regularizer`s: penalties are subtracted from each item's score in the loss (the
            history keeps the objective alone), projections replace the image after the optimizer steps they are
            due at (through `ImageParam.set_image`).
    Returns:
        RenderResult: images [N, C, H, W] in [0, 1] on the CPU, history [steps][N], activations [N] (objective
        units), transparency [N, 1, H, W] in [0, 1].
    Raises:
        ConvscopeError: steps < 1, a size under 8 pixels, a non-positive lr, an unknown optimizer, parameterization or
            transforms preset, an objective that needs another batch size, a canvas outside [1, 4], a magnitude
            without param="maco", or a regularizer that is not a Regularizer.
        SizeError: the size cannot reach the objective's layers.
        Cancelled: `cancel()` returned True.
        GradientPathError: a layer the objective reads does not depend on the image through autograd (a
            torch.no_grad() in the model's forward).
        DtypeError: an op missing in a float16 / bfloat16 model's type.
    References:
        Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill); Barsch & Eilertsen 2018, §3.2,
        eq. 3.4-3.5 (gradient ascent on the input); Fel et al. 2023, "Unlocking Feature Visualization for Deeper
        Networks with MAgnitude Constrained Optimization" (NeurIPS), §3 (maco, canvas crops, transparency).
    """
    if steps < 1:
        raise ConvscopeError(f"steps must be at least 1, got {steps}")
    if not isinstance(canvas, (int, float)) or not 1 <= canvas <= 4:
        raise ConvscopeError(f"canvas must be a number in [1, 4], got {canvas!r}")
    if magnitude is not None and param != "maco":
        raise ConvscopeError("magnitude: a fixed magnitude spectrum needs param='maco'")
    regularizers = list(regularizers)
    for r in regularizers:
        if not isinstance(r, Regularizer):
            raise ConvscopeError(f"regularizers: {r!r} is not a Regularizer (use regularizers.parse_regularizer)")
    penalties = [r for r in regularizers if r.kind == PENALTY]
    projections = [r for r in regularizers if r.kind == PROJECTION]
    if isinstance(param, str):
        batch = batch or objective.batch or (init.shape[0] if init is not None else 1)
        side = size or subject.input.size[0]
        if side < 8:
            raise ConvscopeError(f"image size must be at least 8 pixels, got {side}")
        height, width = (side, side) if size else subject.input.size
        if objective.batch is not None and objective.batch != batch:
            raise ConvscopeError(
                f"the objective needs a batch of {objective.batch} images, the parameterization has {batch}"
            )
        generators = item_generators(seed, objective.item_names(batch))
        view = (height, width)
        param = ImageParam(
            batch,
            subject.input.channels,
            _canvas_size(view, canvas),
            param,
            decorrelate=decorrelate,
            generator=generators,
            magnitude=magnitude,
        )
    else:
        if objective.batch is not None and objective.batch != param.batch:
            raise ConvscopeError(
                f"the objective needs a batch of {objective.batch} images, the parameterization has {param.batch}"
            )
        generators = item_generators(seed, objective.item_names(param.batch))
        view = tuple(max(1, round(side / canvas)) for side in param.size)
    cropped = canvas > 1
    lr = DEFAULT_LR[param.space] if lr is None else lr
    if lr <= 0:
        raise ConvscopeError(f"learning rate must be positive, got {lr}")
    param = param.to(subject.device)
    if init is not None:
        param.set_image(init)
    transforms = (preset(transforms) if isinstance(transforms, str) else transforms).for_size(min(view))
    layers = list(objective.layers)
    subject.check_size(tuple(view), layers)
    fold = folded_forward(subject, layers) if fold_batchnorm else None
    if fold is not None and verify(subject, fold, _whole(param().detach(), view), layers) > FOLD_TOLERANCE:
        fold = None  # the substitution does not reproduce this model's outputs: run it as it is
    folded = fold or nullcontext()
    opt = make_optimizer(optimizer, param.parameters(), lr)
    history: list[list[float]] = []
    transparency = None
    step = 0
    started = time.perf_counter()
    redirect = (
        redirected_relus(subject.model, lambda: step < redirect_relu_steps) if redirect_relu_steps else nullcontext()
    )
    lone = param.batch == 1 and subject.device.type == "cpu"
    with explained_errors(subject, "feature visualization"), redirect, batch_kernels(subject.model, lone):
        for step in range(steps):
            opt.zero_grad(set_to_none=True)
            image = param()
            seen = image.view_as(image)  # the objective's path alone: its .grad is d objective / d image
            seen.retain_grad()
            images = transforms(random_crops(seen, view, generators, 1 / canvas) if cropped else seen, generators)
            with folded:
                captured = subject.capture(images, layers)
                if step == 0:  # the layers read must depend on the image: else no gradient to ascend
                    x = subject.normalize(subject.prepare(images.detach()))
                    require_gradient(subject, captured, x, "feature visualization", RENDER_ADVICE)
                scores = objective(captured)
            loss = -scores.sum()
            if penalties:
                loss = loss + sum(r.penalty(image) for r in penalties).sum()
            backward(subject, loss, list(param.parameters()))
            gradient = -seen.grad if seen.grad is not None else None  # d objective / d image (the loss is -score)
            if gradient is not None:
                magnitude_map = gradient.detach().abs().mean(dim=1, keepdim=True)
                transparency = magnitude_map if transparency is None else transparency + magnitude_map
            opt.step()
            due = [r for r in projections if r.due(step)]
            if due:
                with torch.no_grad():
                    projected = param().detach()
                    for r in due:
                        projected = r.project(projected, gradient)
                    param.set_image(projected)
            history.append(scores.detach().cpu().tolist())
            if preview is not None and preview_due(step + 1, steps):
                with torch.no_grad():
                    for name, image in zip(objective.item_names(param.batch), param().detach()):
                        preview(name, image)
            if progress is not None:
                progress("steps", step + 1, steps)
            if cancel and cancel():
                raise Cancelled(f"render cancelled after {step + 1} of {steps} steps")
        seconds_per_step = (time.perf_counter() - started) / steps
        with torch.no_grad():
            final = param().detach()
            activations = objective(subject.capture(_whole(final, view), layers)).cpu().tolist()
    if transparency is None:
        transparency = torch.zeros(final.shape[0], 1, *final.shape[2:])
    transparency = transparency / transparency.flatten(1).amax(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
    return RenderResult(
        final.cpu(),
        history,
        activations,
        seconds_per_step,
        steps,
        objective.units,
        fold.count if fold is not None else 0,
        transparency.float().cpu(),
    )


def _canvas_size(view: tuple[int, int], canvas: float) -> tuple[int, int]:
    """The canvas' (height, width): round(canvas * side) per side (the view itself at canvas 1)."""
    return tuple(side if canvas == 1 else max(side, round(side * canvas)) for side in view)


def _whole(images: torch.Tensor, view: tuple[int, int]) -> torch.Tensor:
    """The whole canvas [N, C, H', W'] resized to the view (bilinear, antialiased), or the images themselves when
    they have the view's size."""
    if tuple(images.shape[-2:]) == tuple(view):
        return images
    return F.interpolate(images, size=tuple(view), mode="bilinear", align_corners=False, antialias=True)
