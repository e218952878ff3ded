"""The input side of a model under study: `InputSpec` (what the model expects: size, channels, value range, mean,
std) and `Normalize` (images in [0, 1] to that convention, in the model's floating-point type)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .autograd_checks import model_dtype
from .errors import ConvscopeError

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
