"""Filters of a layer ranked by relevance, and the cumulative-relevance curve of seed 001 Fig. 4.23."""

from __future__ import annotations

import torch


def channel_relevance(relevance: torch.Tensor) -> torch.Tensor:
    """R_c = sum over positions of a layer's relevance [C, ...] (a vector [C] stays as it is)."""
    return relevance.flatten(1).sum(1) if relevance.dim() > 1 else relevance


def rank_filters(relevance: torch.Tensor, top: int = 10) -> dict:
    """Channels sorted by R_c (largest first): the `top` ones with their scores, and the cumulative curve
    C(k) = sum of the k largest R_c / sum of all R_c (k = 1..C), with the number of filters holding 50 % / 90 %."""
    scores = channel_relevance(relevance.detach().float().cpu())
    order = scores.argsort(descending=True)
    ordered = scores[order].double()
    total = ordered.sum()
    curve = (ordered.cumsum(0) / total) if total != 0 else torch.zeros_like(ordered)

    def filters_for(fraction: float) -> int | None:
        reached = (curve >= fraction).nonzero()
        return int(reached[0]) + 1 if total > 0 and len(reached) else None

    return {
        "top_filters": [{"index": int(i), "relevance": float(scores[i])} for i in order[:top]],
        "cumulative": curve.tolist(),
        "filters_for_50_percent": filters_for(0.5),
        "filters_for_90_percent": filters_for(0.9),
    }
