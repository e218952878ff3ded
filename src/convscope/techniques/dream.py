"""DeepDream on a real image (Mordvintsev, Olah & Tyka 2015; Barsch & Eilertsen 2018 §3.2.1, §3.2.5).

For each octave, smallest first: the image is the original at that size plus the detail dreamed so far
(upsampled), then `steps` gradient-ascent steps Input_{t+1} = Input_t + eta * grad / std(grad) (Barsch &
Eilertsen eq. 3.5 with the gradient divided by its standard deviation), each under a random jitter (a circular
shift that is undone afterwards). With color decorrelation the step is taken in the decorrelated space
z = M^-1 x, as their §3.2.5 describes, so the original colors are kept.

References:
    Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going deeper into neural networks" (Google Research blog).
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks"
    (MSc thesis, NTNU; seed 001), §3.2.1 (eq. 3.4-3.5), §3.2.5 (decorrelated colors, DeepDream).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.autograd_checks import explained_errors, gradients, require_gradient
from ..core.errors import ConvscopeError, SizeError
from ..core.progress import Preview, Progress, preview_due
from ..core.subject import Subject
from .objectives import Objective
from .param import decorrelation_matrix, mix_colors


@dataclass
class DreamResult:
    """The dreamed `image` [1, C, H, W] in [0, 1] (CPU, float32), the objective (summed over the batch of
    one, objective units) on the start image (`objective_before`) and on the result (`objective_after`), and the
    octave `sizes` [(height, width)] in pixels, smallest first."""

    image: torch.Tensor  # [1, C, H, W] in [0, 1]
    objective_before: float
    objective_after: float
    sizes: list[tuple[int, int]]


def dream(
    subject: Subject,
    image: torch.Tensor,
    objective: Objective,
    *,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.01,
    jitter: int = 32,
    decorrelate: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
    preview: Preview | None = None,
) -> DreamResult:
    """Dream `objective` into `image` at its own resolution (octaves, normalized gradient ascent, jitter).

    The image is kept in float32 whatever the model's type (a float16 model sees each step's image cast to float16).

    Args:
        subject: the model under study.
        image: [1, C, H, W] in [0, 1] (only the first image of a batch is used).
        objective: what to amplify, e.g. `objectives.deepdream(layer)` (mean of squared activations).
        octaves: number of scales (>= 1), each `octave_scale` (> 1) times the previous; the smallest is at least
            8 pixels a side.
        steps: gradient steps per octave (>= 1).
        step_size: eta (> 0): each step adds eta * grad / std(grad) to the image ([0, 1] pixel units; with
            `decorrelate`, to its decorrelated colors).
        jitter: largest random circular shift per step, in pixels (>= 0).
        decorrelate: step in ImageNet's decorrelated color space (3-channel images).
        seed: the jitter's random stream.
        progress: `progress("steps", done, octaves * steps)` after every step (it may raise to stop).
        preview: `preview("dream", image [C, H, W] in [0, 1])` at `preview_due` steps (convscope.core.progress).
    Returns:
        DreamResult.
    Raises:
        ConvscopeError: parameters out of range.
        SizeError: the smallest octave cannot reach the objective's layers.
        GradientPathError: a layer the objective reads does not depend on the image through autograd (a
            torch.no_grad() in the model's forward).
        DtypeError: an op missing in a float16 / bfloat16 model's type.
    References:
        Mordvintsev, Olah & Tyka 2015, "Inceptionism"; Barsch & Eilertsen 2018, eq. 3.5 and §3.2.5.
    """
    with explained_errors(subject, "DeepDream"):
        return _dream(
            subject,
            image,
            objective,
            octaves,
            octave_scale,
            steps,
            step_size,
            jitter,
            decorrelate,
            seed,
            progress,
            preview,
        )


def _dream(
    subject: Subject,
    image: torch.Tensor,
    objective: Objective,
    octaves: int,
    octave_scale: float,
    steps: int,
    step_size: float,
    jitter: int,
    decorrelate: bool,
    seed: int,
    progress: Progress | None,
    preview: Preview | None,
) -> DreamResult:
    if octaves < 1 or steps < 1 or octave_scale <= 1 or step_size <= 0 or jitter < 0:
        raise ConvscopeError(
            f"dream needs octaves >= 1, steps >= 1, an octave scale > 1, a step size > 0 and "
            f"a jitter >= 0 (got {octaves}, {steps}, {octave_scale}, {step_size}, {jitter})"
        )
    image = subject.prepare(image)[:1]
    generator = torch.Generator().manual_seed(seed)
    height, width = image.shape[2:]
    use_color = decorrelate and image.shape[1] == 3
    matrix = decorrelation_matrix().to(image) if use_color else None
    inverse = torch.linalg.inv(matrix) if use_color else None
    layers = list(objective.layers)
    sizes = octave_sizes(subject, (height, width), octaves, octave_scale, layers)

    def score(x: torch.Tensor) -> torch.Tensor:
        captured = subject.capture(x, layers)
        if torch.is_grad_enabled():  # the layers read must depend on the image: else no gradient to ascend
            advice = "run that part of the forward with gradients enabled (dreaming needs the image's gradient)"
            require_gradient(subject, captured, subject.normalize(subject.prepare(x.detach())), "DeepDream", advice)
        return objective(captured).sum()

    with torch.no_grad():
        start = image if sizes[-1] == (height, width) else _resized(image, sizes[-1])  # a fixed-size model
        before = float(score(start))
    detail = torch.zeros_like(image[:, :, : sizes[0][0], : sizes[0][1]])
    done, total = 0, octaves * steps
    for size in sizes:
        base = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
        detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)
        x = (base + detail).clamp(0, 1)
        for _ in range(steps):
            dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
            z = _to_space(x, inverse).requires_grad_(True)
            shifted = torch.roll(_from_space(z, matrix), shifts=(dy, dx), dims=(2, 3))
            (grad,) = gradients(subject, score(shifted), [z])
            with torch.no_grad():
                z = z + step_size * grad / grad.std().clamp_min(1e-8)
                x = _from_space(z, matrix).clamp(0, 1)
            done += 1
            if preview is not None and preview_due(done, total):
                preview("dream", x[0].detach())
            if progress is not None:
                progress("steps", done, total)
        detail = x - base
    with torch.no_grad():
        after = float(score(x))
    return DreamResult(x.detach().cpu(), before, after, sizes)


def _to_space(x: torch.Tensor, inverse: torch.Tensor | None) -> torch.Tensor:
    return x.detach().clone() if inverse is None else mix_colors(inverse, x)


def _from_space(z: torch.Tensor, matrix: torch.Tensor | None) -> torch.Tensor:
    return z if matrix is None else mix_colors(matrix, z)


def octave_sizes(
    subject: Subject, size: tuple[int, int], octaves: int, octave_scale: float, layers: list[str]
) -> list[tuple[int, int]]:
    """The (height, width) of each octave in pixels, smallest first, for an image of `size`.

    Octave k is size / octave_scale^k (at least 8 pixels). The smallest and the largest are checked against
    `layers`. A model that only works at its own input size (a ViT's fixed patch grid, a flatten before a linear
    layer: `SizeError.works_at`) runs every octave at that size, the image resized to it: the octaves then differ
    only by the detail carried from one to the next.

    Raises:
        SizeError: the smallest or largest octave does not reach `layers` (too small), unless the model works only
            at its own input size (then every octave runs there).
    """
    height, width = size
    sizes = [
        (max(8, round(height / octave_scale**k)), max(8, round(width / octave_scale**k)))
        for k in reversed(range(octaves))
    ]
    try:
        subject.check_size(
            sizes[0], layers, field=f"the smallest octave (octaves={octaves}, octave scale={octave_scale:g})"
        )
        if sizes[-1] != sizes[0]:
            subject.check_size(sizes[-1], layers, field="the image's size")
    except SizeError as exc:
        own = getattr(exc, "works_at", None)
        if own is None:
            raise
        return [tuple(own)] * octaves
    return sizes


def _resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
