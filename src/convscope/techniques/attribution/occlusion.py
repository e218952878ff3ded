"""Occlusion (seed 004; Zeiler & Fergus 2014): slide a patch over the image and record how much the target's
output drops. Map[h, w] = mean over the patches covering (h, w) of F_k(x) - F_k(x with the patch filled), the
patch filled with zeros of the network's input (after normalization: the dataset mean colour for ImageNet models)
or with the image's own per-channel mean; patches are evaluated in batches. With a stride larger than the patch,
pixels that no patch covers get 0 (nothing was measured there; never 0 / 0) and `info["uncovered_fraction"]`
says how many there are."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...core.autograd_checks import explained_errors
from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import Subject
from .lrp import Attribution, target_classes


def occlusion(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None = None,
    patch: int | None = None,
    stride: int | None = None,
    fill: str = "zero",
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Attribution:
    """Occlusion map [N, 1, H, W] of `target` (default: the predicted class) for [N, C, H, W] images in [0, 1]: the
    mean drop of the target's output over the patches covering each pixel (see the module docstring), float32 at
    least. Needs no gradients (a model that runs its forward under torch.no_grad() works). Raises ConvscopeError
    for a patch, stride or fill out of range, DtypeError for an op missing in a float16 / bfloat16 model's type."""
    with explained_errors(subject, "occlusion"):
        return _occlusion(subject, images, target, patch, stride, fill, batch_size, progress)


def _occlusion(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None,
    patch: int | None,
    stride: int | None,
    fill: str,
    batch_size: int,
    progress: Progress | None,
) -> Attribution:
    images = subject.prepare(images)
    height, width = images.shape[-2:]
    patch = patch or max(1, min(height, width) // 14)
    stride = stride or max(1, patch // 2)
    if not 1 <= patch <= min(height, width):
        raise ConvscopeError(f"occlusion patch must be 1..{min(height, width)} pixels, got {patch}")
    if stride < 1:
        raise ConvscopeError(f"occlusion stride must be positive, got {stride}")
    if fill not in ("zero", "mean"):
        raise ConvscopeError(f"occlusion fill must be zero or mean, not `{fill}`")
    x = subject.normalize(images)
    tops = list(range(0, height - patch + 1, stride))
    lefts = list(range(0, width - patch + 1, stride))
    if tops[-1] != height - patch:
        tops.append(height - patch)
    if lefts[-1] != width - patch:
        lefts.append(width - patch)
    positions = [(t, l) for t in tops for l in lefts]
    with torch.no_grad():
        logits = subject.model_output(x)
        targets = target_classes(logits, target)
        output = logits.gather(1, targets[:, None])[:, 0]
        work = torch.promote_types(output.dtype, torch.float32)  # float32 sums for a float16 model's scores
        drop = torch.zeros(x.shape[0], 1, height, width, dtype=work, device=x.device)
        count = torch.zeros(1, 1, height, width, dtype=work, device=x.device)
        for t, l in positions:
            count[..., t : t + patch, l : l + patch] += 1
        for i in range(x.shape[0]):
            value = torch.zeros_like(x[i, :, :1, :1]) if fill == "zero" else x[i].mean((1, 2), keepdim=True)
            for start in range(0, len(positions), batch_size):
                chunk = positions[start : start + batch_size]
                batch = x[i].expand(len(chunk), -1, -1, -1).clone()
                for j, (t, l) in enumerate(chunk):
                    batch[j, :, t : t + patch, l : l + patch] = value
                scores = subject.model_output(batch)[:, targets[i]]
                for (t, l), score in zip(chunk, scores):
                    drop[i, 0, t : t + patch, l : l + patch] += output[i] - score
                if progress is not None:
                    progress("patches", i * len(positions) + start + len(chunk), x.shape[0] * len(positions))
        attribution = torch.where(count > 0, drop / count.clamp(min=1), 0.0)
        uncovered = float((count == 0).float().mean())
    return Attribution(
        "occlusion",
        attribution,
        {},
        output,
        targets,
        {"patch": patch, "stride": stride, "fill": fill, "patches": len(positions), "uncovered_fraction": uncovered},
        signed=True,
    )
