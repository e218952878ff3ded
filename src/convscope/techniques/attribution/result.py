"""What every attribution method returns and explains: `Attribution` (relevance, or another attribution, at the
model input and at the requested layers, with the explained output and its class) and `target_classes` (the
class explained per image: the requested one, or the predicted one).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ...core.errors import ConvscopeError, ConvscopeWarning
from ...core.outputs import looks_like_probabilities


@dataclass
class Attribution:
    """Relevance (or another attribution) of a batch: at the model input and at the requested layers.

    Fields: `method`; `input` [N, C, H, W] at the network's (normalized) input size ([N, 1, H, W] for Grad-CAM and
    occlusion); `layers` {name: [N, ...] layer-shaped relevance}; `output` [N] the target's output f_k(x) (logit
    units); `target` [N] class indices; `info` (method details); `signed` (whether negative values are meaningful;
    None: decided from the values). Maps and scores of a float16 / bfloat16 model are converted to float32.
    """

    method: str
    input: torch.Tensor  # [N, C, H, W] at the network's input size
    layers: dict[str, torch.Tensor]  # name -> [N, ...] layer-shaped relevance
    output: torch.Tensor  # [N] the target's output f_k(x) (the logit)
    target: torch.Tensor  # [N] class indices
    info: dict = field(default_factory=dict)
    signed: bool | None = None  # whether negative values are meaningful (None: decided from the values)

    def __post_init__(self) -> None:
        """Maps and scores of a float16 / bfloat16 model are given as float32 (numpy has no bfloat16, and JSON,
        heatmaps and sums should not round to 3 digits); float32 / float64 results are kept as they are."""
        self.input = _at_least_float32(self.input)
        self.layers = {name: _at_least_float32(t) for name, t in self.layers.items()}
        self.output = _at_least_float32(self.output)


def _at_least_float32(t):
    return t.float() if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16) else t


def target_classes(logits: torch.Tensor, target: int | Sequence[int] | torch.Tensor | None) -> torch.Tensor:
    """The class to explain per image: the requested one, or the predicted one.

    Args:
        logits: class scores [N, K].
        target: one class for all images, one per image, or None (argmax of each row).
    Returns:
        Class indices [N] (int64).
    Raises:
        ConvscopeError: scores that are not [N, K], a number of targets other than 1 or N, or a class outside
            0..K-1. Warns ConvscopeWarning when the scores look like softmax probabilities.
    """
    if logits.dim() != 2:
        raise ConvscopeError(
            f"the model's output is shaped {list(logits.shape)}, not class scores [N, classes]: "
            "attribution explains one class score (a tuple or dict output: choose one with "
            "the field output)"
        )
    if looks_like_probabilities(logits):
        warnings.warn(
            "the model's outputs look like softmax probabilities (non-negative rows summing to 1): their "
            "gradients vanish where one class dominates, so attribution maps come out near zero; "
            "explain the pre-softmax logits (wrap the model without its final softmax)",
            ConvscopeWarning,
            stacklevel=3,
        )
    count = logits.shape[1]
    if target is None:
        return logits.argmax(1)
    target = torch.as_tensor(target, device=logits.device).flatten()
    if target.numel() == 1:
        target = target.expand(logits.shape[0])
    if target.numel() != logits.shape[0]:
        raise ConvscopeError(f"{target.numel()} targets for {logits.shape[0]} images")
    bad = [int(k) for k in target if not 0 <= int(k) < count]
    if bad:
        raise ConvscopeError(f"target class {bad[0]} out of range 0..{count - 1}")
    return target.long()
