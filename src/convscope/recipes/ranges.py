"""The `unit-ranges` recipe: each unit's observed activation range over a dataset (minimum, 5th / 50th / 95th
percentiles, maximum, mean of its mean-over-space activation), so that an inverse set's [z1, z2] can be chosen
where real images lie (the inverse-set page shows it beside each constraint)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from typing_extensions import TypedDict

from ..core.units import parse_unit
from .base import Result, RunContext, recipe
from .dataset import DatasetSpec, _skipped
from .results import Measured, SkippedFile, data_model


class UnitRangesSpec(DatasetSpec):
    """The observed activation range of units over a dataset (their mean activation over space)."""

    units: list[str] = Field(
        min_length=1, max_length=256, description="LAYER:UNIT each, e.g. logits:3 (the channel's mean over space)"
    )
    limit: int | None = Field(
        None, ge=1, le=10_000_000, description="read only the first LIMIT images, in dataset order (default: all)"
    )

    @field_validator("units")
    @classmethod
    def _units(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            parse_unit(value, f"units[{i}]")  # a UnitSyntaxError is a ValueError: reported at the field
        return values


@data_model
class UnitRange(TypedDict):
    """One unit's activation over the images read (activation units): the channel's mean over space."""

    unit: Annotated[str, Field(description="LAYER:UNIT with the layer as the model names it")]
    layer: Annotated[str, Field(description="the layer, as the model names it")]
    index: Annotated[int, Field(ge=0, description="the channel (or a vector layer's unit)")]
    min: Annotated[Measured, Field(description="the lowest activation seen")]
    p5: Annotated[Measured, Field(description="5th percentile (linear interpolation between order statistics)")]
    p50: Annotated[Measured, Field(description="the median")]
    p95: Annotated[Measured, Field(description="95th percentile")]
    max: Annotated[Measured, Field(description="the highest activation seen")]
    mean: Annotated[Measured, Field(description="the mean over the images")]


@data_model
class UnitRangesData(TypedDict):
    """The `unit-ranges` recipe's data."""

    units: Annotated[list[UnitRange], Field(description="one per unit, in the spec's order")]
    images: Annotated[int, Field(ge=1, description="dataset images read")]
    skipped: Annotated[list[SkippedFile], Field(description="dataset files that could not be read")]


@recipe(
    "unit-ranges",
    1,
    UnitRangesSpec,
    UnitRangesData,
    "each unit's observed activation range on a dataset: min, percentiles 5 / 50 / 95, max, mean",
)
def run_unit_ranges(spec: UnitRangesSpec, ctx: RunContext) -> Result[UnitRangesData]:
    """Each unit's observed activation over a dataset, in one streaming pass (no gradients).

    A unit's activation on an image is its channel's mean over space at the model's input size (the value itself
    for [N, C] outputs such as logits): the quantity an inverse set's constraint LAYER:UNIT:Z1:Z2 bounds and feature
    visualization maximizes. Per unit: min, the 5th / 50th / 95th percentiles (linear interpolation), max, mean.

    Args:
        spec: the dataset (a folder, `digits` or `photos`), `units` (LAYER:UNIT each), `limit` (the first images
            only), `batch_size`, `fit`.
        ctx: reports ("images", done, total) after each batch (a cancel point); writes no file.

    Returns:
        `UnitRangesData`: `units` [{unit, layer, index, min, p5, p50, p95, max, mean}], `images` (read),
        `skipped` [{path, reason}].

    Raises:
        UnknownLayerError / ChannelError: a bad unit. ConvscopeError: a dataset without readable images.
            Cancelled: on a cancel.

    References:
        Hada & Carreira-Perpiñán 2020 (seed 002), §4; Barsch & Eilertsen 2018 (seed 001), eq. 3.2.
    """
    from ..core.data import open_dataset
    from ..techniques.ranges import unit_ranges

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        scan = unit_ranges(
            subject,
            dataset,
            [parse_unit(text, "units") for text in spec.units],
            batch_size=spec.batch_size,
            limit=spec.limit,
            progress=ctx.progress,
        )
    units = [
        UnitRange(
            unit=r.name, layer=r.layer, index=r.unit, min=r.low, p5=r.p5, p50=r.p50, p95=r.p95, max=r.high, mean=r.mean
        )
        for r in scan.ranges
    ]
    return ctx.result("unit-ranges", UnitRangesData(units=units, images=scan.images, skipped=_skipped(dataset)))
