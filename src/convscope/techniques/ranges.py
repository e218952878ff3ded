"""Observed activation ranges of units over a dataset: how far a unit's activation goes on real images.

The quantity is the one the inverse set constrains and feature visualization maximizes: a unit's activation
a_c(x) = mean over space of channel c of its layer (for [N, C] outputs such as `logits`, the value itself;
`objectives.channel`, Barsch & Eilertsen 2018 eq. 3.2). One streaming pass over the dataset scores every image for
every unit (`examples.unit_scores`) and summarizes each unit by its minimum, 5th, 50th and 95th percentiles,
maximum and mean: the ranges [z1, z2] an inverse set can be asked for with real images inside them (Hada &
Carreira-Perpiñán 2020, §4 choose their ranges from the unit's observed values in the same way).

References:
    Hada & Carreira-Perpiñán 2020, "Sampling the 'inverse set' of a neuron" (seed 002), §4 (ranges of a unit's
    activation). Barsch & Eilertsen 2018 (seed 001), eq. 3.2 (the channel's mean activation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.progress import Progress
from ..core.subject import Subject
from .examples import Unit, check_units, unit_scores

#: the percentiles reported (besides the minimum and the maximum)
PERCENTILES = (5, 50, 95)


@dataclass(frozen=True)
class UnitRange:
    """One unit's activation over the images read: `low` (minimum), `p5`, `p50` (median), `p95`, `high`
    (maximum) and `mean`, in activation units; `layer` (resolved name) and `unit` (channel)."""

    layer: str
    unit: int
    low: float
    p5: float
    p50: float
    p95: float
    high: float
    mean: float

    @property
    def name(self) -> str:
        """`layer:unit`."""
        return f"{self.layer}:{self.unit}"


@dataclass(frozen=True)
class RangeScan:
    """The ranges of every unit (`ranges`, in the order asked) and the number of images read (`images`)."""

    ranges: list[UnitRange]
    images: int


def summarize(scores: torch.Tensor) -> list[tuple[float, float, float, float, float, float]]:
    """Per column of `scores` [N, U] (N >= 1): (min, p5, p50, p95, max, mean), computed in float64.

    Percentiles interpolate linearly between the order statistics (`torch.quantile`'s default, numpy's `linear`):
    the q-th percentile of sorted values v_0 .. v_{N-1} is v at position q/100 x (N - 1).

    Raises:
        ConvscopeError: no rows.
    """
    if scores.dim() != 2 or len(scores) == 0:
        raise ConvscopeError("no scores to summarize")
    values = scores.double()
    q = torch.tensor([p / 100 for p in PERCENTILES], dtype=torch.float64)
    quantiles = torch.quantile(values, q, dim=0)  # [3, U]
    rows = torch.stack([values.amin(0), *quantiles, values.amax(0), values.mean(0)], dim=1)  # [U, 6]
    return [tuple(row) for row in rows.tolist()]


def unit_ranges(
    subject: Subject,
    dataset: ImageDataset,
    units: Sequence[Unit],
    *,
    batch_size: int = 32,
    limit: int | None = None,
    progress: Progress | None = None,
) -> RangeScan:
    """The observed activation range of each unit over a dataset, in one pass (no gradients).

    Args:
        subject: the model under study.
        dataset: the images (`core.data.open_dataset`), read at the model's input size.
        units: [(layer, channel)]; a unit's activation is its channel's mean over space (the value itself for
            [N, C] outputs), in activation units.
        batch_size: images per forward (>= 1).
        limit: read only the first `limit` images in dataset order (default: all).
        progress: `progress("images", done, total)` after each batch (a cancel point of a run).
    Returns:
        RangeScan: per unit min, p5, p50, p95, max, mean (`summarize`), and the images read (unreadable files
        are skipped into `dataset.skipped`).
    Raises:
        ConvscopeError: no units, limit < 1, or no readable image. UnknownLayerError, ChannelError: a bad unit.
    References:
        Hada & Carreira-Perpiñán 2020, §4; Barsch & Eilertsen 2018, eq. 3.2.
    """
    if limit is not None and limit < 1:
        raise ConvscopeError(f"limit must be at least 1, got {limit}")
    units = check_units(subject, units)
    indices = None if limit is None or limit >= len(dataset) else list(range(limit))
    scores = [unit_scores(subject, images, units) for images, _ in dataset.batches(batch_size, indices, progress)]
    if not scores:
        raise ConvscopeError(f"no readable image in dataset {dataset.name}")
    table = torch.cat(scores)
    ranges = [UnitRange(layer, c, *row) for (layer, c), row in zip(units, summarize(table))]
    return RangeScan(ranges, len(table))
