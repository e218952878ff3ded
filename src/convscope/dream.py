"""DeepDream on a real image (seed 001 §3.2.1, §3.2.5; Mordvintsev, Olah & Tyka 2015).

For each octave, smallest first: the image is the original at that size plus the detail dreamed so far
(upsampled), then `steps` gradient-ascent steps Input_{t+1} = Input_t + eta * grad / std(grad) (seed 001
eq. 3.5 with the gradient divided by its standard deviation), each under a random jitter (a circular shift that
is undone afterwards). With color decorrelation the step is taken in the decorrelated space z = M^-1 x, as
seed 001 §3.2.5 describes, so the original colors are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ConvscopeError
from .objectives import Objective
from .param import decorrelation_matrix, mix_colors
from .progress import Preview, Progress, preview_due
from .subject import Subject


@dataclass
class DreamResult:
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
    """Dream `objective` into `image` [1, C, H, W] in [0, 1] at its own resolution.

    `progress("steps", done, octaves * steps)` after every step (it may raise to stop); `preview("dream", image
    [C, H, W] in [0, 1])` at `preview_due` steps (convscope.progress)."""
    if octaves < 1 or steps < 1 or octave_scale <= 1 or step_size <= 0 or jitter < 0:
        raise ConvscopeError(
            f"dream needs octaves >= 1, steps >= 1, an octave scale > 1, a step size > 0 and "
            f"a jitter >= 0 (got {octaves}, {steps}, {octave_scale}, {step_size}, {jitter})"
        )
    image = subject.prepare(image)[:1]
    generator = torch.Generator().manual_seed(seed)
    height, width = image.shape[2:]
    sizes = [
        (max(8, round(height / octave_scale**k)), max(8, round(width / octave_scale**k)))
        for k in reversed(range(octaves))
    ]
    use_color = decorrelate and image.shape[1] == 3
    matrix = decorrelation_matrix().to(image) if use_color else None
    inverse = torch.linalg.inv(matrix) if use_color else None
    layers = list(objective.layers)
    subject.check_size(
        sizes[0], layers, field=f"the smallest octave (octaves={octaves}, octave scale={octave_scale:g})"
    )

    def score(x: torch.Tensor) -> torch.Tensor:
        return objective(subject.capture(x, layers)).sum()

    with torch.no_grad():
        before = float(score(image))
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
            (grad,) = torch.autograd.grad(score(shifted), z)
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
