"""Which units depend on the image: `live_units`, one forward-mode pass that marks, at the input of every op LRP
rewrites as a linear rule, the units whose value changes with the image (live) and those that are locally constant.

Why: LRP with `ignore_bias` leaves biases out of every denominator so that a neuron's relevance passes entirely
to its inputs. But a piecewise-linear network also has *effective* biases: in the linear region around the image
x, every unit is a_k(x) = J_k x + c_k, and a unit with J_k = 0 is a constant of that region — a ReLU / ReLU6 that
is off or clipped at 6, or a unit all of whose inputs are such constants (in EfficientNet-Lite0, a depthwise
unit whose nine inputs are 0 outputs its folded BatchNorm shift alone). Such a unit is a bias of the layer it
feeds, and relevance sent to it can never reach the image (R_t = t g_t: its inputs are 0 or constant): on the
default model and chelsea, 68 % of the logit's relevance sat on such units at `blocks.6.0.conv_dw` alone. With
`ignore_bias` the rules therefore see only the live units of their input (`RelevanceMode(live=...)`): constant
units are left out of the denominators exactly like biases, and the relevance goes to what depends on the image.

Live means J_k v != 0 for one direction v with positive random components (forward-mode AD on the model as it
is, sigmoid / hard-sigmoid gates held constant as in the LRP pass); J_k v = 0 for a unit with J_k != 0 has
probability 0.

References:
    Montavon, Binder, Lapuschkin, Samek & Müller 2019, "Layer-wise relevance propagation: an overview"
    (Explainable AI, LNCS 11700), §10.2: LRP-0 is gradient x input, i.e. the decomposition of the local linear
    model J x + c, whose constant c (the biases, effective ones included) receives no relevance.
    Montavon, Lapuschkin, Binder, Samek & Müller 2017, "Explaining nonlinear classification decisions with deep
    Taylor decomposition" (Pattern Recognition), §4: relevance is redistributed along the input dimensions on
    which the neuron's value depends; a neuron that is constant in a neighbourhood has no such direction.
"""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

from ...core.subject import Subject
from .ops import AVG_POOLS, GATES, MAX_POOLS

#: the kinds of rewritten op whose input masks are recorded, call by call, in the order the forward runs them
LIVE_KINDS = ("linear", "batch_norm", "pool", "max_pool")


def live_kind(name: str) -> str | None:
    """The LIVE_KINDS entry of a torch function's name (`conv2d`, `linear` -> linear; `batch_norm`; average
    pools and `mean` -> pool; max pools -> max_pool), or None."""
    if name in ("conv2d", "linear"):
        return "linear"
    if name == "batch_norm":
        return "batch_norm"
    if name in AVG_POOLS:
        return "pool"
    if name in MAX_POOLS or "max_pool" in name:
        return "max_pool"
    return None


def _tangent(t) -> torch.Tensor | None:
    return fwAD.unpack_dual(t).tangent if isinstance(t, torch.Tensor) else None


class _LiveRecorder(TorchFunctionMode):
    """Records, per LIVE_KINDS entry, the mask `tangent != 0` of each call's input tensor (None: not dual)."""

    def __init__(self):
        super().__init__()
        self.masks: dict[str, list] = {kind: [] for kind in LIVE_KINDS}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in GATES:  # the LRP pass treats gates as constants (no relevance to the gate branch): so do we
            args, kwargs = tree_map(
                lambda a: fwAD.unpack_dual(a).primal if isinstance(a, torch.Tensor) else a, (args, kwargs)
            )
            return func(*args, **kwargs)
        kind = live_kind(name)
        if kind is not None:
            x = kwargs.get("input", args[0] if args else None)
            tangent = _tangent(x)
            if kind in ("linear", "batch_norm"):  # LRP sees every such call
                self.masks[kind].append(None if tangent is None else tangent != 0)
            elif tangent is not None:  # LRP reaches pools only on image-dependent inputs
                self.masks[kind].append(tangent != 0)
        return func(*args, **kwargs)


def live_units(subject: Subject, x: torch.Tensor, seed: int = 0) -> dict[str, list]:
    """One forward-mode pass of the model on its normalized input: the live units at the input of every op LRP
    rewrites as a linear rule (module docstring).

    Args:
        subject: the model under study (eval mode).
        x: the normalized model input [N, C, H, W] (what `Subject.model_output` takes).
        seed: the seed of the direction v (components uniform in [0.5, 1.5)).
    Returns:
        {kind: [mask or None, ...]} for each kind in LIVE_KINDS, in call order: a bool tensor shaped like that
        call's input, True where the unit depends on the image (None: the call's input does not depend on it).
    Raises:
        ConvscopeError: as `Subject.model_output`.
    References:
        Montavon et al. 2019, §10.2 (LRP-0 = gradient x input on the local linear model J x + c); Montavon et al.
        2017, §4 (Deep Taylor decomposition).
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    direction = (torch.rand(x.shape, generator=generator) + 0.5).to(device=x.device, dtype=x.dtype)
    recorder = _LiveRecorder()
    with torch.no_grad(), fwAD.dual_level():
        dual = fwAD.make_dual(x.detach(), direction)
        with recorder:
            subject.model_output(dual)
    return recorder.masks
