"""Concept Relevance Propagation (CRP): the heatmap of one channel of a layer for a class (or a hidden unit), and
the channels of a lower layer that feed it most (the edges of a concept-composition graph).

Achtibat et al. 2023 condition the LRP backward on a concept theta = {class y, channels c of layer L}: the
relevance messages into layer L are kept only for the chosen channels, R_{i<-j}(x | theta) = z_ij / z_j *
delta_{j in c} * R_j(x | y) (their conditional relevance, §"Concept Relevance Propagation": the masked message;
summed over j it gives R_i(x | theta)), and only that relevance flows further down. The input relevance
R(x | theta) is the channel's conditional heatmap, and R(theta | x) = sum_i R_i(x | theta) at layer L is the
channel's relevance for the prediction. Since the rules are linear in the relevance they receive, the conditional
heatmaps of all channels of a layer add up to the unconditional heatmap (for the part of the relevance that passes
through L). The relevance between two layers (their "attribution graph", §"Concept composition"): the conditional
relevance of channel c of L as it arrives, summed over positions, at each channel c' of a lower layer L'.

Here the condition is `LRP.explain(..., condition=(layer, mask))`: the backward runs from the target to the layer,
the relevance there is multiplied by the channel mask, and the backward goes on from the layer alone (so a residual
skip around it carries nothing, as zennit-crp's `exclude_parallel`). The K channels are explained in one forward and
one backward of a batch of K copies of the image (`batch_size` at a time).

References:
    Achtibat, Dreyer, Eisenbraun, Bosse, Wiegand, Samek & Lapuschkin 2023, "From attribution maps to
    human-understandable explanations through Concept Relevance Propagation" (Nature Machine Intelligence 5):
    §"Concept Relevance Propagation" (the conditional relevance R(x | theta) and R(theta | x)), §"Concept
    composition" (attribution graphs).
    Montavon et al. 2017 / 2019 (the LRP / Deep Taylor rules the relevance flows by: `rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ...core.errors import ConvscopeError
from ...core.subject import LOGITS, Subject
from ...core.units import HiddenUnit
from .composites import Composite
from .explainer import LRP, Unit
from .result import resolve_target


@dataclass
class ConditionalRelevance:
    """The conditional relevance of K channels of `layer` for one image (Achtibat et al. 2023, R(x | theta) and
    R(theta | x) of §"Concept Relevance Propagation").

    Fields: `layer`; `channels` [K]; `input` [K, C, H, W] the conditional relevance at the model input (logit units,
    or the unit's activation units); `heatmaps` [K, H, W] its sum over colour channels; `relevance` [K]
    R(theta | x), each channel's relevance at `layer` summed over positions; `output` the explained value (the
    target's logit, or the unit's activation sum); `target` the class (or the unit's channel); `unit` the unit
    explained or None; `lower_layer` and `lower` [K, C'] the relevance each channel passes to each channel of the
    lower layer (summed over positions; None without a lower layer).
    """

    layer: str
    channels: list[int]
    input: torch.Tensor
    heatmaps: torch.Tensor
    relevance: torch.Tensor
    output: float
    target: int
    unit: Unit | None = None
    lower_layer: str | None = None
    lower: torch.Tensor | None = None


def _one_image(images: torch.Tensor) -> torch.Tensor:
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[0] != 1:
        raise ConvscopeError(f"images: CRP explains one image [1, C, H, W] at a time, got {list(images.shape)}")
    return images


def _check_order(subject: Subject, upper: str, lower: str, field: str) -> None:
    """`lower` must run before `upper` in the forward (ConvscopeError naming `field` otherwise)."""
    order = [node.name for node in subject.graph.in_execution_order()]
    upper_r, lower_r = subject.resolve(upper), subject.resolve(lower)
    if lower_r == LOGITS or upper_r not in order or lower_r not in order:
        raise ConvscopeError(f"{field}: `{lower}` must be a hidden layer below `{upper}`")
    if order.index(lower_r) >= order.index(upper_r):
        raise ConvscopeError(f"{field}: `{lower}` does not run before `{upper}`; choose a layer below it")


def conditional_relevance(
    subject: Subject,
    images: torch.Tensor,
    target: int | Unit | None,
    layer: str,
    channels: Sequence[int],
    composite: str | Composite = "dtd",
    *,
    lower_layer: str | None = None,
    batch_size: int = 16,
    maxpool: str = "wta",
    ignore_bias: bool = False,
    epsilon: float | None = None,
    explainer: LRP | None = None,
) -> ConditionalRelevance:
    """The CRP heatmap of each of `channels` of `layer` for one image (Achtibat et al. 2023, the conditional
    relevance R(x | theta) and R(theta | x) of §"Concept Relevance Propagation").

    Args:
        subject: the model under study.
        images: one image [1, C, H, W] (or [C, H, W]) in [0, 1].
        target: the class explained (None: the predicted one), or a hidden unit above `layer` whose score is
            explained (`LRP.explain(unit=...)`): (layer, channel, (y, x) or None), a HiddenUnit or its spelling
            `LAYER:CHANNEL[@Y,X]`.
        layer: the hidden layer whose channels condition the relevance.
        channels: the K channels, each its own condition (theta = {target, channel c of layer}).
        composite: the LRP composite (default `dtd`: z^B at the input, z+ elsewhere); maxpool, ignore_bias,
            epsilon as `LRP`; or a ready `explainer` (its composite and options are used).
        lower_layer: a layer below `layer`: also the relevance each channel passes to each of its channels.
        batch_size: conditions explained per forward / backward (a batch of copies of the image), >= 1.
    Returns:
        ConditionalRelevance: `heatmaps` [K, H, W] and `input` [K, C, H, W] (input relevance, logit units),
        `relevance` [K] (R(theta | x) at `layer`), `lower` [K, C'] with a lower layer. Float32 on the model's device.
    Raises:
        ConvscopeError: not one image, no channels, batch_size < 1, `logits` as the layer, a lower layer that does
            not run before `layer`, a unit that is not above `layer`, or as `LRP.explain`.
        ChannelError: a channel out of range ("channel 700 out of range 0..511 for layer `features.28`").
        UnknownLayerError: an unknown layer.
    """
    image = _one_image(images)
    if subject.resolve(layer) == LOGITS:
        raise ConvscopeError("layer: CRP conditions on a hidden layer, not logits (the class is the target)")
    channels = subject.check_channels(subject.resolve(layer), [int(c) for c in channels])
    if not channels:
        raise ConvscopeError("channels: give at least one channel of the layer")
    if batch_size < 1:
        raise ConvscopeError(f"batch_size must be at least 1, got {batch_size}")
    if lower_layer is not None:
        _check_order(subject, layer, lower_layer, "lower_layer")
    if isinstance(target, (str, HiddenUnit)):  # a class or a unit spelled `LAYER:CHANNEL[@Y,X]`
        target = resolve_target(subject, target)
        if isinstance(target, HiddenUnit):
            target = (target.layer, target.channel, target.position)
    unit = tuple(target) if isinstance(target, (tuple, list)) else None
    if unit is not None and subject.resolve(unit[0]) != LOGITS:
        _check_order(subject, unit[0], layer, "layer")
    explainer = explainer or LRP(subject, composite, maxpool=maxpool, ignore_bias=ignore_bias, epsilon=epsilon)
    layers = [layer] if lower_layer is None else [layer, lower_layer]
    count = subject.num_channels(subject.resolve(layer))
    inputs, relevance, lower, output, explained = [], [], [], None, None
    for start in range(0, len(channels), batch_size):
        chunk = channels[start : start + batch_size]
        batch = image.expand(len(chunk), *image.shape[1:])
        mask = torch.zeros(len(chunk), count)
        mask[torch.arange(len(chunk)), torch.tensor(chunk)] = 1.0
        result = explainer.explain(
            batch,
            None if unit is not None else target,
            layers,
            unit=unit,
            condition=(layer, mask),
        )
        inputs.append(result.input.float())
        at_layer = result.layers[layer].float()
        relevance.append(
            at_layer.flatten(2).sum(2)[torch.arange(len(chunk)), chunk]
            if at_layer.dim() > 2
            else at_layer[torch.arange(len(chunk)), chunk]
        )
        if lower_layer is not None:
            below = result.layers[lower_layer].float()
            lower.append(below.flatten(2).sum(2) if below.dim() > 2 else below)
        output, explained = float(result.output[0]), int(result.target[0])
    input_relevance = torch.cat(inputs)
    return ConditionalRelevance(
        layer=layer,
        channels=channels,
        input=input_relevance,
        heatmaps=input_relevance.sum(1),
        relevance=torch.cat(relevance),
        output=output,
        target=explained,
        unit=unit,
        lower_layer=lower_layer,
        lower=torch.cat(lower) if lower_layer is not None else None,
    )


def graph_edges(result: ConditionalRelevance, top: int = 5) -> list[dict]:
    """The concept-graph edges of a `conditional_relevance` result with a lower layer: for each channel c of the
    layer, its `top` lower channels c' by the relevance R_{c' <- c} they receive (largest first), as
    {"from": "layer:c", "to": "lower_layer:c'", "relevance": R (logit units), "share": R / sum_c'' |R_{c'' <- c}|
    (zennit-crp's normalization, in [-1, 1])} (Achtibat et al. 2023, §"Concept composition").

    Raises:
        ConvscopeError: a result without a lower layer, or top < 1.
    """
    if result.lower is None or result.lower_layer is None:
        raise ConvscopeError("graph_edges needs a conditional_relevance result with a lower_layer")
    if top < 1:
        raise ConvscopeError(f"top must be at least 1, got {top}")
    edges = []
    for row, channel in zip(result.lower, result.channels):
        total = float(row.abs().sum())
        for c in row.argsort(descending=True)[:top].tolist():
            value = float(row[c])
            edges.append(
                {
                    "from": f"{result.layer}:{channel}",
                    "to": f"{result.lower_layer}:{c}",
                    "relevance": value,
                    "share": value / total if total > 0 else 0.0,
                }
            )
    return edges


def concept_graph(
    subject: Subject,
    images: torch.Tensor,
    target: int | Unit | None,
    layer: str,
    channel: int,
    lower_layer: str,
    top: int = 5,
    composite: str | Composite = "dtd",
    **options,
) -> list[dict]:
    """The `top` channels of `lower_layer` that feed channel `channel` of `layer` most for the target (one level of
    CRP's attribution graph, Achtibat et al. 2023, §"Concept composition"; relevance R(x | theta)).

    Args:
        subject, images, target, composite, options: as `conditional_relevance`.
        layer, channel: the upper concept.
        lower_layer: a layer below `layer`.
        top: how many lower channels (>= 1).
    Returns:
        [{"from": "layer:channel", "to": "lower_layer:c'", "relevance": R_{c' <- channel} (logit units, summed over
        positions), "share": R / sum |R| over the lower channels}], largest relevance first.
    Raises:
        As `conditional_relevance` and `graph_edges`.
    """
    result = conditional_relevance(
        subject, images, target, layer, [channel], composite, lower_layer=lower_layer, **options
    )
    return graph_edges(result, top)
