"""Filters of a layer ranked by relevance, and the cumulative-relevance curve.

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001), §4.4.2 and Fig. 4.23 (accumulated relevance of a layer's filters).
"""

from __future__ import annotations

import torch


def channel_relevance(relevance: torch.Tensor) -> torch.Tensor:
    """R_c = sum over positions of a layer's relevance [C, ...] (a vector [C] stays as it is): [C],
    in the relevance's units."""
    return relevance.flatten(1).sum(1) if relevance.dim() > 1 else relevance


def rank_filters(relevance: torch.Tensor, top: int = 10) -> dict:
    """Channels of one image's layer relevance sorted by R_c, largest first, and the cumulative curve.

    Args:
        relevance: one image's layer relevance [C, ...] (or [C]).
        top: how many filters to list.
    Returns:
        {"top_filters": [{"index", "relevance"}] (the `top` largest R_c), "cumulative": C(k) = sum of the k largest
        R_c / sum of all R_c for k = 1..C (zeros when the sum is 0), "filters_for_50_percent",
        "filters_for_90_percent": the smallest k with C(k) >= 0.5 / 0.9, None when never reached or the sum is
        <= 0}.
    References:
        Barsch & Eilertsen 2018, Fig. 4.23.
    """
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
