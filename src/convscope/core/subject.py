"""Subject: a frozen model with its input spec and labels, and `capture` of any layers' activations.

Over 400 lines on purpose: one class, the model under study, whose running, naming, size and capture
rules depend on each other (the tap, inputs, devices and fingerprints live in their own modules).

Every technique hands the Subject images as [0, 1] tensors; the Subject maps them to the model's own input
convention (value range, mean, std) before the model sees them. Layer names are exactly the model's
`named_modules()` paths; the model's output is the layer `logits`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .autograd_checks import HALF_TYPES, checkpointing_off, model_dtype
from .devices import resolve_device
from .errors import ChannelError, ConvscopeError, SizeError, UnknownLayerError, suggest
from .fingerprint import state_fingerprint
from .images import fit, open_image, pil_to_tensor, to_mode
from .inputs import InputSpec, Normalize
from .outputs import select_output
from .tap import LOGITS, LayerTap, StopForward


def is_compiled(module: nn.Module) -> bool:
    """True for a module wrapped by `torch.compile` (an OptimizedModule, whose eager module is `_orig_mod`)."""
    return type(module).__name__ == "OptimizedModule" and isinstance(getattr(module, "_orig_mod", None), nn.Module)


#: the path segment `torch.compile` adds to the names of a compiled module's submodules
COMPILED_SEGMENT = "_orig_mod"


#: errors a forward raises when an input size does not suit a layer: PyTorch's (a kernel larger than the map, an
#: empty output, a flatten that no longer fits a linear layer) and models' own size checks (torchvision's and
#: timm's ViTs assert their fixed patch grid: AssertionError; shape arithmetic: ZeroDivisionError)
SIZE_FAILURES = (RuntimeError, ValueError, IndexError, AssertionError, ZeroDivisionError)


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
            except StopForward:
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
