"""Faithfulness of a heatmap, measured by perturbing the image it explains: region perturbation (MoRF / LeRF curves,
AOPC and the area between them), ROAD (noisy linear imputation), faithfulness correlation and completeness. The
randomisation sanity check lives in `randomisation`. Over 400 lines on purpose: the four perturbation metrics share
their checks, baselines and batched scoring, and each keeps its result type beside it.

Every metric takes one image [C, H, W] (or [1, C, H, W]) in [0, 1], a map of it ([H, W], [1, H, W] or [C, H, W]:
summed over channels where pixels are ranked, broadcast over channels where single entries are summed), the class
explained (or a hidden unit, `LAYER:CHANNEL[@Y,X]`: its activation is watched instead of a class score), and scores
the perturbed images in batches (`batch_size` per forward). Scores are the target's logit (`score="logit"`, the
default: what convscope's attributions explain) or its softmax probability. Perturbations happen in the [0, 1]
image space; the model sees them through its normalization.

References:
    Bach, Binder, Montavon, Klauschen, Müller & Samek 2015, "On pixel-wise explanations for non-linear classifier
    decisions by layer-wise relevance propagation" (pixel flipping, §5 and Fig. 8).
    Samek, Binder, Montavon, Lapuschkin & Müller 2017, "Evaluating the visualization of what a deep neural network
    has learned", IEEE TNNLS 28(11), eq. 11-12 (region perturbation, MoRF / LeRF, AOPC).
    Rong, Leemann, Borisov, Kasneci & Kasneci 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
    Methods" (ICML), §4 eq. 4-5 (ROAD: noisy linear imputation).
    Bhatt, Weller & Moura 2020, "Evaluating and aggregating feature-based model explanations" (IJCAI), eq. 2
    (faithfulness correlation).
    Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep networks", §2 (completeness); Montavon et al.
    2017 (conservation of Deep Taylor relevance).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...core.errors import ConvscopeError
from ...core.fold import TOLERANCE as FOLD_TOLERANCE
from ...core.fold import folded_forward, verify
from ...core.subject import LOGITS, Subject
from ...core.units import HiddenUnit
from .result import resolve_target, unit_score

SCORES = ("logit", "probability")
BASELINES = ("black", "mean", "blur", "uniform")
#: ROAD's neighbour weights (Rong et al. 2022 §4): 1/6 for the 4 direct neighbours, 1/12 for the 4 diagonal ones
_ROAD_KERNEL = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]], dtype=torch.float64)


# --- shared checks and helpers ---------------------------------------------------------------------------------------
def _image(subject: Subject, image: torch.Tensor) -> torch.Tensor:
    """One image as [1, C, H, W] float32 on the model's device (a batch of one image is accepted)."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ConvscopeError(f"image: one image is measured at a time, got a batch of {image.shape[0]}")
        image = image[0]
    if image.dim() != 3:
        raise ConvscopeError(f"image: expected [C, H, W] or [1, C, H, W], got {list(image.shape)}")
    return subject.prepare(image[None].float()).contiguous()


def _map(attribution: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """The map as [C', H, W] float64 on the image's device (C' = 1 or the image's channels)."""
    a = attribution.detach()
    if a.dim() == 4 and a.shape[0] == 1:
        a = a[0]
    if a.dim() == 2:
        a = a[None]
    _, channels, height, width = image.shape
    if a.dim() != 3 or a.shape[-2:] != (height, width) or a.shape[0] not in (1, channels):
        raise ConvscopeError(
            f"attribution shaped {list(attribution.shape)} does not fit the image {[channels, height, width]}: "
            "give [H, W], [1, H, W] or [C, H, W]"
        )
    a = a.to(image.device, torch.float64)
    if not torch.isfinite(a).all():
        raise ConvscopeError("attribution holds non-finite values (nan or inf)")
    return a


def _check(value: str, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConvscopeError(f"{name} `{value}` unknown; choose one of {', '.join(allowed)}")


def baseline_image(image: torch.Tensor, baseline: str | float = "black", seed: int = 0, sigma: float = 5.0):
    """What replaces removed pixels: an image like `image` [1, C, H, W] in [0, 1].

    `black`: 0; `mean`: the image's mean over channels and pixels (one value); `blur`: the image blurred by a
    Gaussian of `sigma` pixels (reflected at the border); `uniform`: U(0, 1) noise drawn once from a generator seeded
    with `seed`; a number in [0, 1]: that value everywhere. (Samek et al. 2017 use uniform noise; Quantus's `black`
    is the image's minimum, 0 for most photos.)

    Raises:
        ConvscopeError: an unknown baseline, a number outside [0, 1] or sigma <= 0.
    """
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        if not 0.0 <= float(baseline) <= 1.0:
            raise ConvscopeError(f"baseline {baseline} outside [0, 1]")
        return torch.full_like(image, float(baseline))
    _check(str(baseline), "baseline", BASELINES)
    if baseline == "black":
        return torch.zeros_like(image)
    if baseline == "mean":
        return torch.full_like(image, float(image.mean()))
    if baseline == "uniform":
        generator = torch.Generator().manual_seed(int(seed))
        return torch.rand(image.shape, generator=generator, dtype=torch.float64).to(image.device, image.dtype)
    if sigma <= 0:
        raise ConvscopeError(f"sigma must be positive, got {sigma}")
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64, device=image.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(image.dtype)
    channels = image.shape[1]
    x = image
    for shape, pad in (((1, 1, 1, -1), (radius, radius, 0, 0)), ((1, 1, -1, 1), (0, 0, radius, radius))):
        pad_mode = "reflect" if min(image.shape[-2:]) > radius else "replicate"
        x = F.conv2d(F.pad(x, pad, mode=pad_mode), kernel.view(shape).expand(channels, 1, *shape[2:]), groups=channels)
    return x


#: pixels per forward when scoring on a CPU, and the fewest images scored with BatchNorm folded (`target_scores`)
CPU_BATCH_PIXELS = 4 * 224 * 224
FOLD_FROM = 8


@torch.no_grad()
def target_scores(
    subject: Subject,
    images: torch.Tensor,
    target: int | HiddenUnit | str,
    score: str = "logit",
    batch_size: int | None = None,
    fold_batchnorm: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The target's score and the predicted class of each image of a batch [M, C, H, W] in [0, 1], `batch_size`
    images per forward: (scores [M] float64 in logit units or probabilities in [0, 1], predicted classes [M]).

    `target` is a class index or a hidden unit (`HiddenUnit`, or its spelling `LAYER:CHANNEL[@Y,X]`, checked by
    `result.resolve_target`): a unit's score is its activation as the attribution methods explain it
    (`result.unit_score`: the channel's spatial mean, or its value at the position; activation units), read by
    `Subject.capture`, whose forward stops at the unit's layer; `score` must then be `logit` (the raw output) and
    the predicted classes are None (a unit has no prediction).

    Default batch on a CPU: as many images as hold 4 x 224 x 224 pixels (4 at 224 px, 16 at 112 px, at most 64); 64 on
    an accelerator. With `fold_batchnorm` and at least `FOLD_FROM` images, eval-mode BatchNorms run folded into their
    convs (`convscope.core.fold`, Jacob et al. 2018; never the unit's own layer), checked first on one image by
    `core.fold.verify` (the render loop's check): the call runs unfolded when the logits (a unit: its layer) differ by
    more than `core.fold.TOLERANCE` (1e-4 relative; EfficientNet-Lite0's logits differ by 5e-7). EfficientNet-Lite0 on 2
    cores, 48 images at 224 px, medians of 6 shuffled rounds: 0.83 s one by one, 0.75 s in batches of 4, 0.46 s in
    folded batches of 4, 0.62 s in folded batches of 8 (a larger batch leaves the caches); at 112 px batches of 16 were
    fastest.

    Raises:
        ConvscopeError: an unknown score, a target outside the model's classes, a bad hidden unit (unknown layer,
        channel or position out of range), `probability` for a unit, or as `Subject.forward`.
    """
    target = checked_target(subject, target, score)
    return _scores(subject, lambda start, stop: images[start:stop], images, target, score, batch_size, fold_batchnorm)


def checked_target(subject: Subject, target: int | HiddenUnit | str, score: str = "logit") -> int | HiddenUnit:
    """A metric's target, checked: a class index as it is (checked against the logits when scored), a hidden unit
    resolved and checked (`result.resolve_target`; `logits:K` is the class K). Raises ConvscopeError for an unknown
    score, a bad unit, or `probability` with a unit."""
    _check(score, "score", SCORES)
    target = resolve_target(subject, target)
    if isinstance(target, np.integer):
        target = int(target)
    if isinstance(target, bool) or not isinstance(target, (int, HiddenUnit)):
        raise ConvscopeError(f"target: one class index or hidden unit is measured at a time, got {target!r}")
    if isinstance(target, HiddenUnit) and score != "logit":
        raise ConvscopeError(
            f"score `{score}` is a class's softmax; hidden unit {target} is scored by its activation: use score `logit`"
        )
    return target


def _scores(subject, batch_of, like, target, score, batch_size, fold_batchnorm):
    """`target_scores` of the images that `batch_of(start, stop)` builds one batch at a time (a region perturbation's
    hundreds of images are never all in memory); `like` has their shape [M, C, H, W] (an expanded view will do: only
    its shape and device are read); `target` as `checked_target` returns it."""
    count = like.shape[0]
    unit = target if isinstance(target, HiddenUnit) else None
    if batch_size is None:
        pixels = like.shape[-1] * like.shape[-2]
        batch_size = max(1, min(64, CPU_BATCH_PIXELS // pixels)) if like.device.type == "cpu" else 64
    batch_size = max(1, batch_size)
    keep = [unit.layer] if unit else []
    fold = folded_forward(subject, keep) if fold_batchnorm and count >= FOLD_FROM else None
    if fold is not None and verify(subject, fold, batch_of(0, 1), keep or [LOGITS]) > FOLD_TOLERANCE:
        fold = None  # the folded forward does not reproduce this model's outputs: score it as it is

    def output(batch):  # [n, K] logits, or [n, 1] the unit's score
        if unit is None:
            return subject(batch)
        return unit_score(subject.capture(batch, keep)[unit.layer], unit)[:, None]

    values, predicted = [], []
    for start in range(0, count, batch_size):
        batch = batch_of(start, min(count, start + batch_size))
        with fold if fold is not None else contextlib.nullcontext():
            logits = output(batch).double()
        if unit is not None:
            values.append(logits[:, 0].cpu())
            continue
        if not 0 <= target < logits.shape[1]:
            raise ConvscopeError(f"target class {target} out of range 0..{logits.shape[1] - 1}")
        out = logits.softmax(1) if score == "probability" else logits
        values.append(out[:, target].cpu())
        predicted.append(logits.argmax(1).cpu())
    return torch.cat(values).numpy(), (torch.cat(predicted).numpy() if unit is None else None)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


# --- region perturbation / pixel flipping -----------------------------------------------------------------------------
@dataclass
class PerturbationCurves:
    """Region perturbation of one image: `fractions` [L + 1] share of the patches removed (0 .. 1); `morf` / `lerf`
    [L + 1] the target's score as the most- / least-relevant patches are removed (score units); `original` f(x);
    `aopc_morf` / `aopc_lerf` = mean_k (f(x) - f(x_k)) (Samek et al. 2017 eq. 12, score units; MoRF high and LeRF
    low is faithful); `abpc` = (aopc_morf - aopc_lerf) / |f(x)|, the area between the curves (None when f(x) = 0);
    `patch` (px), `patches` (on the grid), `score`, `baseline`."""

    fractions: list[float]
    morf: list[float]
    lerf: list[float]
    original: float
    aopc_morf: float
    aopc_lerf: float
    abpc: float | None
    patch: int
    patches: int
    score: str
    baseline: str | float


def patch_grid(height: int, width: int, patch: int, device=None) -> tuple[torch.Tensor, int]:
    """The patch index of every pixel [H, W] (row-major over a grid of `patch` x `patch` squares; a side that
    `patch` does not divide is padded, half before and half after, as Quantus pads) and the number of patches."""
    pad_h, pad_w = (-height) % patch, (-width) % patch
    rows = (torch.arange(height, device=device) + pad_h // 2) // patch
    cols = (torch.arange(width, device=device) + pad_w // 2) // patch
    count_w = (width + pad_w) // patch
    return rows[:, None] * count_w + cols[None, :], ((height + pad_h) // patch) * count_w


def region_perturbation(
    subject: Subject,
    image: torch.Tensor,
    attribution: torch.Tensor,
    target: int | HiddenUnit | str,
    *,
    patch: int = 8,
    steps: int = 32,
    baseline: str | float = "black",
    seed: int = 0,
    score: str = "logit",
    batch_size: int | None = None,
) -> PerturbationCurves:
    """Region perturbation (Samek et al. 2017; pixel flipping of Bach et al. 2015 with patch = 1): the image's
    `patch` x `patch` squares are ranked by their summed relevance and replaced by the baseline, most relevant first
    (MoRF) and least relevant first (LeRF), in `steps` steps (step k removes floor(k P / steps) of the P patches;
    steps = P removes one patch per step, as Quantus's RegionPerturbation). All 2 (steps + 1) images are scored in
    batches.

    Args:
        subject: the model; image: [C, H, W] in [0, 1]; attribution: its map [H, W], [1, H, W] or [C, H, W]
            (summed over channels); target: the class explained, or a hidden unit (`target_scores`).
        patch: side in pixels (1..min(H, W)); steps: 1..P (more is clipped to P); baseline: `baseline_image`;
        seed: the uniform baseline's seed; score: `logit` or `probability`; batch_size: images per forward.
    Returns:
        `PerturbationCurves`.
    Raises:
        ConvscopeError: a bad patch, steps, baseline, score, target or a map that does not fit the image.
    References:
        Samek et al. 2017, eq. 11-12 (MoRF, AOPC); Bach et al. 2015, §5 (pixel flipping).
    """
    x = _image(subject, image)
    a = _map(attribution, x)
    target = checked_target(subject, target, score)
    height, width = x.shape[-2:]
    if not 1 <= patch <= min(height, width):
        raise ConvscopeError(f"patch {patch} out of range 1..{min(height, width)}")
    if steps < 1:
        raise ConvscopeError(f"steps must be at least 1, got {steps}")
    ids, count = patch_grid(height, width, patch, x.device)
    sums = torch.zeros(count, dtype=torch.float64, device=x.device).index_add_(0, ids.flatten(), a.sum(0).flatten())
    steps = min(steps, count)
    removed = torch.tensor([k * count // steps for k in range(steps + 1)], device=x.device)  # patches gone at step k
    fill = baseline_image(x, baseline, seed)
    masks = []
    for descending in (True, False):
        order = torch.argsort(sums, descending=descending, stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(count, device=x.device)
        masks.append(rank[ids][None] < removed[:, None, None])  # [L + 1, H, W]: removed at step k
    gone = torch.cat(masks)  # MoRF's steps, then LeRF's
    values, _ = _scores(
        subject,
        lambda start, stop: torch.where(gone[start:stop, None], fill, x),
        x.expand(gone.shape[0], *x.shape[1:]),
        target,
        score,
        batch_size,
        True,
    )
    morf, lerf = values[: steps + 1], values[steps + 1 :]
    original = float(morf[0])
    aopc_morf, aopc_lerf = float(np.mean(original - morf)), float(np.mean(original - lerf))
    return PerturbationCurves(
        fractions=(removed.cpu().numpy() / count).tolist(),
        morf=morf.tolist(),
        lerf=lerf.tolist(),
        original=original,
        aopc_morf=aopc_morf,
        aopc_lerf=aopc_lerf,
        abpc=(aopc_morf - aopc_lerf) / abs(original) if original else None,
        patch=patch,
        patches=count,
        score=score,
        baseline=baseline,
    )


# --- ROAD ------------------------------------------------------------------------------------------------------------
def impute(
    images: torch.Tensor,
    missing: torch.Tensor,
    solver: str | None = None,
    tolerance: float = 1e-10,
    max_iter: int = 20000,
):
    """Linear imputation of ROAD (Rong et al. 2022 §4, eq. 4): every missing pixel becomes the weighted mean of its
    8 neighbours (weights 1/6 direct, 1/12 diagonal; neighbours outside the image left out), known or imputed alike:
    one sparse linear system per image (its channels as right-hand sides), in float64: `direct` (scipy's sparse LU,
    image by image; the default on the CPU) or `cg` (conjugate gradients, Jacobi preconditioned, all images at once
    on their device; the default elsewhere).

    Args:
        images: [B, C, H, W]; missing: [B, H, W] bool, True where a pixel is removed (not all of an image).
        solver: `direct`, `cg` or None (by device); tolerance: cg's relative residual at which it stops; max_iter:
            its iteration limit.
    Returns:
        [B, C, H, W] (images' dtype): the known pixels kept, the missing ones imputed (no noise: see `road`).
    Raises:
        ConvscopeError: an image with every pixel missing (nothing to impute from).
    """
    if bool(missing.flatten(1).all(1).any()):
        raise ConvscopeError("ROAD cannot impute an image with every pixel removed (percentage 100)")
    solver = solver or ("direct" if images.device.type == "cpu" else "cg")
    _check(solver, "solver", ("direct", "cg"))
    if solver == "direct":
        return torch.stack([_impute_direct(image, gone) for image, gone in zip(images, missing)])
    channels = images.shape[1]
    x = images.double()
    unknown = missing[:, None].expand_as(x).double()
    kernel = _ROAD_KERNEL.to(x.device).view(1, 1, 3, 3).expand(channels, 1, 3, 3)

    def neighbours(t):  # sum_n w_n t_{i+n}, neighbours outside the image count as absent
        return F.conv2d(t, kernel, padding=1, groups=channels)

    weight = neighbours(torch.ones_like(x[:1]))  # s_i: the weights of the neighbours inside the image

    def operator(v):  # (A v)_i = s_i v_i - sum_n w_n v_{i+n}, on the missing pixels
        return (weight * v - neighbours(v)) * unknown

    rhs = neighbours(x * (1 - unknown)) * unknown
    v = torch.zeros_like(x)
    r = rhs.clone()
    z = r / weight
    p = z.clone()
    rz = (r * z).sum((2, 3), keepdim=True)
    norm_b = rhs.flatten(2).norm(dim=2).clamp_min(1e-300)
    for _ in range(max_iter):
        if bool((r.flatten(2).norm(dim=2) <= tolerance * norm_b).all()):
            break
        ap = operator(p)
        alpha = rz / (p * ap).sum((2, 3), keepdim=True).clamp_min(1e-300)
        v = v + alpha * p
        r = r - alpha * ap
        z = r / weight
        rz_new = (r * z).sum((2, 3), keepdim=True)
        p = z + (rz_new / rz.clamp_min(1e-300)) * p
        rz = rz_new
    return torch.where(unknown.bool(), v, x).to(images.dtype)


def _impute_direct(image: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """`impute` of one image [C, H, W] by a sparse LU factorization (scipy), its channels as right-hand sides."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    channels, height, width = image.shape
    x = image.detach().double().cpu().numpy().reshape(channels, -1)
    gone = missing.cpu().numpy().ravel()
    unknown = np.flatnonzero(gone)
    index = np.full(gone.size, -1)
    index[unknown] = np.arange(unknown.size)
    row, col = unknown // width, unknown % width
    rows, cols, vals = [np.arange(unknown.size)], [np.arange(unknown.size)], []
    diagonal = np.zeros(unknown.size)
    rhs = np.zeros((unknown.size, channels))
    kernel = _ROAD_KERNEL.numpy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            w = kernel[dy + 1, dx + 1]
            if w == 0:
                continue
            r, c = row + dy, col + dx
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            diagonal[inside] += w
            neighbour = r[inside] * width + c[inside]
            free = gone[neighbour]
            rows.append(np.flatnonzero(inside)[free])
            cols.append(index[neighbour[free]])
            vals.append(np.full(int(free.sum()), -w))
            np.add.at(rhs, np.flatnonzero(inside)[~free], w * x[:, neighbour[~free]].T)
    vals.insert(0, diagonal)
    size = unknown.size
    matrix = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
    solution = splu(matrix.tocsc()).solve(rhs)
    out = x.copy()
    out[:, unknown] = solution.T
    return torch.from_numpy(out).view(channels, height, width).to(image.device, image.dtype)


@dataclass
class RoadCurves:
    """ROAD of one image: at each of `percentages` (share of pixels removed, %) the target's score with the most
    (`morf`) and the least (`lerf`) relevant pixels imputed, and whether the model still predicts the target
    (`morf_correct`, `lerf_correct`: the accuracy of Rong et al. 2022 for one image; empty for a hidden unit, which
    predicts no class); `original` f(x);
    `combined` = (mean(lerf) - mean(morf)) / 2, pytorch-grad-cam's ROADCombined (score units, higher: more
    faithful); `noise` the imputation noise's std."""

    percentages: list[float]
    morf: list[float]
    lerf: list[float]
    morf_correct: list[bool]
    lerf_correct: list[bool]
    original: float
    combined: float
    noise: float
    score: str


def road(
    subject: Subject,
    image: torch.Tensor,
    attribution: torch.Tensor,
    target: int | HiddenUnit | str,
    *,
    percentages: tuple[float, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90),
    noise: float = 0.01,
    seed: int = 0,
    score: str = "logit",
    batch_size: int | None = None,
) -> RoadCurves:
    """ROAD, RemOve And Debias (Rong et al. 2022): the floor(p H W / 100) most (MoRF) and least (LeRF) relevant
    pixels (map summed over channels; all channels of a pixel go together) are removed and filled by noisy linear
    imputation (`impute`, then + `noise` N(0, 1), drawn from a generator seeded with `seed`), for each p of
    `percentages`; all 2 len(percentages) images are imputed and scored in one batch.

    Args:
        subject, image [C, H, W] in [0, 1], attribution [H, W] / [1, H, W] / [C, H, W], target: as
        `region_perturbation`; percentages: each in (0, 100); noise: >= 0 (in [0, 1] image units); seed; score;
        batch_size.
    Returns:
        `RoadCurves`.
    Raises:
        ConvscopeError: a percentage outside (0, 100), noise < 0, or as `region_perturbation`.
    References:
        Rong et al. 2022, §4 eq. 4-5 (noisy linear imputation; MoRF / LeRF).
    """
    x = _image(subject, image)
    a = _map(attribution, x).sum(0).flatten()
    target = checked_target(subject, target, score)
    if not percentages or any(not 0 < p < 100 for p in percentages):
        raise ConvscopeError(f"percentages must lie in (0, 100), got {list(percentages)}")
    if noise < 0:
        raise ConvscopeError(f"noise must be at least 0, got {noise}")
    height, width = x.shape[-2:]
    masks = []
    for descending in (True, False):
        order = torch.argsort(a, descending=descending, stable=True)
        for p in percentages:
            mask = torch.zeros(height * width, dtype=torch.bool, device=x.device)
            mask[order[: int(height * width * p / 100)]] = True
            masks.append(mask.view(height, width))
    missing = torch.stack(masks)
    filled = impute(x.expand(len(masks), -1, -1, -1), missing)
    generator = torch.Generator().manual_seed(int(seed))
    jitter = torch.randn(filled.shape, generator=generator, dtype=torch.float64).to(x.device, filled.dtype)
    filled = torch.where(missing[:, None], filled + noise * jitter, filled)
    values, predicted = target_scores(subject, torch.cat([x, filled]), target, score, batch_size)
    n = len(percentages)
    morf, lerf = values[1 : n + 1], values[n + 1 :]
    correct = predicted[1:] == target if predicted is not None else np.zeros(0, bool)  # a unit predicts nothing
    return RoadCurves(
        percentages=[float(p) for p in percentages],
        morf=morf.tolist(),
        lerf=lerf.tolist(),
        morf_correct=correct[:n].tolist(),
        lerf_correct=correct[n:].tolist(),
        original=float(values[0]),
        combined=float((lerf.mean() - morf.mean()) / 2),
        noise=float(noise),
        score=score,
    )


# --- faithfulness correlation -----------------------------------------------------------------------------------------
@dataclass
class Correlation:
    """Faithfulness correlation of one image: `pearson` between `attribution_sums` [runs] (the map summed over each
    random subset) and `drops` [runs] (f(x) - f(x with the subset replaced), score units); None when either is
    constant. `subset`: entries per subset."""

    pearson: float | None
    attribution_sums: list[float]
    drops: list[float]
    subset: int
    runs: int


def faithfulness_correlation(
    subject: Subject,
    image: torch.Tensor,
    attribution: torch.Tensor,
    target: int | HiddenUnit | str,
    *,
    subset: int = 224,
    runs: int = 100,
    baseline: str | float = "black",
    seed: int = 0,
    score: str = "logit",
    batch_size: int | None = None,
) -> Correlation:
    """Faithfulness correlation (Bhatt et al. 2020, eq. 2): corr over random subsets S of |S| = `subset` input
    entries (the image's C H W values; a one-channel map is broadcast over the channels, as Quantus does) of
    sum_{i in S} a_i and f(x) - f(x_[x_S = baseline]). Subsets are drawn by numpy's RandomState(`seed`) with
    `choice(C H W, subset, replace=False)`, one per run: the draws of Quantus's FaithfulnessCorrelation after
    `np.random.seed(seed)`. The `runs` perturbed images are scored in batches.

    Args:
        subject, image, attribution, target, baseline, score, batch_size: as `region_perturbation`;
        subset: 1..C H W; runs: >= 2; seed: the subsets' (and a uniform baseline's) seed.
    Returns:
        `Correlation`.
    Raises:
        ConvscopeError: subset or runs out of range, or as `region_perturbation`.
    References:
        Bhatt, Weller & Moura 2020, eq. 2.
    """
    x = _image(subject, image)
    a = _map(attribution, x).expand(x.shape[1:]).flatten()
    total = a.numel()
    if not 1 <= subset <= total:
        raise ConvscopeError(f"subset {subset} out of range 1..{total}")
    if runs < 2:
        raise ConvscopeError(f"runs must be at least 2, got {runs}")
    rng = np.random.RandomState(seed)
    chosen = torch.as_tensor(np.stack([rng.choice(total, subset, replace=False) for _ in range(runs)]), device=x.device)
    gone = torch.zeros(runs, total, dtype=torch.bool, device=x.device)
    gone[torch.arange(runs, device=x.device)[:, None], chosen] = True
    fill = baseline_image(x, baseline, seed).flatten()
    perturbed = torch.where(gone, fill, x.flatten()).view(runs, *x.shape[1:])
    values, _ = target_scores(subject, torch.cat([x, perturbed]), target, score, batch_size)
    drops = values[0] - values[1:]
    sums = a[chosen].sum(1).cpu().numpy()
    pearson = None
    if sums.std() > 0 and drops.std() > 0:
        pearson = _finite(np.corrcoef(sums, drops)[0, 1])
    return Correlation(pearson, sums.tolist(), drops.tolist(), subset, runs)


# --- completeness ----------------------------------------------------------------------------------------------------
@dataclass
class Completeness:
    """How much of the output a map accounts for: `total` = sum of the map (all entries); `output` f(x);
    `baseline_output` f(x') for the baseline image x'; `of_output` = total / f(x) (conservation, 1 for a conserving
    LRP) and `of_difference` = total / (f(x) - f(x')) (completeness, 1 for integrated gradients from x'); None
    where the denominator is 0."""

    total: float
    output: float
    baseline_output: float
    of_output: float | None
    of_difference: float | None


def completeness(
    subject: Subject,
    image: torch.Tensor,
    attribution: torch.Tensor,
    target: int | HiddenUnit | str,
    *,
    baseline: str | float = "black",
    seed: int = 0,
    score: str = "logit",
) -> Completeness:
    """Completeness / conservation (Sundararajan et al. 2017 §2; Montavon et al. 2017): the sum of the map against
    the target's output and against the output minus the baseline image's output.

    Args:
        subject, image, attribution ([H, W], [1, H, W] or [C, H, W]: every entry summed), target, baseline, seed,
        score: as `region_perturbation`.
    Returns:
        `Completeness` (map units against score units: logits for LRP and integrated gradients).
    Raises:
        ConvscopeError: as `region_perturbation`.
    References:
        Sundararajan, Taly & Yan 2017, §2 (completeness); Montavon et al. 2017 (conservation).
    """
    x = _image(subject, image)
    total = float(_map(attribution, x).sum())
    values, _ = target_scores(subject, torch.cat([x, baseline_image(x, baseline, seed)]), target, score)
    output, base = float(values[0]), float(values[1])
    return Completeness(
        total=total,
        output=output,
        baseline_output=base,
        of_output=total / output if output else None,
        of_difference=total / (output - base) if output != base else None,
    )
