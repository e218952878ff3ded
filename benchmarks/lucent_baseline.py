"""Lucent (torch-lucent 0.1.8) feature visualization as a timing baseline for convscope's benchmarks.

Lucent lives in benchmarks/.lucent/ (installed by benchmarks/lucent_env.sh), never in convscope's dependencies.

    .venv/bin/python benchmarks/lucent_baseline.py      # smoke run: googlenet inception4a, 224 px, 4 steps

What Lucent 0.1.8's render_vis does, read from its source (lucent/optvis/render.py, transform.py, param/):
- parameterization `param.image(size, batch=N)`: an FFT spectrum (1/f scaled), colour decorrelation, sigmoid;
  Adam with lr 0.05; one optimizer step per threshold step, each a full forward of the whole model (no
  truncation at the objective's layer) and a backward.
- transforms `transform.standard_transforms`: pad 12 (constant 0.5), jitter 8 (a shift of 0..7 px, right
  and down only), random scale 0.9..1.1 of the padded size, random rotation -10..10 degrees (kornia),
  jitter 4; then ImageNet normalization (one torchvision Normalize call per image) for any model not named
  "InceptionV1". One random draw per step is shared by the whole batch (numpy's global RNG), not one per image.
- image size: the transforms turn a 224 image into 248-249 px (scale <= 1 pads back) up to 273 px (scale
  > 1). Without `fixed_image_size`, Lucent resizes the transformed image to 224 only when the parameterized
  image is smaller than 224, so at size 224 the network sees 248-273 px. With `fixed_image_size=size` it
  appends a bilinear `nn.Upsample(size)` (align_corners=True, no antialiasing) after normalization, so the
  network sees exactly size x size; at 224 that downsamples the padded image, never upsamples it. We pass
  it by default (`fixed_size=True`), matching convscope, whose transforms resample back to the asked size.
- hooks: every render_vis call registers a forward hook on every submodule (223 in googlenet) and never
  removes them, so reusing a model makes each later forward slower (N calls -> N hooks per module). The
  callable below removes Lucent's hooks from the model before and after each call.
- device: Lucent puts its parameters on cuda:0 when CUDA is available, else on the CPU; the model must be there.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

LUCENT_DIR = Path(__file__).resolve().parent / ".lucent"


def lucent_available() -> bool:
    """Put benchmarks/.lucent first on sys.path (when it exists) and try to import Lucent; False on failure."""
    if LUCENT_DIR.is_dir() and str(LUCENT_DIR) not in sys.path:
        sys.path.insert(0, str(LUCENT_DIR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # kornia 0.4's torch.jit.script decorators
            from lucent.optvis import objectives, param, render  # noqa: F401
    except Exception:  # noqa: BLE001 - any import-time incompatibility means "not available"
        return False
    return True


def _remove_lucent_hooks(model: torch.nn.Module) -> None:
    """Remove the forward hooks Lucent's render_vis left on the model's modules (through their own handles)."""
    from lucent.optvis.render import ModuleHook

    for module in model.modules():
        for hook in list(module._forward_hooks.values()):
            owner = getattr(hook, "__self__", None)
            if isinstance(owner, ModuleHook):
                owner.close()


def make_lucent_render(
    model: torch.nn.Module,
    layer: str,
    channels: list[int],
    size: int,
    steps: int,
    seed: int = 0,
    fixed_size: bool = True,
) -> Callable[[], np.ndarray]:
    """Return a zero-argument callable running Lucent's render_vis: batch item i maximizes the mean of channel
    `channels[i]` of `layer` (Lucent's name: the module path with "." replaced by "_"), FFT + decorrelated
    parameterization at size x size, standard transforms, `steps` Adam steps. It returns the final images as
    float32 [N, size, size, 3] in [0, 1]. Each call seeds torch's and numpy's global RNGs with `seed` (Lucent
    draws from them) and leaves no hook on `model`. `fixed_size=False` keeps Lucent's default sizing (see the
    module docstring)."""
    if not lucent_available():
        raise RuntimeError("Lucent is not installed: run benchmarks/lucent_env.sh")
    from lucent.optvis import objectives, param, render
    from lucent.optvis.param.spatial import device

    model_device = next(model.parameters()).device
    if model_device != device:
        raise ValueError(f"Lucent renders on {device}; move the model there (it is on {model_device})")
    objective = objectives.Objective.sum([objectives.channel(layer, c, batch=i) for i, c in enumerate(channels)])

    def run() -> np.ndarray:
        _remove_lucent_hooks(model)
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            images = render.render_vis(
                model,
                objective,
                lambda: param.image(size, batch=len(channels)),
                thresholds=(steps,),
                show_image=False,
                progress=False,
                fixed_image_size=size if fixed_size else None,
            )
        finally:
            _remove_lucent_hooks(model)
        return np.ascontiguousarray(images[-1], dtype=np.float32)

    return run


if __name__ == "__main__":
    import time

    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).eval().requires_grad_(False)
    STEPS = 4
    for chans in ([0, 1, 2, 3, 4, 5, 6, 7], [0]):
        render_fn = make_lucent_render(net, "inception4a", chans, 224, steps=STEPS)
        render_fn()  # warm-up
        start = time.perf_counter()
        out = render_fn()
        per_step = (time.perf_counter() - start) / STEPS
        hooks = sum(len(m._forward_hooks) for m in net.modules())
        print(
            f"batch {len(chans)}: {per_step:.3f} s/step, output {out.shape} {out.dtype} "
            f"[{out.min():.3f}, {out.max():.3f}], hooks left on the model: {hooks}"
        )
