"""Relevance-guided feature visualization (seed 001 §4.4): rank a layer's filters by their Deep Taylor relevance
for an image's predicted class, then visualize the top N one by one and (mix) together, weighted by relevance:
objective = sum_n (R_n / sum_m R_m) * mean activation of filter n (seed 001 eq. 3.7 with alpha_n from relevance).

Also the score of relevance maximization (Achtibat et al. 2023, "From attribution maps to human-understandable
explanations through Concept Relevance Propagation", §"Relevance maximization"): a unit's reference images are
the dataset images in which it carries the most relevance for the explained class, not those in which it is
most active (`unit_relevance`, used by the examples recipe with `by = relevance`)."""

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
    `details` (when given) receives the target, its logit and the layer's total relevance sum_c R_c."""
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
    """Per visualized image (same order as `relevant_objectives`): the filter's relevance R_c, its share of the
    layer's relevance R_c / sum_all R, and its weight in the mix R_c / sum_chosen R (the mix: the sums)."""
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
    """Put each visualized filter's relevance into the visualize JSON (its `images` follow the objectives)."""
    for entry, relevance in zip(result["images"], relevance_entries(chosen, details["layer_relevance"], mix)):
        entry.update(relevance)
    result["relevant"] = details
    return result


def relevant_objectives(
    subject: Subject, image_path: Path, layer: str, top: int, mix: bool = False, details: dict | None = None
) -> tuple[list[O.Objective], list[tuple[int, float]]]:
    """One channel objective per relevant filter; with `mix`, also their relevance-weighted sum."""
    chosen = relevant_filters(subject, image_path, layer, top, details=details)
    units = [O.channel(layer, c) for c, _ in chosen]
    if mix and len(units) > 1:
        total = sum(r for _, r in chosen)
        units.append(O.mix(units, [r / total for _, r in chosen]))
    return units, chosen


def unit_relevance(
    explainer: LRP, images: torch.Tensor, units: Sequence[tuple[str, int]], target: int | None = None
) -> torch.Tensor:
    """Scores [N, U] (float32, CPU; units of the explained logit): R_c(x) = sum over positions of the relevance
    of unit c's layer output for image x, explained for `target` (default: each image's predicted class), by the
    explainer's composite — the relevance-maximization score of Achtibat et al. 2023 (the concept's relevance
    R(theta | x) for the prediction, summed over the channel's positions). Summed over a layer's units, the
    scores are the part of the explained logit that reaches that layer (biases above it absorb the rest; the
    attribute recipe's conservation trace shows how much), so R_c reads as the unit's share of the evidence.
    `images`: [N, 3|1, H, W] in [0, 1].
    Raises ConvscopeError as `LRP.explain` does (TorchScript models, a target out of range, relevance float32
    cannot hold)."""
    layers = list(dict.fromkeys(layer for layer, _ in units))
    result = explainer.explain(images, target, layers=layers)
    per_layer = {}
    for layer in layers:
        relevance = result.layers[layer].detach().float()
        per_layer[layer] = relevance.flatten(2).sum(2) if relevance.dim() > 2 else relevance  # [N, C]
    return torch.stack([per_layer[layer][:, c] for layer, c in units], dim=1).cpu()
