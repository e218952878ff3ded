"""Top-k dataset examples: the images (or image patches) that most excite many units, in one streaming pass.

The score of an image for a unit is the activation feature visualization maximizes: the channel's mean over
space (Barsch & Eilertsen 2018 eq. 3.2; for [N, C] outputs such as `logits`, the value itself). With
`patches = n`, n random square patches of `patch_size` pixels are cut from each image (at the model's input size)
and each is resized to the input size and scored on its own, as their §3.2.9 does with 64x64 patches of larger
images.

The pass keeps, per unit, the k best (score, image, box) seen so far: memory O(k x units) whatever the dataset
size, and the forward pass stops at the deepest layer needed (`Subject.capture`). A finished result
(`TopExamples`) merges with another over other images of the same units (`a.merge(b)`): merging is
associative and commutative (ties are broken by id, then box), so shards of a dataset can be scanned apart.

References:
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), eq. 3.2 and §3.2.9 (image examples of features).
    Zeiler & Fergus 2014, "Visualizing and understanding convolutional networks" (ECCV): top-9 dataset examples
    per feature map.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import accumulate

import torch
import torch.nn.functional as F

from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.progress import Progress
from ..core.subject import Subject
from .objectives import _spatial

Unit = tuple[str, int]  # (layer, channel)
Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels of the image at the model's input size
Scorer = Callable[[torch.Tensor, Sequence[Unit]], torch.Tensor]  # images [N, C, H, W] in [0, 1], units -> [N, U]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector off while a result of many small objects is built: 1000 units x k = 9 would
    otherwise trigger full collections over the model's ~400k objects, 0.27-0.33 s each (measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Example:
    """One example of a unit: its `score` (the unit's channel mean over space, activation units, or the
    scorer's units), the image `id` (dataset id), and the `box` (left, top, right, bottom) in pixels of the image at
    the model's input size (the whole image for image examples)."""

    score: float
    id: str
    box: Box

    def sort_key(self) -> tuple:
        """Best first: (-score, id, box), so ties break by id, then box."""
        return (-self.score, self.id, self.box)

    def to_dict(self) -> dict:
        """{"path": id, "score", "box": [left, top, right, bottom]}."""
        return {"path": self.id, "score": self.score, "box": list(self.box)}


@dataclass
class TopExamples:
    """The k best examples of each unit, best first: `examples[u]` for `units[u]` = (layer, channel), and
    the number of images scanned (`images_seen`)."""

    k: int
    units: list[Unit]
    examples: list[list[Example]]
    images_seen: int = 0

    def merge(self, other: "TopExamples") -> "TopExamples":
        """The top k of both results (same units, same k): a partial result of a shard merges into
        another; associative and commutative.

        Raises:
            ConvscopeError: other units or another k.
        """
        if self.units != other.units or self.k != other.k:
            raise ConvscopeError("only results for the same units and the same k can be merged")
        merged = [sorted(a + b, key=Example.sort_key)[: self.k] for a, b in zip(self.examples, other.examples)]
        return TopExamples(self.k, list(self.units), merged, self.images_seen + other.images_seen)

    @classmethod
    def from_dict(cls, data: dict, k: int, images_seen: int) -> "TopExamples":
        """The inverse of `to_dict` (a stored shard's partial result, to be merged)."""
        units = [(u["layer"], u["index"]) for u in data["units"]]
        examples = [[Example(e["score"], e["path"], tuple(e["box"])) for e in u["examples"]] for u in data["units"]]
        return cls(k, units, examples, images_seen)

    def to_dict(self) -> dict:
        """{"units": [{"layer", "index", "examples": [Example.to_dict()]}]}."""
        with gc_paused():
            return {
                "units": [
                    {"layer": layer, "index": index, "examples": [e.to_dict() for e in examples]}
                    for (layer, index), examples in zip(self.units, self.examples)
                ]
            }


def unit_scores(subject: Subject, images: torch.Tensor, units: Sequence[Unit]) -> torch.Tensor:
    """Each unit's channel mean over space for a batch of images (no gradients).

    Args:
        images: [N, C, H, W] in [0, 1].
        units: [(layer, channel)].
    Returns:
        Scores [N, U] float32 on the CPU, in activation units ([N, C] layers: the value itself).
    """
    layers = list(dict.fromkeys(layer for layer, _ in units))
    with torch.no_grad():
        acts = subject.capture(images, layers)
        means = [_spatial(acts[layer], layer).float().mean(dim=(2, 3)) for layer in layers]
    offsets = dict(zip(layers, accumulate([0, *(m.shape[1] for m in means)])))  # first column of each layer
    columns = torch.tensor([offsets[layer] + c for layer, c in units])  # one gather, not a stack of U columns
    return torch.cat(means, dim=1)[:, columns].cpu()


def check_units(subject: Subject, units: Sequence[Unit]) -> list[Unit]:
    """Resolve layer names and check channel ranges; returns [(layer, channel)] with resolved names.

    Raises:
        ConvscopeError: no units.
        UnknownLayerError: an unknown or unreadable layer.
        ChannelError: a channel outside 0..C-1.
    """
    if not units:
        raise ConvscopeError("no units given: name a layer and channels")
    checked = []
    for layer, c in units:
        layer = subject.resolve(layer)
        subject.check_channels(layer, [c])
        checked.append((layer, c))
    return checked


def random_boxes(index: int, count: int, size: int, height: int, width: int, seed: int) -> list[Box]:
    """`count` random square boxes of side `size` in an image of height x width pixels.

    They depend only on (seed, image index), so a shard of the dataset cuts the same patches as a whole scan.

    Returns:
        [(left, top, right, bottom)] in pixels.
    Raises:
        ConvscopeError: size < 1 or larger than the image's shorter side.
    """
    if size > min(height, width) or size < 1:
        raise ConvscopeError(f"patch size {size} does not fit images of {width}x{height} (the model's input size)")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
    tops = torch.randint(0, height - size + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, width - size + 1, (count,), generator=generator).tolist()
    return [(left, top, left + size, top + size) for left, top in zip(lefts, tops)]


def cut(image: torch.Tensor, box: Box, size: tuple[int, int]) -> torch.Tensor:
    """The `box` (left, top, right, bottom, pixels) of a [C, H, W] image, resized (bilinear, antialiased) to
    `size` = (height, width): [C, height, width]."""
    left, top, right, bottom = box
    patch = image[:, top:bottom, left:right]
    if tuple(patch.shape[1:]) == tuple(size):
        return patch
    return F.interpolate(patch[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]


def _top(scores: torch.Tensor, k: int, ranks: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Column indices of the k largest scores of each row [U, M], best first, ties broken as `Example.sort_key`
    breaks them: the smaller id (`ranks` [U, M]: the id's place in string order), then the smaller box (`boxes`
    [U, M, 4]); so a scan selects what merging its shards selects, dead units (all scores 0) included."""
    order = torch.arange(scores.shape[1]).expand_as(scores)
    for key in [boxes[..., 3], boxes[..., 2], boxes[..., 1], boxes[..., 0], ranks]:  # least significant first
        order = order.gather(1, torch.sort(key.gather(1, order), dim=1, stable=True).indices)
    order = order.gather(1, torch.sort(scores.gather(1, order), dim=1, descending=True, stable=True).indices)
    return order[:, :k]


def top_examples(
    subject: Subject,
    dataset: ImageDataset,
    units: Sequence[Unit],
    k: int = 9,
    *,
    patches: int = 0,
    patch_size: int = 64,
    batch_size: int = 32,
    indices: Sequence[int] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    scorer: Scorer | None = None,
    observe: Callable[[torch.Tensor, list[int]], None] | None = None,
) -> TopExamples:
    """One pass over `dataset`: the k best images, or patches, per unit.

    Args:
        subject: the model under study.
        dataset: the images (`core.data.open_dataset`).
        units: [(layer, channel)].
        k: examples per unit (>= 1; cut to the number of candidates, images x patches).
        patches: 0 for whole images, else random square patches per image, each resized to the input size.
        patch_size: patch side in pixels of the image at the model's input size.
        batch_size: images (or patches) per forward.
        indices: the dataset indices to scan (default all).
        seed: the patch positions' random stream (`random_boxes`).
        progress: `progress("images", done, total)` after each batch.
        scorer: `scorer(images, units) -> [N, U]` (default `unit_scores`, the channel's mean activation; the
            examples recipe passes a relevance score for relevance maximization).
        observe: `observe(scores [M, U], image indices [M])` sees every batch's scores (class statistics of an atlas
            shard).
    Returns:
        TopExamples, best first per unit.
    Raises:
        ConvscopeError: k < 1, patches < 0, a patch larger than the input, or a dataset without one readable image.
        UnknownLayerError, ChannelError: an unknown layer or channel.
    References:
        Barsch & Eilertsen 2018, eq. 3.2 and §3.2.9.
    """
    if k < 1:
        raise ConvscopeError(f"k must be at least 1, got {k}")
    if patches < 0:
        raise ConvscopeError(f"patches must be 0 (whole images) or more, got {patches}")
    units = check_units(subject, units)
    height, width = subject.input.size
    if patches:
        random_boxes(0, 1, patch_size, height, width, seed)  # checks the size before the scan starts
    count = len(units)
    k = min(k, (len(dataset) if indices is None else len(indices)) * max(1, patches))  # no more than the candidates
    best_scores = torch.full((count, k), float("-inf"))
    best_items = torch.full((count, k), -1, dtype=torch.long)
    best_boxes = torch.zeros((count, k, 4), dtype=torch.int32)
    seen = 0
    image_batch = max(1, batch_size // patches) if patches else batch_size
    score = scorer or partial(unit_scores, subject)
    id_rank = torch.empty(len(dataset.ids) + 1, dtype=torch.long)  # each id's place in string order; -1: last
    id_rank[torch.tensor(sorted(range(len(dataset.ids)), key=dataset.ids.__getitem__), dtype=torch.long)] = (
        torch.arange(len(dataset.ids))
    )
    id_rank[-1] = len(dataset.ids)
    for images, index_list in dataset.batches(image_batch, indices, progress=progress):
        seen += len(index_list)
        if patches:
            boxes = [b for i in index_list for b in random_boxes(i, patches, patch_size, height, width, seed)]
            items = [i for i in index_list for _ in range(patches)]
            images = torch.stack(
                [
                    cut(image, box, (height, width))
                    for image, n in zip(images, range(len(index_list)))
                    for box in boxes[n * patches : (n + 1) * patches]
                ]
            )
        else:
            boxes = [(0, 0, width, height)] * len(index_list)
            items = index_list
        scores = score(images, units)  # [M, U]
        if observe is not None:
            observe(scores, items)
        scores = scores.T  # [U, M]
        # the batch's own top k per unit first, then merge with the best (ties: `_top`)
        item_tensor = torch.tensor(items).expand(count, -1)
        box_tensor = torch.tensor(boxes, dtype=torch.int32).expand(count, -1, -1)
        batch_order = _top(scores, k, id_rank[item_tensor], box_tensor)
        batch_scores = scores.gather(1, batch_order)
        batch_items = item_tensor.gather(1, batch_order)
        batch_boxes = box_tensor.gather(1, batch_order[:, :, None].expand(-1, -1, 4))
        all_scores = torch.cat([best_scores, batch_scores], dim=1)
        all_items = torch.cat([best_items, batch_items], dim=1)
        order = _top(all_scores, k, id_rank[all_items], torch.cat([best_boxes, batch_boxes], dim=1))
        best_scores = all_scores.gather(1, order)
        best_items = all_items.gather(1, order)
        best_boxes = torch.cat([best_boxes, batch_boxes], dim=1).gather(1, order[:, :, None].expand(-1, -1, 4))
    if seen == 0:
        raise ConvscopeError(f"no readable image in dataset {dataset.name}")
    # one conversion to Python lists (per-unit tensor iteration cost ~0.1 s for 1000 units x k = 9)
    with gc_paused():
        examples = [
            sorted(
                (Example(s, dataset.ids[i], tuple(b)) for s, i, b in zip(scores, items, boxes) if i >= 0),
                key=Example.sort_key,
            )
            for scores, items, boxes in zip(best_scores.tolist(), best_items.tolist(), best_boxes.tolist())
        ]
    return TopExamples(k, units, examples, seen)
