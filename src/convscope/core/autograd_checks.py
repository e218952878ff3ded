"""How a model's forward is run for an explanation, and the one-line errors when it cannot be explained.

Over 400 lines on purpose: the three forms share one error mapping (`model_form_error`) and one
context (`checkpointing_off` runs inside the forward that `require_gradient` diagnoses).

Three forms real models take, handled here once for every technique (saliency, guided backprop, deconvnet,
Grad-CAM, integrated gradients, LRP, feature visualization, DeepDream):

- **dtypes**: `model_dtype` finds the floating-point type a model computes in (parameters, buffers, or the constants
  of a frozen TorchScript module); `Subject` feeds its images in that type. `DtypeError` is the one line for a
  method that cannot run in it.
- **gradient checkpointing**: `checkpointing_off(model)` turns it off while convscope runs the model and restores
  it after (timm's `grad_checkpointing`, Hugging Face's `gradient_checkpointing`, the `memory_efficient` flag of
  torchvision / timm DenseNet layers), and makes `torch.utils.checkpoint.checkpoint` run its function directly
  meanwhile (a model that calls it in its own forward). Checkpointing only trades memory for a second forward in
  the backward; a rewritten backward (guided backprop, deconvnet, LRP) cannot survive that second forward.
- **forwards that stop the gradient** (a backbone run under `torch.no_grad()`, a `.detach()`):
  `require_gradient` checks, after the forward, that what a method differentiates depends on the input through
  autograd, and otherwise raises `GradientPathError` naming the module (or op) that stops it (`gradient_stop`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from .errors import ConvscopeError


class Runner(Protocol):
    """What these checks need of a model under study (`core.subject.Subject` is one): declared here so that this
    module needs nothing from the Subject that uses it."""

    model: nn.Module
    name: str
    scriptable_hooks: bool

    @property
    def device(self) -> torch.device:
        """The device the model runs on."""
        ...

    @property
    def dtype(self) -> torch.dtype:
        """The floating-point type the model computes in (`model_dtype`)."""
        ...

    def model_output(self, x: torch.Tensor) -> torch.Tensor:
        """The class scores [N, K] for a normalized model input x [N, C, H, W] (`Subject.model_output`)."""
        ...


#: floating-point types with fewer than float32's 24 significant bits
HALF_TYPES = (torch.float16, torch.bfloat16)
#: module attributes that switch gradient checkpointing on (timm, Hugging Face)
CHECKPOINT_FLAGS = ("grad_checkpointing", "gradient_checkpointing")
#: the advice for a model whose output the gradient cannot reach
NO_GRADIENT_ADVICE = "run that part of the forward with gradients enabled, or use occlusion (it needs no gradients)"


class DtypeError(ConvscopeError):
    """A method that cannot run in the model's floating-point type (float16 / bfloat16): one line naming both."""


class GradientPathError(ConvscopeError):
    """What a gradient method differentiates does not depend on the input through autograd (a `torch.no_grad()`
    or a `.detach()` inside the model's forward)."""


# --- dtypes ---------------------------------------------------------------------------------------------------
def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating-point type `model` computes in.

    Returns:
        The dtype of its first floating-point parameter, else buffer, else (a frozen TorchScript module, whose weights
        are constants of its graph) graph constant; float32 when it has none. Never raises.
    """
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    for tensor in model.buffers():
        if tensor.is_floating_point():
            return tensor.dtype
    graph = getattr(model, "graph", None) if isinstance(model, torch.jit.ScriptModule) else None
    if graph is not None:
        try:
            for node in graph.nodes():
                if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType":
                    value = node.output().toIValue()
                    if isinstance(value, torch.Tensor) and value.is_floating_point():
                        return value.dtype
        except RuntimeError:  # a graph constant that cannot be read back: nothing more to learn from it
            pass
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    """`torch.float16` -> `float16` (the dtype's name without the `torch.` prefix)."""
    return str(dtype).removeprefix("torch.")


# --- gradients of a float16 model -----------------------------------------------------------------------------
#: the factor a float16 model's backward is seeded with (loss scaling): its gradients wrt the input are often
#: below float16's smallest normal number, 6.1e-5 (an average pool over 7x7 divides them by 49), and would lose
#: their digits; scaled by 2**12 they keep them, and intermediate gradients up to 16 still fit float16's 65504
FLOAT16_GRADIENT_SCALE = 2.0**12


def gradients(
    subject: Runner, output: torch.Tensor, inputs: list[torch.Tensor], allow_unused: bool = False
) -> tuple[torch.Tensor | None, ...]:
    """`torch.autograd.grad(output.sum(), inputs)` for a model of any floating-point type.

    For a float16 model the backward is seeded with FLOAT16_GRADIENT_SCALE (2**12, loss scaling) and the gradients are
    divided by it in float32 (exact: a power of two), so they keep float16's 11 significant bits instead of
    underflowing; if a scaled gradient overflows (inf / NaN) the backward is run again unscaled.

    Args:
        subject: the model under study (its `dtype` decides the scaling).
        output: the tensor differentiated (summed first), e.g. the target logits [N].
        inputs: tensors the gradients are taken with respect to.
        allow_unused: give None for an input the output does not use, instead of raising.
    Returns:
        One gradient per input, shaped like it: float32 for a float16 model, the input's type otherwise (None for an
        unused input, with `allow_unused`).
    """
    scale = FLOAT16_GRADIENT_SCALE if subject.dtype == torch.float16 else 1.0
    if scale != 1.0:
        scaled = torch.autograd.grad(output.sum() * scale, inputs, allow_unused=allow_unused, retain_graph=True)
        if all(g is None or bool(torch.isfinite(g).all()) for g in scaled):
            return tuple(None if g is None else g.float() / scale for g in scaled)
    plain = torch.autograd.grad(output.sum(), inputs, allow_unused=allow_unused)
    return plain if scale == 1.0 else tuple(None if g is None else g.float() for g in plain)


def backward(subject: Runner, loss: torch.Tensor, parameters: list[torch.Tensor]) -> None:
    """`loss.backward()` for a scalar loss, accumulating into `parameters`' `.grad`, with the loss scaling of
    `gradients` for a float16 model (the accumulated gradients divided back in place; an overflowing scaled backward
    is run again unscaled)."""
    if subject.dtype != torch.float16:
        loss.backward()
        return
    before = [None if p.grad is None else p.grad.clone() for p in parameters]
    (loss * FLOAT16_GRADIENT_SCALE).backward(retain_graph=True)
    added = [p.grad if old is None else p.grad - old for p, old in zip(parameters, before)]
    if all(g is None or bool(torch.isfinite(g).all()) for g in added):
        for p, old, g in zip(parameters, before, added):
            if g is not None:
                p.grad = g / FLOAT16_GRADIENT_SCALE if old is None else old + g / FLOAT16_GRADIENT_SCALE
        return
    for p, old in zip(parameters, before):
        p.grad = old
    loss.backward()


# --- gradient checkpointing -----------------------------------------------------------------------------------
_lock = threading.Lock()
_turned_off: dict[int, list] = {}  # id(model) -> [runs inside checkpointing_off, [(module, attribute), ...]]
_patched: list = [0, {}]  # [runs inside checkpointing_off, {name: original torch.utils.checkpoint attribute}]


def _direct(function, args, kwargs, **_options):
    """`torch.utils.checkpoint._checkpoint_impl` while convscope runs a model: call the function, keep nothing."""
    return function(*args, **kwargs)


class _DirectFunction:
    """`CheckpointFunction` (the reentrant variant, torch < 2.9) while convscope runs a model."""

    @staticmethod
    def apply(function, _preserve_rng_state, *args):
        return function(*args)


def _no_context(*_args, **_kwargs):
    """`_checkpoint_without_reentrant_generator` (torch < 2.9) while convscope runs a model: no hooks, no state."""
    yield
    yield


def _checkpoint_flags(modules: Iterable[nn.Module]) -> list[tuple[nn.Module, str]]:
    """(module, attribute) of every checkpointing switch of `modules` that is on (one look into each module's own
    attribute dict)."""
    found = []
    for module in modules:
        attributes = module.__dict__
        if "grad_checkpointing" not in attributes and "gradient_checkpointing" not in attributes:
            if "memory_efficient" not in attributes:  # (the usual case: nothing to look at)
                continue
        if isinstance(module, torch.jit.ScriptModule):  # scripted code skips checkpointing itself
            continue
        for name in CHECKPOINT_FLAGS:
            if attributes.get(name) is True:
                found.append((module, name))
        kind = type(module)
        if attributes.get("memory_efficient") is True and kind.__name__ in ("_DenseLayer", "DenseLayer"):
            if kind.__module__.startswith(("torchvision.", "timm.")):  # DenseNet layers: checkpointing
                found.append((module, "memory_efficient"))
    return found


@contextmanager
def checkpointing_off(model: nn.Module, modules: Iterable[nn.Module] | None = None) -> Iterator[None]:
    """Context manager: run `model` without gradient checkpointing inside the block.

    Turns off timm's `grad_checkpointing`, Hugging Face's `gradient_checkpointing` and the `memory_efficient` flag of
    torchvision / timm DenseNet layers, and restores every switch on exit (also after an error). Thread-safe and
    re-entrant: the first run to enter turns the switches off, the last to leave restores them. Meanwhile
    `torch.utils.checkpoint.checkpoint` (and `checkpoint_sequential`) anywhere in the process run their function
    directly: the same values, no recomputation in the backward.

    Args:
        model: the model.
        modules: the model's modules when the caller has them at hand (`Subject._modules`; default
            `model.modules()`, ~0.3 ms for EfficientNet-B0).
    """
    import torch.utils.checkpoint as checkpointing

    key = id(model)
    with _lock:
        state = _turned_off.get(key)
        if state is None:
            flags = _checkpoint_flags(model.modules() if modules is None else modules)
            for module, name in flags:
                setattr(module, name, False)
            state = _turned_off[key] = [0, flags]
        state[0] += 1
        if _patched[0] == 0:
            replacements = {
                "_checkpoint_impl": _direct,
                "CheckpointFunction": _DirectFunction,
                "_checkpoint_without_reentrant_generator": _no_context,
            }
            _patched[1] = {name: getattr(checkpointing, name) for name in replacements if hasattr(checkpointing, name)}
            if "_checkpoint_impl" in _patched[1]:  # torch >= 2.9: every variant goes through it
                _patched[1] = {"_checkpoint_impl": _patched[1]["_checkpoint_impl"]}
            for name in _patched[1]:
                setattr(checkpointing, name, replacements[name])
        _patched[0] += 1
    try:
        yield
    finally:
        with _lock:
            _patched[0] -= 1
            if _patched[0] == 0:
                for name, original in _patched[1].items():
                    setattr(checkpointing, name, original)
                _patched[1] = {}
            state[0] -= 1
            if state[0] == 0:
                for module, name in state[1]:
                    setattr(module, name, True)
                del _turned_off[key]


# --- forwards that stop the gradient --------------------------------------------------------------------------
def _tensors(value) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


class _GradientTrace(TorchFunctionMode):
    """Records the first op that takes a tensor needing a gradient and returns floating-point tensors without one:
    run with gradients disabled, or a `detach`."""

    def __init__(self, stack: list[tuple[str, bool]]):
        super().__init__()
        self.stack = stack
        self.found: tuple[str, list[tuple[str, bool]], bool, bool] | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        output = func(*args, **kwargs)
        if self.found is None:
            name = getattr(func, "__name__", "")
            grad = torch.is_grad_enabled()
            if not grad or name in ("detach", "detach_"):
                needs = any(t.requires_grad for t in _tensors((args, kwargs)) if t.is_floating_point())
                outputs = [t for t in _tensors(output) if t.is_floating_point()]
                if needs and outputs and not any(t.requires_grad for t in outputs):
                    self.found = (name, list(self.stack), grad, torch.is_inference_mode_enabled())
        return output


def gradient_stop(subject: Runner, x: torch.Tensor) -> str:
    """Where the model's forward stops the gradient for the model input `x`, as one clause for an error.

    Found by running the forward once more with the input requiring a gradient and recording the first op that drops
    it (its module: the outermost one entered with gradients disabled, else the innermost one running).

    Args:
        subject: the model under study.
        x: the model input [N, C, H, W], already normalized.
    Returns:
        A clause such as "`backbone` runs under torch.no_grad() in the model's forward"; "" when it cannot be told
        (a TorchScript model, an output that does not use the input at all, a forward that fails). Never raises
        (except KeyboardInterrupt).
    """
    if not subject.scriptable_hooks:
        return ""
    stack: list[tuple[str, bool]] = []
    handles = []

    def enter(name):
        def hook(_module, _inputs):
            stack.append((name, torch.is_grad_enabled()))

        return hook

    def leave(_module, _inputs, _output):
        if stack:
            stack.pop()

    trace = _GradientTrace(stack)
    try:
        for name, module in subject.model.named_modules():
            if name:
                handles.append(module.register_forward_pre_hook(enter(name)))
                handles.append(module.register_forward_hook(leave))
        leaf = x.detach().clone().requires_grad_(True)
        with torch.enable_grad(), trace:
            subject.model_output(leaf)
    except Exception:  # noqa: BLE001 - a diagnosis only: the caller reports the failure it found anyway
        pass
    finally:
        for handle in handles:
            handle.remove()
    if trace.found is None:
        return ""
    op, modules, grad, inference = trace.found
    if not grad:
        mode = "torch.inference_mode()" if inference else "torch.no_grad()"
        disabled = next((name for name, enabled in modules if not enabled), None)
        if disabled is not None:
            return f"`{disabled}` runs under {mode} in the model's forward"
        where = f"the forward of `{modules[-1][0]}`" if modules else "the model's forward"
        return f"{where} runs `{op}` with gradients disabled ({mode})"
    where = f"`{modules[-1][0]}`" if modules else "the model's forward"
    return f"{where} detaches a tensor (`.{op}()`)"


def require_gradient(
    subject: Runner,
    tensors: torch.Tensor | Mapping[str, torch.Tensor],
    x: torch.Tensor,
    method: str,
    advice: str = NO_GRADIENT_ADVICE,
) -> None:
    """Check that what a gradient method differentiates depends on the model input through autograd.

    Costs nothing when the gradient is there; otherwise one more forward for the diagnosis (`gradient_stop`).

    Args:
        subject: the model under study.
        tensors: the model's output, or {layer name: captured output} (`logits` is the model's output); only
            floating-point tensors are checked.
        x: the normalized model input [N, C, H, W].
        method: the method's name, for the message.
        advice: what the message ends with.
    Raises:
        GradientPathError: a tensor that does not require grad; the message names it, the module or op of the
            forward that stops the gradient when `gradient_stop` can tell, `method` and `advice`.
    """
    named = tensors.items() if isinstance(tensors, Mapping) else [("logits", tensors)]
    missing = next(
        (name for name, t in named if isinstance(t, torch.Tensor) and t.is_floating_point() and not t.requires_grad),
        None,
    )
    if missing is None:
        return
    what = "the output" if missing == "logits" else f"layer `{missing}`"
    where = gradient_stop(subject, x)
    because = f": {where}" if where else " (a torch.no_grad() or .detach() in the model's forward?)"
    raise GradientPathError(
        f"{method} follows the gradient of {what} of model {subject.name} back to the input, but {what} does "
        f"not depend on the input through autograd{because}; {advice}"
    )


# --- one line for what still goes wrong -----------------------------------------------------------------------
_MIXED_TYPES = re.compile(r"Input type \(|expected scalar type|same dtype|must have the same dtype|dtype mismatch")
_ELSEWHERE = re.compile(r"cuda|mps|device|[Tt]ensor-likes", re.IGNORECASE)


def model_form_error(
    error: BaseException,
    method: str,
    model: str,
    dtype: torch.dtype | None = None,
    device: str = "cpu",
    advice: str = NO_GRADIENT_ADVICE,
) -> ConvscopeError | None:
    """The one-line ConvscopeError for a torch error that comes from the form of the model, not a bug.

    Args:
        error: the exception torch raised.
        method: the method's name, for the message.
        model: the model's name, for the message.
        dtype: the type the input was fed in, when known.
        device: the device type (`cpu`, `cuda`, ...) named for a missing kernel.
        advice: what the line of a stopped gradient ends with.
    Returns:
        ConvscopeError for a `CheckpointError`; DtypeError for an op PyTorch lacks for float16 / bfloat16 on `device`
        or for tensors of different floating-point types meeting inside the model (a model converted only in part);
        GradientPathError for a backward through a forward that stopped the gradient; None for anything else.
    """
    from torch.utils.checkpoint import CheckpointError

    text = " ".join(str(error).split())
    if isinstance(error, CheckpointError):
        return ConvscopeError(
            f"{method} cannot run through the gradient checkpointing of model {model} ({text[:200]}); "
            "turn checkpointing off in the model (timm: model.set_grad_checkpointing(False))"
        )
    if not isinstance(error, RuntimeError):
        return None
    if "not implemented for 'Half'" in text or "not implemented for 'BFloat16'" in text:
        op = text.split('"')[1] if text.count('"') >= 2 else "one of its operations"
        kind = "float16" if "'Half'" in text else "bfloat16"
        return DtypeError(
            f"{method} cannot run on model {model} in {kind} (PyTorch has no {device} kernel for `{op}` in that "
            "type); convert the model to float32 first (model.float())"
        )
    if _MIXED_TYPES.search(text) and not _ELSEWHERE.search(text):
        fed = f" (convscope feeds its input in {dtype_name(dtype)}, the type of its first parameter)" if dtype else ""
        return DtypeError(
            f"{method} cannot run model {model}: its layers hold different floating-point types{fed}: "
            f"{text[:200]}; convert the whole model to one type first (model.float(), or model.half())"
        )
    if "does not require grad and does not have a grad_fn" in text:
        return GradientPathError(
            f"{method} follows a gradient back to the input of model {model}, but what it differentiates does not "
            f"depend on the input through autograd (a torch.no_grad() or .detach() in the model's forward?); {advice}"
        )
    return None


@contextmanager
def explained_errors(subject: Runner, method: str) -> Iterator[None]:
    """Context manager: run a method, turning the torch RuntimeErrors that come from the model's form
    (`model_form_error`: checkpointing, float16 / bfloat16 kernels or mixed types, a stopped gradient) into their one
    line naming `method` and the model (ConvscopeError, DtypeError, GradientPathError). Everything else passes
    through unchanged."""
    try:
        yield
    except RuntimeError as exc:
        replacement = model_form_error(exc, method, subject.name, subject.dtype, subject.device.type)
        if replacement is None:
            raise
        raise replacement from None
