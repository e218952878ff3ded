"""The faithfulness recipe: one image, one attribution method (any of the attribute recipe's, with its options), and
beside its heatmap the numbers that say whether to believe it: region perturbation (MoRF / LeRF curves, AOPC, the
area between them), ROAD, faithfulness correlation, the randomisation sanity check and completeness, with their
definitions, papers and timings (issue 25; docs/attribution.md)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from typing_extensions import TypedDict

from ..core.images import tensor_to_pil
from ..techniques.attribution import faithfulness as fa
from ..techniques.attribution.randomisation import cascading_randomisation
from ..techniques.attribution.report import attribute, heatmap_values, is_signed
from .attribute import (
    MAGNITUDE,
    ROBUST,
    Explained,
    MapScale,
    Method,
    MethodOptions,
    Target,
    map_display,
    spelled_target,
)
from .base import ImagePath, ModelRef, Result, RunContext, recipe
from .results import FilePath, Measured, data_model

MetricName = Literal["region-perturbation", "road", "faithfulness-correlation", "randomisation", "completeness"]
METRICS: tuple[str, ...] = MetricName.__args__

#: each number's definition and paper, as the result states them
DEFINITIONS = {
    "abpc": (
        "area between the LeRF and MoRF curves of region perturbation, (AOPC_MoRF - AOPC_LeRF) / |f(x)|",
        "Samek et al. 2017, Evaluating the visualization of what a deep neural network has learned, eq. 12",
        "higher",
    ),
    "aopc_morf": (
        "AOPC, most relevant first: mean over the steps of f(x) - f(x with the top patches replaced)",
        "Samek et al. 2017, eq. 12",
        "higher",
    ),
    "aopc_lerf": (
        "AOPC, least relevant first: mean over the steps of f(x) - f(x with the bottom patches replaced)",
        "Samek et al. 2017, eq. 12",
        "lower",
    ),
    "road_combined": (
        "ROAD: (mean LeRF score - mean MoRF score) / 2 over the percentages, pixels filled by noisy linear imputation",
        "Rong, Leemann, Borisov, Kasneci & Kasneci 2022, A Consistent and Efficient Evaluation Strategy for "
        "Attribution Methods, eq. 4-5",
        "higher",
    ),
    "faithfulness_correlation": (
        "Pearson correlation over random subsets between the subset's summed attribution and the output drop",
        "Bhatt, Weller & Moura 2020, Evaluating and aggregating feature-based model explanations, eq. 2",
        "higher",
    ),
    "randomisation_spearman": (
        "Spearman rank correlation of |map| with the original after randomizing every layer from the top",
        "Adebayo et al. 2018, Sanity Checks for Saliency Maps, Fig. 2",
        "lower",
    ),
    "randomisation_ssim": (
        "SSIM of |map| / max with the original after randomizing every layer from the top",
        "Adebayo et al. 2018, Sanity Checks for Saliency Maps, Fig. 2; Wang et al. 2004 (SSIM)",
        "lower",
    ),
    "conservation": (
        "sum of the input attribution / f(x) (1: the map accounts for the whole output)",
        "Montavon et al. 2017, Explaining nonlinear classification decisions with deep Taylor decomposition",
        "closer to 1",
    ),
    "completeness": (
        "sum of the input attribution / (f(x) - f(baseline image))",
        "Sundararajan, Taly & Yan 2017, Axiomatic attribution for deep networks, §2",
        "closer to 1",
    ),
}


class FaithfulnessSpec(MethodOptions):
    """Measure how faithful one attribution method's heatmap of one image is (the method's options as `attribute`'s;
    `seed` also seeds the metrics' random subsets, noise and uniform baseline)."""

    model: ModelRef = ModelRef()
    image: ImagePath
    method: Method = "saliency"
    target: Target = Field(
        None,
        description="what the map explains and the metrics watch: a class index (default: the predicted class), a "
        "hidden channel LAYER:CHANNEL (its spatial mean activation) or one position of its map LAYER:CHANNEL@Y,X",
    )
    metrics: list[MetricName] = Field(list(METRICS), min_length=1, description="the metrics to compute")
    score: Literal["logit", "probability"] = Field("logit", description="the target's score the metrics watch")
    baseline: Literal["black", "mean", "blur", "uniform"] = Field(
        "black", description="what replaces removed pixels (region perturbation, correlation, completeness)"
    )
    region: int = Field(8, ge=1, le=4096, description="region perturbation: patch side in pixels")
    region_steps: int = Field(32, ge=1, le=4096, description="region perturbation: steps of each curve")
    percentages: list[Annotated[float, Field(gt=0, lt=100)]] = Field(
        [10, 20, 30, 40, 50, 60, 70, 80, 90], min_length=1, description="ROAD: shares of the pixels removed (%)"
    )
    road_noise: float = Field(0.01, ge=0, le=1, description="ROAD: the imputation noise's std")
    runs: int = Field(100, ge=2, le=10000, description="faithfulness correlation: random subsets")
    subset: int = Field(224, ge=1, description="faithfulness correlation: input entries per subset")
    points: int = Field(8, ge=1, le=1000, description="randomisation: points of the curve")

    _spelled_target = field_validator("target")(classmethod(lambda cls, value: spelled_target(value)))

    @field_validator("score")
    @classmethod
    def _unit_scores_its_activation(cls, value: str, info: ValidationInfo) -> str:
        target = info.data.get("target")
        if value == "probability" and isinstance(target, str) and not target.startswith("logits:"):
            raise ValueError(f"probability is a class's softmax; the hidden unit {target} is scored by its activation")
        return value


@data_model
class MetricValue(TypedDict):
    """One number with its meaning."""

    name: Annotated[str, Field(description="the number's name")]
    value: Annotated[Measured, Field(description="its value (null: undefined, e.g. a constant map)")]
    definition: Annotated[str, Field(description="what it measures")]
    paper: Annotated[str, Field(description="where it comes from")]
    better: Annotated[str, Field(description="which direction means more faithful: higher, lower, closer to 1")]


@data_model
class RegionCurves(TypedDict):
    """Region perturbation: the target's score as patches are replaced by the baseline."""

    fractions: Annotated[list[float], Field(description="share of the patches removed at each step (0..1)")]
    morf: Annotated[list[float], Field(description="score, most relevant patches first")]
    lerf: Annotated[list[float], Field(description="score, least relevant patches first")]
    original: Annotated[float, Field(description="f(x), the unperturbed score")]
    aopc_morf: Annotated[float, Field(description="mean of f(x) - morf")]
    aopc_lerf: Annotated[float, Field(description="mean of f(x) - lerf")]
    abpc: Annotated[Measured, Field(description="(aopc_morf - aopc_lerf) / |f(x)|")]
    patch: Annotated[int, Field(description="patch side (px)")]
    patches: Annotated[int, Field(description="patches on the grid")]


@data_model
class RoadResult(TypedDict):
    """ROAD: the score with the most / least relevant pixels imputed."""

    percentages: Annotated[list[float], Field(description="shares of the pixels removed (%)")]
    morf: Annotated[list[float], Field(description="score, most relevant pixels removed")]
    lerf: Annotated[list[float], Field(description="score, least relevant pixels removed")]
    morf_correct: Annotated[list[bool], Field(description="the target still predicted (MoRF; empty for a unit)")]
    lerf_correct: Annotated[list[bool], Field(description="the target still predicted (LeRF; empty for a unit)")]
    original: Annotated[float, Field(description="f(x)")]
    combined: Annotated[float, Field(description="(mean lerf - mean morf) / 2")]
    noise: Annotated[float, Field(description="the imputation noise's std")]


@data_model
class CorrelationResult(TypedDict):
    """Faithfulness correlation: the pairs it correlates."""

    pearson: Annotated[Measured, Field(description="Pearson of attribution_sums and drops")]
    attribution_sums: Annotated[list[float], Field(description="the map summed over each random subset")]
    drops: Annotated[list[float], Field(description="f(x) - f(x with the subset replaced)")]
    subset: Annotated[int, Field(description="entries per subset")]
    runs: Annotated[int, Field(description="subsets")]


@data_model
class RandomisationResult(TypedDict):
    """Cascading randomization from the top: similarity of the map to the original."""

    layers: Annotated[list[str], Field(description="the last layer randomized at each point")]
    randomized: Annotated[list[int], Field(description="layers randomized at each point")]
    spearman: Annotated[list[Measured], Field(description="Spearman of |map| with the original")]
    ssim: Annotated[list[Measured], Field(description="SSIM of |map| / max with the original")]
    total: Annotated[int, Field(description="the randomisable layers")]
    seed: Annotated[int, Field(description="torch seed of the re-initialization (+1, as Quantus)")]


@data_model
class CompletenessResult(TypedDict):
    """The map's sum against the output it explains (the logit whatever `score`; a hidden unit: its activation)."""

    total: Annotated[float, Field(description="sum of the input attribution")]
    output: Annotated[float, Field(description="f(x), the logit (a hidden unit: its activation)")]
    baseline_output: Annotated[float, Field(description="f(baseline image), as `output`")]
    of_output: Annotated[Measured, Field(description="total / f(x)")]
    of_difference: Annotated[Measured, Field(description="total / (f(x) - f(baseline))")]


@data_model
class Timings(TypedDict):
    """Wall times (s)."""

    explanation: Annotated[float, Field(description="the attribution method on the image")]
    metrics: Annotated[dict[str, float], Field(description="each metric")]


@data_model
class FaithfulnessData(Explained):
    """The `faithfulness` recipe's data."""

    score: Annotated[
        Literal["logit", "probability"],
        Field(description="the score the curves show (`logit` for a hidden unit: its activation score)"),
    ]
    baseline: Annotated[str, Field(description="what replaced removed pixels")]
    heatmap: Annotated[FilePath, Field(description="the map the metrics rank (PNG)")]
    scale: Annotated[MapScale, Field(description="the colours of `heatmap`")]
    input: Annotated[FilePath, Field(description="the image as the model saw it (PNG)")]
    metrics: Annotated[list[MetricValue], Field(description="each number with its definition and paper")]
    region_perturbation: Annotated[RegionCurves | None, Field(description="null: not asked for")]
    road: Annotated[RoadResult | None, Field(description="null: not asked for")]
    faithfulness_correlation: Annotated[CorrelationResult | None, Field(description="null: not asked for")]
    randomisation: Annotated[RandomisationResult | None, Field(description="null: not asked for")]
    completeness: Annotated[CompletenessResult | None, Field(description="null: not asked for")]
    timings: Timings
    json: Annotated[FilePath, Field(description="this data as a JSON file")]


def _value(name: str, value: float | None) -> MetricValue:
    definition, paper, better = DEFINITIONS[name]
    return MetricValue(name=name, value=value, definition=definition, paper=paper, better=better)


@recipe(
    "faithfulness",
    1,
    FaithfulnessSpec,
    FaithfulnessData,
    "faithfulness of an attribution heatmap: region perturbation, ROAD, faithfulness correlation, "
    "the randomisation sanity check and completeness",
)
def run_faithfulness(spec: FaithfulnessSpec, ctx: RunContext) -> Result[FaithfulnessData]:
    """Explain one image with `method` and measure the map (`techniques.attribution.faithfulness`, `randomisation`).

    The map ranked by region perturbation and ROAD is the one the attribute recipe shows (summed over colour
    channels; max |gradient| for saliency, guided-backprop, deconvnet); faithfulness correlation and completeness
    use the input attribution's every entry. Scores are the target's logit (or probability, `score`; completeness
    always compares the map with the logit, which it explains); for a hidden
    unit (`target` LAYER:CHANNEL[@Y,X]) its activation score, and randomisation re-initializes only the layers
    below the unit.

    Args:
        spec: image, method and its options (as `attribute`), `metrics`, `score`, `baseline`, region perturbation
            `region` (px) / `region_steps`, ROAD `percentages` / `road_noise`, correlation `runs` / `subset`,
            randomisation `points`, `seed`.
        ctx: reports ("randomisation", done, total); writes `<stem>_map.png`, `<stem>_image.png` and `<stem>.json`
            (stem: `<image stem>_<method>_faithfulness`).

    Returns:
        `FaithfulnessData`: the numbers with their definitions and papers (`metrics`), each metric's curves, timings.

    Raises:
        ConvscopeError: a bad target (unknown layer, channel or position out of range; `probability` with a
            hidden unit), layer, patch, subset or percentage, or as the method; ImageError for an unreadable image.

    References:
        Samek et al. 2017 (region perturbation, AOPC); Rong et al. 2022 (ROAD); Bhatt et al. 2020 (faithfulness
        correlation); Adebayo et al. 2018 (randomisation); Sundararajan et al. 2017 and Montavon et al. 2017
        (completeness, conservation).
    """
    options = spec.method_options()
    method = spec.method

    def explain(subject, image, target):
        result = attribute(subject, image, method, target, None, **options)
        return heatmap_values(result.input[0], result.info.get("reduce", "sum"))

    times: dict[str, float] = {}
    data: dict = {name.replace("-", "_"): None for name in METRICS}
    values: list[MetricValue] = []
    with ctx.subject(spec.model) as subject:
        image = subject.load_image(spec.image, spec.fit)
        started = time.perf_counter()
        result = attribute(subject, image, method, spec.target, None, **options)
        explanation = time.perf_counter() - started
        unit = getattr(result, "unit", None)
        target = fa.checked_target(subject, unit, spec.score) if unit else int(result.target[0])
        label = unit if unit else subject.label(target)
        shown = heatmap_values(result.input[0], result.info.get("reduce", "sum"))
        common = dict(score=spec.score)
        for name in [m for m in METRICS if m in spec.metrics]:
            ctx.check_cancel()
            started = time.perf_counter()
            if name == "region-perturbation":
                curves = fa.region_perturbation(
                    subject,
                    image,
                    shown,
                    target,
                    patch=spec.region,
                    steps=spec.region_steps,
                    baseline=spec.baseline,
                    seed=spec.seed,
                    **common,
                )
                found = {k: v for k, v in asdict(curves).items() if k not in ("score", "baseline")}
                values += [_value(k, found[k]) for k in ("abpc", "aopc_morf", "aopc_lerf")]
            elif name == "road":
                found = asdict(
                    fa.road(
                        subject,
                        image,
                        shown,
                        target,
                        percentages=tuple(spec.percentages),
                        noise=spec.road_noise,
                        seed=spec.seed,
                        **common,
                    )
                )
                found.pop("score")
                values.append(_value("road_combined", found["combined"]))
            elif name == "faithfulness-correlation":
                found = asdict(
                    fa.faithfulness_correlation(
                        subject,
                        image,
                        result.input[0],
                        target,
                        subset=spec.subset,
                        runs=spec.runs,
                        baseline=spec.baseline,
                        seed=spec.seed,
                        **common,
                    )
                )
                values.append(_value("faithfulness_correlation", found["pearson"]))
            elif name == "randomisation":
                curve = cascading_randomisation(
                    subject, image, explain, target, points=spec.points, original=shown, progress=ctx.progress
                )
                found = asdict(curve)
                values += [_value("randomisation_spearman", curve.spearman[-1])]
                values += [_value("randomisation_ssim", curve.ssim[-1])]
            else:  # against the logit whatever `score`: the map explains the logit (a unit: its activation)
                found = asdict(
                    fa.completeness(subject, image, result.input[0], target, baseline=spec.baseline, seed=spec.seed)
                )
                values += [_value("conservation", found["of_output"]), _value("completeness", found["of_difference"])]
            times[name] = round(time.perf_counter() - started, 4)
            data[name.replace("-", "_")] = found
    stem = f"{Path(spec.image).stem}_{method}_faithfulness"
    map_png, seen_png = ctx.path(f"{stem}_map.png"), ctx.path(f"{stem}_image.png")
    signed = False if method in MAGNITUDE else is_signed(result, shown)
    picture, scale = map_display(shown, signed, method in ROBUST)
    picture.save(map_png)
    tensor_to_pil(image[0]).save(seen_png)
    output = float(result.output[0])
    summary = dict(
        image=spec.image,
        method=method,
        target=int(result.target[0]),
        label=label,
        **({"unit": unit} if unit else {}),
        output=output,
        score=spec.score,
        baseline=spec.baseline,
        heatmap=str(map_png),
        scale=scale,
        input=str(seen_png),
        metrics=values,
        **data,
        timings=Timings(explanation=round(explanation, 4), metrics=times),
    )
    ctx.write_json(f"{stem}.json", summary)
    return ctx.result("faithfulness", FaithfulnessData(**summary, json=str(ctx.out / f"{stem}.json")))
