"""Layer-wise relevance propagation (LRP / Deep Taylor decomposition) as a modified backward pass.

Convention: the relevance held by any tensor t is R_t = t * g_t, where g_t is the (modified) gradient of the
target logit at t. The forward pass runs under a TorchFunctionMode that keeps every value unchanged but rewires
the backward of the ops that need a rule; all other ops keep their true gradient, which is already the right
relevance rule for them:

- conv / linear / pooling / stand-alone BatchNorm (linear ops z = W x + b): the layer's rule (below), written as
  t = z_rule * stop_grad(y / z_rule), so that g_x = W_rule^T (R_out / z_rule) and R_x = x * g_x;
- elementwise activations (ReLU, ReLU6, SiLU, Hardswish, GELU, ...): pass-through R_in = R_out, i.e. the local
  gradient is replaced by f(x) / x (ReLU keeps its true gradient, which is exactly that);
- additions of two input-dependent tensors (residuals) under a z+ conv rule: the sign-matched split
  R_a = a^s / (a^s + b^s) R_z, s = sign(z) (conservative where z != 0, never negative; `SignMatchedSum`);
  other additions and concatenations: the true gradient gives R_a = a g, R_b = b g — a proportional split
  that conserves a + b, and a channel split for cat;
- multiplicative gates (squeeze-excitation): the sigmoid / hard-sigmoid output is a constant (stop_grad), so the
  product passes all relevance to the gated signal and none to the gate branch;
- max-pool: winner-take-all (its true gradient) or, with maxpool="avg", the average-pool rule (Barsch &
  Eilertsen §3.4.1, Algorithm 5);
- BatchNorm after a conv / linear is folded into it first (canonizers.py).

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
`ignore_bias` drops b from every denominator: a neuron's relevance then passes entirely to its inputs wherever its
bias-free denominator is non-zero (R_in sums to R_out layer by layer). Where it is zero (a z+ neuron whose inputs
contribute nothing positive, active through its bias alone) the relevance stops there: the conservation trace
shows that leak (EfficientNet-Lite0 on a photo: ~5% of the logit reaches the input under DTD). With the epsilon
rule the bias-free z' = W x crosses 0 while the neuron's output (its bias) does not, so R / z' can grow without
bound layer after layer; `explain` refuses any result that float32 cannot hold (`MAX_AMPLIFICATION`).

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

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves, tree_map

from ...core.errors import ConvscopeError, ConvscopeWarning
from ...core.fold import FoldPlan
from ...core.outputs import looks_like_probabilities
from ...core.subject import LOGITS, LayerTap, Subject

EPSILON = 1e-6
#: relevance whose magnitude at some layer exceeds this many times the explained logit has lost every significant
#: digit of float32 (7) to cancellation: `explain` refuses it, as it refuses NaN / inf (healthy runs stay < 1e4)
MAX_AMPLIFICATION = 1e6


# --- rules ------------------------------------------------------------------------------------------------------
def stabilize(z: torch.Tensor, eps: float = EPSILON, non_negative: bool = False) -> torch.Tensor:
    """z + eps * sign(z) with sign(0) = +1, or z + eps when `non_negative` (a new tensor): the stabilizer of
    every rule's denominator (EPSILON = 1e-6 by default)."""
    return z + eps if non_negative else z + torch.where(z >= 0, eps, -eps)


LinearOp = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
# (coefficient c_k, z_k, z_k >= 0 by construction): R_in = sum_k c_k in * J_k^T (R_out / z_k)
Terms = list[tuple[float, torch.Tensor, bool]]


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
        if self.name == "zplus" or self.beta == 0:
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
        """Return `compute()` (the layer's output y), saving y and the rule's inputs for the backward."""
        y = compute()
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
        with torch.enable_grad():
            terms = ctx.terms(*leaves)
        relevance = _kept(ctx, grad * y)
        outputs, grad_outputs = [], []
        for coefficient, z, non_negative in terms:
            message = relevance / stabilize(z.detach(), ctx.epsilon, non_negative)
            outputs.append(z)
            grad_outputs.append(message if coefficient == 1.0 else message.mul_(coefficient))
        grads = torch.autograd.grad(outputs, [leaves[i] for i in wanted], grad_outputs, allow_unused=True)
        result = [None] * len(inputs)
        for i, g in zip(wanted, grads):
            result[i] = g
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


@dataclass(frozen=True)
class Composite:
    """Which rule each kind of layer gets: the `input` layer(s), `conv` (convolutions, and pooling /
    stand-alone BatchNorm: `_diagonal_rule`) and `linear` (dense layers), with a `name` and a `description`.

    References:
        Montavon et al. 2019, "Layer-wise relevance propagation: an overview" (rules per layer type); Kohlbrenner et
        al. 2020, "Towards best practice in explaining neural network decisions with LRP" (epsilon-plus, -flat).
    """

    name: str
    input: Rule
    conv: Rule
    linear: Rule
    description: str = ""

    def to_dict(self) -> dict:
        """{"name", "input", "conv", "linear"}: the composite's name and its rules' names."""
        return {"name": self.name, "input": self.input.name, "conv": self.conv.name, "linear": self.linear.name}


COMPOSITES = {
    "dtd": Composite(
        "dtd",
        RULES["zbox"],
        RULES["zplus"],
        RULES["zplus"],
        "Deep Taylor: z^B at the input layer, z+ everywhere else (seed 001 §2.5.5)",
    ),
    "epsilon-plus": Composite(
        "epsilon-plus",
        RULES["zbox"],
        RULES["zplus"],
        RULES["epsilon"],
        "LRP-eps+: z^B input, z+ convolutions, epsilon dense layers",
    ),
    "epsilon-plus-flat": Composite(
        "epsilon-plus-flat",
        RULES["flat"],
        RULES["zplus"],
        RULES["epsilon"],
        "flat input layer, z+ convolutions, epsilon dense layers",
    ),
    "alpha2beta1": Composite(
        "alpha2beta1",
        RULES["zbox"],
        RULES["alpha2beta1"],
        RULES["epsilon"],
        "z^B input, alpha=2 beta=1 convolutions, epsilon dense layers",
    ),
    "alpha1beta0": Composite(
        "alpha1beta0",
        RULES["zbox"],
        RULES["alpha1beta0"],
        RULES["epsilon"],
        "z^B input, alpha=1 beta=0 convolutions, epsilon dense layers",
    ),
    "epsilon": Composite(
        "epsilon",
        RULES["epsilon"],
        RULES["epsilon"],
        RULES["epsilon"],
        "epsilon everywhere (close to gradient x input)",
    ),
    "w2-plus": Composite("w2-plus", RULES["w2"], RULES["zplus"], RULES["zplus"], "w^2 input layer, z+ elsewhere"),
}


def get_composite(name: str | Composite) -> Composite:
    """The Composite of a name in COMPOSITES (`dtd`, `epsilon-plus`, `epsilon-plus-flat`, `alpha2beta1`,
    `alpha1beta0`, `epsilon`, `w2-plus`); a Composite is returned as it is.

    Raises:
        ConvscopeError: an unknown name.
    """
    if isinstance(name, Composite):
        return name
    if name not in COMPOSITES:
        raise ConvscopeError(f"unknown LRP composite `{name}`; choose one of {', '.join(COMPOSITES)}")
    return COMPOSITES[name]


# --- the rewriting mode ----------------------------------------------------------------------------------------
ACTIVATIONS = {
    "relu",
    "relu_",
    "relu6",
    "hardtanh",
    "hardtanh_",
    "silu",
    "silu_",
    "hardswish",
    "hardswish_",
    "gelu",
    "leaky_relu",
    "leaky_relu_",
    "elu",
    "elu_",
    "selu",
    "celu",
    "mish",
    "softplus",
    "clamp",
    "clamp_",
    "clamp_min",
    "clamp_min_",
    "clip",
    "threshold",
    "threshold_",
    "prelu",
}
GATES = {"sigmoid", "sigmoid_", "hardsigmoid", "hardsigmoid_", "tanh", "tanh_"}
AVG_POOLS = {"avg_pool2d", "adaptive_avg_pool2d", "avg_pool1d", "adaptive_avg_pool1d", "mean"}
MAX_POOLS = {
    "max_pool2d",
    "_max_pool2d",
    "max_pool2d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "boolean_dispatch",
}
PRODUCTS = {
    "mul",
    "__mul__",
    "__rmul__",
    "mul_",
    "__imul__",
    "multiply",
    "div",
    "__truediv__",
    "div_",
    "__itruediv__",
    "true_divide",
}
ADDITIONS = {"add", "__add__", "__radd__", "add_", "__iadd__"}
IN_PLACE = {
    "add_": torch.add,
    "__iadd__": torch.add,
    "sub_": torch.sub,
    "__isub__": torch.sub,
    "mul_": torch.mul,
    "__imul__": torch.mul,
    "div_": torch.div,
    "__itruediv__": torch.div,
}
# ops whose true gradient is already a conservative relevance rule (linear, parameter-free)
PASS = {
    "add",
    "__add__",
    "__radd__",
    "sub",
    "__sub__",
    "__rsub__",
    "rsub",
    "neg",
    "__neg__",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "view",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "contiguous",
    "clone",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "__getitem__",
    "split",
    "chunk",
    "narrow",
    "to",
    "float",
    "pad",
    "dropout",
    "dropout2d",
    "dropout1d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "sum",
    "detach",
    "interpolate",
    "upsample",
    "upsample_nearest2d",
    "upsample_bilinear2d",
    "view_as",
    "reshape_as",
    "type_as",
    "unbind",
    "select",
    "slice",
    "t",
    "movedim",
    "flatten_",
    "contiguous_",
    "pixel_shuffle",
    "channel_shuffle",
    "roll",
    "repeat",
    "tile",
    "squeeze_",
    "unsqueeze_",
    "unflatten",
    "adaptive_avg_pool3d",
}
FOLLOW_INPUT = {"pad", "contiguous", "clone", "to", "float", "view", "reshape", "flatten", "dropout", "detach"}


RUN_OUT_OF_PLACE = {n for n in ACTIVATIONS if n.endswith("_")} | set(IN_PLACE)  # rewritten in-place ops


def rewrites_in_place(name: str, args: tuple, kwargs: dict) -> bool:
    """Whether a rewritten op is an in-place one (`relu_`, `+=`, `F.relu(x, inplace=True)`) that the rewrite
    runs out of place: its result is a new tensor, and the tensor it should have overwritten keeps its old values."""
    return name in RUN_OUT_OF_PLACE or (
        name in ACTIVATIONS and (kwargs.get("inplace") is True or any(a is True for a in args[1:]))
    )


class InPlaceGuard:
    """Refuses a forward that goes on using a tensor an in-place op was meant to overwrite.

    The rewritten backward needs in-place ops run out of place (their custom backward keeps the input). A model
    that uses the returned value (`x = relu(x)`, `out += identity`) is unaffected; one that discards it
    (`y.relu_()` as a statement, then `y` again) would go on with the old values: a different network. The guard
    remembers each tensor an in-place op left behind and raises ConvscopeError if any later op reads it."""

    def __init__(self):
        self.stale: dict[int, tuple[torch.Tensor, str]] = {}  # id -> (the tensor, kept alive: ids stay unique)

    def note(self, name: str, args: tuple) -> None:
        """Remember that the in-place op `name` was meant to overwrite `args[0]` (it was run out of place)."""
        if args and isinstance(args[0], torch.Tensor):
            self.stale[id(args[0])] = (args[0], name)

    def check(self, tensors: list[torch.Tensor], where: str) -> None:
        """Raise ConvscopeError when any of `tensors` is one an in-place op was meant to overwrite
        (`where` names the module in the message)."""
        if not self.stale:
            return
        for t in tensors:
            entry = self.stale.get(id(t))
            if entry is not None and entry[0] is t:
                raise ConvscopeError(
                    f"the model discards the result of an in-place `{entry[1]}`{where} and goes on "
                    "with the tensor it overwrote; the rewritten backward runs in-place ops out of "
                    "place, so it would explain another network. Use the returned value "
                    "(`y = y.relu()`), or a method without a rewritten backward (saliency, "
                    "gradcam, integrated-gradients, occlusion)"
                )


def _tensors(value) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


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
    Raises:
        ConvscopeError: an unknown maxpool; during the forward, an op LRP has no rule for, a product of two
            input-dependent tensors, a BatchNorm in training mode, a discarded in-place result, or an input-layer rule
            whose layer does not receive the image.
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
            return self._pool(lambda t: func(t, *args[1:], **kwargs), args[0], lambda: func(*args, **kwargs))
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
    ) -> torch.Tensor:
        """The layer's output `compute()` with the backward of `rule` for the linear op `op(x, weight, bias)`."""
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
            terms = lambda leaf: rule.terms(op, leaf, weight, bias, None, parts, has_negative)  # noqa: E731
        return RuleBackward.apply(compute, terms, rule.epsilon, *inputs)

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
        return self._rule(self._diagonal_rule(), op, x, scale, bias, None, lambda: func(*args, **kwargs))

    def _pool(self, pool: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, compute: Callable[[], torch.Tensor]):
        """Average pooling is a linear op with positive weights: it gets the convolutions' rule."""
        op = lambda t, w, b: pool(t) * w  # noqa: E731
        return self._rule(self._diagonal_rule(), op, x, self.one(x), None, None, compute)

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
        return RULES["zplus"] if rule.name == "alphabeta" else rule

    def _max_pool(self, func, name, args, kwargs):
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
        return self._pool(pool, args[0], lambda: func(*args, **kwargs))


# --- running it -----------------------------------------------------------------------------------------------
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


class LayerRecorder(LayerTap):
    """`LayerTap` (each named layer's own output, safe against later in-place ops; hooks always removed) that
    can also keep the stack of modules being run in `stack`, for error messages that name the layer."""

    def __init__(
        self, subject: Subject, layers: Sequence[str], stack: list[str] | None = None, copy_mutated: bool = True
    ):
        super().__init__(subject, layers, copy_mutated=copy_mutated)
        self.stack = stack

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        """The kept outputs that are single tensors {name: tensor} (a layer returning a tuple has no one
        relevance map)."""
        return {n: t for n, t in self.outputs.items() if isinstance(t, torch.Tensor)}

    def __enter__(self) -> "LayerRecorder":
        super().__enter__()
        if self.stack is not None:
            for name, module in self.subject.model.named_modules():
                if name:
                    self.handles.append(module.register_forward_pre_hook(self._enter(name)))
                    self.handles.append(module.register_forward_hook(self._leave))
        return self

    def _enter(self, name):
        def hook(_module, _inputs):
            self.stack.append(name)

        return hook

    def _leave(self, _module, _inputs, _output):
        if self.stack:
            self.stack.pop()


def default_layers(subject: Subject) -> list[str]:
    """Every module that runs exactly once and returns one readable tensor, in execution order (containers
    included; `logits` left out): the layers `layers="all"` explains."""
    names = []
    for node in subject.graph.in_execution_order():
        if node.name == LOGITS or node.calls != 1:
            continue
        if subject.graph.readable(node.name) and node.output_shape:
            names.append(node.name)
    return names


def resolve_layers(subject: Subject, layers: str | Sequence[str] | None) -> list[str]:
    """The layer names an attribution explains.

    Args:
        layers: None or `all` (`default_layers`), a comma-separated string, or a sequence of names.
    Returns:
        Resolved names (`logits` allowed).
    Raises:
        UnknownLayerError: an unknown layer, or one that does not run, returns several tensors or has a channel axis
            convscope cannot follow.
    """
    if layers is None or layers == "all":
        return default_layers(subject)
    if isinstance(layers, str):
        layers = [part.strip() for part in layers.split(",") if part.strip()]
    names = [subject.resolve(n) for n in layers]
    for n in names:
        if n != LOGITS:  # one tensor with a known channel axis that runs in the forward pass, or one line why not
            subject.graph.output_shape(n)
    return names


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
