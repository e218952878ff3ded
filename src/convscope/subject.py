"""Subject: a frozen model with its input spec and labels, and `capture` of any layers' activations.

Every technique hands the Subject images as [0, 1] tensors; the Subject maps them to the model's own input
convention (value range, mean, std) before the model sees them. Layer names are exactly the model's
`named_modules()` paths; the model's output is the layer `logits`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from .errors import ChannelError, ConvscopeError, UnknownLayerError, suggest
from .images import fit, open_image, pil_to_tensor, to_mode

LOGITS = "logits"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """What the model expects: x_model = (lo + (hi - lo) * x01 - mean) / std, at `size` = (height, width)."""

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
        return {"size": list(self.size), "channels": self.channels, "mean": list(self.mean),
                "std": list(self.std), "value_range": list(self.value_range)}

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        return cls(size=tuple(data.get("size", (224, 224))), channels=int(data.get("channels", 3)),
                   mean=tuple(data.get("mean", IMAGENET_MEAN)), std=tuple(data.get("std", IMAGENET_STD)),
                   value_range=tuple(data.get("value_range", (0.0, 1.0))))


class _StopForward(Exception):
    """Raised from a hook once every requested layer has produced its output: the rest of the forward is skipped."""


class Normalize(nn.Module):
    """x01 in [0, 1] -> the model's input convention (value range, then per-channel mean / std)."""

    def __init__(self, spec: InputSpec):
        super().__init__()
        low, high = spec.value_range
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
        # x_model = x01 * scale + shift, with scale = (hi - lo) / std and shift = (lo - mean) / std
        self.register_buffer("scale", (high - low) / std, persistent=False)
        self.register_buffer("shift", (low - mean) / std, persistent=False)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return x01 * self.scale + self.shift


@dataclass
class Subject:
    """A model under study: frozen, in eval mode, with its input spec and optional class labels."""

    model: nn.Module
    input: InputSpec = field(default_factory=InputSpec)
    labels: list[str] | None = None
    name: str = "custom"
    scriptable_hooks: bool = True  # False for TorchScript models, whose modules cannot take Python hooks
    channels_last: bool = True  # store 4-D weights and feed images channels-last (1.1-1.4x faster on CPU)

    def __post_init__(self) -> None:
        self.model.eval()
        for parameter in self.model.parameters():  # (ScriptModules lack requires_grad_)
            parameter.requires_grad_(False)
        if not self.scriptable_hooks:
            self.channels_last = False
        if self.channels_last:  # the layout changes, the values do not
            self.model.to(memory_format=torch.channels_last)
        self.normalize = Normalize(self.input)
        self._modules = dict(self.model.named_modules())
        del self._modules[""]

    # --- layers -------------------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """All `named_modules()` paths in definition order, then `logits`."""
        return [*self._modules, LOGITS]

    def resolve(self, name: str) -> str:
        """Check a layer name, raising UnknownLayerError with the closest names when it is not a layer."""
        if name == LOGITS or name in self._modules:
            return name
        raise UnknownLayerError(f"unknown layer `{name}` in model {self.name}{suggest(name, self.layer_names)}"
                                f"; `convscope layers` lists them")

    def module(self, name: str) -> nn.Module:
        return self._modules[self.resolve(name)]

    @cached_property
    def graph(self):
        """The LayerGraph of this model (types, shapes, nesting, data-flow edges), from one dry run."""
        from .graph import trace_graph

        return trace_graph(self)

    def num_channels(self, layer: str) -> int:
        """Channels (dim 1) of a layer's output, from the graph's dry run."""
        shape = self.graph.output_shape(layer)
        return shape[0]

    def check_channels(self, layer: str, channels: Iterable[int]) -> list[int]:
        """Return the channels as a list, raising ChannelError for any outside 0..C-1."""
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
        device = resolve_device(device)
        self.model.to(device)
        self.normalize.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return self.normalize.scale.device

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check a [C,H,W] or [N,C,H,W] batch of [0, 1] images and move it to the model's device."""
        if images.dim() == 3:
            images = images[None]
        if images.dim() != 4:
            raise ConvscopeError(f"expected images shaped [N, C, H, W], got {list(images.shape)}")
        if images.shape[1] != self.input.channels:
            raise ConvscopeError(f"model {self.name} takes {self.input.channels}-channel images, "
                                 f"got {images.shape[1]} channels")
        images = images.to(self.device, torch.float32)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of [0, 1] images."""
        return self.model(self.normalize(self.prepare(images)))

    __call__ = forward

    def capture(self, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of `layers` for a batch of [0, 1] images, via forward hooks that are always removed.

        The forward pass stops as soon as every requested layer has produced its output (its last call,
        when a module runs several times per forward, as a reused ReLU does), so later layers cost nothing.
        Gradients flow through the returned tensors when the caller has grad enabled.
        """
        names = list(dict.fromkeys(self.resolve(n) for n in layers))
        wanted = [n for n in names if n != LOGITS]
        if wanted and not self.scriptable_hooks:
            raise ConvscopeError(f"model {self.name} is TorchScript: its layers cannot be hooked, only `logits`; "
                                 "save a checkpoint with an architecture spec to inspect layers")
        x = self.normalize(self.prepare(images))
        graph = self.graph if wanted else None
        expected = {n: graph.node(n).calls for n in wanted} if graph else {}
        for n in wanted:
            if expected[n] == 0:
                raise ConvscopeError(f"layer `{n}` does not run in the forward pass of {self.name} (eval mode)")
        stop_early = LOGITS not in names
        store: dict[str, torch.Tensor] = {}
        calls = dict.fromkeys(wanted, 0)

        def make_hook(name: str, clone: bool):
            def hook(_module, _inputs, output):
                calls[name] += 1
                done = all(calls[n] >= expected[n] for n in wanted)
                # Later in-place ops (ReLU(inplace=True), `+=`) would overwrite the stored tensor: keep a copy.
                keep_copy = clone and not (done and stop_early)
                store[name] = output.clone() if keep_copy and isinstance(output, torch.Tensor) else output
                if done and stop_early:
                    raise _StopForward

            return hook

        handles = [self._modules[n].register_forward_hook(make_hook(n, graph.node(n).mutated_later))
                   for n in wanted]
        try:
            output = self.model(x)
            store[LOGITS] = output
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return {n: store[n] for n in names}

    def activations(self, images: torch.Tensor, layer: str) -> torch.Tensor:
        """Activations of one layer (no gradients)."""
        with torch.no_grad():
            return self.capture(images, [layer])[layer]

    # --- images -------------------------------------------------------------------------------------------
    def load_image(self, path: str | Path, fit_mode: str = "squash") -> torch.Tensor:
        """Read an image file as a [1, C, H, W] tensor in [0, 1] at the model's input size."""
        image = to_mode(open_image(path), self.input.channels)
        return pil_to_tensor(fit(image, self.input.size, fit_mode))[None]

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels and index < len(self.labels) else str(index)


def resolve_device(name: str | torch.device) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps` or `auto` (the first GPU when there is one) as a usable torch.device."""
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
            raise ConvscopeError(f"device {name}: no CUDA GPU is available to this PyTorch "
                                 f"(torch {torch.__version__}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConvscopeError(f"device {name}: GPU index out of range 0..{torch.cuda.device_count() - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConvscopeError(f"device {name}: MPS is not available on this machine; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConvscopeError(f"unsupported device {name!r}: use cpu, cuda, cuda:N, mps or auto")
    return device
