"""Occlusion (Zeiler & Fergus 2014): slide a patch over the image and record how much the target's output (a class
logit, or a hidden unit's score: `result.unit_score`) drops. Map[h, w] = mean over the patches covering (h, w) of
F_k(x) - F_k(x with the patch filled), the patch filled with zeros of the network's input (after normalization: the
dataset mean colour for ImageNet models) or with the image's own per-channel mean; patches are evaluated in batches.
With a stride larger than the patch, pixels that no patch covers get 0 (nothing was measured there; never 0 / 0) and
`info["uncovered_fraction"]` says how many there are.

References:
    Zeiler & Fergus 2014, "Visualizing and understanding convolutional networks" (ECCV), §4.2 (occlusion
    sensitivity).
    "Visualisation of maximising images for deep neural networks" (seed 004), §1 (a square of zeros slid over
    the image).
"""

from __future__ import annotations

import torch

from ...core.autograd_checks import explained_errors
from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import Subject
from ...core.units import HiddenUnit
from .layers import LayerRecorder
from .result import Attribution, Target, explained_output, resolve_target, unit_layers


def occlusion(
    subject: Subject,
    images: torch.Tensor,
    target: Target = None,
    patch: int | None = None,
    stride: int | None = None,
    fill: str = "zero",
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Attribution:
    """Occlusion map of `target` for a batch of images: the mean drop of the target's output over the
    patches covering each pixel (module docstring). Needs no gradients (a model that runs its forward under
    torch.no_grad() works).

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, None for each image's predicted class, or a hidden unit
            `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X` (the drop of its score, `result.unit_score`).
        patch: patch side in pixels, 1..min(H, W) (default min(H, W) // 14, at least 1).
        stride: step between patches in pixels, >= 1 (default patch // 2, at least 1); the last row and column of
            patches always touch the border.
        fill: `zero` (0 in the normalized input) or `mean` (the image's per-channel mean).
        batch_size: occluded images per forward.
        progress: `progress("patches", done, N x patches)` after each batch.
    Returns:
        Attribution `occlusion`: `input` [N, 1, H, W] in score units (positive: occluding lowers the target), float32
        at least; `output` [N] the target's scores; `unit` the hidden unit or None; `info` patch, stride, fill,
        patches, uncovered_fraction; no layers; `signed` True.
    Raises:
        ConvscopeError: a patch, stride or fill out of range, an output that is not [N, classes], a target out of
            range (a unit's channel or position: as `result.resolve_target`).
        UnknownLayerError: the target's unknown layer.
        DtypeError: an op missing in a float16 / bfloat16 model's type.
    References:
        Zeiler & Fergus 2014, §4.2.
    """
    with explained_errors(subject, "occlusion"):
        return _occlusion(subject, images, target, patch, stride, fill, batch_size, progress)


def _occlusion(
    subject: Subject,
    images: torch.Tensor,
    target: Target,
    patch: int | None,
    stride: int | None,
    fill: str,
    batch_size: int,
    progress: Progress | None,
) -> Attribution:
    target = resolve_target(subject, target)
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
        with LayerRecorder(subject, unit_layers(target)) as recorder:
            logits = subject.model_output(x)
        output, targets = explained_output(target, logits, recorder.outputs)
        work = torch.promote_types(output.dtype, torch.float32)  # float32 sums for a float16 model's scores
        drop = torch.zeros(x.shape[0], 1, height, width, dtype=work, device=x.device)
        count = torch.zeros(1, 1, height, width, dtype=work, device=x.device)
        for t, l in positions:
            count[..., t : t + patch, l : l + patch] += 1
        for i in range(x.shape[0]):
            fixed = target if unit_layers(target) else int(targets[i])
            value = torch.zeros_like(x[i, :, :1, :1]) if fill == "zero" else x[i].mean((1, 2), keepdim=True)
            for start in range(0, len(positions), batch_size):
                chunk = positions[start : start + batch_size]
                batch = x[i].expand(len(chunk), -1, -1, -1).clone()
                for j, (t, l) in enumerate(chunk):
                    batch[j, :, t : t + patch, l : l + patch] = value
                with LayerRecorder(subject, unit_layers(target)) as recorder:
                    scores = explained_output(fixed, subject.model_output(batch), recorder.outputs)[0]
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
        unit=str(target) if isinstance(target, HiddenUnit) else None,
    )
