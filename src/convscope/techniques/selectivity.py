"""Class-selective units: which units respond specifically to images of one class.

For a unit u with activation a_u(x) (the channel's mean over space, as feature visualization maximizes), over a
labelled dataset:

    class mean   m_u(c) = mean of a_u(x) over the images x of class c
    overall mean m_u    = mean of a_u(x) over all images
    u is specific to c  when m_u(c) - m_u > threshold * |m_u|      (the paper: "exceeds average value on more
                                                                    than 40%", threshold = 0.4)

A unit specific to exactly one class is `unimodal`, to exactly two `bimodal`, to none or three and more
`non-specific`; a unit never positive at any position of any image is `dead` (as `convscope dead`).

The paper's units are sigmoid outputs in [0, 1]. A unit that also takes negative values (logits, layers before
their ReLU) is first shifted by its lowest value over the dataset, a_u <- a_u - min_x a_u(x), so the 40% is
measured from the unit's floor rather than from an arbitrary zero; non-negative units are left as they are.

References:
    "Visualisation of maximising images for deep neural networks" (seed 004; the source gives no authors or
    date), §3 ("Neurons with specific activations"), Fig. 4 and 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw

from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.progress import Progress
from ..core.subject import Subject
from .objectives import _spatial

KINDS = ("unimodal", "bimodal", "non-specific", "dead")
KIND_COLORS = {
    "unimodal": (31, 119, 180),
    "bimodal": (44, 160, 44),
    "non-specific": (214, 39, 40),
    "dead": (127, 127, 127),
}


@dataclass
class LayerSelectivity:
    """The statistics of one layer's C units over K classes: `class_means` [K, C] float64 m_u(c),
    `overall_mean` [C] m_u, `peak` [C] (largest activation at any position of any image), `floor` [C]
    (min(0, lowest a_u(x) over the images), subtracted before the 40% rule), all in activation units, and the
    `threshold` of the rule."""

    layer: str
    class_means: torch.Tensor  # [K, C] float64: m_u(c)
    overall_mean: torch.Tensor  # [C]: m_u
    peak: torch.Tensor  # [C]: largest activation at any position of any image
    floor: torch.Tensor  # [C]: min(0, lowest a_u(x) over the images), subtracted before the 40% rule
    threshold: float

    def specific(self) -> torch.Tensor:
        """[K, C] bool: unit u is specific to class c (the 40% rule, on activations shifted by
        the floor)."""
        overall = self.overall_mean - self.floor
        return self.class_means - self.floor - overall > self.threshold * overall.abs()

    def kinds(self) -> list[str]:
        """The kind of each unit: `unimodal`, `bimodal`, `non-specific` or `dead` (peak <= 0)."""
        counts = self.specific().sum(dim=0).tolist()
        dead = (self.peak <= 0).tolist()
        return [
            "dead" if d else "unimodal" if n == 1 else "bimodal" if n == 2 else "non-specific"
            for n, d in zip(counts, dead)
        ]

    def fractions(self) -> dict[str, float]:
        """{kind: fraction of the layer's units in [0, 1]} for every kind in KINDS."""
        kinds = self.kinds()
        return {kind: kinds.count(kind) / len(kinds) for kind in KINDS}


@dataclass
class Selectivity:
    """The result of `selectivity`: the `classes` with at least one readable image, one LayerSelectivity per
    layer, the number of `images` read and the `class_counts`."""

    classes: list[str]
    layers: list[LayerSelectivity]
    images: int
    class_counts: list[int]

    def to_dict(self) -> dict:
        """{"units": [{"layer", "index", "kind", "classes", "overall_mean", "class_means"}],
        "fractions": {layer: {kind: fraction}}, "classes", "class_counts", "images", "threshold"}."""
        units = []
        for entry in self.layers:
            specific = entry.specific()
            for u, kind in enumerate(entry.kinds()):
                units.append(
                    {
                        "layer": entry.layer,
                        "index": u,
                        "kind": kind,
                        "classes": []
                        if kind == "dead"
                        else [self.classes[c] for c in torch.nonzero(specific[:, u]).flatten().tolist()],
                        "overall_mean": float(entry.overall_mean[u]),
                        "class_means": [round(float(v), 6) for v in entry.class_means[:, u]],
                    }
                )
        return {
            "units": units,
            "fractions": {entry.layer: entry.fractions() for entry in self.layers},
            "classes": self.classes,
            "class_counts": self.class_counts,
            "images": self.images,
            "threshold": self.layers[0].threshold if self.layers else None,
        }


def selectivity(
    subject: Subject,
    dataset: ImageDataset,
    layers: list[str],
    *,
    threshold: float = 0.4,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Selectivity:
    """Class means, overall means and peaks of every channel of `layers`, in one streaming pass.

    Args:
        subject: the model under study.
        dataset: a dataset with classes (one sub-folder per class).
        layers: layers with [C, H, W] or [C] output.
        threshold: the rule's fraction (>= 0; the paper's 0.4).
        batch_size: images per forward.
        progress: `progress("images", done, total)` after each batch.
    Returns:
        Selectivity (classes without a readable image are left out).
    Raises:
        ConvscopeError: a dataset without classes or readable images, a negative threshold, or a layer without
            [C, H, W] or [C] output.
        UnknownLayerError: an unknown layer.
    References:
        "Visualisation of maximising images for deep neural networks", §3 (the 40% rule).
    """
    if not dataset.classes:
        raise ConvscopeError(
            f"selectivity needs a dataset with classes (one sub-folder per class); {dataset.name} has none"
        )
    if threshold < 0:
        raise ConvscopeError(f"threshold must be >= 0, got {threshold}")
    layers = [subject.resolve(layer) for layer in layers]
    num_classes = len(dataset.classes)
    sums: dict[str, torch.Tensor] = {}
    peaks: dict[str, torch.Tensor] = {}
    lows: dict[str, torch.Tensor] = {}
    counts = torch.zeros(num_classes, dtype=torch.float64)
    for images, indices in dataset.batches(batch_size, progress=progress):
        targets = torch.tensor([dataset.targets[i] for i in indices])
        one_hot = torch.nn.functional.one_hot(targets, num_classes).double()  # [N, K]
        counts += one_hot.sum(dim=0)
        with torch.no_grad():
            acts = subject.capture(images, layers)
        for layer in layers:
            act = _spatial(acts[layer], layer).double().cpu()
            means = act.mean(dim=(2, 3))  # [N, C]: a_u(x)
            sums[layer] = sums.get(layer, 0) + one_hot.T @ means  # [K, C]
            peak, low = act.amax(dim=(0, 2, 3)), means.amin(dim=0)
            peaks[layer] = torch.maximum(peaks[layer], peak) if layer in peaks else peak
            lows[layer] = torch.minimum(lows[layer], low) if layer in lows else low
    if counts.sum() == 0:
        raise ConvscopeError(f"no readable image in dataset {dataset.name}")
    present = counts > 0  # classes without a readable image have no mean; they are left out
    classes = [name for name, keep in zip(dataset.classes, present.tolist()) if keep]
    results = []
    for layer in layers:
        class_means = sums[layer][present] / counts[present, None]
        overall = sums[layer].sum(dim=0) / counts.sum()
        floor = lows[layer].clamp_max(0)
        results.append(LayerSelectivity(layer, class_means, overall, peaks[layer], floor, threshold))
    return Selectivity(classes, results, int(counts.sum()), counts[present].long().tolist())


# --- plots (plain PIL: the project has no plotting dependency) --------------------------------------------
def profile_plot(entry: LayerSelectivity, classes: list[str], per_kind: int = 4, size=(640, 360)) -> Image.Image:
    """Class profiles m_u(c) / m_u (on floor-shifted activations) of the most selective `per_kind` unimodal
    (blue), bimodal (green) and non-specific (red) units, with the 1 + threshold line (grey), as an RGB PIL image of
    `size` (width, height) pixels (the paper's Fig. 4)."""
    kinds = entry.kinds()
    all_ratios = (entry.class_means - entry.floor) / (entry.overall_mean - entry.floor).abs().clamp_min(1e-12)
    peak = all_ratios.amax(dim=0).tolist()
    chosen = [
        (u, kind)
        for kind in KINDS[:3]  # the most selective units of each kind
        for u in sorted((i for i, k in enumerate(kinds) if k == kind), key=lambda i: -peak[i])[:per_kind]
    ]
    ratios = {u: all_ratios[:, u].tolist() for u, _ in chosen}
    top = max([1.0 + entry.threshold] + [max(r) for r in ratios.values()]) * 1.1
    bottom = min([0.0] + [min(r) for r in ratios.values()])
    image, draw, to_xy = _axes(size, len(classes), bottom, top, classes, f"{entry.layer}: class mean / mean")
    draw.line([to_xy(0, 1 + entry.threshold), to_xy(len(classes) - 1, 1 + entry.threshold)], fill=(160, 160, 160))
    for u, kind in chosen:
        points = [to_xy(c, v) for c, v in enumerate(ratios[u])]
        if len(points) > 1:
            draw.line(points, fill=KIND_COLORS[kind], width=2)
    return image


def fractions_plot(result: Selectivity, size=(640, 360)) -> Image.Image:
    """The fraction of units of each kind per layer, as a bar chart: an RGB PIL image of `size` (width,
    height) pixels (the paper's Fig. 5)."""
    layers = [entry.layer for entry in result.layers]
    image, draw, to_xy = _axes(size, len(layers), 0.0, 1.0, layers, "fraction of units per kind")
    slot = (to_xy(1, 0)[0] - to_xy(0, 0)[0]) if len(layers) > 1 else (size[0] - 80)
    bar = max(2, int(slot * 0.8 / len(KINDS)))
    for n, entry in enumerate(result.layers):
        for j, (kind, value) in enumerate(entry.fractions().items()):
            x0 = to_xy(n, 0)[0] - 2 * bar + j * bar
            draw.rectangle([x0, to_xy(n, value)[1], x0 + bar - 1, to_xy(n, 0)[1]], fill=KIND_COLORS[kind])
    for j, kind in enumerate(KINDS):
        draw.rectangle([size[0] - 110, 8 + 12 * j, size[0] - 102, 16 + 12 * j], fill=KIND_COLORS[kind])
        draw.text((size[0] - 98, 6 + 12 * j), kind, fill=(0, 0, 0))
    return image


def _axes(size, count: int, low: float, high: float, labels: list[str], title: str):
    """A white canvas with a y axis from low to high and `count` labelled x positions; returns a mapper."""
    width, height = size
    left, right, top, bottom = 50, width - 20, 24, height - 40
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    if not (math.isfinite(low) and math.isfinite(high)):  # a model that outputs NaN / inf: plot what is finite
        low, high = 0.0, 1.0
    span = (high - low) or 1.0

    def to_xy(i: float, value: float) -> tuple[int, int]:
        value = value if math.isfinite(value) else low  # a non-finite value is drawn at the bottom
        x = left + (right - left) * ((i + 0.5) / count if count > 1 else 0.5)
        return round(x), round(bottom - (value - low) / span * (bottom - top))

    draw.line([(left, top), (left, bottom), (right, bottom)], fill=(0, 0, 0))
    for value in (low, (low + high) / 2, high):
        draw.text((4, to_xy(0, value)[1] - 5), f"{value:.2g}", fill=(0, 0, 0))
    step = max(1, count // 20)
    for i in range(0, count, step):
        draw.text((to_xy(i, low)[0] - 12, bottom + 6 + 10 * (i // step % 2)), labels[i][:7], fill=(0, 0, 0))
    draw.text((left, 6), title, fill=(0, 0, 0))
    return image, draw, to_xy
