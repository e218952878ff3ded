"""Canonizers found from the traced data-flow graph: BatchNorm folded into the conv / linear that feeds it.

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
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import ConvscopeError
from ..subject import Subject, state_fingerprint

FOLD_TOLERANCE = 1e-5
CHECK_SIZE = 64  # the folding check runs at (at most) this input size: the algebra does not depend on it
_FOLDINGS: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()


@dataclass
class FoldPlan:
    """Folded parameters keyed by the conv / linear module name, and the names of the folded BatchNorms."""

    weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    weights64: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)  # for the check
    folded_bns: dict[str, str] = field(default_factory=dict)  # bn name -> conv name
    standalone_bns: list[str] = field(default_factory=list)  # BNs without a conv / linear directly before them

    def to_dict(self) -> dict:
        return {"folded": [{"batchnorm": bn, "into": conv} for bn, conv in self.folded_bns.items()],
                "standalone_batchnorms": self.standalone_bns}


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv2d, nn.Linear)) and not isinstance(module, nn.LazyLinear)


def _fold(linear: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> tuple[tuple, tuple]:
    """W' = W s, b' = (b - mu) s + beta, s = gamma / sqrt(var + eps): (float32 W', b'), (float64 W', b')."""
    weight = linear.weight.detach()
    mean, var = bn.running_mean.double(), bn.running_var.double()
    scale = (bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)) / torch.sqrt(var + bn.eps)
    shift = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)
    bias = linear.bias.detach().double() if linear.bias is not None else torch.zeros_like(mean)
    folded_weight = weight.double() * scale.view(-1, *[1] * (weight.dim() - 1))
    folded_bias = (bias - mean) * scale + shift
    rounded = folded_weight.to(weight.dtype)
    if weight.dim() == 4 and weight.is_contiguous(memory_format=torch.channels_last):
        rounded = rounded.contiguous(memory_format=torch.channels_last)
    return (rounded, folded_bias.to(weight.dtype)), (folded_weight, folded_bias)


def plan_folding(subject: Subject) -> FoldPlan:
    """Find every conv/linear -> BatchNorm pair in the data-flow edges and compute the folded parameters."""
    graph = subject.graph
    modules = dict(subject.model.named_modules())
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for source, target in graph.edges:
        inputs.setdefault(target, []).append(source)
        outputs.setdefault(source, []).append(target)
    plan = FoldPlan()
    for name, module in modules.items():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm) or graph.nodes[name].calls == 0:
            continue
        sources = inputs.get(name, [])
        source = sources[0] if len(sources) == 1 else None
        foldable = (source in modules and _is_linear(modules[source]) and outputs.get(source) == [name]
                    and graph.nodes[source].calls == 1 and graph.nodes[name].calls == 1
                    and module.running_mean is not None
                    and modules[source].weight.shape[0] == module.num_features)
        if foldable:
            plan.weights[source], plan.weights64[source] = _fold(modules[source], module)
            plan.folded_bns[name] = source
        else:
            plan.standalone_bns.append(name)
    return plan


def _state_signature(model: nn.Module) -> tuple:
    """Changes when any parameter or buffer is replaced or holds other values, however they were changed (in place,
    through `.data`, by `load_state_dict`): the tensors' identities and a hash of their bytes."""
    return tuple(id(t) for t in [*model.parameters(), *model.buffers()]), state_fingerprint(model)


def folding(subject: Subject, check: bool = True) -> tuple[FoldPlan, float | None]:
    """`plan_folding` and (with `check`) `check_folding` of a Subject, cached per model for as long as none of its
    parameters or buffers changes: (plan, deviation or None). The same plan object comes back while the model is
    unchanged; a new one as soon as any value differs (callers that derive tensors from it compare identities)."""
    model = subject.model
    signature = _state_signature(model)
    cached = _FOLDINGS.get(model)
    if cached is not None and cached[0] == signature and cached[1]() is subject and (cached[3] is not None or
                                                                                     not check):
        return cached[2], cached[3]
    plan = plan_folding(subject)
    deviation = check_folding(subject, plan) if check else None
    _FOLDINGS[model] = (signature, weakref.ref(subject), plan, deviation)
    return plan, deviation


def check_folding(subject: Subject, plan: FoldPlan, images: torch.Tensor | None = None) -> float:
    """Run the model with the folded parameters; refuse (naming the layer) unless each folded layer's output and
    the logits match the original ones to 1e-5 (relative to max(1, largest value)). Both runs evaluate every op
    in float64 with W', b' in float64, so the check measures the folding itself, not float32 noise (the float32
    rounding of W', b' that LRP then uses is an error of the same size as float32 evaluation).

    Without `images`: one random image at the input size capped to 64 pixels a side (the model's own size when it
    needs it); the folding algebra does not depend on the size, and float64 depthwise convolutions are slow.
    Returns the relative deviation max |folded - original| / max(1, max |original|).
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
            raise ConvscopeError(f"folding BatchNorm `{bn}` into `{plan.folded_bns[bn]}` changes its output by "
                                 f"{deviation:.2e} (more than {FOLD_TOLERANCE:g}); refusing")
    deviation = _relative_deviation(folded, original)
    if not deviation <= FOLD_TOLERANCE:
        raise ConvscopeError(f"folding BatchNorm changes the logits of {subject.name} by {deviation:.2e} "
                             f"(more than {FOLD_TOLERANCE:g}); refusing")
    return deviation


def _run_both(subject: Subject, plan: FoldPlan, images: torch.Tensor, errors: dict[str, float]):
    """The logits without and with the folding, every op in float64; `errors` gets each fold's deviation."""
    from .lrp import RelevanceMode

    with torch.no_grad():
        with RelevanceMode(subject, FoldPlan(), composite=None, precise=True):
            original = subject(images)
        with RelevanceMode(subject, plan, composite=None, fold_errors=errors, precise=True):
            folded = subject(images)
    return original, folded


def _relative_deviation(new: torch.Tensor, old: torch.Tensor) -> float:
    return ((new - old).abs().max() / old.abs().max().clamp(min=1.0)).item()
