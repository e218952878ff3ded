"""The inverse-set recipe (seed 002): diverse images whose activations lie in given ranges, intersections of
several units' inverse sets, contact sheets per activation band."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..units import parse_unit_range
from .base import ModelRef, Result, RunContext, Spec, recipe


class InverseSetSpec(Spec):
    """Sample the inverse set of one unit (or the intersection of several): seed 002, eq. (6) / (14) / (15)."""

    model: ModelRef = ModelRef()
    constraints: list[str] = Field(min_length=1, description="LAYER:UNIT:Z1:Z2 each; several: an intersection")
    n: int = Field(500, ge=1, description="samples to generate, seeds included")
    k: int = Field(10, ge=1, description="seeds K, optimized together")
    generator: str = Field("fourier", min_length=1, description="fourier, trained:DATASET or file:PATH")
    encoder_layer: str | None = None
    objective: Literal["diverse", "no-diversity", "code-diversity"] = "diverse"
    baselines: bool = False
    bands: int = Field(4, ge=1)
    animation: bool = False
    inner_steps: int = Field(100, ge=1)
    max_outer: int = Field(6, ge=1)
    lr: float = Field(0.05, gt=0)
    seed: int = 0

    @field_validator("constraints")
    @classmethod
    def _ranges(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            parse_unit_range(value, f"constraints[{i}]")
        return values


@recipe(
    "inverse-set",
    1,
    InverseSetSpec,
    "sample the inverse set of units: diverse images whose activations lie in [Z1, Z2] (intersections with several)",
)
def run_inverse_set(spec: InverseSetSpec, ctx: RunContext) -> Result:
    """{"samples": [{"path", "activations", "band", "inside"}], "diversity" (Table 1), "seed_steps",
    "sampling_steps", "band_sheets", "baselines", ...} (docs/inverse-set.md). Raises InfeasibleRangeError when a
    range cannot be reached in max_outer augmented-Lagrangian iterations."""
    from ..inverse_set import parse_constraint
    from ..inverse_set import run_inverse_set as sample

    constraints = [parse_constraint(text) for text in spec.constraints]
    with ctx.subject(spec.model) as subject:
        output = sample(
            subject,
            constraints,
            ctx.out,
            n=spec.n,
            k=spec.k,
            generator=spec.generator,
            encoder_layer=spec.encoder_layer,
            objective=spec.objective,
            seed=spec.seed,
            baselines=spec.baselines,
            bands=spec.bands,
            animation=spec.animation,
            inner_steps=spec.inner_steps,
            max_outer=spec.max_outer,
            lr=spec.lr,
            progress=lambda stage, done: ctx.progress(stage, done, 0),
        )
    ctx.adopt_tree()
    return ctx.result("inverse-set", output)
