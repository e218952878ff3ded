"""Relevance-guided feature visualization (seed 001 §4.4): rank a layer's filters by their Deep Taylor relevance
for an image's predicted class, then visualize the top N one by one and (mix) together, weighted by relevance:
objective = sum_n (R_n / sum_m R_m) * mean activation of filter n (seed 001 eq. 3.7 with alpha_n from relevance)."""

from __future__ import annotations

from pathlib import Path

from .. import objectives as O
from ..errors import ConvscopeError
from ..subject import LOGITS, Subject
from .lrp import LRP
from .ranking import channel_relevance


def relevant_filters(subject: Subject, image_path: Path, layer: str, top: int,
                     composite: str = "dtd") -> list[tuple[int, float]]:
    """The `top` filters of `layer` with the largest positive relevance for the image's predicted class."""
    layer = subject.resolve(layer)
    if layer == LOGITS:
        raise ConvscopeError("--relevant needs a hidden layer, not logits (use --class for classes)")
    result = LRP(subject, composite).explain(subject.load_image(image_path), layers=[layer])
    scores = channel_relevance(result.layers[layer][0])
    order = scores.argsort(descending=True)[:top]
    chosen = [(int(c), float(scores[c])) for c in order if scores[c] > 0]
    if not chosen:
        raise ConvscopeError(f"no filter of `{layer}` has positive relevance for this image")
    return chosen


def relevant_objectives(subject: Subject, image_path: Path, layer: str, top: int, mix: bool = False
                        ) -> tuple[list[O.Objective], list[tuple[int, float]]]:
    """One channel objective per relevant filter; with `mix`, also their relevance-weighted sum."""
    chosen = relevant_filters(subject, image_path, layer, top)
    units = [O.channel(layer, c) for c, _ in chosen]
    if mix and len(units) > 1:
        total = sum(r for _, r in chosen)
        units.append(O.mix(units, [r / total for _, r in chosen]))
    return units, chosen
