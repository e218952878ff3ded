"""Relevance-guided feature visualization (Barsch & Eilertsen 2018 §4.4): rank a layer's filters by their Deep
Taylor relevance for an image's predicted class, then visualize the top N one by one and (mix) together, weighted
by relevance: objective = sum_n (R_n / sum_m R_m) * mean activation of filter n (their eq. 3.7 with alpha_n from
relevance).

Also the score of relevance maximization (Achtibat et al. 2023, "From attribution maps to human-understandable
explanations through Concept Relevance Propagation", §"Relevance maximization"): a unit's reference images are
the dataset images in which it carries the most relevance for the explained class, not those in which it is
most active (`unit_relevance`, used by the examples recipe with `by = relevance`).

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001), §4.4 (combining visualization techniques), eq. 3.7.
    Achtibat et al. 2023, "From attribution maps to human-understandable explanations through Concept Relevance
    Propagation" (Nature Machine Intelligence).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ...core.errors import ConvscopeError
from ...core.subject import LOGITS, Subject
from .. import objectives as O
from .explainer import LRP
from .ranking import channel_relevance


def relevant_filters(
    subject: Subject, image_path: Path, layer: str, top: int, composite: str = "dtd", details: dict | None = None
) -> list[tuple[int, float]]:
    """The `top` filters of `layer` with the largest positive relevance R_c for the image's predicted class.

    Args:
        subject: the model under study.
        image_path: the image file (read at the model's input size).
        layer: a hidden layer (not `logits`).
        top: most filters returned.
        composite: the LRP composite (default `dtd`, Deep Taylor).
        details: when given, receives the image, layer, composite, target, label, its logit (`output`) and the
            layer's total relevance sum_c R_c (`layer_relevance`).
    Returns:
        [(channel, R_c)] largest first, R_c > 0 (logit units).
    Raises:
        ConvscopeError: `logits` as the layer, no filter with positive relevance, or as `LRP.explain`.
        ImageError: an unreadable image.
    References:
        Barsch & Eilertsen 2018, §4.4; Montavon et al. 2017 (Deep Taylor decomposition).
    """
    layer = subject.resolve(layer)
    if layer == LOGITS:
        raise ConvscopeError("relevant needs a hidden layer, not logits (use classes for classes)")
    result = LRP(subject, composite).explain(subject.load_image(image_path), layers=[layer])
    scores = channel_relevance(result.layers[layer][0])
    order = scores.argsort(descending=True)[:top]
    chosen = [(int(c), float(scores[c])) for c in order if scores[c] > 0]
    if not chosen:
        raise ConvscopeError(f"no filter of `{layer}` has positive relevance for this image")
    if details is not None:
        target = int(result.target[0])
        details.update(
            {
                "image": str(image_path),
                "layer": layer,
                "composite": result.info["composite"]["name"],
                "target": target,
                "label": subject.label(target),
                "output": float(result.output[0]),
                "layer_relevance": float(scores.sum()),
            }
        )
    return chosen


def relevance_entries(chosen: list[tuple[int, float]], layer_relevance: float, mix: bool) -> list[dict]:
    """Per visualized image (same order as `relevant_objectives`): {"filter", "relevance" R_c,
    "relevance_share" R_c / sum_all R (None when the layer's sum is 0), "mix_weight" R_c / sum_chosen R}; with `mix`
    and several filters, a last entry for the mix (filter None: the sums, weight 1)."""
    chosen_total = sum(r for _, r in chosen)

    def share(r: float) -> float | None:
        return r / layer_relevance if layer_relevance else None

    entries = [
        {"filter": c, "relevance": r, "relevance_share": share(r), "mix_weight": r / chosen_total} for c, r in chosen
    ]
    if mix and len(chosen) > 1:
        entries.append(
            {"filter": None, "relevance": chosen_total, "relevance_share": share(chosen_total), "mix_weight": 1.0}
        )
    return entries


def add_relevance(result: dict, chosen: list[tuple[int, float]], details: dict, mix: bool) -> dict:
    """Put each visualized filter's relevance (`relevance_entries`) into the visualize JSON `result` (its
    `images` follow the objectives) and `details` under `relevant`; returns `result`."""
    for entry, relevance in zip(result["images"], relevance_entries(chosen, details["layer_relevance"], mix)):
        entry.update(relevance)
    result["relevant"] = details
    return result


def relevant_objectives(
    subject: Subject, image_path: Path, layer: str, top: int, mix: bool = False, details: dict | None = None
) -> tuple[list[O.Objective], list[tuple[int, float]]]:
    """One channel objective per relevant filter (`relevant_filters`, Deep Taylor composite); with `mix`
    and more than one filter, also their relevance-weighted sum sum_n (R_n / sum_m R_m) channel_n.

    Returns:
        (objectives, [(channel, R_c)]).
    Raises:
        As `relevant_filters`.
    References:
        Barsch & Eilertsen 2018, §4.4 and eq. 3.7.
    """
    chosen = relevant_filters(subject, image_path, layer, top, details=details)
    units = [O.channel(layer, c) for c, _ in chosen]
    if mix and len(units) > 1:
        total = sum(r for _, r in chosen)
        units.append(O.mix(units, [r / total for _, r in chosen]))
    return units, chosen


def unit_relevance(
    explainer: LRP, images: torch.Tensor, units: Sequence[tuple[str, int]], target: int | None = None
) -> torch.Tensor:
    """Relevance-maximization scores of units for a batch of images.

    R_c(x) = sum over positions of the relevance of unit c's layer output for image x, explained for `target` by the
    explainer's composite: the concept's relevance R(theta | x) for the prediction, summed over the channel's
    positions. Summed over a layer's units, the scores are the part of the explained logit that reaches that layer
    (biases above it absorb the rest; the attribute recipe's conservation trace shows how much), so R_c reads as the
    unit's share of the evidence.

    Args:
        explainer: the LRP explainer.
        images: [N, 3|1, H, W] in [0, 1].
        units: [(layer, channel)].
        target: the class explained (default: each image's predicted class).
    Returns:
        Scores [N, U] (float32, CPU; units of the explained logit).
    Raises:
        ConvscopeError: as `LRP.explain` (a target out of range, relevance float32 cannot hold, ...).
    References:
        Achtibat et al. 2023, "From attribution maps to human-understandable explanations through Concept Relevance
        Propagation", relevance maximization.
    """
    layers = list(dict.fromkeys(layer for layer, _ in units))
    result = explainer.explain(images, target, layers=layers)
    per_layer = {}
    for layer in layers:
        relevance = result.layers[layer].detach().float()
        per_layer[layer] = relevance.flatten(2).sum(2) if relevance.dim() > 2 else relevance  # [N, C]
    return torch.stack([per_layer[layer][:, c] for layer, c in units], dim=1).cpu()
