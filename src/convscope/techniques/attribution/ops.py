"""Which torch functions the rewriting modes treat how (LRP's `mode.RelevanceMode`; the guided backprop /
deconvnet mode of gradients.py): the op tables (ACTIVATIONS, GATES, AVG_POOLS, MAX_POOLS, PRODUCTS, ADDITIONS,
IN_PLACE, PASS, FOLLOW_INPUT, RUN_OUT_OF_PLACE), the in-place ops a rewrite runs out of place
(`rewrites_in_place`) and `InPlaceGuard`, which refuses a forward that goes on using the tensor such an op was
meant to overwrite.
"""

from __future__ import annotations

import torch
from torch.utils._pytree import tree_leaves

from ...core.errors import ConvscopeError

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
