"""Weights into an architecture: `read_state_dict` (a `.safetensors` file, or a torch file read with
`weights_only=True`), `load_weights` (strict, with one line naming the keys that do not fit) and fitting a
classifier head to fine-tuned weights (`fit_head`): a `timm:` / `torchvision:` architecture is built with its
default head (1,000 ImageNet classes), while a user's fine-tuned weights carry K classes. When the only tensors that
do not fit are the head's (its last linear layer: weight [K, F], bias [K]) and its input width F matches, the head
is rebuilt with K outputs before the weights are loaded, so `--weights mine.safetensors` of a 3-class ResNet-18
loads as a 3-class model instead of failing on `fc.weight`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .errors import WeightsError


def classifier_head(model: nn.Module) -> tuple[str, nn.Linear] | None:
    """(name, module) of the model's classifier head: timm's `get_classifier()` when it is a Linear, else the last
    nn.Linear in module order (torchvision: `fc`, `classifier.6`, `heads.head`, ...); None without one."""
    getter = getattr(model, "get_classifier", None)
    head = getter() if callable(getter) else None
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    for name, module in linears:
        if module is head:
            return name, module
    return linears[-1] if linears else None


def fit_head(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> int | None:
    """Rebuild the classifier head with K outputs when the weights differ from the model in the head's shapes only.

    Args:
        model: the architecture (its head: nn.Linear(F, K0)).
        state_dict: the weights to load (head weight [K, F], bias [K]).
    Returns:
        K when the head was rebuilt (timm's `reset_classifier(K)` where the model has it, else a new nn.Linear(F, K)
        in its place), None when nothing was changed (the weights fit already, or differ elsewhere too).
    """
    found = classifier_head(model)
    if found is None:
        return None
    name, head = found
    own = model.state_dict()
    if set(own) != set(state_dict):
        return None
    wrong = {k for k in own if own[k].shape != state_dict[k].shape}
    keys = {f"{name}.weight", f"{name}.bias"} if head.bias is not None else {f"{name}.weight"}
    weight = state_dict.get(f"{name}.weight")
    if not wrong or not wrong <= keys or weight is None or weight.dim() != 2 or weight.shape[1] != head.in_features:
        return None
    classes = int(weight.shape[0])
    if callable(getattr(model, "reset_classifier", None)) and model.get_classifier() is head:
        model.reset_classifier(classes)
    else:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, nn.Linear(head.in_features, classes, bias=head.bias is not None))
    return classes


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a `.safetensors` file or a torch file (read with `weights_only=True`: never
    unpickling arbitrary objects). A torch file holding {"state_dict": {...}} or {"model": {...}} is unwrapped.

    Raises:
        WeightsError: a missing or unreadable file, or one that holds no mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure to read becomes one clear line
        raise WeightsError(f"cannot read weights from {path}: {str(exc).splitlines()[0]}") from None
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return data


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """`model.load_state_dict(state_dict, strict=True)`, after fitting the classifier head to fine-tuned weights of
    another class count (`fit_head`).

    Raises:
        WeightsError: missing, unexpected or wrongly shaped keys, in one line naming a few of each and `source`.
    """
    fit_head(model, state_dict)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        own = model.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong = [k for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
        parts = [
            f"{label} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''} ({len(keys)})"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        ]
        raise WeightsError(f"weights {source} do not fit the architecture: {'; '.join(parts) or exc}") from None
