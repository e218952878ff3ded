"""The rewriting mode of LRP: `RelevanceMode`, the TorchFunctionMode that applies the rules during the forward,
and `parameter_owners` (which module holds each weight). The op tables it dispatches on: ops.py; the rules and
their autograd Functions: rules.py; which layer gets which rule: composites.py. Over 400 lines because the one
dispatcher of every op kind (linear, BatchNorm, pooling, activations, sums, gates, in-place writes) reads best whole.

Convention: the relevance held by any tensor t is R_t = t * g_t, where g_t is the (modified) gradient of the
target logit at t. The forward pass runs under a TorchFunctionMode that keeps every value unchanged but rewires
the backward of the ops that need a rule; all other ops keep their true gradient, which is already the right
relevance rule for them:

- conv / linear / pooling / stand-alone BatchNorm (linear ops z = W x + b): the layer's rule (rules.py), written as
  t = z_rule * stop_grad(y / z_rule), so that g_x = W_rule^T (R_out / z_rule) and R_x = x * g_x;
- elementwise activations (ReLU, ReLU6, SiLU, Hardswish, GELU, ...): pass-through R_in = R_out, i.e. the local
  gradient is replaced by f(x) / x (ReLU keeps its true gradient, which is exactly that). A ReLU6 clipped at 6 is
  relu(z) - relu(z - 6), both parts on the same z, so the z rule also passes its relevance to z; with ignore_bias
  a clipped (or off) unit is locally constant, an effective bias, and the layer above leaves it out of its
  denominators (`live`, liveness.py), so it receives no relevance;
- additions of two input-dependent tensors (residuals) under a z+ conv rule: the sign-matched split
  R_a = a^s / (a^s + b^s) R_z, s = sign(z) (conservative where z != 0, never negative; `SignMatchedSum`): the
  z+ rule on the sum as a linear layer with weights 1 (Montavon et al. 2019; Motzkus et al. 2022, "Measurably
  stronger explanation reliability via model canonization", treat the residual sum as such a layer), each branch
  gets its share once (no double counting);
  other additions and concatenations: the true gradient gives R_a = a g, R_b = b g — a proportional split
  that conserves a + b, and a channel split for cat;
- multiplicative gates (squeeze-excitation): the sigmoid / hard-sigmoid output is a constant (stop_grad), so the
  product passes all relevance to the gated signal and none to the gate branch;
- max-pool: winner-take-all (its true gradient) or, with maxpool="avg", the average-pool rule (Barsch &
  Eilertsen §3.4.1, Algorithm 5);
- BatchNorm after a conv / linear is folded into it first (canonizers.py).

References:
    Bach et al. 2015 (LRP); Montavon et al. 2019, "Layer-wise relevance propagation: an overview" (rules per
    layer type); Barsch & Eilertsen 2018, §3.4.1 Algorithm 5 (the average-pool rule for max-pool). The full
    references: rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

from ...core.errors import ConvscopeError
from ...core.fold import FoldPlan
from ...core.subject import Subject
from .composites import Composite
from .liveness import LIVE_KINDS
from .ops import (
    ACTIVATIONS,
    ADDITIONS,
    AVG_POOLS,
    FOLLOW_INPUT,
    GATES,
    IN_PLACE,
    MAX_POOLS,
    PASS,
    PRODUCTS,
    InPlaceGuard,
    _tensors,
    rewrites_in_place,
)
from .rules import RULES, LinearOp, PassThrough, Rule, RuleBackward, SignMatchedSum, WeightParts


def _float64(value):
    return value.double() if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _out_of_place(func):
    def run(x, *args, **kwargs):
        return func(x.clone(), *args, **kwargs)

    return run


def parameter_owners(subject: Subject) -> dict[int, str]:
    """{id(parameter or buffer): the name of the module that holds it directly}."""
    return {
        id(t): name
        for name, module in subject.model.named_modules()
        if name
        for t in [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    }


def _arguments(args: tuple, kwargs: dict, names: Sequence[str]) -> dict:
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    return bound


class RelevanceMode(TorchFunctionMode):
    """TorchFunctionMode that runs a Subject's forward with folded BatchNorm and (when `composite` is given)
    the LRP backward (module docstring).

    Args:
        subject: the model under study.
        plan: the FoldPlan whose (W', b') are substituted (an empty FoldPlan: no folding).
        composite: the rules; None keeps the true backward (the folding check).
        maxpool: `wta` (winner-take-all) or `avg` (the average-pool rule).
        ignore_bias: drop the biases from every denominator.
        inputs: {id(model input): (the input, views)}, the views being the tensors the input-layer rules need
            (`ones`; `above_low` = x - l and `below_high` = x - h for z^B), which follow the image through padding
            and layout ops to the first conv / linear.
        fold_errors: when given, receives each fold's deviation from conv + BatchNorm on the same input.
        precise: evaluate every op in float64 (for the folding check).
        owners, parts: `parameter_owners` and WeightParts caches to reuse.
        live: `live_units(subject, x)` for `ignore_bias`: the rules then see only the live units of each input
            (those that depend on the image; the locally constant ones are effective biases and are left out).
        ledger: a list that receives (layer, R_out [N], R_in [N]) per rule application in the backward.
    Raises:
        ConvscopeError: an unknown maxpool; during the forward, an op LRP has no rule for, a product of two
            input-dependent tensors, a BatchNorm in training mode, a discarded in-place result, or an input-layer rule
            whose layer does not receive the image.
    References:
        Bach et al. 2015 (LRP); Montavon et al. 2019 (rules per layer type); Barsch & Eilertsen 2018, §3.4.1
        Algorithm 5 (maxpool="avg").
    """

    def __init__(
        self,
        subject: Subject,
        plan: FoldPlan,
        composite: Composite | None,
        *,
        maxpool: str = "wta",
        ignore_bias: bool = False,
        inputs: dict[int, tuple[torch.Tensor, dict]] | None = None,
        fold_errors: dict[str, float] | None = None,
        precise: bool = False,
        owners: dict[int, str] | None = None,
        parts: WeightParts | None = None,
        live: dict[str, list] | None = None,
        ledger: list | None = None,
    ):
        super().__init__()
        if maxpool not in ("wta", "avg"):
            raise ConvscopeError(f"maxpool must be wta or avg, not `{maxpool}`")
        self.subject, self.plan, self.composite = subject, plan, composite
        self.maxpool, self.ignore_bias = maxpool, ignore_bias
        self.inputs = inputs if inputs is not None else {}
        self.owners = owners if owners is not None else parameter_owners(subject)
        self.precise = precise  # evaluate every op in float64 (for the folding check)
        self.fold_errors = fold_errors  # when given: each fold checked against conv + BN on the same input
        self.module_stack: list[str] = []
        self.input_layers: list[str] = []
        self.parts = parts if parts is not None else WeightParts()
        self.ones: dict = {}
        self.guard = InPlaceGuard()
        self.written: dict[int, torch.Tensor] = {}  # tensors in-place ops on the model input wrote back into
        self.live = live  # `live_units`: per kind of rewritten op, the mask of its input's live units, call by call
        self.calls = dict.fromkeys(LIVE_KINDS, 0)
        self.ledger = ledger  # when given: (layer, R_out [N], R_in [N]) of every rule, appended in the backward

    # where are we? (for error messages)
    def _where(self) -> str:
        return f" in `{self.module_stack[-1]}`" if self.module_stack else ""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self.guard.stale:
            self.guard.check(_tensors((args, kwargs)), self._where())
        if name in ("conv2d", "linear"):
            return self._linear(func, name, args, kwargs)
        if name == "batch_norm":
            return self._batch_norm(func, args, kwargs)
        if self.precise:
            args, kwargs = tree_map(_float64, (args, kwargs))
        tensors = _tensors((args, kwargs))
        live = self.composite is not None and any(t.requires_grad for t in tensors)
        if not live:
            return func(*args, **kwargs)
        if name == "__setitem__" and self._is_input(args[0]):  # `x[:, 0] -= m`: the input is no longer the image
            output = func(*args, **kwargs)
            self._forget_input(args[0])
            return output
        if rewrites_in_place(name, args, kwargs):
            if self._is_input(args[0]) or self.written.get(id(args[0])) is args[0]:
                return self._write_back(func, types, args, kwargs)
            self.guard.note(name, args)
        if name in ACTIVATIONS:
            x = args[0]
            plain = dict(kwargs, inplace=False) if "inplace" in kwargs else kwargs
            args = tuple(False if a is True else a for a in args)  # a positional inplace flag
            if name.endswith("_"):  # in-place variants run out of place (the module uses the returned value)
                name = name[:-1]
                func = getattr(torch, name, None) or getattr(F, name, None) or _out_of_place(func)
            if name == "relu":  # its true gradient 1[x > 0] is already y / x: pass-through at no extra cost
                return func(*args, **plain)
            return PassThrough.apply(lambda: func(x.detach(), *args[1:], **plain), x)
        if name in ADDITIONS and self.composite.conv.name == "zplus":
            operands = [a for a in args[:2] if isinstance(a, torch.Tensor)]
            if len(operands) == 2 and all(a.requires_grad for a in operands) and not kwargs:
                return SignMatchedSum.apply(*operands)
        if name in GATES:
            return func(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
        if name in AVG_POOLS:
            mask = self._live_mask("pool", args[0])
            return self._pool(lambda t: func(t, *args[1:], **kwargs), args[0], lambda: func(*args, **kwargs), mask)
        if name in MAX_POOLS or "max_pool" in name:
            return self._max_pool(func, name, args, kwargs)
        if name in PRODUCTS:
            operands = [a for a in args[:2] if isinstance(a, torch.Tensor) and a.requires_grad]
            if len(operands) == 2:
                raise ConvscopeError(
                    f"LRP cannot split the product of two input-dependent tensors{self._where()} "
                    "(only sigmoid / hard-sigmoid gates are handled)"
                )
            op = {"mul_": torch.mul, "__imul__": torch.mul, "div_": torch.div, "__itruediv__": torch.div}.get(name)
            return op(*args, **kwargs) if op else func(*args, **kwargs)
        if name in IN_PLACE:
            return IN_PLACE[name](*args, **kwargs)
        if name in PASS:
            output = func(*args, **kwargs)
            if name in FOLLOW_INPUT and args and isinstance(args[0], torch.Tensor) and id(args[0]) in self.inputs:
                views = {k: func(v, *args[1:], **kwargs) for k, v in self.inputs[id(args[0])][1].items()}
                self.inputs[id(output)] = (output, views)
            return output
        output = func(*args, **kwargs)
        if not _tensors(output):  # size(), dim(), shape ...
            return output
        raise ConvscopeError(
            f"LRP has no rule for the operation `{name}`{self._where()}; "
            "use a gradient method (saliency, integrated-gradients, occlusion) for this model"
        )

    # --- in-place ops on the model's input ---------------------------------------------------------------
    def _is_input(self, t) -> bool:
        entry = self.inputs.get(id(t)) if isinstance(t, torch.Tensor) else None
        return entry is not None and entry[0] is t

    def _forget_input(self, t: torch.Tensor) -> None:
        """`t` (the model input, or a layout view of it) was rewritten in place: neither it nor the views of the
        same tensor hold the image any more (the input-layer rules must not take them for it)."""
        root = t._base if t._base is not None else t
        for key, (held, _views) in list(self.inputs.items()):
            if held is t or held is root or held._base is root:
                del self.inputs[key]

    def _write_back(self, func, types, args, kwargs):
        """An in-place op on the model's input (the fresh copy `Subject.model_output` hands the model, e.g. a
        forward's own `x.sub_(0.5).mul_(2)`), or on a tensor such an op wrote: the op runs as rewritten, out of place
        on a copy, and its result is written into the tensor, which the model goes on using. So the explanation is
        that of the out-of-place twin (`x = (x - 0.5) * 2`); the input is no longer the image for the input-layer
        rules, exactly as for the twin."""
        target = args[0]
        result = self.__torch_function__(func, types, (target.clone(), *args[1:]), kwargs)
        target.copy_(result)
        self._forget_input(target)
        self.written[id(target)] = target
        return target

    # --- linear ops ---------------------------------------------------------------------------------------
    def _linear(self, func, name, args, kwargs):
        names = ("input", "weight", "bias")
        bound = _arguments(args, kwargs, names)
        x, weight, bias = bound["input"], bound["weight"], bound.get("bias")
        rest_args = args[3:]
        rest_kwargs = {k: v for k, v in kwargs.items() if k not in names}
        layer = self.owners.get(id(weight), "?")
        mask = self._live_mask("linear", x)
        if self.precise:
            x, weight, bias = tree_map(_float64, (x, weight, bias))
        if layer in self.plan.weights:
            if self.fold_errors is not None:
                self._check_fold(func, layer, x, weight, bias, rest_args, rest_kwargs)
            weight, bias = self.plan.weights64[layer] if self.precise else self.plan.weights[layer]
        if self.composite is None or not x.requires_grad:
            return func(x, weight, bias, *rest_args, **rest_kwargs)
        op = lambda t, w, b: func(t, w, b, *rest_args, **rest_kwargs)  # noqa: E731
        views = self.inputs[id(x)][1] if id(x) in self.inputs else None
        if views is not None:
            rule = self.composite.input
            self.input_layers.append(layer)
        else:
            rule = self.composite.linear if name == "linear" else self.composite.conv
        if rule.input_only and views is None:
            raise ConvscopeError(
                f"the {rule.name} rule needs the image itself at the input layer, but `{layer}` "
                "receives a transformed image"
            )
        return self._rule(
            rule,
            op,
            x,
            weight,
            None if self.ignore_bias else bias,
            views,
            lambda: func(x, weight, bias, *rest_args, **rest_kwargs),
            mask,
            layer,
        )

    def _rule(
        self,
        rule: Rule,
        op: LinearOp,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        views: dict[str, torch.Tensor] | None,
        compute: Callable[[], torch.Tensor],
        mask: torch.Tensor | None = None,
        label: str | None = None,
    ) -> torch.Tensor:
        """The layer's output `compute()` with the backward of `rule` for the linear op `op(x, weight, bias)`;
        with a `mask` (`live_units`) the rule sees only the live units of x, the others count as biases."""
        parts = self.parts
        if views is not None and rule.input_only:
            keys = list(views)
            inputs = [views[k] for k in keys]
            terms = lambda *leaves: rule.terms(
                op,
                None,
                weight,
                bias,
                dict(zip(keys, leaves)),
                parts,  # noqa: E731
                False,
            )
        else:
            has_negative = rule.name != "epsilon" and bool(x.amin() < 0) if x.numel() else False
            inputs = [x]
            if mask is None:
                terms = lambda leaf: rule.terms(op, leaf, weight, bias, None, parts, has_negative)  # noqa: E731
            else:
                terms = lambda leaf: rule.terms(op, leaf * mask, weight, bias, None, parts, has_negative)  # noqa: E731
        label = label or (self.module_stack[-1] if self.module_stack else "?")
        epsilon = rule.epsilon if self.ledger is None else (rule.epsilon, self.ledger, label)
        return RuleBackward.apply(compute, terms, epsilon, *inputs)

    def _check_fold(self, func, layer, x, weight, bias, rest_args, rest_kwargs) -> None:
        bn_name = next(bn for bn, conv in self.plan.folded_bns.items() if conv == layer)
        bn = self.subject.model.get_submodule(bn_name)
        stats = [None if t is None else t.to(x.dtype) for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias)]
        reference = F.batch_norm(func(x, weight, bias, *rest_args, **rest_kwargs), *stats, False, 0.0, bn.eps)
        folded = func(x, *[t.to(x.dtype) for t in self.plan.weights64[layer]], *rest_args, **rest_kwargs)
        error = (folded - reference).abs().max() / reference.abs().max().clamp(min=1.0)
        self.fold_errors[bn_name] = max(self.fold_errors.get(bn_name, 0.0), error.item())

    def _batch_norm(self, func, args, kwargs):
        names = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")
        bound = _arguments(args, kwargs, names)
        layer = self.owners.get(id(bound.get("running_mean")), "?")
        x = bound["input"]
        mask = self._live_mask("batch_norm", x)
        if layer in self.plan.folded_bns:
            return x
        if self.precise:
            args, kwargs = tree_map(_float64, (args, kwargs))
        if self.composite is None or not x.requires_grad:
            return func(*args, **kwargs)
        if bound.get("training") or bound.get("running_mean") is None:
            raise ConvscopeError(f"BatchNorm `{layer}` uses batch statistics; LRP needs the model in eval mode")
        mean, var, eps = bound["running_mean"], bound["running_var"], bound.get("eps", 1e-5)
        gamma = bound.get("weight")
        scale = (gamma if gamma is not None else torch.ones_like(mean)) / torch.sqrt(var + eps)
        beta = bound.get("bias")
        shift = (beta if beta is not None else torch.zeros_like(mean)) - mean * scale
        shape = (1, -1) + (1,) * (x.dim() - 2)
        op = lambda t, w, b: t * w.view(shape) + (0 if b is None else b.view(shape))  # noqa: E731
        bias = None if self.ignore_bias else shift
        return self._rule(self._diagonal_rule(), op, x, scale, bias, None, lambda: func(*args, **kwargs), mask, layer)

    def _pool(
        self,
        pool: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        compute: Callable[[], torch.Tensor],
        mask: torch.Tensor | None = None,
    ):
        """Average pooling (global average pooling of a classifier head included) is a linear op with positive
        weights 1/k and no bias: it gets the convolutions' rule (Montavon et al. 2019 §10.3: pooling as a linear
        layer)."""
        op = lambda t, w, b: pool(t) * w  # noqa: E731
        return self._rule(self._diagonal_rule(), op, x, self.one(x), None, None, compute, mask)

    def _live_mask(self, kind: str, x) -> torch.Tensor | None:
        """The next recorded live mask of `kind` (`live_units`; calls line up one to one with the recording
        pass), or None without liveness."""
        if self.live is None:
            return None
        index, self.calls[kind] = self.calls[kind], self.calls[kind] + 1
        masks = self.live[kind]
        mask = masks[index] if index < len(masks) else False
        if mask is not None and (mask is False or not isinstance(x, torch.Tensor) or mask.shape != x.shape):
            raise ConvscopeError(
                f"ignore_bias: the liveness pass and the LRP pass of {self.subject.name} differ at {kind} call "
                f"{index}{self._where()} (a forward that is not deterministic?)"
            )
        return mask

    def one(self, like: torch.Tensor) -> torch.Tensor:
        """A cached scalar 1 of `like`'s dtype and device (the weight of a pooling op)."""
        key = (like.dtype, like.device)
        if key not in self.ones:
            self.ones[key] = torch.ones((), dtype=like.dtype, device=like.device)
        return self.ones[key]

    def _diagonal_rule(self) -> Rule:
        """Pooling and stand-alone BatchNorm get the convolutions' rule, except alpha-beta -> z+: their weights
        are (almost always) positive, so the beta term would be empty and the layer would multiply R by alpha."""
        rule = self.composite.conv
        return replace(RULES["zplus"], epsilon=rule.epsilon) if rule.name == "alphabeta" else rule

    def _max_pool(self, func, name, args, kwargs):
        mask = self._live_mask("max_pool", args[0] if args else None)
        output = func(*args, **kwargs)
        if self.maxpool == "wta":
            return output  # the true gradient routes all relevance to the winner: R_winner = x_max g = R_out
        if not isinstance(output, torch.Tensor):
            raise ConvscopeError(f"maxpool=avg cannot rewrite a max-pool that returns indices{self._where()}")
        if "adaptive" in name:
            bound = _arguments(args, kwargs, ("input", "output_size"))
            pool = lambda t: F.adaptive_avg_pool2d(t, bound["output_size"])  # noqa: E731
        else:
            bound = _arguments(args, kwargs, ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"))
            dilation = bound.get("dilation", 1)
            if dilation not in (1, (1, 1), [1, 1]):
                raise ConvscopeError(f"maxpool=avg cannot rewrite a dilated max-pool{self._where()}")
            kernel = bound["kernel_size"]
            pool = lambda t: F.avg_pool2d(
                t,
                kernel,
                bound.get("stride") or kernel,  # noqa: E731
                bound.get("padding", 0),
                bound.get("ceil_mode", False),
                count_include_pad=False,
            )
        return self._pool(pool, args[0], lambda: func(*args, **kwargs), mask)
