"""Trust numbers beside a feature visualization: natural-image statistics, the activation-path check, other models'
predictions and seed 000's four facet criteria.

Over 400 lines on purpose: the four trust measures share one spectrum, one luma and one input check, and each is
short; split up, each part would import the others' helpers.

Natural-image statistics, per image x in [0, 1] ([C, H, W]; luma Y = 0.299 R + 0.587 G + 0.114 B, ITU-R BT.601,
for 3 channels; the channel itself for 1):
  - spectrum: P(f) = |FFT2(w * (Y - mean Y))|^2 with w the 2-D Hann window (outer product of numpy's symmetric
    `hanning`): the window removes the cross of power that the image's wrap-around edges add along both axes,
    which would bias the slope towards -2 and inflate the high frequencies; f = sqrt(fx^2 + fy^2) the radial
    frequency in cycles per pixel (`numpy.fft.fftfreq` axes).
  - `spectral_slope`: the least-squares slope of log10 P_k against log10(k / S) over rings k = 2 .. S // 2, where
    S = min(H, W), ring k holds the frequencies with round(f S) = k and P_k is their mean power: from 2 cycles per
    image to Nyquist. Natural photographs: P ~ 1 / f^alpha with alpha about 2 (Field 1987; van der Schaaf & van
    Hateren 1996: 1.88 +- 0.43), so slopes of about -2 to -3; white noise 0; busy textures above -2.
  - `high_frequency_share`: power at f > 0.25 cycles per pixel (the upper half of 0 .. 0.5) over all power at
    f > 0, in [0, 1].
  - `colourfulness`: Hasler & Suesstrunk 2003, metric M^(3): rg = R - G, yb = (R + G) / 2 - B on [0, 1] values,
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2) (population std); 0 for 1-channel images.
A flat image has no power: its slope and share are None (JSON null).

Path check (Geirhos, Zimmermann, Bilodeau, Brendel & Kim 2024, "Don't trust your eyes: on the (un)reliability of
feature visualizations", ICML): an image's activation path is, at each of a few layers below the unit, its channel
vector of spatially averaged activations; two images' similarity at a layer is the Spearman rank correlation
(Spearman 1904: the Pearson correlation of the ranks, ties averaged) of their vectors. A visualization whose path
is less similar to natural images' paths than natural images are to each other is processed unlike them.

Facet criteria (seed 000, Mayer's thesis §3.III and §5.A-D, after Nguyen, Yosinski & Clune 2016), each in [0, 1]:
see `facet_criteria`.

References:
    Hasler & Suesstrunk 2003, "Measuring colourfulness in natural images" (SPIE Human Vision and Electronic
    Imaging VIII), metric M^(3). Field 1987, "Relations between the statistics of natural images and the response
    properties of cortical cells" (JOSA A). van der Schaaf & van Hateren 1996, "Modelling the power spectra of
    natural images" (Vision Research). Geirhos et al. 2024 (above). Hoyer 2004, "Non-negative matrix factorization
    with sparseness constraints" (JMLR), eq. 1. Sobel & Feldman 1968 (the 3x3 gradient operator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import ConvscopeError
from ..core.subject import LOGITS, Subject

#: ITU-R BT.601 luma weights of R, G, B
LUMA = (0.299, 0.587, 0.114)
#: radial frequency (cycles per pixel) above which power counts as high: the upper half of 0 .. 0.5
HIGH_FREQUENCY = 0.25
#: `global_structure`: power below this many cycles per image (of the shorter side) counts as global layout
GLOBAL_CYCLES = 4
#: `natural_colours` without a reference: Hasler & Suesstrunk's "moderately colourful" M = 33 on 0..255
MODERATE_COLOURFULNESS = 33 / 255
#: the smallest side the statistics accept (rings 2 .. S // 2 must hold at least 3 points)
MIN_SIDE = 8
ON_PATH, OFF_PATH = "on the natural path", "off the natural path"
STATISTICS = ("spectral_slope", "high_frequency_share", "colourfulness")
CRITERIA = ("natural_colours", "central_object", "global_structure", "clarity_of_details")


def _checked(images: torch.Tensor | Sequence[torch.Tensor], field: str = "images") -> list[np.ndarray]:
    """[N, C, H, W] (or a sequence of [C, H, W]) in [0, 1] as float64 numpy [C, H, W] arrays; ConvscopeError naming
    `field` otherwise."""
    if isinstance(images, torch.Tensor):
        if images.dim() != 4:
            raise ConvscopeError(f"{field} must be shaped [N, C, H, W], got {list(images.shape)}")
        images = list(images)
    arrays = []
    for i, image in enumerate(images):
        if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] not in (1, 3):
            shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ConvscopeError(f"{field}[{i}] must be a [C, H, W] tensor with 1 or 3 channels, got {shape}")
        array = image.detach().cpu().double().numpy()
        if min(array.shape[1:]) < MIN_SIDE:
            raise ConvscopeError(
                f"{field}[{i}] is {array.shape[1]}x{array.shape[2]}: at least {MIN_SIDE}x{MIN_SIDE} pixels needed"
            )
        if not np.isfinite(array).all() or array.min() < -1e-6 or array.max() > 1 + 1e-6:
            raise ConvscopeError(f"{field}[{i}] must hold finite values in [0, 1]")
        arrays.append(np.clip(array, 0.0, 1.0))
    if not arrays:
        raise ConvscopeError(f"{field} is empty: give at least one image")
    return arrays


def _luma(array: np.ndarray) -> np.ndarray:
    """[H, W] grey image of a [C, H, W] array: BT.601 luma for 3 channels, the channel itself for 1."""
    return np.tensordot(np.asarray(LUMA), array, axes=1) if array.shape[0] == 3 else array[0]


def _spectrum(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(power [H, W] of the mean-removed, Hann-windowed grey image; radial frequency [H, W] in cycles per pixel)."""
    height, width = grey.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((grey - grey.mean()) * window)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    return power, np.hypot(fy, fx)


def _colourfulness(array: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003, M^(3), of a [C, H, W] array in [0, 1] (0 for one channel)."""
    if array.shape[0] != 3:
        return 0.0
    red, green, blue = array
    rg, yb = red - green, (red + green) / 2 - blue
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def _statistics(array: np.ndarray) -> dict:
    power, frequency = _spectrum(_luma(array))
    side = min(array.shape[1:])
    ring = np.rint(frequency * side).astype(int)
    total = power[frequency > 0].sum()
    slope = share = None
    if total > 1e-20 * array.size:  # a flat image has no power to fit or share
        rings = np.arange(2, side // 2 + 1)
        means = np.bincount(ring.ravel(), power.ravel())[rings] / np.bincount(ring.ravel())[rings]
        if (means > 0).all():
            slope = float(np.polyfit(np.log10(rings / side), np.log10(means), 1)[0])
        share = float(power[frequency > HIGH_FREQUENCY].sum() / total)
    return {"spectral_slope": slope, "high_frequency_share": share, "colourfulness": _colourfulness(array)}


def image_statistics(images: torch.Tensor | Sequence[torch.Tensor]) -> list[dict]:
    """Natural-image statistics of each image (module docstring): the power spectrum's slope (Field 1987; van der
    Schaaf & van Hateren 1996), its high-frequency share, and colourfulness (Hasler & Suesstrunk 2003, M^(3)).

    Args:
        images: [N, C, H, W] (or a sequence of [C, H, W], sizes may differ) in [0, 1], C = 1 or 3, H, W >= 8.
    Returns:
        Per image {"spectral_slope": log10 power per log10 frequency (photographs about -2 to -3; white noise 0;
        None for a flat image), "high_frequency_share": power above 0.25 cycles / pixel over all non-DC power, in
        [0, 1] (None for a flat image), "colourfulness": M in [0, ~1.2] (0 for grey or 1-channel images)}.
    Raises:
        ConvscopeError: not [N, C, H, W], 1 or 3 channels, a side under 8 pixels, values outside [0, 1] or not
            finite, or no image (the message names `images`).
    """
    return [_statistics(array) for array in _checked(images)]


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def reference_statistics(images: torch.Tensor | Sequence[torch.Tensor]) -> dict:
    """The medians of `image_statistics` over a set of natural images (the dataset's own reference; Field 1987; Hasler
    & Suesstrunk 2003, M^(3)).

    Args:
        images: as `image_statistics`.
    Returns:
        {"spectral_slope", "high_frequency_share", "colourfulness"}: each the median over the images whose value
        is defined (None when none is).
    Raises:
        ConvscopeError: as `image_statistics`.
    """
    rows = image_statistics(images)
    return {key: _median([row[key] for row in rows]) for key in STATISTICS}


# --- the activation path -------------------------------------------------------------------------------------------
def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def path_layers(subject: Subject, layer: str, count: int = 6) -> list[str]:
    """Up to `count` layers below `layer` on the image -> unit path, for the path check of Geirhos et al. 2024.

    The path is a chain of blocks in forward order: the model's top-level modules, with containers opened (the
    target's ancestors first, then the one with the most parameters) until at least `count` blocks run before the
    target. Blocks are modules that run once per forward, with a [C, H, W] feature map (1x1 maps only when nothing
    else is there); the target itself, its ancestors and what runs after it are left out. Of those, `count` evenly
    spread ones are taken (first and last included); for `logits`, the last `count` blocks before the head.

    Args:
        subject: the model under study.
        layer: the unit's layer (a name `Subject.resolve` takes, or `logits`).
        count: how many layers at most (>= 1).
    Returns:
        Layer names in forward order (may be fewer than `count`; empty for a unit in the first block).
    Raises:
        ConvscopeError: count < 1 (names `count`). UnknownLayerError: an unknown layer, or one that does not run or
            returns no single tensor (`LayerGraph.output_shape`).
    """
    if count < 1:
        raise ConvscopeError(f"count must be at least 1, got {count}")
    target = subject.resolve(layer)
    graph = subject.graph
    if target != LOGITS:
        graph.output_shape(target)  # UnknownLayerError for a layer that does not run or has no single map
    nodes = graph.nodes
    ran = {n.name for n in graph.in_execution_order()}
    limit = math.inf if target == LOGITS else nodes[target].order
    above = _ancestors(target) if target != LOGITS else set()

    def spatial(name: str) -> bool:
        node = nodes[name]
        return node.calls == 1 and graph.readable(name) and len(node.output_shape) == 3

    def inside(name: str) -> bool:  # the target or a module within it (a container completes after its children)
        return name == target or name.startswith(target + ".")

    def eligible(chain: list[str]) -> list[str]:
        found = [n for n in chain if n not in above and not inside(n) and nodes[n].order < limit and spatial(n)]
        wide = [n for n in found if nodes[n].output_shape[1] * nodes[n].output_shape[2] > 1]
        return wide or found

    chain = [n for n, node in nodes.items() if node.parent is None and n in ran and n != LOGITS]
    while True:
        openable = [
            n
            for n in chain
            if any(c in ran for c in nodes[n].children) and (n in above or (nodes[n].order < limit and not inside(n)))
        ]
        must = [n for n in openable if n in above]
        if not must and (len(eligible(chain)) >= count or not openable):
            break
        opened = must[0] if must else max(openable, key=lambda n: nodes[n].params)
        position = chain.index(opened)
        children = sorted((c for c in nodes[opened].children if c in ran), key=lambda c: nodes[c].order)
        chain[position : position + 1] = children
    chain = sorted(eligible(chain), key=lambda n: nodes[n].order)
    if len(chain) <= count:
        return chain
    if target == LOGITS:
        return chain[-count:]
    picks = np.linspace(0, len(chain) - 1, count).round().astype(int)
    return [chain[i] for i in dict.fromkeys(picks.tolist())]


def _vectors(subject: Subject, images: torch.Tensor, layers: list[str], batch: int = 32) -> dict[str, np.ndarray]:
    """{layer: [N, C] float64 channel vectors (spatial means; tokens averaged; vectors as they are)}."""
    rows: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    for start in range(0, len(images), batch):
        with torch.no_grad():
            acts = subject.capture(images[start : start + batch], layers)
        for layer in layers:
            act = acts[layer].double()
            rows[layer].append((act.flatten(2).mean(dim=2) if act.dim() > 2 else act).cpu().numpy())
    return {layer: np.concatenate(parts) for layer, parts in rows.items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlations [A, B] between the rows of a [A, C] and b [B, C] (ties: average ranks); NaN where
    a row is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra, rb = ra - ra.mean(axis=1, keepdims=True), rb - rb.mean(axis=1, keepdims=True)
    na, nb = np.linalg.norm(ra, axis=1), np.linalg.norm(rb, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra @ rb.T) / np.outer(na, nb)


def path_check(subject: Subject, pictures: torch.Tensor, naturals: torch.Tensor, layers: Sequence[str]) -> dict:
    """The "Don't trust your eyes" check (Geirhos, Zimmermann, Bilodeau, Brendel & Kim 2024, ICML): is each picture
    processed along the path natural images take?

    At each layer l, an image's channel vector v_l (spatial means of its activations); s_l(x, y) = Spearman rank
    correlation of v_l(x) and v_l(y) (Spearman 1904), in [-1, 1]; 0 (and a note) where a vector is constant.
    A picture's similarity at l is its mean s_l over the E naturals; a natural's reference at l its mean s_l over
    the other E - 1 naturals; overall values are means over the layers. Verdict: "on the natural path" when the
    picture's overall similarity >= the lowest natural overall reference, else "off the natural path";
    `departs_at` is the first layer where the picture falls below the lowest natural reference there (None if
    none).

    Args:
        subject: the model under study.
        pictures: [P, C, H, W] in [0, 1] (the visualizations), with the model's channels.
        naturals: [E, C, H, W] in [0, 1], E >= 2 (e.g. the unit's top natural examples); sizes may differ from the
            pictures'.
        layers: the layers of the path (e.g. `path_layers`), at least one.
    Returns:
        {"layers": [names], "pictures": [{"similarity": [per layer], "overall", "verdict", "departs_at"}],
        "naturals": [{"similarity": [per layer], "overall"}], "floor": {"similarity": [lowest natural reference per
        layer], "overall": lowest natural overall}, "notes": [str]}; plain floats in [-1, 1], JSON-safe (no NaN).
    Raises:
        ConvscopeError: fewer than 2 naturals (names `naturals`), no layer (names `layers`), images not [N, C, H, W].
        UnknownLayerError: an unknown layer.
    """
    layers = [subject.resolve(name) for name in layers]
    if not layers:
        raise ConvscopeError("layers is empty: the path check needs at least one layer")
    for name, images in (("pictures", pictures), ("naturals", naturals)):
        if images.dim() != 4 or len(images) < 1:
            raise ConvscopeError(f"{name} must be shaped [N, C, H, W] with N >= 1, got {list(images.shape)}")
    if len(naturals) < 2:
        raise ConvscopeError(f"naturals holds {len(naturals)} image: the natural reference needs at least 2")
    seen, natural = _vectors(subject, pictures, layers), _vectors(subject, naturals, layers)
    notes: list[str] = []
    count = len(naturals)
    picture_rows, natural_rows = [], []
    for layer in layers:
        for kind, vectors in (("picture", seen[layer]), ("natural", natural[layer])):
            for i in np.flatnonzero(np.ptp(vectors, axis=1) == 0):
                notes.append(f"{kind} {i} has a constant channel vector at `{layer}`: its similarity there is 0")
        cross = np.nan_to_num(_spearman(seen[layer], natural[layer]), nan=0.0)
        among = np.nan_to_num(_spearman(natural[layer], natural[layer]), nan=0.0)
        picture_rows.append(cross.mean(axis=1))
        natural_rows.append((among.sum(axis=1) - np.diag(among)) / (count - 1))
    pictures_by_layer = np.stack(picture_rows, axis=1)  # [P, L]
    naturals_by_layer = np.stack(natural_rows, axis=1)  # [E, L]
    floor_by_layer = naturals_by_layer.min(axis=0)
    floor = float(naturals_by_layer.mean(axis=1).min())
    result_pictures = []
    for row in pictures_by_layer:
        overall = float(row.mean())
        below = np.flatnonzero(row < floor_by_layer)
        result_pictures.append(
            {
                "similarity": [float(v) for v in row],
                "overall": overall,
                "verdict": ON_PATH if overall >= floor else OFF_PATH,
                "departs_at": layers[int(below[0])] if len(below) else None,
            }
        )
    return {
        "layers": layers,
        "pictures": result_pictures,
        "naturals": [
            {"similarity": [float(v) for v in row], "overall": float(row.mean())} for row in naturals_by_layer
        ],
        "floor": {"similarity": [float(v) for v in floor_by_layer], "overall": floor},
        "notes": notes,
    }


# --- other models' judgement ---------------------------------------------------------------------------------------
def judge(images: torch.Tensor, subjects: Sequence[Subject], k: int = 5) -> list[list[list[dict]]]:
    """Other models' top-k predictions for each image (the transfer test of MACO, Fel et al. 2023: a
    visualization other models also recognize carries the class, not one network's quirks).

    Each image is resized (bilinear, antialiased) to each subject's input size; probabilities are the softmax of the
    logits in float32 at least.

    Args:
        images: [N, C, H, W] in [0, 1].
        subjects: the judging models, each taking C-channel images (models with the caller's label space).
        k: classes per image (>= 1; at most the number of classes).
    Returns:
        Per subject, per image, the top-k [{"class": index, "label": name, "probability": in [0, 1]}], most probable
        first.
    Raises:
        ConvscopeError: k < 1 (names `k`), images not [N, C, H, W] in [0, 1] (names `images`), a subject taking
            another channel count (names `subjects`), a model whose output is not [N, classes].
    """
    if k < 1:
        raise ConvscopeError(f"k must be at least 1, got {k}")
    if images.dim() != 4 or not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ConvscopeError(f"images must be [N, C, H, W] in [0, 1], got shape {list(images.shape)}")
    verdicts = []
    for subject in subjects:
        if subject.input.channels != images.shape[1]:
            raise ConvscopeError(
                f"subjects: model {subject.name} takes {subject.input.channels}-channel images, "
                f"the images have {images.shape[1]}"
            )
        size = tuple(subject.input.size)
        batch = images.float()
        if tuple(batch.shape[2:]) != size:
            smaller = size[0] < batch.shape[2] or size[1] < batch.shape[3]
            batch = F.interpolate(batch, size=size, mode="bilinear", align_corners=False, antialias=smaller)
        with torch.no_grad():
            logits = subject(batch.clamp(0, 1))
        if logits.dim() != 2 or logits.shape[0] != len(images):
            raise ConvscopeError(f"model {subject.name} returns {list(logits.shape)}, not [N, classes] logits")
        probabilities = logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=1)
        values, indices = probabilities.topk(min(k, probabilities.shape[1]), dim=1)
        verdicts.append(
            [
                [{"class": int(i), "label": subject.label(int(i)), "probability": float(p)} for p, i in zip(pv, iv)]
                for pv, iv in zip(values, indices)
            ]
        )
    return verdicts


# --- seed 000's four criteria --------------------------------------------------------------------------------------
def _sobel_magnitude(grey: np.ndarray) -> np.ndarray:
    from scipy.ndimage import sobel

    return np.hypot(sobel(grey, axis=0, mode="reflect"), sobel(grey, axis=1, mode="reflect"))


def _central_mask(height: int, width: int) -> np.ndarray:
    """The centred rectangle with sides H / sqrt 2 and W / sqrt 2 (rounded): half the area."""
    mask = np.zeros((height, width), dtype=bool)
    rows, cols = round(height / math.sqrt(2)), round(width / math.sqrt(2))
    top, left = (height - rows) // 2, (width - cols) // 2
    mask[top : top + rows, left : left + cols] = True
    return mask


def facet_criteria(image: torch.Tensor, reference: dict | None = None) -> dict:
    """Seed 000's four criteria for a facet visualization (Mayer's thesis §3.III, after Nguyen, Yosinski & Clune
    2016) as numbers in [0, 1], 1 best; computed on the grey image Y (BT.601 luma) unless said otherwise.

    - natural_colours ("colors appear natural"): min(1, M / M_ref), M the image's colourfulness (Hasler &
      Suesstrunk 2003, M^(3)), M_ref the reference's `colourfulness` (the dataset's median), or 33/255
      ("moderately colourful" in their scale) without one. A grey reference (M_ref = 0): 1.
    - central_object ("single central object"): s = share of the edge energy sum |Sobel(Y)| (Sobel & Feldman
      1968) inside the centred rectangle of half the area (sides / sqrt 2); a = that rectangle's share of the
      pixels (0.5 up to rounding), the value of a uniform spread; criterion = clip((s - a) / (1 - a), 0, 1):
      0 for edges spread evenly or pushed to the border, 1 when all edges are central. A flat image: 0.
    - global_structure ("global structure", defined boundaries): the share of the non-DC power (Hann-windowed
      spectrum, module docstring) below 4 cycles per image of the shorter side, f < 4 / min(H, W): at 224 px,
      noise with power 1 / f^2 gives about 0.2, 1 / f^3 about 0.7, white noise 0.0005. A flat image: 0.
    - clarity_of_details ("clarity of details"): the Hoyer sparseness (Hoyer 2004, eq. 1) of the Sobel magnitude
      g over the n pixels, (sqrt n - |g|_1 / |g|_2) / (sqrt n - 1): crisp edges on calm surfaces near 1, noise or
      busy texture (edges everywhere) about 0.1, blur in between. A flat image: 0.

    Args:
        image: [C, H, W] in [0, 1], C = 1 or 3, H, W >= 8.
        reference: `reference_statistics` of the dataset (its `colourfulness` is used), or None.
    Returns:
        {"natural_colours", "central_object", "global_structure", "clarity_of_details"}: floats in [0, 1].
    Raises:
        ConvscopeError: an image `image_statistics` refuses (names `image`), a reference colourfulness that is not
            a finite number >= 0 (names `reference`).
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        raise ConvscopeError(f"image must be a [C, H, W] tensor, got {getattr(image, 'shape', type(image).__name__)}")
    (array,) = _checked(image[None], "image")
    grey = _luma(array)
    # natural colours
    target = MODERATE_COLOURFULNESS
    if reference is not None and reference.get("colourfulness") is not None:
        target = reference["colourfulness"]
        if not (isinstance(target, (int, float)) and math.isfinite(target) and target >= 0):
            raise ConvscopeError(f"reference colourfulness must be a finite number >= 0, got {target!r}")
    colours = 1.0 if target == 0 else min(1.0, _colourfulness(array) / target)
    # one central object
    edges = _sobel_magnitude(grey)
    mask = _central_mask(*grey.shape)
    energy = edges.sum()
    area = mask.mean()
    central = 0.0 if energy <= 1e-12 else float(np.clip((edges[mask].sum() / energy - area) / (1 - area), 0, 1))
    # global structure
    power, frequency = _spectrum(grey)
    total = power[frequency > 0].sum()
    low = (frequency > 0) & (frequency < GLOBAL_CYCLES / min(grey.shape))
    structure = 0.0 if total <= 1e-20 * grey.size else float(power[low].sum() / total)
    # clarity of details
    n = edges.size
    norm = np.linalg.norm(edges)
    clarity = 0.0 if norm <= 1e-12 else float(np.clip((math.sqrt(n) - edges.sum() / norm) / (math.sqrt(n) - 1), 0, 1))
    return {
        "natural_colours": float(colours),
        "central_object": central,
        "global_structure": structure,
        "clarity_of_details": clarity,
    }
