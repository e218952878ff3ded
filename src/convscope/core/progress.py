"""The one progress convention of every technique (core layer).

A long computation takes `progress: Progress | None` and calls `progress(stage, done, total)` after each unit of
work: `stage` names what is counted ("steps", "images", "seeds", "samples", "training digits model" ...), `done`
of `total` such units are finished (`total` 0 when unknown in advance). The callback may raise to stop the work
between two units: a run's context (convscope.recipes.RunContext.progress) raises `Cancelled` once its cancel
token is set, so every loop that reports progress is a cancel point.

Techniques that build pictures step by step also take `preview: Preview | None` and call `preview(name, image)`
with an intermediate picture (`image` [C, H, W] in [0, 1], detached, on any device) a few times per run
(`preview_due`): live displays show it; nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Progress = Callable[[str, int, int], None]
Preview = Callable[[str, torch.Tensor], None]

#: previews per run: enough to watch an image form, few enough not to cost time (each one is a tensor copy)
PREVIEWS = 8


def preview_due(done: int, total: int, count: int = PREVIEWS) -> bool:
    """Whether step `done` (1-based) of `total` is one of `count` evenly spaced preview points.

    Returns:
        True every max(1, total // count) units and always at the last one (done == total).
    """
    return done == total or done % max(1, total // count) == 0


def part(progress: Progress | None, stage: str, start: int, total: int) -> Progress | None:
    """The progress callback of one part of a larger run.

    Args:
        progress: the whole run's callback, or None.
        stage: the stage name reported for every call.
        start: units of the whole run done before this part (e.g. objective n of N, `steps` each: n * steps).
        total: units of the whole run.
    Returns:
        A callback reporting the part's `done` as `(stage, start + done, total)`; None when `progress` is None.
    """
    if progress is None:
        return None
    return lambda _stage, done, _total: progress(stage, start + done, total)
