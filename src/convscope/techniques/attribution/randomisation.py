"""The randomisation sanity check of Adebayo et al. 2018: the model's parameterized layers are re-initialized one
by one from the top (cascading randomization), the map recomputed after each, and its similarity to the original
map drawn as a curve. A map that stays similar while the network is destroyed does not explain the network (an
edge detector stays at similarity 1). Always on a deep copy: the user's model is never touched.

References:
    Adebayo, Gilmer, Muelly, Goodfellow, Hardt & Kim 2018, "Sanity Checks for Saliency Maps" (NeurIPS), §3
    (cascading randomization; Spearman rank correlation of |maps| and SSIM, Fig. 2 and 4).
    Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility to structural
    similarity", eq. 13 (SSIM).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from ...core.errors import ConvscopeError
from ...core.progress import Progress
from ...core.subject import Subject
from ...core.units import HiddenUnit

#: explain(subject, image [1, C, H, W] in [0, 1], target: a class or a HiddenUnit) -> the map [H, W] (or [1, H, W])
Explain = Callable[[Subject, torch.Tensor, "int | HiddenUnit"], torch.Tensor]


def spearman(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float | None:
    """Spearman's rank correlation of two maps of equal size (flattened; ties share their mean rank): in [-1, 1],
    None when either map is constant. Raises ConvscopeError for maps of different sizes."""
    a, b = _flat(a), _flat(b)
    if a.size != b.size:
        raise ConvscopeError(f"maps of {a.size} and {b.size} values cannot be compared")
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    value = float(np.corrcoef(ra, rb)[0, 1])
    return value if np.isfinite(value) else None


def ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, data_range: float = 1.0, window: int = 7):
    """Structural similarity of two maps [H, W] (Wang et al. 2004, eq. 13): the mean over every `window` x `window`
    square inside the maps (uniform weights, sample covariances) of (2 mu_a mu_b + C1)(2 s_ab + C2) /
    ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)), C1 = (0.01 R)^2, C2 = (0.03 R)^2, R = `data_range`: in [-1, 1]
    (1: identical). Raises ConvscopeError for maps of different shapes or smaller than the window."""
    x = torch.as_tensor(np.asarray(a, np.float64)).double()
    y = torch.as_tensor(np.asarray(b, np.float64)).double()
    if x.shape != y.shape or x.dim() != 2:
        raise ConvscopeError(f"SSIM compares two [H, W] maps, got {list(x.shape)} and {list(y.shape)}")
    if min(x.shape) < window:
        raise ConvscopeError(f"SSIM needs maps of at least {window} x {window} pixels, got {list(x.shape)}")
    stack = torch.stack([x, y, x * x, y * y, x * y])[:, None]
    mean = F.avg_pool2d(stack, window, stride=1)[:, 0]
    n = window * window
    correction = n / (n - 1)
    var_x = correction * (mean[2] - mean[0] ** 2)
    var_y = correction * (mean[3] - mean[1] ** 2)
    cov = correction * (mean[4] - mean[0] * mean[1])
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mean[0] * mean[1] + c1) * (2 * cov + c2)) / ((mean[0] ** 2 + mean[1] ** 2 + c1) * (var_x + var_y + c2))
    return float(s.mean())


def _flat(m) -> np.ndarray:
    if isinstance(m, torch.Tensor):
        m = m.detach().double().cpu().numpy()
    return np.asarray(m, np.float64).ravel()


def _unit_scaled(m: torch.Tensor) -> np.ndarray:
    """|map| [H, W] divided by its maximum (all 0 stays 0): in [0, 1]."""
    values = np.abs(_flat(m)).reshape(m.shape[-2:])
    peak = values.max()
    return values / peak if peak > 0 else values


def randomisable_layers(model: torch.nn.Module) -> list[str]:
    """The modules that can be re-initialized (they have `reset_parameters`: convolutions, linear layers,
    BatchNorm ...), from the top (output) down: the reverse of `named_modules()`, as Quantus's MPRT orders them."""
    return [name for name, module in model.named_modules() if hasattr(module, "reset_parameters")][::-1]


def layers_before(subject: Subject, layer: str) -> set[str]:
    """The modules whose first call completes no later than `layer`'s, in the traced forward (`subject.graph`'s
    execution order, as CRP's layer-order check reads it): the only layers whose weights a unit of `layer` can
    depend on in a network without recurrence. Raises UnknownLayerError for an unknown layer."""
    order = {node.name: node.order for node in subject.graph.in_execution_order()}
    last = order[subject.resolve(layer)]
    return {name for name, at in order.items() if at <= last}


@dataclass
class RandomisationCurve:
    """Cascading randomization of one image: after re-initializing the top `randomized[i]` layers (the last of them
    `layers[i]`), the recomputed map's Spearman rank correlation with the original map (of |values|) and SSIM (of
    |values| / max |values|, data range 1): `spearman` [K], `ssim` [K] in [-1, 1], 1: unchanged (None where a map is
    constant); `total`: the randomisable layers; `seed`."""

    layers: list[str]
    randomized: list[int]
    spearman: list[float | None]
    ssim: list[float | None]
    total: int
    seed: int


def cascading_randomisation(
    subject: Subject,
    image: torch.Tensor,
    explain: Explain,
    target: int | HiddenUnit,
    *,
    seed: int = 42,
    points: int | None = None,
    original: torch.Tensor | None = None,
    progress: Progress | None = None,
) -> RandomisationCurve:
    """The sanity check of Adebayo et al. 2018 §3: the layers of `randomisable_layers` re-initialized one after the
    other from the top, each by its own `reset_parameters()` after `torch.manual_seed(seed + 1)` (as Quantus's MPRT;
    the caller's random state is restored), on a deep copy of the model; the map recomputed by `explain` after
    the layers of `points` evenly spaced steps (None: after every layer) and compared with the original map.

    Args:
        subject: the model (not modified); image: [C, H, W] or [1, C, H, W] in [0, 1]; explain: (subject, image
        [1, C, H, W], target) -> map [H, W] (or [1, H, W]); target: the class explained, or a hidden unit (only
        the layers that run before its layer are randomized: `layers_before`; the others cannot change its map); seed;
        points: 1.. curve
        points; original: the original map (default: `explain` on the unmodified model); progress: hears
        ("randomisation", done, total).
    Returns:
        `RandomisationCurve`.
    Raises:
        ConvscopeError: a model without randomisable layers or that cannot be copied (TorchScript), points < 1,
        maps of another shape than the original, or as `explain`.
    References:
        Adebayo et al. 2018, §3 and Fig. 2 (cascading randomization, Spearman of |maps|, SSIM).
    """
    image = image[None] if image.dim() == 3 else image
    if original is None:
        original = explain(subject, image, target)
    original = original.detach()
    original = original[0] if original.dim() == 3 and original.shape[0] == 1 else original
    try:
        model = copy.deepcopy(subject.model)
    except Exception as exc:  # noqa: BLE001 - a model that cannot be deep-copied is the user's input
        raise ConvscopeError(f"model {subject.name} cannot be copied for randomisation: {exc}") from None
    names = randomisable_layers(model)
    copy_subject = dataclasses.replace(subject, model=model)
    if isinstance(target, HiddenUnit):
        before = layers_before(subject, target.layer)
        names = [name for name in names if name in before]
    if not names:
        below = f" below the unit {target}" if isinstance(target, HiddenUnit) else ""
        raise ConvscopeError(f"model {subject.name} has no layer with parameters to randomize{below}")
    if points is not None and points < 1:
        raise ConvscopeError(f"points must be at least 1, got {points}")
    count = len(names)
    wanted = set(range(1, count + 1)) if points is None else {int(k) for k in np.linspace(1, count, points).round()}
    modules = dict(model.named_modules())
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    reference = _unit_scaled(original)
    curve = RandomisationCurve([], [], [], [], count, seed)
    for done, name in enumerate(names, start=1):
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed + 1)
            modules[name].reset_parameters()
        if done not in wanted:
            continue
        changed = explain(copy_subject, image, target).detach()
        changed = changed[0] if changed.dim() == 3 and changed.shape[0] == 1 else changed
        if changed.shape != original.shape:
            raise ConvscopeError(f"the randomized model's map is {list(changed.shape)}, not {list(original.shape)}")
        curve.layers.append(name)
        curve.randomized.append(done)
        curve.spearman.append(spearman(np.abs(_flat(original)), np.abs(_flat(changed))))
        value = ssim(reference, _unit_scaled(changed)) if min(original.shape[-2:]) >= 7 else None
        curve.ssim.append(value if value is None or np.isfinite(value) else None)
        if progress is not None:
            progress("randomisation", done, count)
    return curve
