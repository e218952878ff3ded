"""Multifaceted feature visualization (MFV; Nguyen, Yosinski & Clune 2016; Mayer's thesis §3.2, Fig. 3).

Over 400 lines on purpose: one technique, one pipeline (codes, PCA, t-SNE, k-means, mean images,
maximization from them), each step feeding the next.

Mean images (Mayer Fig. 3), for a set of images U (the images of a class, or a unit's top-N images):
  1. the code Phi_i of every image at a high layer (default the penultimate layer, the fc7 analogue; a
     feature map is averaged over space),
  2. PCA of the codes to 50 dimensions,
  3. t-SNE (openTSNE) of the PCA codes to a 2-D embedding,
  4. k-means (k = 10) in the embedding,
  5. per cluster, the mean of the m = 15 images nearest its centroid: the facet's mean image x_0.
k, m and the PCA dimensions are capped by the number of images (the result says what was used); a code reduced
to one dimension (`pca_dims=1`, or a one-feature code layer) is embedded by t-SNE like any other.

Facet visualization: activation maximization x* = argmax_x Phi_lj(x) - R(x) (Mayer eq. 3.1) started from
x_0, in octaves, as the original MFV code does (Mayer §4.II.B; its R is TV denoising plus clipping). Per
octave: zoom the canvas, then per iteration
  1. a crop of the model's input size, offset ~ N(centre, window x room) per axis (room = canvas - input);
  2. g = d Phi_lj / d x on the crop, zeroed within `margin` x its side of its border;
  3. x <- clip(x + (s / 255) g / mean|g|, 0, 1), s going linearly from `step_start` to `step_end`;
  4. x <- argmin_u TV(u) + (lambda / 2) ||u - x||^2 (ROF, split Bregman: skimage's denoise_tv_bregman) with
     the weight w = lambda / 2 going linearly from `tv_start` to `tv_end`; smaller w = more smoothing.
Step sizes and TV weights are in the original's 0..255 pixel units. The canvas is a [0, 1] image, so the
denoiser gets 255 w and the stopping tolerance 1e-3 / 255: with u = 255 v the ROF energy in 0..255 units is
255 [TV(v) + (255 w / 2) ||v - x / 255||^2], the same minimizer (tested). Working on [0, 1] pixels and
letting the Subject apply the model's mean and std is the thesis's fix (the original subtracted the mean only);
the gradient is taken in pixel space, and clipping keeps pixels valid.

References:
    Nguyen, Yosinski & Clune 2016, "Multifaceted feature visualization: Uncovering the different types of
    features learned by each neuron in deep neural networks" (ICML Visualization for Deep Learning workshop).
    Mayer, "Interpretable Neural Network using Feature Visualization" (BSc thesis, Innopolis University; seed
    000): §3.2, eq. 3.1, Fig. 3 (mean images), Fig. 4 (embedding), §4.II.B (the MFV loop ported to PyTorch).
    Rudin, Osher & Fatemi 1992 (ROF total-variation denoising); Goldstein & Osher 2009 (split Bregman).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..core.data import ImageDataset
from ..core.errors import ConvscopeError
from ..core.images import tensor_to_pil
from ..core.progress import Preview, Progress, part, preview_due
from ..core.subject import LOGITS, Subject
from . import objectives as O
from .objectives import _spatial


@dataclass(frozen=True)
class Octave:
    """One octave of the MFV loop (module docstring).

    Args:
        iterations: steps in the octave (>= 1).
        step_start, step_end: s, the mean |dx| per step in 0..255 pixel units, linear over the octave (>= 0).
        zoom: canvas scale applied before the octave (> 0; the canvas never gets smaller than the input size).
        tv_start, tv_end: Bregman TV weight w = lambda / 2 in 0..255 units, linear over the octave (>= 0; smaller =
            smoother; 0 = no denoising).
        window: std of the crop offset, as a fraction of the canvas's room over the input size (>= 0).
        margin: gradient zeroed within this fraction of the input side from the crop border, in [0, 0.5).
    Raises:
        ConvscopeError: a value out of range.
    """

    iterations: int
    step_start: float  # s: mean |dx| per step, 0..255 units
    step_end: float
    zoom: float = 1.0  # canvas scale applied before the octave (never below the input size)
    tv_start: float = 0.4  # Bregman TV weight w = lambda / 2, 0..255 units (smaller = smoother; 0 = none)
    tv_end: float = 0.4
    window: float = 0.3  # std of the crop offset, as a fraction of the canvas's room over the input size
    margin: float = 0.0  # gradient zeroed within this fraction of the input side from the crop border

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.zoom <= 0 or min(self.step_start, self.step_end) < 0:
            raise ConvscopeError(f"octave needs iterations >= 1, zoom > 0 and steps >= 0, got {self}")
        if min(self.tv_start, self.tv_end) < 0 or self.window < 0 or not 0 <= self.margin < 0.5:
            raise ConvscopeError(f"octave needs TV weights and window >= 0 and a margin in [0, 0.5), got {self}")


#: Octave presets. `caffenet`: the original MFV code's AlexNet settings, as published with the paper (190 /
#: 150 / 20 / 10 iterations; zoom 1.2 before the second octave; a 50 px gradient margin at 227 px in the third;
#: steps 1 -> 2, 1, 2, 2; TV weights 0.4, 0.01 -> 2, 0.1 -> 2, 0.4 -> 2; windows 0.3 / 0.3 / 0.2 / 0.3). Its canvas
#: ends 1.2x the input and is shrunk to the input size at the end. `torchvision` (the default), tuned on
#: EfficientNet-Lite0: the same step and TV scales in three octaves of 60 / 50 / 20 iterations: the whole
#: image, then zoomed 1.2 with centre-biased crops, then zoomed back to the input size so that the last steps
#: see, and the reported activation measures, the whole image shown.
PRESETS: dict[str, tuple[Octave, ...]] = {
    "caffenet": (
        Octave(190, 1.0, 2.0, 1.0, 0.4, 0.4, 0.3),
        Octave(150, 1.0, 1.0, 1.2, 0.01, 2.0, 0.3),
        Octave(20, 2.0, 2.0, 1.0, 0.1, 2.0, 0.2, margin=50 / 227),
        Octave(10, 2.0, 2.0, 1.0, 0.4, 2.0, 0.3),
    ),
    "torchvision": (
        Octave(60, 2.0, 2.0, 1.0, 0.4, 0.4, 0.3),
        Octave(50, 2.0, 1.0, 1.2, 0.4, 2.0, 0.3),
        Octave(20, 1.0, 1.0, 1 / 1.2, 1.0, 2.0, 0.3),
    ),
}


def scaled_octaves(preset: str, steps: int | None) -> tuple[Octave, ...]:
    """A preset (`caffenet` or `torchvision`), its iterations rescaled to `steps` in total when given
    (each octave keeps at least 1).

    Raises:
        ConvscopeError: an unknown preset.
    """
    if preset not in PRESETS:
        raise ConvscopeError(f"unknown octave preset `{preset}`: use {', '.join(PRESETS)}")
    octaves = PRESETS[preset]
    if steps is None:
        return octaves
    total = sum(o.iterations for o in octaves)
    return tuple(replace(o, iterations=max(1, round(o.iterations * steps / total))) for o in octaves)


def penultimate_layer(subject: Subject) -> str:
    """The layer that feeds the last module run (the fc7 analogue): the second-to-last leaf module in
    execution order.

    Raises:
        ConvscopeError: the model has fewer than two leaf modules that run.
    """
    leaves = set(subject.graph.leaves())
    ran = [n.name for n in subject.graph.in_execution_order() if n.name in leaves and n.name != LOGITS]
    if len(ran) < 2:
        raise ConvscopeError(f"model {subject.name} has no penultimate layer; give code_layer")
    return ran[-2]


def codes(
    subject: Subject,
    dataset: ImageDataset,
    indices: Sequence[int],
    layer: str,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Codes Phi_i of dataset images at `layer` (mean-image step 1), without gradients.

    Args:
        indices: the dataset images; unreadable ones are skipped.
        layer: the code layer ([C, H, W] maps are averaged over space; [C] outputs taken as they are).
        progress: `progress("images", done, total)` after each batch.
    Returns:
        (codes [N, C] float32 numpy, activation units; the dataset indices that could be read, in the same order).
    Raises:
        ConvscopeError: no readable image, or a layer without [C, H, W] or [C] output.
    """
    rows, kept = [], []
    for images, index_list in dataset.batches(batch_size, indices, progress=progress):
        with torch.no_grad():
            act = _spatial(subject.capture(images, [layer])[layer], layer)
        rows.append(act.float().mean(dim=(2, 3)).cpu().numpy())
        kept += index_list
    if not rows:
        raise ConvscopeError("no readable image to compute codes from")
    return np.concatenate(rows), kept


@dataclass
class Clusters:
    """The mean-image clustering: `embedding` [N, 2] t-SNE coordinates, `labels` [N] cluster of each image,
    `centroids` [k, 2], `nearest` (per cluster, positions into the N images sorted by distance to the centroid), and
    `used` (the k, PCA dims, perplexity and image count actually used)."""

    embedding: np.ndarray  # [N, 2] t-SNE coordinates
    labels: np.ndarray  # [N] cluster of each image
    centroids: np.ndarray  # [k, 2]
    nearest: list[list[int]]  # per cluster: positions (into the N images) sorted by distance to the centroid
    used: dict = field(default_factory=dict)  # the k, m, PCA dims, perplexity actually used


def cluster_codes(code_matrix: np.ndarray, k: int = 10, pca_dims: int = 50, seed: int = 0) -> Clusters:
    """PCA -> t-SNE (2-D) -> k-means of the codes (mean-image steps 2-4), deterministic for a seed.

    Args:
        code_matrix: codes [N, D].
        k: clusters (capped by N and by the number of distinct embedded points).
        pca_dims: PCA dimensions (>= 1; capped by N and D).
        seed: the random state of PCA, t-SNE and k-means.
    Returns:
        Clusters (t-SNE perplexity min(30, (N - 1) / 3)).
    Raises:
        ConvscopeError: fewer than 3 images, non-finite codes, all codes equal, pca_dims < 1, or a non-finite
            embedding.
    References:
        Nguyen, Yosinski & Clune 2016; Mayer's thesis, Fig. 3 steps 2-4.
    """
    from openTSNE import TSNE
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    count, dims = code_matrix.shape
    if count < 3:
        raise ConvscopeError(f"facets need at least 3 images, got {count}")
    if not np.isfinite(code_matrix).all():
        raise ConvscopeError(
            "the codes to cluster hold NaN or inf (the model's activations are not finite on these "
            "images): facets cannot cluster them"
        )
    spread = float(np.ptp(code_matrix, axis=0).max())  # float rounding of batched forwards differs by ~1e-7
    if spread <= 1e-5 * max(1.0, float(np.abs(code_matrix).max())):
        raise ConvscopeError(f"the {count} images all give the same code: facets need at least 2 different images")
    if pca_dims < 1:
        raise ConvscopeError(f"pca_dims must be at least 1, got {pca_dims}")
    pca_used = min(pca_dims, count, dims)
    reduced = PCA(n_components=pca_used, random_state=seed).fit_transform(code_matrix.astype(np.float64))
    if pca_used < 2:  # a one-dimensional code: t-SNE's PCA start needs 2 columns; a zero one changes no distance
        reduced = np.concatenate([reduced, np.zeros_like(reduced)], axis=1)
    # openTSNE takes at most (N - 1) / 3 (3 x perplexity neighbours); a larger value is lowered to it (with a
    # logged warning): ask for the value it uses, which is then the one the result reports
    perplexity = float(min(30.0, (count - 1) / 3))
    embedding = np.asarray(
        TSNE(n_components=2, perplexity=perplexity, random_state=seed, n_jobs=1, verbose=False).fit(reduced)
    )
    if not np.isfinite(embedding).all():
        raise ConvscopeError("t-SNE gave a non-finite embedding of these codes (too few different images?)")
    k_used = min(k, count, len(np.unique(embedding.round(6), axis=0)))  # never more clusters than points
    kmeans = KMeans(n_clusters=k_used, n_init=10, random_state=seed).fit(embedding)
    nearest = []
    for c in range(k_used):
        members = np.flatnonzero(kmeans.labels_ == c)
        if not len(members):
            continue
        distance = np.linalg.norm(embedding[members] - kmeans.cluster_centers_[c], axis=1)
        nearest.append(members[np.argsort(distance, kind="stable")].tolist())
    return Clusters(
        embedding,
        kmeans.labels_,
        kmeans.cluster_centers_,
        nearest,
        {"k": len(nearest), "pca_dims": pca_used, "perplexity": perplexity, "images": count},
    )


def tv_denoise(image: torch.Tensor, weight: float) -> torch.Tensor:
    """ROF total-variation denoising (split Bregman, skimage's `denoise_tv_bregman`) of an image.

    Args:
        image: [C, H, W] in [0, 1] (CPU).
        weight: w in 0..255 units (module docstring: 255 w and tolerance 1e-3 / 255 on the [0, 1] image equal the
            original call on 0..255); smaller = smoother.
    Returns:
        The denoised [C, H, W] float32 image.
    """
    from skimage.restoration import denoise_tv_bregman

    array = image.permute(1, 2, 0).numpy().astype(np.float64)
    smooth = denoise_tv_bregman(array, weight=weight * 255.0, max_num_iter=100, eps=1e-3 / 255.0, channel_axis=-1)
    return torch.from_numpy(smooth.reshape(array.shape).astype(np.float32)).permute(2, 0, 1)


def _zoom(canvas: torch.Tensor, factor: float, floor: tuple[int, int]) -> torch.Tensor:
    """The canvas [1, C, H, W] scaled by `factor` (bicubic, antialiased when shrinking), never below `floor`."""
    size = tuple(max(f, round(s * factor)) for s, f in zip(canvas.shape[2:], floor))
    if size == tuple(canvas.shape[2:]):
        return canvas
    smaller = size[0] < canvas.shape[2]
    return F.interpolate(canvas, size=size, mode="bicubic", align_corners=False, antialias=smaller).clamp(0, 1)


def maximize_from(
    subject: Subject,
    start: torch.Tensor,
    objective: O.Objective,
    octaves: Sequence[Octave],
    seed: int = 0,
    progress: Progress | None = None,
    preview: Preview | None = None,
) -> torch.Tensor:
    """Activation maximization of `objective` started from `start`, in octaves (module docstring, steps
    1-4), on the CPU canvas.

    Args:
        start: [C, H, W] in [0, 1], resized to the model's input size first when needed.
        objective: the score to maximize (e.g. `objectives.channel(layer, unit)`).
        octaves: the schedule (`PRESETS`, `scaled_octaves`).
        seed: the crop offsets' random stream.
        progress: `progress("steps", done, total iterations)` after each iteration (it may raise to stop).
        preview: `preview("facet", canvas [C, H, W] in [0, 1])` at `preview_due` iterations.
    Returns:
        The final canvas [C, H, W] in [0, 1] at the model's input size (shrunk when a preset ends on a zoomed canvas,
        as `caffenet` does).
    References:
        Mayer's thesis, eq. 3.1 and §4.II.B; Nguyen, Yosinski & Clune 2016.
    """
    height, width = subject.input.size
    generator = torch.Generator().manual_seed(seed)
    canvas = start.detach().float().cpu().clone()[None]
    if tuple(canvas.shape[2:]) != (height, width):
        canvas = F.interpolate(
            canvas, size=(height, width), mode="bilinear", align_corners=False, antialias=True
        ).clamp(0, 1)
    layers = list(objective.layers)
    total, done = sum(o.iterations for o in octaves), 0
    for octave in octaves:
        canvas = _zoom(canvas, octave.zoom, (height, width))
        room_y, room_x = canvas.shape[2] - height, canvas.shape[3] - width
        mask = torch.zeros(1, 1, height, width)
        my, mx = round(octave.margin * height), round(octave.margin * width)
        mask[:, :, my : height - my, mx : width - mx] = 1
        for i in range(octave.iterations):
            t = i / octave.iterations
            step = (octave.step_start + t * (octave.step_end - octave.step_start)) / 255.0
            weight = octave.tv_start + t * (octave.tv_end - octave.tv_start)
            dy, dx = torch.randn(2, generator=generator).tolist()
            top = int(np.clip(round(room_y / 2 + dy * octave.window * room_y), 0, room_y))
            left = int(np.clip(round(room_x / 2 + dx * octave.window * room_x), 0, room_x))
            crop = canvas[:, :, top : top + height, left : left + width].clone().requires_grad_(True)
            score = objective(subject.capture(crop, layers)).sum()
            (grad,) = torch.autograd.grad(score, crop)
            grad = grad.cpu() * mask
            with torch.no_grad():
                crop = (crop + step * grad / grad.abs().mean().clamp_min(1e-12)).clamp(0, 1)
                if weight > 0:
                    crop = tv_denoise(crop[0], weight)[None]
                canvas[:, :, top : top + height, left : left + width] = crop
            done += 1
            if preview is not None and preview_due(done, total):
                preview("facet", canvas[0].clone())
            if progress is not None:
                progress("steps", done, total)
    if tuple(canvas.shape[2:]) != (height, width):
        canvas = F.interpolate(canvas, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return canvas[0].clamp(0, 1)


def structure_similarity(image: torch.Tensor, start: torch.Tensor, sigma: float = 0.02) -> float:
    """How much of the start's global layout and colours (MFV's point) an image keeps, blind to fine
    texture.

    Args:
        image, start: [C, H, W] of the same shape.
        sigma: Gaussian blur width as a fraction of the longer side.
    Returns:
        The Pearson correlation in [-1, 1] of the blurred images (1 = same; for a constant image, 1.0 if both are
        equal else 0.0).
    Raises:
        ConvscopeError: images of different shapes.
    """
    from scipy.ndimage import gaussian_filter

    if image.shape != start.shape:
        raise ConvscopeError(f"cannot compare images of shapes {list(image.shape)} and {list(start.shape)}")
    width = sigma * max(image.shape[1:])
    a, b = (gaussian_filter(x.detach().cpu().double().numpy(), (0, width, width)).ravel() for x in (image, start))
    if a.std() == 0 or b.std() == 0:
        return float(np.all(a == b))
    return float(np.corrcoef(a, b)[0, 1])


@dataclass
class Facet:
    """One facet: `members` (dataset indices of the cluster, nearest the centroid first), its `mean_image` and
    optimized `facet_image` ([C, H, W] in [0, 1]), the target's `activation` on the facet image and on the mean image
    (`mean_activation`; activation units), `nearest` (dataset index of the image nearest the centroid) and `structure`
    (`structure_similarity` of the facet image to the mean image)."""

    members: list[int]  # dataset indices of the cluster, nearest the centroid first
    mean_image: torch.Tensor
    facet_image: torch.Tensor
    activation: float  # the target's activation on the facet image
    mean_activation: float  # ... and on the mean image it started from
    nearest: int  # dataset index of the image nearest the centroid
    structure: float  # structure_similarity(facet image, mean image)


def facets(
    subject: Subject,
    dataset: ImageDataset,
    target: tuple[str, int],
    *,
    indices: Sequence[int],
    code_layer: str | None = None,
    k: int = 10,
    m: int = 15,
    pca_dims: int = 50,
    octaves: Sequence[Octave] = PRESETS["torchvision"],
    seed: int = 0,
    batch_size: int = 32,
    progress: Progress | None = None,
    preview: Preview | None = None,
) -> tuple[list[Facet], Clusters, list[int]]:
    """Multifaceted feature visualization of one unit over a set of dataset images.

    Args:
        subject: the model under study.
        dataset: the images (`core.data.open_dataset`).
        target: (layer, unit) to visualize; the objective is the unit's channel mean over space.
        indices: the dataset images U (e.g. one class, or the unit's top-N images).
        code_layer: the layer of the codes (default `penultimate_layer`).
        k: facets (clusters), >= 1.
        m: images averaged per mean image, >= 1.
        pca_dims: PCA dimensions before t-SNE.
        octaves: the optimization schedule (default the `torchvision` preset).
        seed: clustering and crop streams (facet c uses seed + c).
        batch_size: images per forward while reading codes.
        progress: ("images", done, total) while the codes are read, then ("steps", done, clusters x iterations).
        preview: `preview(f"facet {c}", canvas [C, H, W] in [0, 1])`.
    Returns:
        (facets, the Clusters, the dataset indices of the clustered images in embedding order).
    Raises:
        ConvscopeError: k or m < 1, or as `codes` / `cluster_codes`.
        UnknownLayerError, ChannelError: an unknown layer or unit.
    References:
        Nguyen, Yosinski & Clune 2016, "Multifaceted feature visualization"; Mayer's thesis, §3.2, eq. 3.1, Fig. 3.
    """
    layer = subject.resolve(target[0])
    unit = subject.check_channels(layer, [target[1]])[0]
    code_layer = subject.resolve(code_layer) if code_layer else penultimate_layer(subject)
    if m < 1 or k < 1:
        raise ConvscopeError(f"k and m must be at least 1, got k={k}, m={m}")
    matrix, kept = codes(subject, dataset, indices, code_layer, batch_size, progress)
    clusters = cluster_codes(matrix, k, pca_dims, seed)
    clusters.used.update(m=min(m, max(len(n) for n in clusters.nearest)), code_layer=code_layer)
    objective = O.channel(layer, unit)
    result = []
    for c, order in enumerate(clusters.nearest):
        members = [kept[p] for p in order]
        mean_image = torch.stack([dataset.load(i) for i in members[:m]]).mean(dim=0)
        per = sum(o.iterations for o in octaves)
        report = part(progress, "steps", c * per, len(clusters.nearest) * per)
        shown = None if preview is None else lambda _, canvas, c=c: preview(f"facet {c}", canvas)
        image = maximize_from(subject, mean_image, objective, octaves, seed + c, report, shown)
        with torch.no_grad():
            scores = objective(subject.capture(torch.stack([image, mean_image]), [layer])).tolist()
        result.append(
            Facet(members, mean_image, image, scores[0], scores[1], members[0], structure_similarity(image, mean_image))
        )
    return result, clusters, kept


def embedding_plot(clusters: Clusters, thumbnails: list[torch.Tensor], size: int = 900, thumb: int = 40):
    """The t-SNE embedding as a `size` x `size` RGB PIL image: each image a `thumb`-pixel thumbnail framed
    in its cluster's colour, cluster numbers at the centroids (Mayer's thesis, Fig. 4).

    Args:
        clusters: the Clusters.
        thumbnails: one [C, H, W] image in [0, 1] per embedded point, in embedding order.
    """
    from PIL import Image, ImageDraw

    palette = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ]
    low, high = clusters.embedding.min(axis=0), clusters.embedding.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    xy = (clusters.embedding - low) / span * (size - thumb - 8) + 4
    sheet = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(sheet)
    for (x, y), label, image in zip(xy, clusters.labels, thumbnails):
        color = palette[int(label) % len(palette)]
        tile = tensor_to_pil(
            F.interpolate(image[None], size=(thumb, thumb), mode="bilinear", antialias=True, align_corners=False)[0]
        )
        draw.rectangle([int(x) - 2, int(y) - 2, int(x) + thumb + 1, int(y) + thumb + 1], fill=color)
        sheet.paste(tile.convert("RGB"), (int(x), int(y)))
    for c, (cx, cy) in enumerate((clusters.centroids - low) / span * (size - thumb - 8) + 4 + thumb / 2):
        draw.text((int(cx), int(cy)), str(c), fill=(0, 0, 0))
    return sheet
