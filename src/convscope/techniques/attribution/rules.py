"""LRP rules (layer-wise relevance propagation / Deep Taylor decomposition): the relevance rule of a linear op
(`Rule`, the named ones in `RULES`), the autograd Functions that apply a rule in the backward (`RuleBackward`,
`PassThrough`, `SignMatchedSum`) and the pixel bounds of the z^B rule (`input_bounds`). Which layer gets which
rule: composites.py; the forward that installs them: mode.py.

Convention: the relevance held by any tensor t is R_t = t * g_t, where g_t is the (modified) gradient of the
target logit at t. A linear op z = W x + b under a rule is written as t = z_rule * stop_grad(y / z_rule), so
that g_x = W_rule^T (R_out / z_rule) and R_x = x * g_x.

Each rewritten op is a custom autograd Function whose forward is the op itself and whose backward computes the
rule from the saved input (`RuleBackward`, `PassThrough`): no extra tensors or elementwise passes in the forward;
the relevance y g an op computes in its backward is kept for the layers asked for (no second multiply).

Rules (Barsch & Eilertsen §2.5.6, eq. 2.12-2.13; Bach et al. 2015; Montavon et al. 2017 / 2019):
  epsilon:   R_i = sum_j x_i w_ij / (z_j + eps sign z_j) R_j,   z_j = sum_i x_i w_ij + b_j
  zplus:     R_i = sum_j (x_i^+ w_ij^+ + x_i^- w_ij^-) / z_j^+ R_j,   z_j^+ = sum_i (...) + b_j^+   (= alpha1beta0;
             on ReLU inputs x >= 0 this is eq. 2.12, Algorithms 1 and 4)
  alphabeta: R_i = sum_j (alpha z_ij^+ / z_j^+ - beta z_ij^- / z_j^-) R_j,   alpha - beta = 1
  zbox (z^B, input layer only): R_i = sum_j (x_i w_ij - l_i w_ij^+ - h_i w_ij^-) / sum_i (...) R_j, eq. 2.13,
             l / h the images of pixel values 0 / 1 under the model's own normalization (Algorithm 2)
  flat / w2 (input layer only): R_i = sum_j 1 / sum_i 1 R_j  and  R_i = sum_j w_ij^2 / sum_i w_ij^2 R_j
`ignore_bias` drops b from every denominator, and with it the effective biases of the local linear model: units
that are locally constant (a ReLU6 off or clipped at 6, a depthwise unit whose inputs are all 0, which outputs its
folded BatchNorm shift alone) are left out of the denominators like biases (`liveness.py`), so a neuron's
relevance passes entirely to the inputs that depend on the image. Where a z+ neuron has no positive contribution
(z_j^+ = 0, e.g. a depthwise unit whose live inputs all meet negative weights) z+ is taken as the limit
gamma -> inf of LRP-gamma (Montavon et al. 2019, §10.2.3), R_i = sum_j (z_ij + gamma z_ij^+) / (z_j + gamma z_j^+)
R_j, which there is the plain z rule z_ij / z_j for every gamma: the relevance follows the (all negative)
contributions, stays non-negative and is conserved. Together they take DTD --ignore-bias on EfficientNet-Lite0 and
chelsea from 5.0 % of the logit at the input to 99.9 % (alone: 13 % and 32 %). With the epsilon rule the bias-free
z' = W x crosses 0 while the neuron's output (its bias) does not, so R / z' can grow without bound layer after
layer; `explain` refuses any result that float32 cannot hold (`MAX_AMPLIFICATION`). The stabilizer eps (EPSILON =
1e-6 by default) is set per explanation (`LRP(epsilon=...)`, `composites.with_epsilon`).

References:
    Bach, Binder, Montavon, Klauschen, Müller & Samek 2015, "On pixel-wise explanations for non-linear classifier
    decisions by layer-wise relevance propagation" (PLoS ONE): LRP, the epsilon and alpha-beta rules.
    Montavon, Lapuschkin, Binder, Samek & Müller 2017, "Explaining nonlinear classification decisions with deep
    Taylor decomposition" (Pattern Recognition): the z+, z^B and w^2 rules.
    Montavon, Binder, Lapuschkin, Samek & Müller 2019, "Layer-wise relevance propagation: an overview" (Explainable
    AI, LNCS 11700): composites of rules per layer type.
    Lapuschkin et al. 2019, "Unmasking Clever Hans predictors and assessing what machines really learn" (Nature
    Communications): the flat rule.
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001): §2.5.6 eq. 2.12-2.13 and Algorithms 1-2, §3.4.1 Algorithms 4-5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...core.subject import Subject

EPSILON = 1e-6
#: relevance whose magnitude at some layer exceeds this many times the explained logit has lost every significant
#: digit of float32 (7) to cancellation: `explain` refuses it, as it refuses NaN / inf (healthy runs stay < 1e4)
MAX_AMPLIFICATION = 1e6


def stabilize(z: torch.Tensor, eps: float = EPSILON, non_negative: bool = False) -> torch.Tensor:
    """z + eps * sign(z) with sign(0) = +1, or z + eps when `non_negative` (a new tensor): the stabilizer of
    every rule's denominator (EPSILON = 1e-6 by default)."""
    return z + eps if non_negative else z + torch.where(z >= 0, eps, -eps)


LinearOp = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
# (coefficient c_k, z_k, kind): R_in = sum_k c_k in * J_k^T (R_out / z_k); kind True: z_k >= 0 by construction,
# False: signed, FALLBACK: z_k built lazily (a callable) and used only where the previous term's z is 0 (where that
# term passes nothing)
FALLBACK = None
Terms = list[tuple[float, "torch.Tensor | Callable[[], torch.Tensor]", "bool | None"]]


class WeightParts:
    """W^+, W^- (and b^+, b^-) of each weight, computed once per weight version (they are reused every call)."""

    def __init__(self):
        self.cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def get(self, t: torch.Tensor | None, sign: str) -> torch.Tensor | None:
        """W^+ = max(W, 0) (`sign` "+") or W^- = min(W, 0) (`sign` "-") of a weight or bias, detached and cached
        per tensor and version; None for None."""
        if t is None:
            return None
        key = (id(t), t._version, sign)
        part = self.cache.get(key)
        if part is None or part.shape != t.shape:
            part = self.cache[key] = (t.clamp(min=0) if sign == "+" else t.clamp(max=0)).detach()
        return part


@dataclass(frozen=True)
class Rule:
    """A relevance rule for a linear op (module docstring for the formulas).

    Args:
        name: `epsilon`, `zplus`, `alphabeta`, `zbox`, `flat` or `w2`.
        epsilon: the stabilizer of the denominators.
        alpha, beta: the alpha-beta weights (alpha - beta = 1; alphabeta only).
    References:
        Bach et al. 2015 (epsilon, alpha-beta); Montavon et al. 2017 (z+, z^B, w^2); Lapuschkin et al. 2019 (flat).
    """

    name: str
    epsilon: float = EPSILON
    alpha: float = 1.0
    beta: float = 0.0

    @property
    def input_only(self) -> bool:
        """Whether the rule applies only at the input layer (zbox, flat, w2: they need the image itself)."""
        return self.name in ("zbox", "flat", "w2")

    def terms(
        self,
        op: LinearOp,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        views: dict[str, torch.Tensor] | None,
        parts: WeightParts,
        has_negative: bool,
    ) -> Terms:
        """The rule's denominators z_k as differentiable functions of the layer's input (or the input views):
        the relevance of input i is sum_k c_k x_i d z_k / d x_i R_out / z_k (see the module docstring)."""
        if self.name == "epsilon":
            return [(1.0, op(x, weight, bias), False)]
        if self.name == "zbox":
            # (x - l) w+ + (x - h) w-: two non-negative terms, each its own leaf (no cancellation in float32)
            z = op(views["above_low"], parts.get(weight, "+"), None) + op(
                views["below_high"], parts.get(weight, "-"), None
            )
            return [(1.0, z, True)]
        if self.name in ("flat", "w2"):
            w = torch.ones_like(weight) if self.name == "flat" else weight * weight
            return [(1.0, op(views["ones"], w, None), True)]
        w_pos, w_neg = parts.get(weight, "+"), parts.get(weight, "-")
        if has_negative:
            x_pos, x_neg = x.clamp(min=0), x.clamp(max=0)
            positive = op(x_pos, w_pos, parts.get(bias, "+")) + op(x_neg, w_neg, None)
        else:
            x_pos = x
            positive = op(x, w_pos, parts.get(bias, "+"))
        if self.name == "zplus":
            # z+ as the limit gamma -> inf of LRP-gamma (Montavon et al. 2019, §10.2.3): where a neuron has no
            # positive contribution (z_j^+ = 0) the limit is the plain z rule z_ij / z_j for every gamma
            return [(1.0, positive, True), (1.0, lambda: op(x, weight, bias), FALLBACK)]
        if self.beta == 0:
            return [(1.0, positive, True)]
        negative = op(x_pos, w_neg, parts.get(bias, "-"))
        if has_negative:
            negative = negative + op(x_neg, w_pos, None)
        return [(self.alpha, positive, True), (-self.beta, negative, False)]


def _kept(ctx, relevance: torch.Tensor) -> torch.Tensor:
    """The relevance R = y g of a rewritten op's output, kept on its autograd node when that output is a layer
    the user asked for (`explain` reads it there instead of multiplying again)."""
    if ctx.keep:
        ctx.relevance = relevance
    return relevance


class RuleBackward(torch.autograd.Function):
    """Value: `compute()`, exactly the layer's output y. Backward: for each input t of the rule,
    g_t = sum_k c_k J_k^T (g y / stabilize(z_k)), so R_t = t g_t distributes R_out = y g by the rule's terms.
    The terms are rebuilt from the saved inputs in the backward (no extra tensors kept from the forward)."""

    @staticmethod
    def forward(ctx, compute, terms, epsilon, *inputs):
        """Return `compute()` (the layer's output y), saving y and the rule's inputs for the backward.
        `epsilon` is the stabilizer, or (stabilizer, ledger, label): the backward then appends
        (label, R_out [N], R_in [N]) to the list `ledger` (`conservation.conservation_trace`)."""
        y = compute()
        epsilon, ctx.ledger, ctx.label = epsilon if isinstance(epsilon, tuple) else (epsilon, None, None)
        ctx.terms, ctx.epsilon, ctx.keep = terms, epsilon, False
        ctx.save_for_backward(y, *inputs)
        return y

    @staticmethod
    def backward(ctx, grad):
        """g_t = sum_k c_k J_k^T (g y / stabilize(z_k)) for each input t of the rule (None for the
        non-tensor arguments)."""
        y, *inputs = ctx.saved_tensors
        wanted = [i for i, need in enumerate(ctx.needs_input_grad[3:]) if need]
        leaves = [t.detach().requires_grad_(i in wanted) for i, t in enumerate(inputs)]
        relevance = _kept(ctx, grad * y)
        outputs, grad_outputs = [], []
        empty = None  # where the previous term's z is 0: its fallback term takes over there
        with torch.enable_grad():
            for coefficient, z, kind in ctx.terms(*leaves):
                if kind is FALLBACK:
                    if not bool((empty & (relevance != 0)).any()):
                        continue  # built only where needed (its op costs as much as the layer)
                    z = z()
                    message = torch.where(empty, relevance / stabilize(z.detach(), ctx.epsilon), 0.0)
                else:
                    message = relevance / stabilize(z.detach(), ctx.epsilon, kind)
                    empty = z.detach() == 0
                outputs.append(z)
                grad_outputs.append(message if coefficient == 1.0 else message.mul_(coefficient))
        grads = torch.autograd.grad(outputs, [leaves[i] for i in wanted], grad_outputs, allow_unused=True)
        result = [None] * len(inputs)
        for i, g in zip(wanted, grads):
            result[i] = g
        if ctx.ledger is not None:  # the conservation ledger: (layer, R_out, R_in) summed per image
            r_in = sum((inputs[i] * g).flatten(1).sum(1) for i, g in zip(wanted, grads) if g is not None)
            ctx.ledger.append((ctx.label, relevance.detach().flatten(1).sum(1), r_in))
        return (None, None, None, *result)


class PassThrough(torch.autograd.Function):
    """Value y = compute(x); backward g_x = g y / x (0 where x = 0), so R_x = x g_x = R_y."""

    @staticmethod
    def forward(ctx, compute, x):
        """Return `compute()` (the activation's output y), saving x and y."""
        y = compute()
        ctx.keep = False
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        """g_x = g y / x (0 where x = 0), so that R_x = x g_x = R_y."""
        x, y = ctx.saved_tensors
        relevance = _kept(ctx, grad * y)
        return None, torch.where(x == 0, 0.0, relevance / x)


class SignMatchedSum(torch.autograd.Function):
    """z = a + b (broadcasting) split by the z+ idea relative to the sign of z: R_a = a^s / (a^s + b^s) R_z with
    s = sign(z) (the operands with the sum's sign share it by size): conservative wherever z != 0, and
    non-negative relevance stays non-negative (the plain gradient gives R_a = a / z R_z, negative for a < 0)."""

    @staticmethod
    def forward(ctx, a, b):
        """z = a + b (broadcasting), saving a, b and z."""
        z = a + b
        ctx.keep = False
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, grad):
        """The gradients of a and b whose relevance a g_a, b g_b split R_z = z g between the operands
        with the sign of z, in proportion to their size (summed back to each operand's shape)."""
        a, b, z = ctx.saved_tensors
        positive = z > 0
        a_in = torch.where(positive, a > 0, a < 0)
        b_in = torch.where(positive, b > 0, b < 0)
        same_sign = a * a_in + b * b_in
        share = torch.where(same_sign == 0, 0.0, _kept(ctx, grad * z) / same_sign)
        return (share * a_in).sum_to_size(a.shape), (share * b_in).sum_to_size(b.shape)


RULES = {
    "epsilon": Rule("epsilon"),
    "zplus": Rule("zplus"),
    "alpha2beta1": Rule("alphabeta", alpha=2, beta=1),
    "alpha1beta0": Rule("alphabeta", alpha=1, beta=0),
    "zbox": Rule("zbox"),
    "flat": Rule("flat"),
    "w2": Rule("w2"),
}


def input_bounds(subject: Subject, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """l and h of the z^B rule: the pixel values 0 and 1 mapped through the model's normalization (the
    smaller as l), each expanded to the shape of `like` (the normalized input [N, C, H, W]).

    References:
        Montavon et al. 2017, the z^B rule; Barsch & Eilertsen 2018, eq. 2.13.
    """
    low = subject.normalize(torch.zeros(1, subject.input.channels, 1, 1, device=like.device))
    high = subject.normalize(torch.ones(1, subject.input.channels, 1, 1, device=like.device))
    low, high = torch.minimum(low, high), torch.maximum(low, high)
    return low.expand_as(like).clone(), high.expand_as(like).clone()
