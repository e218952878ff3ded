"""Eval-mode BatchNorm folded into the convolution that feeds it, for the optimization loops.

A BatchNorm after a conv computes y = s (W x + b - mu) + beta with s = gamma / sqrt(var + eps), which is one conv
with W' = s W and b' = s (b - mu) + beta. Running that conv instead saves the BatchNorm's forward and backward:
about a quarter of a forward + backward of EfficientNet-Lite0 on a CPU. The pairs and W', b' come from
`attribution.canonizers.plan_folding` (found in the traced data-flow graph, W' and b' computed in float64);
`FoldedForward` substitutes them at run time, so the model itself is never modified and every hook still sees
the module it expects.

What changes: the output of a folded *conv* is its BatchNorm's output, so a conv that an objective reads is never
folded (`folded_forward(subject, keep=layers)`); float32 rounding differs from the unfolded model by ~1e-6
relative. `folded_forward` verifies the substitution on the first images it is given and declines (returns the
reason) when the captured outputs differ by more than `TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .subject import Subject

TOLERANCE = 1e-4  # relative to the largest captured value; float32 folding stays near 1e-6


class FoldedForward(TorchFunctionMode):
    """Inside `with`: `conv2d` / `linear` with a folded weight use (W', b'); `batch_norm` of a folded, eval-mode
    BatchNorm returns its input unchanged. Everything else runs as usual."""

    def __init__(self, weights: dict[int, tuple[torch.Tensor, torch.Tensor]], batchnorms: set[int]):
        super().__init__()
        self.weights = weights  # id(original weight) -> (W', b')
        self.batchnorms = batchnorms  # id(running_mean) of the folded BatchNorms
        self.count = len(batchnorms)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.batch_norm:
            training = kwargs.get("training", args[5] if len(args) > 5 else False)
            if not training and id(args[1]) in self.batchnorms:
                return args[0]
        elif func is F.conv2d or func is F.linear:
            folded = self.weights.get(id(args[1]))
            if folded is not None:
                args = (args[0], folded[0], folded[1], *args[3:])
                kwargs.pop("bias", None)
        return func(*args, **kwargs)


def folded_forward(subject: Subject, keep: Sequence[str] = ()) -> FoldedForward | None:
    """The FoldedForward of the subject's conv -> BatchNorm pairs, leaving out convs named in `keep` (layers the
    caller reads); None when the model has nothing to fold or is in training mode."""
    from .attribution.canonizers import folding

    if subject.model.training:
        return None
    plan, _ = folding(subject, check=False)
    keep = {subject.resolve(name) for name in keep}
    modules = dict(subject.model.named_modules())
    pairs = {bn: conv for bn, conv in plan.folded_bns.items() if conv not in keep and bn not in keep}
    if not pairs:
        return None
    weights = {id(modules[conv].weight): plan.weights[conv] for conv in pairs.values()}
    batchnorms = {id(modules[bn].running_mean) for bn in pairs}
    return FoldedForward(weights, batchnorms)


def verify(subject: Subject, mode: FoldedForward, images: torch.Tensor, layers: Sequence[str]) -> float:
    """max |folded - original| / max |original| over the captured `layers` for `images` (no gradients)."""
    with torch.no_grad():
        original = subject.capture(images, layers)
        with mode:
            folded = subject.capture(images, layers)
    return max(((folded[n] - original[n]).abs().max() / original[n].abs().max().clamp_min(1e-12)).item()
               for n in original)
