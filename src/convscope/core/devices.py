"""Devices: a device name from the user (`cpu`, `cuda`, `cuda:N`, `mps`, `auto`) as a usable torch.device, or one
line saying why it is not."""

from __future__ import annotations

import torch

from .errors import ConvscopeError


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
