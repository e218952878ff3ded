"""Feature accentuation: image-seeded feature visualization that stays close to the seed image inside the network.

Start from a real image x0 and maximize a unit's objective while a penalty keeps the activations of an intermediate
layer L close to x0's:

    score(x) = objective(x) + weight · closeness(x),  closeness(x) = -||A_L(x) - A_L(x0)||² / ||A_L(x0)||²

per item. The distance is the normalized Euclidean loss of Mahendran & Vedaldi (2015: the loss ℓ(Φ(x), Φ0) of
their eq. 1, Euclidean and divided by ||Φ0||² as in their experiments), so a weight of 1 means "moving as far as the
whole reference activation costs one unit of score"; Hamblin et al. 2024 regularize toward the seed in such a latent
layer with an L2 distance (their §3, the "regularization" part of their recipe: parameterization, augmentation,
regularization). The optimization is `render` started from x0 (render's `init`), with every parameterization,
transforms and regularizer it offers.

References:
    Hamblin, Fel, Saha, Konkle & Alvarez 2024, "Feature Accentuation: Revealing 'What' Features Respond to in Natural
    Images", §3 (image-seeded visualization regularized toward the seed in an intermediate layer's activations).
    Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them" (CVPR), eq. 1 (the
    representation loss ℓ(Φ(x), Φ0), Euclidean and normalized by ||Φ0||²).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..core.errors import ConvscopeError
from ..core.progress import Preview, Progress
from ..core.subject import Subject
from .objectives import Activations, Objective
from .param import ImageParam
from .regularizers import Regularizer
from .render import RenderResult, item_generators, render
from .transforms import Transforms


def closeness(layer: str, reference: torch.Tensor) -> Objective:
    """-||A_L(x) - A_L(x0)||² / ||A_L(x0)||² per item: [N] scores <= 0 (0 where the activations equal the reference,
    -1 at zero activations); to be maximized.

    Args:
        layer: the layer L (as `Subject.capture` names it).
        reference: A_L(x0), the layer's activations of the seed images [N, C', h, w] (or [N, C']); detached.
    Raises:
        ConvscopeError: (when scored) activations of another shape than the reference.
    References:
        Hamblin et al. 2024, "Feature Accentuation: Revealing 'What' Features Respond to in Natural Images", §3
        (the latent-layer L2 regularization toward the seed); Mahendran & Vedaldi 2015 (CVPR), eq. 1 (the loss
        ℓ(Φ(x), Φ0), normalized by ||Φ0||²).
    """
    reference = reference.detach()
    norms = reference.flatten(1).pow(2).sum(dim=1).clamp_min(1e-12)

    def score(acts: Activations) -> torch.Tensor:
        act = acts[layer]
        if act.shape != reference.shape:
            raise ConvscopeError(
                f"closeness: layer `{layer}` gives activations {list(act.shape)}, the reference is "
                f"{list(reference.shape)}"
            )
        return -(act - reference.to(act)).flatten(1).pow(2).sum(dim=1) / norms.to(act)

    return Objective(score, (layer,), f"{layer}:closeness")


def accentuate(
    subject: Subject,
    objective: Objective,
    image: torch.Tensor,
    layer: str,
    weight: float = 1.0,
    *,
    steps: int = 128,
    param: str = "fft",
    lr: float | None = None,
    seed: int = 0,
    transforms: Transforms | str = "seed001",
    progress: Progress | None = None,
    preview: Preview | None = None,
    cancel: Callable[[], bool] | None = None,
    regularizers: Sequence[Regularizer] = (),
) -> RenderResult:
    """Feature accentuation: `render` from `image` of objective + weight · closeness(layer, A_layer(x0)).

    x0 is the image as the parameterization reproduces it (`ImageParam.set_image`: values clamped to
    [1e-3, 1 - 1e-3] under the sigmoid; for maco the image's phase with the fixed magnitude), so the closeness is 0
    at the start. Items keep the names of `objective`'s items (their random streams), whatever the weight: weight 0
    is exactly render(objective, init=image) (for square images or the model's own input size).

    Args:
        subject: the model.
        objective: the unit(s) to accentuate (a per_item objective for N different units).
        image: the seed images x0 [N, C, H, W], values in [0, 1], C the model's channels, H, W >= 8 pixels.
        layer: the intermediate layer L whose activations stay close.
        weight: the closeness weight (>= 0; 0: plain image-seeded visualization).
        steps, lr, seed, transforms, progress, preview, cancel, regularizers: as `render`.
        param: the parameterization's space (`fft`, `pixel`, `laplacian`, `maco`).
    Returns:
        RenderResult (render's): images [N, C, H, W] in [0, 1]; history and activations are of the objective plus
        weight · closeness.
    Raises:
        UnknownLayerError: an unknown layer (`Subject.resolve`).
        ConvscopeError: image not [N, C, H, W] with the model's channels, under 8 pixels, values outside [0, 1], or
            another N than the objective's batch; a negative or non-finite weight; and render's errors.
    References:
        Hamblin, Fel, Saha, Konkle & Alvarez 2024, "Feature Accentuation: Revealing 'What' Features Respond to in
        Natural Images", §3.
    """
    if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ConvscopeError(f"weight must be a finite number >= 0, got {weight!r}")
    layer = subject.resolve(layer)
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != subject.input.channels:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ConvscopeError(f"image must be [N, {subject.input.channels}, H, W] for model {subject.name}, got {shape}")
    batch, channels, height, width = image.shape
    if min(height, width) < 8:
        raise ConvscopeError(f"image must be at least 8 pixels per side, got {width}x{height}")
    if objective.batch is not None and objective.batch != batch:
        raise ConvscopeError(f"image has {batch} images, the objective needs {objective.batch}")
    if not bool(torch.isfinite(image).all()) or float(image.min()) < 0 or float(image.max()) > 1:
        raise ConvscopeError("image values must be in [0, 1]")
    names = objective.item_names(batch)
    start = ImageParam(batch, channels, (height, width), param).to(subject.device).set_image(image.to(subject.device))
    with torch.no_grad():  # x0 as the parameterization reproduces it (render's own set_image gives the same image)
        reference = subject.capture(start(), [layer])[layer]
    close = closeness(layer, reference)
    combined = Objective(
        lambda acts: objective.score(acts) + weight * close.score(acts),
        tuple(dict.fromkeys(objective.layers + close.layers)),
        objective.name if weight == 0 else f"{objective.name} + {weight:g}*({close.name})",
        objective.units,
        batch,
        tuple(names),  # the objective's own item names: the same random streams at any weight
    )
    own_size = (height, width) == tuple(subject.input.size)
    if not own_size and height != width:  # render sizes a named space as a square: give it the parameterization
        start = ImageParam(batch, channels, (height, width), param, generator=item_generators(seed, names))
    return render(
        subject,
        combined,
        size=None if own_size else height,
        batch=batch,
        param=start if not own_size and height != width else param,
        init=image,
        transforms=transforms,
        steps=steps,
        lr=lr,
        seed=seed,
        progress=progress,
        preview=preview,
        cancel=cancel,
        regularizers=regularizers,
    )
