"""Evaluation of a classifier on a labelled dataset: top-1 / top-k accuracy, per-class accuracy, the most confused
(true, predicted) pairs and the list of the images it gets wrong.

The dataset's classes (ImageFolder sub-folders) are matched to the model's labels by `match_classes`: by name
(normalized), by an integer folder name (`0`, `17`: that index), or by an explicit mapping; a class that matches
nothing is listed as unmatched and its images are not evaluated (no guessing).

For an image x of true class t with the model's class scores s(x) in R^K (`logits`):

    order(x)       = torch.topk(s(x), K).indices           (best first; ties as torch.topk orders them)
    predicted(x)   = order(x)[0]
    top-k correct  = t in order(x)[:k]
    true_rank(x)   = 1 + position of t in order(x)
    probability    = softmax(s(x)) in float32, in [0, 1]

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), Table 3.2 (top-1 / top-5 accuracy of the platform's networks) and §4.3.5 (the
    images a network classifies wrongly, listed to be explained one by one with heatmaps).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ..core.autograd_checks import explained_errors
from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.progress import Progress
from ..core.subject import Subject

_SEPARATORS = re.compile(r"[\s_\-]+")
_INTEGER = re.compile(r"[0-9]+")
_SYNSET = re.compile(r"n[0-9]{8}")


def normalize_name(name: str) -> str:
    """A class name as matching compares it: surrounding whitespace dropped, case folded, every run of spaces,
    `_` and `-` made one space (`Great_White-Shark ` -> `great white shark`)."""
    return _SEPARATORS.sub(" ", name.strip()).casefold()


def _label_index(name: str, labels: list[str] | None, count: int) -> tuple[int | None, str | None]:
    """(the index a name means, None) or (None, why not): a label of that exact name, else the one label of that
    normalized name, else (a model of 1,000 classes) an ImageNet WordNet id (`n02124075`), else a decimal integer
    in 0..count-1."""
    if labels:
        exact = [i for i, label in enumerate(labels) if label == name]
        if len(exact) == 1:
            return exact[0], None
        wanted = normalize_name(name)
        found = [i for i, label in enumerate(labels) if normalize_name(label) == wanted]
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            return None, f"names {len(found)} labels ({', '.join(map(str, found[:5]))}): give the index"
    text = name.strip()
    if count == 1000 and _SYNSET.fullmatch(text):  # an ImageNet folder name (WordNet id), ImageNet-1k's order
        from ..core.zoo import imagenet_synsets

        synsets = imagenet_synsets()
        if text in synsets:
            return synsets.index(text), None
        return None, "is no ImageNet-1k WordNet id"
    if _INTEGER.fullmatch(text):
        index = int(text)
        if index < count:
            return index, None
        return None, f"is {'no label and ' if labels else ''}out of the index range 0..{count - 1}"
    return None, "is no label of the model" if labels else "is no class index of the model"


def match_classes(
    classes: list[str],
    labels: list[str] | None,
    num_outputs: int,
    mapping: Mapping[str, str] | None = None,
) -> list[int | None]:
    """The model class (label index) of each dataset class, or None when it matches nothing.

    Rules, in order: an explicit `mapping` entry {dataset class: label name or index as text}; a label of exactly
    the class's name; the one label of the same normalized name (`normalize_name`: case, runs of spaces / `_` / `-`,
    surrounding whitespace); for a model of 1,000 classes, an ImageNet WordNet id (`n02124075`: the folder names of
    ImageNet's own train / val sets, in ImageNet-1k's class order); a decimal integer name (`7`, `007`) within
    0..n-1, n the number of labels (of the model's outputs when it has none). A name that normalizes to several
    labels (ImageNet's `Cardigan` and `cardigan` written in another case) is unmatched: give it in `mapping`.
    Several classes may map to one label.

    Args:
        classes: the dataset's class names (K_d of them).
        labels: the model's labels, index -> name, or None.
        num_outputs: K, the number of the model's class scores (>= 1): the index range without labels.
        mapping: {dataset class (exact, else its one normalized match): label name or index as text}.
    Returns:
        [K_d] label indices in 0..n-1, None for an unmatched class.
    Raises:
        ConvscopeError: naming `mapping` and the entry, for a key that is no dataset class (or names one twice)
            or a value that names no label, several labels, or an index out of range.
    """
    count = len(labels) if labels else num_outputs
    matched: list[int | None] = [_label_index(name, labels, count)[0] for name in classes]
    seen: dict[int, str] = {}
    for key, value in (mapping or {}).items():
        position = _class_position(str(key), classes)
        if position is None:
            shown = ", ".join(classes[:12]) + (" ..." if len(classes) > 12 else "")
            raise ConvscopeError(f"mapping: `{key}` is not a class of the dataset (its classes: {shown})")
        if position in seen:
            raise ConvscopeError(f"mapping: `{key}` and `{seen[position]}` name the same class `{classes[position]}`")
        seen[position] = str(key)
        index, why = _label_index(str(value), labels, count)
        if index is None:
            raise ConvscopeError(f"mapping: `{key}` -> `{value}`: `{value}` {why}")
        matched[position] = index
    return matched


def _class_position(key: str, classes: list[str]) -> int | None:
    """The dataset class a mapping key names: exactly, else its one normalized match."""
    if key in classes:
        return classes.index(key)
    found = [i for i, name in enumerate(classes) if normalize_name(name) == normalize_name(key)]
    return found[0] if len(found) == 1 else None


@dataclass
class Evaluation:
    """The result of `evaluate`. Per dataset class (K_d): `classes` (names), `class_labels` (label index or None),
    `class_images` (images read and evaluated; for an unmatched class: images listed, not read). Per evaluated image
    (N, in dataset order): `ids`, `true` and `predicted` label indices, `probability` (of the predicted class) and
    `true_probability` (softmax, float32, in [0, 1]), `true_rank` (1-based), `in_top_k`. `label_names` [K]: the
    model's class names (the index as text without labels); `k` the top-k used; `unmatched_images` the images of
    unmatched classes (not evaluated)."""

    k: int
    classes: list[str]
    class_labels: list[int | None]
    class_images: list[int]
    label_names: list[str]
    unmatched_images: int
    ids: list[str] = field(default_factory=list)
    true: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    probability: list[float] = field(default_factory=list)
    true_probability: list[float] = field(default_factory=list)
    true_rank: list[int] = field(default_factory=list)
    in_top_k: list[bool] = field(default_factory=list)
    image_class: list[int] = field(default_factory=list)  # each image's dataset class (position in `classes`)

    @property
    def images(self) -> int:
        """N, the images evaluated."""
        return len(self.ids)

    @property
    def correct(self) -> list[bool]:
        """[N] top-1 correct."""
        return [t == p for t, p in zip(self.true, self.predicted)]

    def top1(self) -> float:
        """The fraction of images whose top-1 class is the true one, in [0, 1] (0 without images)."""
        return sum(self.correct) / self.images if self.images else 0.0

    def topk(self) -> float:
        """The fraction of images whose true class is among the k best, in [0, 1] (0 without images)."""
        return sum(self.in_top_k) / self.images if self.images else 0.0

    def per_class(self) -> list[dict]:
        """[{name, label, label_name, images, top1, topk}] per dataset class; top1 / topk in [0, 1], None for a
        class without evaluated images (unmatched, or all its files unreadable)."""
        hits, tops = Counter(), Counter()
        for c, ok, top in zip(self.image_class, self.correct, self.in_top_k):
            hits[c] += ok
            tops[c] += top
        rows = []
        for c, (name, label, count) in enumerate(zip(self.classes, self.class_labels, self.class_images)):
            evaluated = label is not None and count > 0
            rows.append(
                {
                    "name": name,
                    "label": label,
                    "label_name": self.label_names[label] if label is not None else None,
                    "images": count,
                    "top1": hits[c] / count if evaluated else None,
                    "topk": tops[c] / count if evaluated else None,
                }
            )
        return rows

    def confusions(self, limit: int) -> list[dict]:
        """The `limit` (>= 0) most frequent (true, predicted) pairs with true != predicted: [{true, true_name,
        predicted, predicted_name, count, fraction}], fraction = count / the true class's images in (0, 1]; sorted
        by count (descending), then true, then predicted."""
        per_label = Counter(self.true)
        pairs = Counter((t, p) for t, p in zip(self.true, self.predicted) if t != p)
        ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))[:limit]
        return [
            {
                "true": t,
                "true_name": self.label_names[t],
                "predicted": p,
                "predicted_name": self.label_names[p],
                "count": n,
                "fraction": n / per_label[t],
            }
            for (t, p), n in ranked
        ]

    def misclassified(self) -> list[dict]:
        """The images whose top-1 class is wrong, in dataset order: [{id, true, true_name, predicted,
        predicted_name, probability, true_probability, true_rank}]."""
        return [
            {**self._row(i), "true_probability": self.true_probability[i], "true_rank": self.true_rank[i]}
            for i, ok in enumerate(self.correct)
            if not ok
        ]

    def rows(self) -> list[dict]:
        """Every evaluated image, in dataset order: [{id, true, true_name, predicted, predicted_name, probability,
        correct}] (what `predictions.csv` holds)."""
        return [{**self._row(i), "correct": self.true[i] == self.predicted[i]} for i in range(self.images)]

    def _row(self, i: int) -> dict:
        return {
            "id": self.ids[i],
            "true": self.true[i],
            "true_name": self.label_names[self.true[i]],
            "predicted": self.predicted[i],
            "predicted_name": self.label_names[self.predicted[i]],
            "probability": self.probability[i],
        }


def num_outputs(subject: Subject) -> int:
    """K, the number of class scores the model returns (one forward of a grey image at its input size).

    Raises:
        ConvscopeError: the output is not [N, K] class scores.
    """
    probe = torch.full((1, subject.input.channels, *subject.input.size), 0.5)
    with torch.no_grad(), explained_errors(subject, "evaluate"):
        scores = subject(probe)
    if scores.dim() != 2 or scores.shape[1] < 1:
        raise ConvscopeError(
            f"model {subject.name} returns {list(scores.shape[1:])} per image, not a vector of class scores: "
            "evaluation needs a classifier"
        )
    return int(scores.shape[1])


def evaluate(
    subject: Subject,
    dataset: ImageDataset,
    *,
    top_k: int = 5,
    mapping: Mapping[str, str] | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Evaluation:
    """Run a labelled dataset through the model, in batches, and record each image's prediction.

    Args:
        subject: a classifier (its output [N, K] class scores).
        dataset: a dataset with classes (ImageFolder layout: one sub-folder per class, named like the model's
            labels, or by class index); images [C, H, W] in [0, 1].
        top_k: k of the top-k accuracy (>= 1; capped at K).
        mapping: {dataset class: model label name or index as text}, overriding the name matching
            (`match_classes`).
        batch_size: images per forward (>= 1).
        progress: `progress("images", done, total)` after each batch (a run's cancel point).
    Returns:
        Evaluation: per image the true and predicted label indices in 0..K-1, probabilities in [0, 1], the true
        class's 1-based rank; images of unmatched classes are counted, not read; unreadable files are in
        `dataset.skipped`.
    Raises:
        ConvscopeError: naming `dataset`: one without classes (unlabelled, e.g. `photos`), one whose classes match
            none of the model's labels, or without a readable image of a matched class; naming `mapping`: a bad
            entry (`match_classes`); top_k or batch_size below 1; a model whose output is not [N, K] scores.
    References:
        Barsch & Eilertsen 2018 (seed 001), Table 3.2 (top-1 / top-5 accuracy) and §4.3.5 (the wrongly
        classified images, explained one by one).
    """
    if top_k < 1 or batch_size < 1:
        raise ConvscopeError(f"top_k and batch_size must be at least 1, got {top_k} and {batch_size}")
    if not dataset.classes:
        raise ConvscopeError(
            f"dataset `{dataset.name}` has no classes: evaluation needs a labelled dataset in the ImageFolder layout "
            "(one sub-folder per class, named like the model's labels or by class index)"
        )
    count = num_outputs(subject)
    labels = subject.labels
    matched = match_classes(dataset.classes, labels, count, mapping)
    outside = [(name, i) for name, i in zip(dataset.classes, matched) if i is not None and i >= count]
    if outside:
        name, i = outside[0]
        raise ConvscopeError(f"dataset: class `{name}` is label {i}, but model {subject.name} has {count} outputs")
    if all(i is None for i in matched):
        shown = ", ".join(dataset.classes[:8]) + (" ..." if len(dataset.classes) > 8 else "")
        raise ConvscopeError(
            f"dataset `{dataset.name}`: none of its classes ({shown}) matches a label of model {subject.name}; "
            "name the class sub-folders like the model's labels or by class index, or give a mapping"
        )
    label_names = [subject.label(i) for i in range(count)]
    listed = Counter(dataset.targets)
    wanted = [i for i, t in enumerate(dataset.targets) if t is not None and matched[t] is not None]
    result = Evaluation(
        k=min(top_k, count),
        classes=list(dataset.classes),
        class_labels=matched,
        class_images=[0 if m is not None else listed[c] for c, m in enumerate(matched)],
        label_names=label_names,
        unmatched_images=sum(listed[c] for c, m in enumerate(matched) if m is None),
    )
    for images, indices in dataset.batches(batch_size, indices=wanted, progress=progress):
        with torch.no_grad(), explained_errors(subject, "evaluate"):
            scores = subject(images).float().cpu()
        order = torch.topk(scores, count, dim=1).indices  # [N, K]: best first
        probabilities = scores.softmax(dim=1)
        true = torch.tensor([matched[dataset.targets[i]] for i in indices])
        rank = (order == true[:, None]).int().argmax(dim=1)  # [N]: 0-based position of the true class
        rows = torch.arange(len(indices))
        result.ids += [dataset.ids[i] for i in indices]
        result.image_class += [dataset.targets[i] for i in indices]
        result.true += true.tolist()
        result.predicted += order[:, 0].tolist()
        result.probability += probabilities[rows, order[:, 0]].tolist()
        result.true_probability += probabilities[rows, true].tolist()
        result.true_rank += (rank + 1).tolist()
        result.in_top_k += (rank < result.k).tolist()
    for c in result.image_class:
        result.class_images[c] += 1
    if not result.images:
        raise ConvscopeError(f"dataset `{dataset.name}`: no readable image in the classes that match the model")
    return result
