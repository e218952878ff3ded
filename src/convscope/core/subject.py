"""Subject: a frozen model with its input spec and labels, and `capture` of any layers' activations.

Every technique hands the Subject images as [0, 1] tensors; the Subject maps them to the model's own input
convention (value range, mean, std) before the model sees them. Layer names are exactly the model's
`named_modules()` paths; the model's output is the layer `logits`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import xxhash
from torch import nn

from .autograd_checks import HALF_TYPES, checkpointing_off, model_dtype
from .errors import ChannelError, ConvscopeError, SizeError, UnknownLayerError, suggest
from .images import fit, open_image, pil_to_tensor, to_mode
from .outputs import looks_like_probabilities, select_output  # noqa: F401 - re-exported

LOGITS = "logits"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """What the model expects: x_model = (lo + (hi - lo) * x01 - mean) / std, at `size` = (height, width).

    Args:
        size: (height, width) in pixels (default 224 x 224).
        channels: 1 or 3.
        mean, std: per channel (or one value for all), in the units of `value_range`; std > 0. Default ImageNet's.
        value_range: (lo, hi) the [0, 1] image is mapped to before mean / std (e.g. (0, 255) for a Caffe model).
    Raises:
        ConvscopeError: channels not 1 or 3, a mean / std of the wrong length, or a std <= 0.
    """

    size: tuple[int, int] = (224, 224)
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    value_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ConvscopeError(f"input channels must be 1 or 3, not {self.channels}")
        for label, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, self.channels):
                raise ConvscopeError(f"input {label} has {len(values)} values for {self.channels} channels")
        if any(s <= 0 for s in self.std):
            raise ConvscopeError(f"input std must be positive, got {self.std}")

    def to_dict(self) -> dict:
        """{"size", "channels", "mean", "std", "value_range"} as lists (checkpoints, results)."""
        return {
            "size": list(self.size),
            "channels": self.channels,
            "mean": list(self.mean),
            "std": list(self.std),
            "value_range": list(self.value_range),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        """The inverse of `to_dict`; missing keys take the defaults."""
        return cls(
            size=tuple(data.get("size", (224, 224))),
            channels=int(data.get("channels", 3)),
            mean=tuple(data.get("mean", IMAGENET_MEAN)),
            std=tuple(data.get("std", IMAGENET_STD)),
            value_range=tuple(data.get("value_range", (0.0, 1.0))),
        )


def is_compiled(module: nn.Module) -> bool:
    """True for a module wrapped by `torch.compile` (an OptimizedModule, whose eager module is `_orig_mod`)."""
    return type(module).__name__ == "OptimizedModule" and isinstance(getattr(module, "_orig_mod", None), nn.Module)


#: the path segment `torch.compile` adds to the names of a compiled module's submodules
COMPILED_SEGMENT = "_orig_mod"


class _StopForward(Exception):
    """Raised from a hook once every requested layer has produced its output: the rest of the forward is skipped."""


#: errors a forward raises when an input size does not suit a layer: PyTorch's (a kernel larger than the map, an
#: empty output, a flatten that no longer fits a linear layer) and models' own size checks (torchvision's and
#: timm's ViTs assert their fixed patch grid: AssertionError; shape arithmetic: ZeroDivisionError)
SIZE_FAILURES = (RuntimeError, ValueError, IndexError, AssertionError, ZeroDivisionError)


def state_fingerprint(model: nn.Module) -> str:
    """A hash of the module tree and of every parameter and buffer.

    Returns:
        A hex xxh3-64 digest of the module's repr (every hyper-parameter, such as a BatchNorm's eps) and of the bytes,
        dtypes and shapes of its parameters and buffers (~3 GB/s on a CPU): it changes whenever any of them changes,
        however it was changed (in place, through `.data`, by `load_state_dict`, by replacing a tensor or a module).
    """
    digest = xxhash.xxh3_64()
    digest.update(repr(model).encode())  # hyper-parameters too (a BatchNorm's eps, a conv's stride)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        t = tensor.detach()
        if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
            t = t.permute(0, 2, 3, 1)  # the same bytes, seen in storage order
        t = t.contiguous().cpu()
        digest.update(f"{name}:{t.dtype}:{list(t.shape)};".encode())
        digest.update(
            memoryview(t.view(torch.uint8).numpy() if t.dtype == torch.bfloat16 else t.numpy()).cast("B")
            if t.numel()
            else b""
        )
    return digest.hexdigest()


class LayerTap:
    """Forward hooks that keep the output of each named layer (its last call in the forward), always removed once
    the tap is closed. The one place where convscope reads a layer's output while the model runs: every output is
    kept channels-first (the graph's `channel_axis`), and a layer asked for whose hook was never called in the
    forward raises ConvscopeError on exit (never a silently missing layer).

    A layer whose output a later op rewrites in place (`ReLU(inplace=True)`, `out += identity`; found by the
    graph's dry run) hands the rest of the forward a copy, so the tensor kept is the layer's own output and
    gradients taken with respect to it flow through everything downstream. With `stop=True` the forward is
    stopped (`_StopForward`) once every layer has produced its last output.

    Threads: a tap acts only on the forwards of the thread that opened it, so several threads may capture from
    one shared Subject at once. Each tapped module carries one shared hook that hands its output to the taps of
    the thread running the forward; these hooks are added and removed under a lock and removed only when no tap
    on the model is open (PyTorch iterates a module's hook dict while an exception such as `_StopForward` passes
    through it, and changing the dict meanwhile would fail the other thread's forward). With one thread this is
    exactly the usual register-on-enter, remove-on-exit.

    `handles` holds hooks that subclasses add (removed on exit as they are).
    """

    _lock = threading.Lock()
    _open: dict[int, list] = {}  # id(model) -> [open taps on it, {module: _Shared}]

    class _Shared:
        """The one hook of a tapped module: calls the handlers the current thread registered on it, in order."""

        def __init__(self, module: nn.Module):
            self.handlers: dict[int, list] = {}  # thread id -> hook functions of that thread's open taps
            self.handle = module.register_forward_hook(self)

        def __call__(self, module, inputs, output):
            handlers = self.handlers.get(threading.get_ident())
            if not handlers:  # no tap of this thread here: another thread's forward through the shared model
                return None
            result = None
            for handler in tuple(handlers):
                replaced = handler(module, inputs, output if result is None else result)
                result = replaced if replaced is not None else result
            return result

    def __init__(self, subject: "Subject", layers: Sequence[str], stop: bool = False, copy_mutated: bool = True):
        self.subject, self.stop = subject, stop
        self.copy_mutated = copy_mutated  # False where the caller runs in-place ops out of place (LRP)
        self.layers = [n for n in dict.fromkeys(layers) if n != LOGITS]
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list = []
        self.thread: int | None = None
        self._registered: list = []  # (shared hook, handler) pairs this tap added
        self._counted = False  # whether this tap is counted among the model's open taps

    def __enter__(self) -> "LayerTap":
        self.thread = threading.get_ident()
        if not self.layers:
            return self
        graph = self.subject.graph
        self.expected = {n: graph.node(n).calls for n in self.layers}
        self.calls = dict.fromkeys(self.layers, 0)
        handlers = [
            (
                self.subject.module(n),
                self._hook(n, self.copy_mutated and graph.node(n).mutated_later, graph.node(n).channel_axis),
            )
            for n in self.layers
        ]
        with self._lock:
            state = self._open.setdefault(id(self.subject.model), [0, {}])
            state[0] += 1
            self._counted = True
            try:
                for module, handler in handlers:
                    shared = state[1].get(module)
                    if shared is None:
                        shared = state[1][module] = self._Shared(module)
                    shared.handlers.setdefault(self.thread, []).append(handler)
                    self._registered.append((shared, handler))
            except BaseException:
                self._release()
                raise
        return self

    def _hook(self, name: str, mutated_later: bool, channel_axis: int = 1):
        """The hook of one layer: keep its output (the channels-first view for a module that works channels-last:
        the graph's `channel_axis`) and hand the rest of the forward a tensor computed from the kept one (a copy
        where later in-place ops would rewrite it), so gradients wrt the kept tensor flow downstream."""

        def hook(_module, _inputs, output):
            self.calls[name] += 1
            moved = isinstance(output, torch.Tensor) and channel_axis != 1 and output.dim() > channel_axis
            kept = self.outputs[name] = output.movedim(channel_axis, 1) if moved else output
            if self.stop and all(self.calls[n] >= self.expected[n] for n in self.layers):
                raise _StopForward
            if not isinstance(output, torch.Tensor):
                return None
            passed_on = kept.movedim(1, channel_axis) if moved else output
            if mutated_later:
                return passed_on.clone()  # later in-place ops rewrite the copy, not the tensor kept here
            return passed_on if moved else None

        return hook

    def __exit__(self, exc_type, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        if self._counted:
            with self._lock:
                self._release()
        if exc_type is None and self.layers:
            silent = [n for n in self.layers if self.calls[n] == 0]
            if silent:  # never an empty result: a layer asked for that did not run is an error naming it
                raise ConvscopeError(
                    f"layer `{silent[0]}` did not run in this forward pass of {self.subject.name} (its hooks "
                    "were not called: a part of the model that bypasses Python hooks, such as a compiled or "
                    "scripted submodule, or a forward that took another path)"
                )

    def _release(self) -> None:
        """Take this tap's handlers off the shared hooks; the last open tap on the model removes the hooks
        themselves (no forward of any tap is running through them then). Called with the lock held."""
        for shared, handler in self._registered:
            mine = shared.handlers[self.thread]
            mine.remove(handler)
            if not mine:
                del shared.handlers[self.thread]
        self._registered.clear()
        self._counted = False
        key = id(self.subject.model)
        state = self._open[key]
        state[0] -= 1
        if state[0] == 0:
            for shared in state[1].values():
                shared.handle.remove()
            del self._open[key]


class Normalize(nn.Module):
    """x01 in [0, 1] -> the model's input convention (value range, then per-channel mean / std), in the model's
    floating-point type.

    The arithmetic runs in float32 (float64 for a float64 input), and the result is cast to the type `model`
    computes in (`model_dtype`: float16 / bfloat16 for a `.half()` / `.bfloat16()` model; without a model, the
    arithmetic's type). Float32 buffers would otherwise promote a half-precision input back to float32, and the
    model would refuse it ("Input type (float) and bias type (c10::Half)")."""

    def __init__(self, spec: InputSpec, model: nn.Module | None = None):
        super().__init__()
        low, high = spec.value_range
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
        # x_model = x01 * scale + shift, with scale = (hi - lo) / std and shift = (lo - mean) / std
        self.register_buffer("scale", (high - low) / std, persistent=False)
        self.register_buffer("shift", (low - mean) / std, persistent=False)
        object.__setattr__(self, "model", model)  # read for its dtype only: not a submodule of this one

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """x01 [N, C, H, W] in [0, 1] -> the model's input (x01 * (hi - lo) / std + (lo - mean) / std), in the
        model's floating-point type."""
        work = torch.promote_types(x01.dtype, torch.float32) if x01.is_floating_point() else torch.float32
        x = x01.to(work) * self.scale.to(work) + self.shift.to(work)
        return x if self.model is None else x.to(model_dtype(self.model))


@dataclass
class Subject:
    """A model under study: frozen (no parameter requires grad), in eval mode, with its input spec and labels.

    Build one with `convscope.load` or `convscope.wrap`. Every technique hands it images as [N, C, H, W] tensors in
    [0, 1]; `normalize` maps them to the model's own input convention. Layer names are the model's `named_modules()`
    paths; the model's output is the layer `logits`.

    Args:
        model: the nn.Module (a `torch.compile`d one is unwrapped to its eager module).
        input: the InputSpec.
        labels: class names, index -> name, or None.
        name: how results and messages name the model.
        scriptable_hooks: False for TorchScript models, whose modules cannot take Python hooks (only `logits`).
        channels_last: store 4-D weights and feed images channels-last (1.1-1.4x faster on CPU; values unchanged).
        output: which tensor of a tuple / dict output is `logits` (`outputs.select_output`).
    """

    model: nn.Module
    input: InputSpec = field(default_factory=InputSpec)
    labels: list[str] | None = None
    name: str = "custom"
    scriptable_hooks: bool = True  # False for TorchScript models, whose modules cannot take Python hooks
    channels_last: bool = True  # store 4-D weights and feed images channels-last (1.1-1.4x faster on CPU)
    output: str | int | None = None  # which tensor of a tuple / dict output is `logits` (see select_output)

    def __post_init__(self) -> None:
        if is_compiled(self.model):  # torch.compile: the same module run eagerly (hooks need the Python modules)
            self.model = self.model._orig_mod
        self.model.eval()
        for parameter in self.model.parameters():  # (ScriptModules lack requires_grad_)
            parameter.requires_grad_(False)
        if not self.scriptable_hooks:
            self.channels_last = False
        if self.channels_last:  # the layout changes, the values do not
            self.model.to(memory_format=torch.channels_last)
        self.normalize = Normalize(self.input, self.model)
        self._working_sizes: dict[tuple, tuple[int, int] | None] = {}
        self._graph: tuple | None = None  # (the modules it was traced from, LayerGraph)
        self._module_map: dict[str, nn.Module] | None = None
        self._aliases: dict[str, str] = {}  # names without the `_orig_mod` segments of compiled submodules
        self._compiled_inside = False  # whether a submodule is compiled (run with dynamo set to eager)

    @property
    def _modules(self) -> dict[str, nn.Module]:
        """name -> module, as of the last walk of the model (`check_eval`, which every run starts with: a submodule
        replaced after wrapping is seen by the next run)."""
        if self._module_map is None:
            self._walk()
        return self._module_map

    def _walk(self) -> str | None:
        """One pass over the module tree: refresh the name -> module map; return the first module in training
        mode (its name, or "the model"), None when all are in eval mode."""
        modules, training, compiled = {}, None, False
        for name, module in self.model.named_modules():
            if training is None and module.training:
                training = name or "the model"
            compiled = compiled or is_compiled(module)
            if name:
                modules[name] = module
        self._module_map = modules
        self._compiled_inside = compiled
        self._aliases = (
            {
                ".".join(p for p in name.split(".") if p != COMPILED_SEGMENT): name
                for name in modules
                if COMPILED_SEGMENT in name.split(".")
            }
            if compiled
            else {}
        )
        return training

    @contextlib.contextmanager
    def running(self):
        """Context manager: the context of every forward convscope runs (`model_output`, the graph's dry
        run): compiled submodules run eagerly (`eager`) and gradient checkpointing is off (`checkpointing_off`, restored
        afterwards)."""
        with self.eager(), checkpointing_off(self.model, [self.model, *self._modules.values()]):
            yield

    def eager(self) -> contextlib.AbstractContextManager:
        """The context every forward of convscope runs in: for a model with `torch.compile`d submodules, dynamo is
        set to run them eagerly (`torch.compiler.set_stance("force_eager")`), so hooks see every layer and the
        numbers are the eager model's; a no-op otherwise."""
        if not self._compiled_inside:
            return contextlib.nullcontext()
        return torch.compiler.set_stance("force_eager")

    @property
    def layer_names(self) -> list[str]:
        """All `named_modules()` paths in definition order, then `logits`."""
        return [*self._modules, LOGITS]

    def resolve(self, name: str) -> str:
        """Check a layer name and return it as the model names it.

        Inside a compiled submodule the name may leave out the `_orig_mod` segment that `torch.compile` adds (`2.0` for
        `2._orig_mod.0`); a compiled model given whole is unwrapped, so its names have no such prefix (a leading
        `_orig_mod.` is accepted and dropped).

        Raises:
            UnknownLayerError: not a layer (the message suggests the closest names).
        """
        if name == LOGITS or name in self._modules:
            return name
        if name in self._aliases:
            return self._aliases[name]
        stripped = ".".join(p for p in name.split(".") if p != COMPILED_SEGMENT)
        if stripped != name and (stripped in self._modules or stripped in self._aliases):
            return self._aliases.get(stripped, stripped)
        raise UnknownLayerError(f"unknown layer `{name}` in model {self.name}{suggest(name, self.layer_names)}")

    def module(self, name: str) -> nn.Module:
        """The nn.Module of a layer name (`resolve`d; UnknownLayerError for an unknown one, KeyError for
        `logits`, which is no module)."""
        return self._modules[self.resolve(name)]

    @property
    def graph(self):
        """The LayerGraph of this model (types, shapes, nesting, data-flow edges), from one dry run; traced
        again when a submodule was replaced.

        Raises:
            ConvscopeError: the model is in training mode (checked before anything runs: the dry run would change
                BatchNorm statistics), or fails on its own input spec (`trace_graph`).
        """
        from .graph import trace_graph

        modules = tuple((name, id(module)) for name, module in self._modules.items())
        if self._graph is None or self._graph[0] != modules:
            self.check_eval()
            self._graph = (modules, trace_graph(self))
        return self._graph[1]

    def num_channels(self, layer: str) -> int:
        """Channels C of a layer's output (its channels-first shape [C, ...], from the graph's dry run).

        Raises:
            UnknownLayerError: as `LayerGraph.output_shape`.
        """
        shape = self.graph.output_shape(layer)
        return shape[0]

    def check_channels(self, layer: str, channels: Iterable[int]) -> list[int]:
        """The channels as a list, each checked against 0..C-1 of `layer`.

        Raises:
            ChannelError: a channel outside the range.
            UnknownLayerError: as `num_channels`.
        """
        count = self.num_channels(layer)
        channels = list(channels)
        for c in channels:
            if not 0 <= c < count:
                raise ChannelError(f"channel {c} out of range 0..{count - 1} for layer `{layer}`")
        return channels

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with every tensor contiguous (as safetensors and most tools expect)."""
        return {k: v.contiguous() for k, v in self.model.state_dict().items()}

    # --- running ------------------------------------------------------------------------------------------
    def to(self, device: str | torch.device) -> "Subject":
        """Move the model and its normalization to a device (`resolve_device` spelling); returns self.

        Raises:
            ConvscopeError: an unknown or unavailable device.
        """
        device = resolve_device(device)
        self.model.to(device)
        self.normalize.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """The device the model's normalization (and so its input) lives on."""
        return self.normalize.scale.device

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check a batch of images and move it to the model's device.

        Args:
            images: [C, H, W] or [N, C, H, W] in [0, 1] with the model's channel count.
        Returns:
            [N, C, H, W] on the model's device, float32 (float64 for a float64 model: images keep at least float32's
            precision; `normalize` casts to the model's type), channels-last when the Subject is.
        Raises:
            ConvscopeError: a wrong shape or channel count, or a model (or any module in it) put back in training mode
                (dropout and batch statistics would make every result random).
        """
        if images.dim() == 3:
            images = images[None]
        if images.dim() != 4:
            raise ConvscopeError(f"expected images shaped [N, C, H, W], got {list(images.shape)}")
        if images.shape[1] != self.input.channels:
            raise ConvscopeError(
                f"model {self.name} takes {self.input.channels}-channel images, got {images.shape[1]} channels"
            )
        self.check_eval()
        images = images.to(self.device, torch.promote_types(self.dtype, torch.float32))
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def check_eval(self) -> None:
        """Raise ConvscopeError, naming the module, when the model or any module in it is in training
        mode."""
        training = self._walk()
        if training is not None:
            raise ConvscopeError(
                f"model {self.name} is in training mode (`{training}`): convscope needs eval mode, "
                "where dropout is off and BatchNorm uses its running statistics; call "
                "subject.model.eval()"
            )

    @property
    def dtype(self) -> torch.dtype:
        """The floating-point type the model computes in (`model_dtype`: its parameters', else its buffers', else,
        for a frozen TorchScript module, its graph constants'; float32 for most models). Its input is fed in it."""
        return model_dtype(self.model)

    def model_output(self, x: torch.Tensor) -> torch.Tensor:
        """The model's class scores for an already normalized input.

        The one place every technique runs the model: it gets a fresh copy of `x` in its own dtype (a forward that
        normalizes its input in place, `x.sub_(0.5)`, then changes neither the caller's tensor nor a leaf that requires
        grad), inside `running` (eager, gradient checkpointing off).

        Args:
            x: the normalized model input [N, C, H, W].
        Returns:
            `logits` (chosen by `select_output`), usually [N, K] in logit units; float32 when the model computes in
            float16 / bfloat16 (the cast is differentiable).
        Raises:
            ConvscopeError: no tensor of class scores can be chosen from the output (`select_output`).
        """
        x = x.to(self.dtype, copy=True)
        with self.running():
            output = self.model(x)
        output = select_output(output, self.output, f"model {self.name}")
        return output.float() if output.dtype in HALF_TYPES else output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [N, K] for a batch of [0, 1] images [N, C, H, W] (`prepare`, `normalize`,
        `model_output`; also `subject(images)`)."""
        return self.model_output(self.normalize(self.prepare(images)))

    __call__ = forward

    def fingerprint(self) -> str:
        """`state_fingerprint` of the model: equal exactly when every parameter and buffer holds the same
        values."""
        return state_fingerprint(self.model)

    def capture(self, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of `layers` for a batch of [0, 1] images, via forward hooks that are always removed.

        The forward pass stops as soon as every requested layer has produced its output (its last call, when a module
        runs several times per forward, as a reused ReLU does), so later layers cost nothing. Each tensor is the layer's
        own output, even when a later in-place op rewrites it (`LayerTap`). Gradients flow through the returned tensors
        when the caller has grad enabled.

        Args:
            images: [N, C, H, W] (or [C, H, W]) in [0, 1].
            layers: layer names (`logits` for the model's output).
        Returns:
            {name as given: tensor}, always channels-first: [N, C, H, W], tokens [N, C, L], vectors [N, C] (a
            channels-last module's tensor is seen through a view; the graph's `channel_axis`); keyed by the names as
            given (aliases of compiled submodules' layers included).
        Raises:
            UnknownLayerError: an unknown layer, or one that does not run, returns several tensors or has a channel axis
                convscope cannot follow.
            ConvscopeError: a layer whose hooks were not called in this forward, a TorchScript model (only `logits`), or
                an input `prepare` refuses.
        """
        x = self.normalize(self.prepare(images))  # first: it also refreshes the module map
        asked = {n: self.resolve(n) for n in layers}  # keyed as asked (an alias of a compiled submodule's layer)
        names = list(dict.fromkeys(asked.values()))
        wanted = [n for n in names if n != LOGITS]
        if wanted and not self.scriptable_hooks:
            raise ConvscopeError(
                f"model {self.name} is TorchScript: its layers cannot be hooked, only `logits`; "
                "save a checkpoint with an architecture spec to inspect layers"
            )
        for n in wanted:
            self.graph.output_shape(n)  # one tensor with a known channel axis, run in the forward pass, or why not
        store: dict[str, torch.Tensor] = {}
        with LayerTap(self, wanted, stop=LOGITS not in names) as tap:
            try:
                store[LOGITS] = self.model_output(x)
            except _StopForward:
                pass
        store.update(tap.outputs)
        return {n: store[resolved] for n, resolved in asked.items()}

    # --- sizes --------------------------------------------------------------------------------------------
    def check_size(self, size: int | tuple[int, int], layers: Sequence[str], field: str = "size") -> None:
        """Check that images of `size` reach `layers`, by trying it (the answer is cached per layer set
        and size).

        Args:
            size: a side, or (height, width), in pixels.
            layers: the layers that must get a non-empty output (`logits` when empty).
            field: how the message names the size.
        Raises:
            SizeError: one line naming the size, the layer and the smallest size with the same aspect ratio that works.
                A model that works at a size but not at twice it (a flatten before a linear layer, a ViT's fixed patch
                grid) is no matter of too small: the line says that its own input size works (and, when twice that
                fails too, that it only works at its own size), and the error's `works_at` is that size (None when it
                fails too).
        """
        height, width = (size, size) if isinstance(size, int) else size
        names = tuple(sorted({self.resolve(n) for n in layers} or {LOGITS}))
        if self._size_works(names, height, width):
            return
        smallest = self._smallest_size(names, height, width)
        if smallest is not None and not self._size_works(names, 2 * smallest[0], 2 * smallest[1]):
            smallest = None  # it works there but not when larger: no matter of too small (a fixed patch grid)
        layer = next((n for n in names if not self._size_works((n,), height, width)), names[0])
        where = "the model's output" if layer == LOGITS else f"layer `{layer}`"
        if smallest is None:  # e.g. a flatten that needs exactly the model's input size, a ViT's patch grid
            own = tuple(self.input.size)
            works = self._size_works(names, *own)
            fixed = works and not self._size_works(names, 2 * own[0], 2 * own[1])
            only = ": this model only works at its own size" if fixed else ""
            hint = f"its own input size {own[0]}x{own[1]} does{only}" if works else "no other size tried works either"
            error = SizeError(f"{field} {height}x{width} does not work for {where} of {self.name} ({hint})")
            error.works_at = own if works else None  # where it does: DeepDream runs its octaves there
            raise error
        raise SizeError(
            f"{field} {height}x{width} is too small for {where} of {self.name} (its feature map "
            f"would be empty); the smallest size that works is {smallest[0]}x{smallest[1]}"
        )

    def _size_works(self, names: tuple[str, ...], height: int, width: int) -> bool:
        key = (names, height, width)
        if key not in self._working_sizes:
            x = torch.full((1, self.input.channels, height, width), 0.5, device=self.device)
            try:
                with torch.no_grad():
                    outputs = self.capture(x, list(names))
                works = all(t.numel() > 0 for t in outputs.values() if isinstance(t, torch.Tensor))
            except SIZE_FAILURES:
                works = False
            self._working_sizes[key] = works
        return self._working_sizes[key]

    def _smallest_size(self, names: tuple[str, ...], height: int, width: int) -> tuple[int, int] | None:
        """The smallest (h, w) with the aspect ratio of (height, width) that reaches `names` (binary search on the
        shorter side, assuming that a size that works keeps working when larger)."""
        ratio = width / height

        def shape(side: int) -> tuple[int, int]:
            return (side, max(1, round(side * ratio))) if height <= width else (max(1, round(side / ratio)), side)

        low, high = min(height, width), max(min(height, width), 1)
        limit = 4 * max(self.input.size)
        while not self._size_works(names, *shape(high)):
            if high >= limit:
                return None
            low, high = high, min(limit, high * 2)
        while high - low > 1:  # low fails, high works
            middle = (low + high) // 2
            low, high = (low, middle) if self._size_works(names, *shape(middle)) else (middle, high)
        return shape(high)

    def activations(self, images: torch.Tensor, layer: str) -> torch.Tensor:
        """Activations of one layer for [0, 1] images, without gradients (`capture` of one layer)."""
        with torch.no_grad():
            return self.capture(images, [layer])[layer]

    # --- images -------------------------------------------------------------------------------------------
    def load_image(self, path: str | Path, fit_mode: str = "squash") -> torch.Tensor:
        """Read an image file as a [1, C, H, W] tensor in [0, 1] at the model's input size and channels.

        Args:
            path: the file (`images.open_image`: EXIF orientation applied, pixel cap).
            fit_mode: `squash` or `crop` (`images.fit`).
        Raises:
            ImageError: the file is not a readable image.
            ValueError: an unknown fit mode.
        """
        image = to_mode(open_image(path), self.input.channels)
        return pil_to_tensor(fit(image, self.input.size, fit_mode))[None]

    def label(self, index: int) -> str:
        """The class name of index `index`, or the index as text when there is no label for it."""
        return self.labels[index] if self.labels and index < len(self.labels) else str(index)


def resolve_device(name: str | torch.device) -> torch.device:
    """A device spelling as a usable torch.device.

    Args:
        name: `cpu`, `cuda`, `cuda:N`, `mps`, `auto` (the first GPU when there is one, else the CPU) or a
            torch.device.
    Raises:
        ConvscopeError: an unknown or unsupported spelling, no CUDA GPU, a GPU index out of range, or no MPS.
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            raise ConvscopeError(f"unknown device {name!r}: use cpu, cuda, cuda:N, mps or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConvscopeError(
                f"device {name}: no CUDA GPU is available to this PyTorch (torch {torch.__version__}); use device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConvscopeError(f"device {name}: GPU index out of range 0..{torch.cuda.device_count() - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConvscopeError(f"device {name}: MPS is not available on this machine; use device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConvscopeError(f"unsupported device {name!r}: use cpu, cuda, cuda:N, mps or auto")
    return device
