"""Classic image regularizers of activation maximization: penalties and projections, for `render(regularizers=...)`.

Yosinski et al. 2015 maximize a_i(x) - R_θ(x) (eq. 1) by the update x <- r_θ(x + η ∂a_i/∂x) (eq. 2), where r_θ is
a regularizing operator applied after each step: L2 decay, Gaussian blur, clipping pixels with small norm, clipping
pixels with small contribution. Mahendran & Vedaldi 2015 / 2016 add regularizers R(x) to the objective (eq. 1 of
both: x* = argmin ℓ(Φ(x), Φ0) + λ R(x)): the α-norm R_α(x) = ||x||_α^α and the total variation
R_{V^β}(x) = Σ_{i,j} ((x_{i,j+1} - x_{i,j})² + (x_{i+1,j} - x_{i,j})²)^{β/2} (§2.1 of the CVPR paper). Seed 001
(Barsch & Eilertsen 2018) describes Yosinski's four in §2.5.2.

Two kinds of Regularizer:

- penalties, subtracted from every item's objective at every step (render's loss is -(score - Σ penalty)); each is
  computed per item on the image in [0, 1] centred at grey, u = x - 0.5, and normalized by its number of terms (a
  mean over channels and pixels), so a weight means the same at any size: `l1`, `l2`, `alpha_norm`,
  `total_variation`;
- projections, applied to the image after each optimizer step (every `every` steps) and written back into the
  parameterization with `ImageParam.set_image` (exact for pixel / fft / laplacian up to the sigmoid's 1e-3 clamp;
  phase-only for maco, whose magnitude is fixed: a blur, a zero-phase filter, then changes nothing): `blur`, `clip`,
  `clip_contribution`. Value clipping to [0, 1] needs no regularizer: every parameterization squashes into it.

`parse_regularizer` reads the text form of the CLI and API (`l1:0.01`, `tv:0.1:2`, `blur:4:0.5`, `clip:10`, ...).

References:
    Yosinski, Clune, Nguyen, Fuchs & Lipson 2015, "Understanding Neural Networks Through Deep Visualization" (ICML
    Deep Learning workshop), §3, eq. 1-2 and the four regularizers.
    Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them" (CVPR), eq. 1 and §2.1
    (α-norm, total variation V^β); Mahendran & Vedaldi 2016, "Visualizing Deep Convolutional Neural Networks Using
    Natural Pre-images" (IJCV), the same regularizers.
    Barsch & Eilertsen 2018 (seed 001), §2.5.2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..core.errors import ConvscopeError

PENALTY, PROJECTION = "penalty", "projection"

#: the accepted text forms (parse_regularizer)
FORMS = "l1:W, l2:W, alpha:W[:ALPHA], tv:W[:BETA], blur:EVERY[:SIGMA], clip:PERCENT, clip-contribution:PERCENT"


@dataclass(frozen=True)
class Regularizer:
    """One regularizer: a penalty (`penalty(images)` -> [N], subtracted from the objective each step) or a
    projection (`project(images, gradient)` -> images, applied after every `every`-th optimizer step).

    Args:
        kind: `penalty` or `projection`.
        name: its text form (`tv:0.1:2`), as `parse_regularizer` reads it.
        function: penalty: images [N, C, H, W] in [0, 1] -> [N] (unweighted); projection: (images, gradient of the
            objective w.r.t. the images or None) -> images [N, C, H, W] in [0, 1].
        weight: a penalty's weight (>= 0).
        every: a projection runs after optimizer steps every, 2 every, ... (>= 1).
    """

    kind: str
    name: str
    function: Callable = field(repr=False, compare=False)
    weight: float = 1.0
    every: int = 1

    def penalty(self, images: torch.Tensor) -> torch.Tensor:
        """weight · the penalty of each item: [N] (0 for a projection)."""
        if self.kind != PENALTY:
            return images.new_zeros(images.shape[0])
        return self.weight * self.function(images)

    def due(self, step: int) -> bool:
        """Whether a projection runs after optimizer step `step` (0-based): (step + 1) % every == 0."""
        return self.kind == PROJECTION and (step + 1) % self.every == 0

    def project(self, images: torch.Tensor, gradient: torch.Tensor | None = None) -> torch.Tensor:
        """The projected images [N, C, H, W] in [0, 1] (a penalty returns them unchanged); `gradient` is
        d objective / d images of the last step (clip_contribution needs it)."""
        if self.kind != PROJECTION:
            return images
        return self.function(images, gradient)


def _weight(weight: float, what: str) -> float:
    if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ConvscopeError(f"{what}: weight must be a finite number >= 0, got {weight!r}")
    return float(weight)


def _centred(images: torch.Tensor) -> torch.Tensor:
    return images - 0.5


def l1(weight: float) -> Regularizer:
    """L1 penalty: weight · mean_{c,h,w} |x - 0.5| per item ([N], x in [0, 1]; in [0, 0.5] · weight).

    Raises:
        ConvscopeError: a negative or non-finite weight.
    References:
        Mahendran & Vedaldi 2015 (CVPR), §2.1: the α-norm R_α(x) = ||x||_α^α with α = 1, here as a mean.
    """
    weight = _weight(weight, "l1")
    return Regularizer(PENALTY, f"l1:{weight:g}", lambda x: _centred(x).abs().flatten(1).mean(1), weight)


def l2(weight: float) -> Regularizer:
    """L2 penalty: weight · mean_{c,h,w} (x - 0.5)² per item ([N]; in [0, 0.25] · weight): the L2 decay of
    Yosinski et al. 2015 as a penalty (its gradient step is the decay x <- (1 - 2 η weight / P) x).

    Raises:
        ConvscopeError: a negative or non-finite weight.
    References:
        Yosinski et al. 2015, "Understanding Neural Networks Through Deep Visualization", §3 (L2 decay, eq. 2's
        r_θ); Mahendran & Vedaldi 2015, §2.1 (α = 2).
    """
    weight = _weight(weight, "l2")
    return Regularizer(PENALTY, f"l2:{weight:g}", lambda x: _centred(x).pow(2).flatten(1).mean(1), weight)


def alpha_norm(weight: float, alpha: float = 6.0) -> Regularizer:
    """α-norm penalty: weight · mean_{c,h,w} |x - 0.5|^α per item ([N]; in [0, 0.5^α] · weight); a large α (6)
    mostly punishes the extreme values.

    Raises:
        ConvscopeError: a negative weight or α < 1.
    References:
        Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them" (CVPR), §2.1:
        R_α(x) = ||x||_α^α (α = 6 in their experiments), regularizer of eq. 1.
    """
    weight = _weight(weight, "alpha")
    if not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha < 1:
        raise ConvscopeError(f"alpha: the exponent must be a number >= 1, got {alpha!r}")
    alpha = float(alpha)
    return Regularizer(
        PENALTY,
        f"alpha:{weight:g}:{alpha:g}",
        lambda x: _centred(x).abs().pow(alpha).flatten(1).mean(1),
        weight,
    )


def tv_terms(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """((x_{i,j+1} - x_{i,j})² + (x_{i+1,j} - x_{i,j})²)^{β/2} for i < H-1, j < W-1 per channel: [N, C, H-1, W-1]
    (for β < 2 a 1e-12 inside the power keeps the gradient finite where the image is flat)."""
    right = images[..., :-1, 1:] - images[..., :-1, :-1]
    down = images[..., 1:, :-1] - images[..., :-1, :-1]
    squared = right.pow(2) + down.pow(2)
    if beta == 2:
        return squared
    return (squared + 1e-12).pow(beta / 2)


def total_variation(weight: float, beta: float = 2.0) -> Regularizer:
    """Total-variation penalty: weight · the mean over channels and the (H-1)(W-1) positions of
    ((x_{i,j+1} - x_{i,j})² + (x_{i+1,j} - x_{i,j})²)^{β/2} per item ([N]; in [0, 2^{β/2}] · weight; x in [0, 1]).

    Raises:
        ConvscopeError: a negative weight, β <= 0, or (when applied) images under 2x2 pixels.
    References:
        Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them" (CVPR), §2.1:
        R_{V^β}(x) (β = 1: the classic TV; β > 1 avoids its spikes), regularizer of eq. 1; Mahendran &
        Vedaldi 2016 (IJCV).
    """
    weight = _weight(weight, "tv")
    if not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ConvscopeError(f"tv: beta must be a number > 0, got {beta!r}")
    beta = float(beta)

    def function(x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 2:
            raise ConvscopeError(f"tv: images of {x.shape[-1]}x{x.shape[-2]} pixels have no neighbours")
        return tv_terms(x, beta).flatten(1).mean(1)

    return Regularizer(PENALTY, f"tv:{weight:g}:{beta:g}", function, weight)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of [N, C, H, W]: kernel exp(-k² / (2σ²)) / Σ for |k| <= ceil(3σ), edges
    replicated (so a constant image stays constant). σ = 0 returns the images."""
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(k**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    n, channels, height, width = images.shape
    x = images.reshape(n * channels, 1, height, width)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x.reshape(n, channels, height, width)


def blur(every: int = 4, sigma: float = 0.5) -> Regularizer:
    """Gaussian blur of the image (σ pixels, `gaussian_blur`) every `every` optimizer steps (a projection).

    Raises:
        ConvscopeError: every < 1 or σ < 0.
    References:
        Yosinski et al. 2015, "Understanding Neural Networks Through Deep Visualization", §3: Gaussian blur as
        r_θ of eq. 2 (every few steps, small σ).
    """
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ConvscopeError(f"blur: every must be a whole number >= 1, got {every!r}")
    if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise ConvscopeError(f"blur: sigma must be a number >= 0, got {sigma!r}")
    sigma = float(sigma)
    return Regularizer(
        PROJECTION, f"blur:{every}:{sigma:g}", lambda x, g: gaussian_blur(x, sigma).clamp(0, 1), every=every
    )


def _percentile(percentile: float, what: str) -> float:
    if not isinstance(percentile, (int, float)) or not 0 <= percentile <= 100:
        raise ConvscopeError(f"{what}: percentile must be a number in [0, 100], got {percentile!r}")
    return float(percentile)


def _grey_below(images: torch.Tensor, score: torch.Tensor, percentile: float) -> torch.Tensor:
    """Pixels whose score [N, H, W] is below the item's `percentile`-th percentile set to grey 0.5."""
    threshold = torch.quantile(score.flatten(1), percentile / 100, dim=1).view(-1, 1, 1)
    return torch.where((score < threshold)[:, None], torch.full_like(images, 0.5), images)


def clip(percentile: float) -> Regularizer:
    """Clipping pixels with small norm: pixels whose norm ||x(i, j) - 0.5|| over the channels is below the item's
    `percentile`-th percentile become grey 0.5 (a projection, every step).

    Raises:
        ConvscopeError: a percentile outside [0, 100].
    References:
        Yosinski et al. 2015, "Understanding Neural Networks Through Deep Visualization", §3 ("clipping pixels
        with small norm", r_θ of eq. 2); Barsch & Eilertsen 2018 (seed 001), §2.5.2.
    """
    percentile = _percentile(percentile, "clip")
    return Regularizer(
        PROJECTION, f"clip:{percentile:g}", lambda x, g: _grey_below(x, _centred(x).norm(dim=1), percentile)
    )


def clip_contribution(percentile: float) -> Regularizer:
    """Clipping pixels with small contribution: pixels whose |Σ_c (x - 0.5) · ∂objective/∂x| (the first-order
    change of the objective if the pixel were set to grey) is below the item's `percentile`-th percentile become
    grey 0.5 (a projection, every step; the gradient is the last step's; without one nothing changes).

    Raises:
        ConvscopeError: a percentile outside [0, 100].
    References:
        Yosinski et al. 2015, "Understanding Neural Networks Through Deep Visualization", §3 ("clipping pixels
        with small contribution", r_θ of eq. 2); Barsch & Eilertsen 2018 (seed 001), §2.5.2.
    """
    percentile = _percentile(percentile, "clip-contribution")

    def function(x: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        if gradient is None:
            return x
        return _grey_below(x, (_centred(x) * gradient.to(x)).sum(dim=1).abs(), percentile)

    return Regularizer(PROJECTION, f"clip-contribution:{percentile:g}", function)


def _number(text: str, item: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConvscopeError(f"regularizer `{item}`: {what} must be a number (use {FORMS})") from None
    if not math.isfinite(value):
        raise ConvscopeError(f"regularizer `{item}`: {what} must be a finite number (use {FORMS})")
    return value


def parse_regularizer(text: str) -> Regularizer:
    """A Regularizer from its text form: `l1:W`, `l2:W`, `alpha:W[:ALPHA]` (α 6 by default), `tv:W[:BETA]`
    (β 2), `blur:EVERY[:SIGMA]` (σ 0.5), `clip:PERCENT`, `clip-contribution:PERCENT`; names are case-insensitive.

    Raises:
        ConvscopeError: an unknown name, a missing or extra value, or a value that is not a number or out of range;
            the message names the item (`regularizer `tv:x`: weight must be a number ...`) and the accepted forms.
    References:
        Yosinski et al. 2015 (L2 decay, blur, both clippings); Mahendran & Vedaldi 2015 (α-norm, total variation).
    """
    item = str(text).strip()
    name, *values = [part.strip() for part in item.split(":")]
    name = name.lower().replace("_", "-")
    arity = {"l1": (1, 1), "l2": (1, 1), "alpha": (1, 2), "tv": (1, 2), "blur": (1, 2), "clip": (1, 1)}
    arity["clip-contribution"] = (1, 1)
    if name not in arity:
        raise ConvscopeError(f"regularizer `{item}`: unknown name `{name}` (use {FORMS})")
    low, high = arity[name]
    if not low <= len(values) <= high:
        raise ConvscopeError(f"regularizer `{item}`: `{name}` takes {low} to {high} values (use {FORMS})")
    try:
        if name in ("l1", "l2", "alpha", "tv"):
            weight = _number(values[0], item, "weight")
            if name == "l1":
                return l1(weight)
            if name == "l2":
                return l2(weight)
            if name == "alpha":
                return alpha_norm(weight, _number(values[1], item, "alpha") if len(values) > 1 else 6.0)
            return total_variation(weight, _number(values[1], item, "beta") if len(values) > 1 else 2.0)
        if name == "blur":
            every = _number(values[0], item, "every")
            if every != int(every):
                raise ConvscopeError(f"regularizer `{item}`: every must be a whole number of steps (use {FORMS})")
            return blur(int(every), _number(values[1], item, "sigma") if len(values) > 1 else 0.5)
        percentile = _number(values[0], item, "percentile")
        return clip(percentile) if name == "clip" else clip_contribution(percentile)
    except ConvscopeError as error:
        message = str(error)
        if message.startswith("regularizer `"):
            raise
        raise ConvscopeError(f"regularizer `{item}`: {message.split(': ', 1)[-1]} (use {FORMS})") from None
