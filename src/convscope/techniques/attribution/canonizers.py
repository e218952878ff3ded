"""Canonizers found from the traced data-flow graph: BatchNorm folded into the conv / linear that feeds it
(the plan: `convscope.core.fold`, core, shared with the render loop; here: its check for the LRP engine).

A BatchNorm y = gamma (z - mu) / sqrt(var + eps) + beta whose only input is a conv / linear z = W x + b (and
that conv feeds nothing else) is merged into it: W' = W s, b' = (b - mu) s + beta with s = gamma / sqrt(var + eps)
(eps included, computed in float64). Pairs come from `subject.graph.edges`, never from registration order. The
model is never modified: the folded parameters live in a `FoldPlan` that the attribution engine substitutes at
run time (`F.conv2d` with the conv's weight gets W', b'; `F.batch_norm` of a folded BN returns its input).
`check_folding` runs the model with the substitution and refuses, naming the layer, unless the logits equal the
original ones to 1e-5 (relative to the largest logit).
"""

from __future__ import annotations

import weakref

import torch

from ...core.errors import ConvscopeError
from ...core.fold import FoldPlan, plan_folding, planned
from ...core.subject import Subject
from .mode import RelevanceMode

__all__ = ["FoldPlan", "check_folding", "folding", "plan_folding"]

FOLD_TOLERANCE = 1e-5
CHECK_SIZE = 64  # the folding check runs at (at most) this input size: the algebra does not depend on it
_CHECKED: dict[int, tuple] = {}  # id(plan) -> (weakref to the plan, its check_folding deviation)


def folding(subject: Subject, check: bool = True) -> tuple[FoldPlan, float | None]:
    """The folding plan of the subject's BatchNorms and its check, for the LRP engine.

    Args:
        subject: the model under study.
        check: run `check_folding` (once per plan: cached while the weights are unchanged).
    Returns:
        (`fold.planned(subject)`, the same plan object while the weights are unchanged; its `check_folding`
        relative deviation, or None without `check`).
    Raises:
        ConvscopeError: as `check_folding`.
    """
    plan = planned(subject)
    if not check:
        return plan, None
    if id(plan) not in _CHECKED or _CHECKED[id(plan)][0]() is not plan:
        _CHECKED[id(plan)] = (weakref.ref(plan), check_folding(subject, plan))
    return plan, _CHECKED[id(plan)][1]


def check_folding(subject: Subject, plan: FoldPlan, images: torch.Tensor | None = None) -> float:
    """Run the model with the folded parameters and refuse (naming the layer) unless each folded layer's
    output and the logits match the original ones to FOLD_TOLERANCE = 1e-5 (relative to max(1, largest value)).

    Both runs evaluate every op in float64 with W', b' in float64, so the check measures the folding itself, not
    float32 noise (the float32 rounding of W', b' that LRP then uses is an error of the same size as float32
    evaluation).

    Args:
        subject: the model under study.
        plan: the FoldPlan to check.
        images: [N, C, H, W] in [0, 1]; by default one random image at the input size capped to 64 pixels a side
            (the model's own size when it needs it): the algebra does not depend on the size, and float64 depthwise
            convolutions are slow.
    Returns:
        The relative deviation max |folded - original| / max(1, max |original|) of the logits (0.0 when nothing is
        folded).
    Raises:
        ConvscopeError: a fold (or the logits) deviates by more than FOLD_TOLERANCE.
    """
    if not plan.folded_bns:
        return 0.0
    errors: dict[str, float] = {}
    if images is None:  # one random image, first at a small size (float64 depthwise convs are slow on CPU)
        generator = torch.Generator().manual_seed(0)
        small = tuple(min(s, CHECK_SIZE) for s in subject.input.size)
        try:
            images = torch.rand(1, subject.input.channels, *small, generator=generator)
            original, folded = _run_both(subject, plan, images, errors)
        except RuntimeError:  # a model that needs its own input size (e.g. a fixed flatten)
            images = torch.rand(1, subject.input.channels, *subject.input.size, generator=generator)
            errors.clear()
            original, folded = _run_both(subject, plan, images, errors)
    else:
        original, folded = _run_both(subject, plan, images, errors)
    for bn, deviation in errors.items():  # each fold against conv + BN on the same input, in execution order
        if not deviation <= FOLD_TOLERANCE:
            raise ConvscopeError(
                f"folding BatchNorm `{bn}` into `{plan.folded_bns[bn]}` changes its output by "
                f"{deviation:.2e} (more than {FOLD_TOLERANCE:g}); refusing"
            )
    deviation = _relative_deviation(folded, original)
    if not deviation <= FOLD_TOLERANCE:
        raise ConvscopeError(
            f"folding BatchNorm changes the logits of {subject.name} by {deviation:.2e} "
            f"(more than {FOLD_TOLERANCE:g}); refusing"
        )
    return deviation


def _run_both(subject: Subject, plan: FoldPlan, images: torch.Tensor, errors: dict[str, float]):
    """The logits without and with the folding, every op in float64; `errors` gets each fold's deviation."""
    with torch.no_grad():
        with RelevanceMode(subject, FoldPlan(), composite=None, precise=True):
            original = subject(images)
        with RelevanceMode(subject, plan, composite=None, fold_errors=errors, precise=True):
            folded = subject(images)
    return original, folded


def _relative_deviation(new: torch.Tensor, old: torch.Tensor) -> float:
    return ((new - old).abs().max() / old.abs().max().clamp(min=1.0)).item()
