"""The `evaluate` recipe: a model's accuracy on a labelled dataset (top-1 / top-k, per class), its most confused
pairs of classes and the images it gets wrong (seed 001, Table 3.2 and §4.3.5), with every prediction written to
`predictions.csv`."""

from __future__ import annotations

import csv
from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from .base import DatasetRef, ModelRef, Result, RunContext, Spec, recipe
from .results import Measured, data_model


class EvaluateSpec(Spec):
    """Evaluate a classifier on a labelled dataset (ImageFolder layout: one sub-folder per class, named like the
    model's labels or by class index)."""

    model: ModelRef = ModelRef()
    dataset: DatasetRef
    fit: Literal["squash", "crop"] = "squash"
    batch_size: int = Field(32, ge=1, le=1024, description="images per forward pass")
    top_k: int = Field(5, ge=1, le=20, description="k of the top-k accuracy (capped at the number of classes)")
    confusions: int = Field(10, ge=0, le=100, description="how many of the most confused (true, predicted) pairs")
    mapping: dict[str, str] | None = Field(
        None,
        max_length=100_000,
        description="{dataset class: model label name or class index as text}, overriding the name matching",
    )


@data_model
class ClassAccuracy(TypedDict):
    """One dataset class: the model class it was matched to and the accuracy on its images."""

    name: Annotated[str, Field(description="the dataset class (its sub-folder's name)")]
    label: Annotated[int | None, Field(description="the model class index it matched; null: unmatched")]
    label_name: Annotated[str | None, Field(description="that class's label (the index as text without labels)")]
    images: Annotated[
        int, Field(ge=0, description="its images evaluated (unmatched: its image files, listed and not evaluated)")
    ]
    top1: Annotated[float | None, Field(description="top-1 accuracy in [0, 1]; null when none was evaluated")]
    topk: Annotated[float | None, Field(description="top-k accuracy in [0, 1]; null when none was evaluated")]


@data_model
class Confusion(TypedDict):
    """A (true, predicted) pair of model classes with true != predicted."""

    true: Annotated[int, Field(ge=0, description="the true class (model class index)")]
    true_name: Annotated[str, Field(description="its label")]
    predicted: Annotated[int, Field(ge=0, description="the predicted (top-1) class")]
    predicted_name: Annotated[str, Field(description="its label")]
    count: Annotated[int, Field(ge=1, description="images of the true class predicted as this class")]
    fraction: Annotated[float, Field(description="count / the true class's evaluated images, in (0, 1]")]


@data_model
class Misclassified(TypedDict):
    """An image whose top-1 class is not its true class."""

    id: Annotated[str, Field(description="the image's id in the dataset (relative to its folder, or `digits:N`)")]
    true: Annotated[int, Field(ge=0, description="the true class (model class index)")]
    true_name: Annotated[str, Field(description="its label")]
    predicted: Annotated[int, Field(ge=0, description="the predicted (top-1) class")]
    predicted_name: Annotated[str, Field(description="its label")]
    probability: Annotated[Measured, Field(description="softmax probability of the predicted class, in [0, 1]")]
    true_probability: Annotated[Measured, Field(description="softmax probability of the true class, in [0, 1]")]
    true_rank: Annotated[int, Field(ge=2, description="the true class's rank among the scores (1 = best)")]


@data_model
class SkippedImage(TypedDict):
    """A dataset file that could not be read (skipped, never fatal)."""

    id: Annotated[str, Field(description="the file's id in the dataset (relative to its folder)")]
    reason: Annotated[str, Field(description="why it was skipped")]


@data_model
class EvaluateData(TypedDict):
    """The `evaluate` recipe's data."""

    model: Annotated[str, Field(description="the model spec evaluated")]
    dataset: Annotated[str, Field(description="the dataset's name")]
    images: Annotated[int, Field(ge=0, description="labelled images evaluated (of matched classes, readable)")]
    unmatched_images: Annotated[int, Field(ge=0, description="images of unmatched classes (not evaluated)")]
    k: Annotated[int, Field(ge=1, description="the k of the top-k accuracy (top_k capped at the number of classes)")]
    top1: Annotated[float, Field(description="top-1 accuracy: fraction of images whose best class is the true one")]
    topk: Annotated[float, Field(description="top-k accuracy: fraction whose true class is among the k best")]
    classes: Annotated[list[ClassAccuracy], Field(description="per dataset class, in the dataset's order")]
    unmatched: Annotated[list[str], Field(description="dataset classes that match no model class (not evaluated)")]
    confusions: Annotated[
        list[Confusion], Field(description="the most confused pairs: by count (descending), then true, predicted")
    ]
    misclassified: Annotated[list[Misclassified], Field(description="every image classified wrongly, dataset order")]
    skipped: Annotated[list[SkippedImage], Field(description="dataset files that could not be read")]


CSV_COLUMNS = ("id", "true", "true_name", "predicted", "predicted_name", "probability", "correct")


@recipe(
    "evaluate",
    1,
    EvaluateSpec,
    EvaluateData,
    "accuracy of a model on a labelled dataset: top-1 / top-k, per class, confusions, misclassified images",
)
def run_evaluate(spec: EvaluateSpec, ctx: RunContext) -> Result[EvaluateData]:
    """Evaluate a classifier on a labelled dataset, in one streaming pass.

    Dataset classes are matched to the model's labels (`techniques.evaluation.match_classes`: the `mapping`, else
    the label's name, normalized, else an integer folder name as the class index); unmatched classes are listed
    and their images not evaluated. Per image, with scores s in R^K: predicted = the first of torch.topk(s, K),
    top-k correct = the true class among the first k, probabilities = softmax(s) in float32.

    Args:
        spec: the model, the dataset (class sub-folders, or `digits`), `fit`, `batch_size` (1..1024), `top_k`
            (1..20), `confusions` (0..100 pairs listed), `mapping` {dataset class: label name or index}.
        ctx: reports ("images", done, total) after each batch (a cancel point); writes `predictions.csv` (id,
            true, true_name, predicted, predicted_name, probability, correct; one row per evaluated image).

    Returns:
        `EvaluateData`: model, dataset, images, unmatched_images, k, top1, topk (fractions in [0, 1]), classes
        [{name, label, label_name, images, top1, topk}], unmatched, confusions [{true, true_name, predicted,
        predicted_name, count, fraction}], misclassified [{id, true, true_name, predicted, predicted_name,
        probability, true_probability, true_rank}], skipped [{id, reason}].

    Raises:
        ConvscopeError: naming `dataset`: unlabelled, no class matching the model, no readable image; naming
            `mapping`: a key that is no dataset class, a value that is no label or an index out of range; a model
            that is no classifier. Cancelled: on a cancel.

    References:
        Barsch & Eilertsen 2018 (seed 001), Table 3.2 (top-1 / top-5 accuracy) and §4.3.5 (the wrongly classified
        images, explained one by one).
    """
    from ..core.data import open_dataset
    from ..techniques.evaluation import evaluate

    with ctx.subject(spec.model) as subject:
        dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
        result = evaluate(
            subject,
            dataset,
            top_k=spec.top_k,
            mapping=spec.mapping,
            batch_size=spec.batch_size,
            progress=ctx.progress,
        )
    with ctx.path("predictions.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(result.rows())
    per_class = result.per_class()
    output = EvaluateData(
        model=spec.model.spec,
        dataset=dataset.name,
        images=result.images,
        unmatched_images=result.unmatched_images,
        k=result.k,
        top1=result.top1(),
        topk=result.topk(),
        classes=[ClassAccuracy(**row) for row in per_class],
        unmatched=[row["name"] for row in per_class if row["label"] is None],
        confusions=[Confusion(**pair) for pair in result.confusions(spec.confusions)],
        misclassified=[Misclassified(**image) for image in result.misclassified()],
        skipped=[SkippedImage(id=path, reason=reason) for path, reason in dataset.skipped],
    )
    return ctx.result("evaluate", output)
