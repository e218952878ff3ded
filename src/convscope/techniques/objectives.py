"""Objectives: activations -> one score per batch item, to be maximized.

Objectives are values: they compose with `+`, `-`, `*` / `/` by a number (`0.5 * a + 2 * b` is the "mix" of Barsch
& Eilertsen eq. 3.7, Loss = sum_n alpha_n Loss_obj_n), and each declares the layers it reads, so the forward pass
stops at the deepest one. `per_item([o_0, ..., o_{N-1}])` optimizes N objectives as N images of one batch.

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2.1 eq. 3.2-3.3 (channel and layer objectives), §3.2.7 eq. 3.7 (mixing).
    Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill): objectives (neuron, channel, layer,
    class logit, direction) and the diversity term.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..core.errors import ChannelError, ConvscopeError
from ..core.outputs import looks_like_probabilities
from ..core.subject import LOGITS

Activations = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """score(acts) -> tensor [N]; `layers` are the activations it needs; `units` name what it targets.

    `items` (per_item objectives) names the objective of each batch item, `batch` of them: render seeds each
    item's random stream from (seed, its name), so an item's image does not depend on its batch mates. Without
    `items`, every item is scored alike and item i is named `name` (i = 0) or `name#i`.

    Args:
        score: {layer: activation [N, ...]} (channels-first, as `Subject.capture` gives) -> [N] scores.
        layers: the layers `score` reads.
        name: its name (results, per-item random streams).
        units: the units it targets (`layer:c`, ...).
        batch: the batch size it requires (per_item objectives), else None (any).
        items: the name of each item's own objective (per_item objectives).
    """

    score: Callable[[Activations], torch.Tensor]
    layers: tuple[str, ...]
    name: str
    units: tuple[str, ...] = ()
    batch: int | None = None  # the batch size it requires (per_item objectives), else any
    items: tuple[str, ...] | None = None  # the name of each item's own objective (per_item objectives)

    def item_names(self, batch: int) -> tuple[str, ...]:
        """The name of each of `batch` items (their identity for per-item random streams): `items` when the
        objective has them, else `name` for item 0 and `name#i` for item i. Raises ConvscopeError when `items`
        has a different length."""
        if self.items is not None:
            if len(self.items) != batch:
                raise ConvscopeError(f"the objective names {len(self.items)} items, the batch has {batch}")
            return self.items
        return tuple(self.name if i == 0 else f"{self.name}#{i}" for i in range(batch))

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self.score(acts)

    def _combine(self, other: "Objective", sign: float) -> "Objective":
        if not isinstance(other, Objective):
            return NotImplemented
        batches = {b for b in (self.batch, other.batch) if b is not None}
        if len(batches) > 1:
            raise ConvscopeError(f"cannot combine objectives for batches of {sorted(batches)} images")
        op = "+" if sign > 0 else "-"
        batch = next(iter(batches), None)
        items = None
        if batch is not None:  # item i: its own objective on each side (one scoring every item alike: its name)
            mine, theirs = (o.items if o.items is not None else (o.name,) * batch for o in (self, other))
            items = tuple(f"{a} {op} {b}" for a, b in zip(mine, theirs))
        return Objective(
            lambda acts: self.score(acts) + sign * other.score(acts),
            tuple(dict.fromkeys(self.layers + other.layers)),
            f"{self.name} {op} {other.name}",
            tuple(dict.fromkeys(self.units + other.units)),
            batch,
            items,
        )

    def __add__(self, other: "Objective") -> "Objective":
        return self._combine(other, 1.0)

    def __sub__(self, other: "Objective") -> "Objective":
        return self._combine(other, -1.0)

    def __mul__(self, weight: float) -> "Objective":
        if not isinstance(weight, (int, float)):
            return NotImplemented
        name = self.name if weight == 1 else f"{weight:g}*({self.name})"
        items = self.items if weight == 1 or self.items is None else tuple(f"{weight:g}*({n})" for n in self.items)
        return Objective(lambda acts: weight * self.score(acts), self.layers, name, self.units, self.batch, items)

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        return self * (1.0 / divisor)

    def __neg__(self) -> "Objective":
        return self * -1.0


def _spatial(act: torch.Tensor, layer: str) -> torch.Tensor:
    """[N, C, H, W] as is; [N, C] (linear layers, logits) as [N, C, 1, 1]."""
    if act.dim() == 2:
        return act[:, :, None, None]
    if act.dim() != 4:
        raise ConvscopeError(f"layer `{layer}` has output shape {list(act.shape[1:])}, not [C, H, W] or [C]")
    return act


def _channel_of(act: torch.Tensor, layer: str, c: int) -> torch.Tensor:
    """Channel c [N, H, W] of a layer's [N, C, H, W] (or [N, C]) output; ChannelError outside 0..C-1."""
    maps = _spatial(act, layer)
    if not 0 <= c < maps.shape[1]:
        where = "the model output" if layer == LOGITS else f"layer `{layer}`"
        raise ChannelError(f"channel {c} out of range 0..{maps.shape[1] - 1} for {where}")
    return maps[:, c]


def channel(layer: str, c: int) -> Objective:
    """Mean activation of channel c over space: score [N] = mean_{h,w} A[:, c, h, w] (activation units).

    Args:
        layer: a layer with [C, H, W] output ([C] outputs: the value itself).
        c: the channel.
    Raises:
        ConvscopeError: (when scored) a layer output that is not [C, H, W] or [C]; ChannelError for c outside 0..C-1.
    References:
        Barsch & Eilertsen 2018, eq. 3.2 (negated there as a loss); Olah et al. 2017, "Feature Visualization".
    """
    return Objective(
        lambda acts: _channel_of(acts[layer], layer, c).mean(dim=(1, 2)), (layer,), f"{layer}:{c}", (f"{layer}:{c}",)
    )


def neuron(layer: str, c: int, x: int | None = None, y: int | None = None) -> Objective:
    """Activation of channel c at one position: score [N] = A[:, c, y, x] (activation units).

    Args:
        x, y: column and row in the layer's map (0-based); the centre of the map by default.
    Raises:
        ConvscopeError: (when scored) a position outside the map, or an output that is not [C, H, W] or [C].
    References:
        Olah et al. 2017, "Feature Visualization" (the neuron objective).
    """

    def score(acts: Activations) -> torch.Tensor:
        act = _spatial(acts[layer], layer)
        height, width = act.shape[2:]
        col, row = (width // 2 if x is None else x), (height // 2 if y is None else y)
        if not (0 <= row < height and 0 <= col < width):
            raise ConvscopeError(f"neuron position ({col}, {row}) outside the {width}x{height} map of `{layer}`")
        return _channel_of(act, layer, c)[:, row, col]

    where = "centre" if x is None and y is None else f"{x},{y}"
    return Objective(score, (layer,), f"{layer}:{c}@{where}", (f"{layer}:{c}@{where}",))


def layer_mean(layer: str) -> Objective:
    """Mean activation over all channels and positions of a layer: score [N] (activation units).

    References:
        Barsch & Eilertsen 2018, eq. 3.3.
    """
    return Objective(lambda acts: _spatial(acts[layer], layer).mean(dim=(1, 2, 3)), (layer,), f"{layer}:mean", (layer,))


def deepdream(layer: str) -> Objective:
    """Mean of the squared activations of a layer (DeepDream's L2 objective): score [N] (squared activation
    units).

    References:
        Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going deeper into neural networks".
    """
    return Objective(
        lambda acts: _spatial(acts[layer], layer).pow(2).mean(dim=(1, 2, 3)), (layer,), f"{layer}:dream", (layer,)
    )


def class_logit(k: int) -> Objective:
    """The pre-softmax logit of class k: score [N] (logit units).

    Raises:
        ConvscopeError: (when scored) an output that is not [N, classes], or one that looks like probabilities (rows of
            non-negative values summing to 1): maximizing a softmax output mostly pushes the other classes down.
    """

    def score(acts: Activations) -> torch.Tensor:
        logits = acts[LOGITS]
        if logits.dim() != 2:
            raise ConvscopeError(f"the model output has shape {list(logits.shape[1:])}, not [classes]")
        if looks_like_probabilities(logits):
            raise ConvscopeError(
                "the model output looks like softmax probabilities; class objectives need "
                "pre-softmax logits (wrap the model without its final softmax)"
            )
        if not 0 <= k < logits.shape[1]:
            raise ChannelError(f"class {k} out of range 0..{logits.shape[1] - 1} of the model output")
        return logits[:, k]

    return Objective(score, (LOGITS,), f"class:{k}", (f"{LOGITS}:{k}",))


def direction(layer: str, vector: torch.Tensor | Sequence[float]) -> Objective:
    """Mean over positions of <a(x, y), v> / |v|: how far the activation vectors point along direction v.

    Args:
        layer: a layer with [C, H, W] or [C] output.
        vector: v, C values (normalized here).
    Raises:
        ConvscopeError: (when scored) v's length differs from the layer's channel count.
    References:
        Olah et al. 2017, "Feature Visualization" (directions in activation space).
    """
    v = torch.as_tensor(vector, dtype=torch.float32)
    v = v / v.norm().clamp_min(1e-12)

    def score(acts: Activations) -> torch.Tensor:
        act = _spatial(acts[layer], layer)
        if act.shape[1] != v.numel():
            raise ConvscopeError(f"direction has {v.numel()} values, layer `{layer}` has {act.shape[1]} channels")
        return torch.einsum("nchw,c->nhw", act, v.to(act)).mean(dim=(1, 2))

    return Objective(score, (layer,), f"{layer}:direction", (f"{layer}:direction",))


def diversity(layer: str) -> Objective:
    """Batch diversity: item i scores -mean_{j != i} cos(G_i, G_j), G the flattened channel Gram matrix of the
    layer; score [N] in [-1, 1] (zeros for a batch of one).

    References:
        Olah et al. 2017, "Feature Visualization", "Diversity" (a Gram-matrix similarity penalty).
    """

    def score(acts: Activations) -> torch.Tensor:
        act = _spatial(acts[layer], layer)
        n = act.shape[0]
        if n < 2:
            return act.new_zeros(n)
        flat = act.flatten(2)
        grams = torch.bmm(flat, flat.transpose(1, 2)).flatten(1)
        grams = grams / grams.norm(dim=1, keepdim=True).clamp_min(1e-12)
        similarity = grams @ grams.T
        return -(similarity.sum(dim=1) - similarity.diagonal()) / (n - 1)

    return Objective(score, (layer,), f"{layer}:diversity")


def per_item(objectives: Sequence[Objective]) -> Objective:
    """Item i of the batch is scored by objectives[i]: N units optimized as N images in one batch.

    Item i is named objectives[i].name (`items`), which seeds its random stream in render: its image is the one that
    objective gets alone.

    Raises:
        ConvscopeError: no objectives, or (when scored) a batch of another size.
    """
    objectives = list(objectives)
    if not objectives:
        raise ConvscopeError("per_item needs at least one objective")

    def score(acts: Activations) -> torch.Tensor:
        if next(iter(acts.values())).shape[0] != len(objectives):
            raise ConvscopeError(f"{len(objectives)} objectives need a batch of {len(objectives)} images")
        return torch.stack([o.score(acts)[i] for i, o in enumerate(objectives)])

    layers = tuple(dict.fromkeys(layer for o in objectives for layer in o.layers))
    units = tuple(u for o in objectives for u in o.units)
    return Objective(
        score, layers, f"per-item[{len(objectives)}]", units, len(objectives), tuple(o.name for o in objectives)
    )


def mix(objectives: Sequence[Objective], alphas: Sequence[float] | None = None) -> Objective:
    """sum_n alpha_n * objective_n, one objective.

    Args:
        objectives: at least one.
        alphas: weights (default 1 each), one per objective.
    Raises:
        ConvscopeError: no objectives or a different number of alphas, or objectives for different batch sizes.
    References:
        Barsch & Eilertsen 2018, §3.2.7, eq. 3.7.
    """
    alphas = [1.0] * len(objectives) if alphas is None else list(alphas)
    if len(alphas) != len(objectives) or not objectives:
        raise ConvscopeError(f"{len(alphas)} alphas for {len(objectives)} objectives")
    total = alphas[0] * objectives[0]
    for alpha, objective in zip(alphas[1:], objectives[1:]):
        total = total + alpha * objective
    return total
