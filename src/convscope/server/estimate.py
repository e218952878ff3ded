"""How long a run should take (POST /api/runs/estimate), from the journal of past jobs: the median seconds per unit
of work of the finished runs of the same recipe on the same model (and dataset, for the recipes that scan one),
times the work of the new spec. A unit of work is what the run's time grows with: an optimization step for the
visualizations (times the batches of images for `visualize`, the octaves for `dream`, the clusters for `facets`),
a unit's visualization step for an atlas, and one whole run for the others.

Fallbacks, stated in `basis`: a spec the result store holds takes 0 s (it is answered at once); without a past run
on the same model, the runs of the recipe on other models give a rough figure; without any, `seconds` is null."""

from __future__ import annotations

import math
import statistics
from typing import Any

from pydantic import BaseModel, Field

#: the recipes whose time depends on the dataset they scan: only past runs on the same dataset count
DATASET_RECIPES = {"examples", "selectivity", "facets", "evaluate", "unit-ranges", "atlas"}


class LastJob(BaseModel):
    job: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    created: float


class Estimate(BaseModel):
    seconds: float | None = Field(description="the expected run time in seconds; null when nothing to go by")
    basis: str = Field(description="what the figure rests on, in words")
    work: float = Field(description="the spec's units of work")
    unit: str = Field(description="the unit of work (step, run ...)")
    runs: int = Field(description="past runs the rate was taken from (0: none)")
    stored: bool = Field(description="the result store holds this spec: it is answered at once")
    last: LastJob | None = Field(None, description="the latest job of this very spec (same key), if any")


def _count(text: str | None) -> int | None:
    """Channels or layers written as "0-3,7" or "a,b" -> how many; None for `all` or anything unreadable."""
    if not text or text.strip() == "all":
        return None
    total = 0
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if dash and low.isdigit() and high.isdigit():
            total += max(0, int(high) - int(low) + 1)
        else:
            total += 1
    return total or None


def work_of(recipe: str, spec: dict[str, Any]) -> tuple[float, str]:
    """The units of work of a run of `recipe` on `spec` (a spec as JSON): (amount, unit)."""
    steps = spec.get("steps")
    if recipe == "visualize":
        if spec.get("mix"):
            images = 1
        else:
            chosen = spec.get("channels") or spec.get("classes")
            images = (
                len(chosen) if chosen else spec.get("top", 4) if spec.get("relevant") else spec.get("batch_size", 8)
            )
        batches = math.ceil(images / max(1, spec.get("batch_size") or 8))
        return float((steps or 256) * batches), "step"
    if recipe == "dream":
        return float((steps or 10) * (spec.get("octaves") or 4)), "step"
    if recipe == "facets":
        return float((steps or 100) * (spec.get("k") or 10)), "facet step"
    if recipe == "inverse-set":
        return float((spec.get("inner_steps") or 100) * (spec.get("max_outer") or 6)), "step"
    if recipe == "atlas":
        layers, channels = _count(spec.get("layers")), _count(spec.get("channels"))
        return float((steps or 256) * (layers or 1) * (channels or 1)), "unit step"
    return 1.0, "run"


def _same(recipe: str, a: dict, b: dict, dataset: bool) -> bool:
    if (a.get("model") or {}).get("spec") != (b.get("model") or {}).get("spec"):
        return False
    return not dataset or recipe not in DATASET_RECIPES or a.get("dataset") == b.get("dataset")


def _seconds(x: float) -> str:
    return f"{x:.3g} s" if x < 100 else f"{x / 60:.1f} min"


def estimate(recipe: str, spec: dict[str, Any], key: str, records: list[dict], *, stored: bool, model: str) -> Estimate:
    """The estimate of a run of `spec` (as JSON, key `key`) from journal records (JobJournal.list: recipe, key,
    spec, state, started, ended, from_store); `stored`: the store holds the key; `model` names the model in words."""
    work, unit = work_of(recipe, spec)
    mine = [r for r in records if r["key"] == key]
    latest = max(mine, key=lambda r: r["created"]) if mine else None
    last = LastJob(job=latest["id"], status=latest["state"], created=latest["created"]) if latest else None
    if stored:
        return Estimate(
            seconds=0.0,
            basis="stored: the result store answers this spec at once",
            work=work,
            unit=unit,
            runs=0,
            stored=True,
            last=last,
        )
    timed = [
        r
        for r in records
        if r["recipe"] == recipe and r["state"] == "done" and not r["from_store"] and r["started"] and r["ended"]
    ]
    where = f" of {recipe} on {model}"
    runs = [r for r in timed if _same(recipe, r["spec"], spec, dataset=True)]
    if not runs:
        runs = [r for r in timed if r["spec"].get("model") == spec.get("model")]  # another dataset
        where = f" of {recipe} on {model} (other datasets: a rough guide)"
    if not runs:
        runs = timed
        where = f" of {recipe} on other models (a rough guide)"
    if not runs:
        return Estimate(
            seconds=None,
            basis=f"no past run of {recipe} to go by: no estimate",
            work=work,
            unit=unit,
            runs=0,
            stored=False,
            last=last,
        )
    rates = [(r["ended"] - r["started"]) / work_of(recipe, r["spec"])[0] for r in runs]
    rate = statistics.median(rates)
    per = f"{_seconds(rate)} per {unit}" if unit != "run" else f"{_seconds(rate)} per run"
    many = f"{len(runs)} past run{'s' if len(runs) > 1 else ''}"
    amount = f" x {work:g} {unit}s" if unit != "run" else ""
    return Estimate(
        seconds=rate * work,
        basis=f"median of {many}{where}: {per}{amount}",
        work=work,
        unit=unit,
        runs=len(runs),
        stored=False,
        last=last,
    )
