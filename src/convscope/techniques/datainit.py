"""Data-initialized activation maximization ("Algorithm for calculating the maximising image").

    1. x <- the dataset image on which the objective a(x) is highest
    2. for a fixed number of steps:  x <- clip(x + eps * da/dx, 0, 1),  eps = 0.01 / max|da/dx|
       (the step is bounded so that no pixel moves by more than 1% of the [0, 1] range)
    3. optionally, x_v <- 1 if x_v > threshold else 0  (the paper uses threshold = 0.9)

Much faster than optimizing from noise (the paper reports ~100x): the start already excites the unit.

References:
    "Visualisation of maximising images for deep neural networks" (seed 004; the source gives no authors or
    date), §4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.progress import Progress
from ..core.subject import Subject
from .objectives import Objective

MAX_PIXEL_STEP = 0.01  # 1% of the [0, 1] range


@dataclass
class DataInitResult:
    """One objective's result: `start_index` (dataset index) and `start_activation` of the best dataset
    image, the final `image` [C, H, W] in [0, 1], its `activation`, and `history`, the objective before each step
    and at the end (steps + 1 values; objective units, e.g. the channel's mean activation)."""

    start_index: int  # dataset index of the starting image
    start_activation: float
    image: torch.Tensor  # [C, H, W] in [0, 1]
    activation: float
    history: list[float]


def best_images(
    subject: Subject,
    dataset: ImageDataset,
    objectives: Sequence[Objective],
    batch_size: int = 32,
    progress: Progress | None = None,
) -> list[tuple[int, float]]:
    """For each objective, the dataset image that maximizes it, in one streaming pass (no gradients).

    Args:
        objectives: each scores a batch [N] (its layers are captured once for all).
        batch_size: images per forward.
        progress: `progress("images", done, total)` after each batch.
    Returns:
        [(dataset index, score)], one per objective, in objective units.
    Raises:
        ConvscopeError: no readable image in the dataset.
    """
    layers = list(dict.fromkeys(layer for o in objectives for layer in o.layers))
    best = [(-1, float("-inf"))] * len(objectives)
    for images, indices in dataset.batches(batch_size, progress=progress):
        with torch.no_grad():
            acts = subject.capture(images, layers)
            scores = [o(acts).cpu() for o in objectives]
        for n, score in enumerate(scores):
            value, where = score.max(dim=0)
            if float(value) > best[n][1]:
                best[n] = (indices[int(where)], float(value))
    if best and best[0][0] < 0:
        raise ConvscopeError(f"no readable image in dataset {dataset.name}")
    return best


def ascend(
    subject: Subject,
    start: torch.Tensor,
    objective: Objective,
    steps: int = 32,
    threshold: float | None = None,
    progress: Progress | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Steps 2-3 of the module docstring from `start`: bounded gradient ascent, then optional thresholding.

    Args:
        start: the starting image [C, H, W] in [0, 1].
        objective: the score to maximize (summed over the batch of one).
        steps: gradient steps (>= 0); each moves no pixel by more than MAX_PIXEL_STEP = 0.01.
        threshold: binarize x > threshold to 1, else 0 (in [0, 1]); None: no thresholding.
        progress: `progress("steps", done, steps)` after each step (it may raise to stop).
    Returns:
        (image [C, H, W] in [0, 1], the objective before each step and at the end).
    Raises:
        ConvscopeError: steps < 0 or a threshold outside [0, 1].
    References:
        "Visualisation of maximising images for deep neural networks", §4.
    """
    if steps < 0:
        raise ConvscopeError(f"steps must be >= 0, got {steps}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise ConvscopeError(f"threshold must be in [0, 1], got {threshold}")
    layers = list(objective.layers)
    x = start.detach().float()[None].clone()
    history = []
    for _ in range(steps):
        x.requires_grad_(True)
        score = objective(subject.capture(x, layers)).sum()
        (grad,) = torch.autograd.grad(score, x)
        history.append(float(score.detach()))
        with torch.no_grad():
            x = (x + MAX_PIXEL_STEP * grad / grad.abs().max().clamp_min(1e-12)).clamp(0, 1)
        if progress is not None:
            progress("steps", len(history), steps)
    if threshold is not None:
        x = (x > threshold).float()
    with torch.no_grad():
        history.append(float(objective(subject.capture(x, layers)).sum()))
    return x[0].detach(), history


def data_init(
    subject: Subject,
    dataset: ImageDataset,
    objectives: Sequence[Objective],
    *,
    steps: int = 32,
    threshold: float | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> list[DataInitResult]:
    """Data-initialized activation maximization for every objective: start from its best dataset image,
    ascend with bounded steps.

    Args:
        subject: the model under study.
        dataset: the images to start from (`core.data.open_dataset`).
        objectives: what to maximize, one result each.
        steps, threshold: as `ascend`.
        batch_size: images per forward in the scan.
        progress: ("images", done, total) during the scan, then ("steps", done, objectives x steps).
    Returns:
        [DataInitResult], one per objective.
    Raises:
        ConvscopeError: no readable image, steps < 0, or a threshold outside [0, 1].
    References:
        "Visualisation of maximising images for deep neural networks", §4 ("Algorithm for calculating the
        maximising image"); activation maximization as in Erhan et al. 2009, "Visualizing higher-layer features of
        a deep network".
    """
    results = []
    starts = best_images(subject, dataset, objectives, batch_size, progress)
    for n, (objective, (index, score)) in enumerate(zip(objectives, starts)):
        report = (
            None
            if progress is None
            else lambda _, done, __, n=n: progress("steps", n * steps + done, len(objectives) * steps)
        )
        image, history = ascend(subject, dataset.load(index), objective, steps, threshold, report)
        results.append(DataInitResult(index, score, image, history[-1], history))
    return results
