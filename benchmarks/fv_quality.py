"""Feature-visualization quality benchmark (issue 24, Build 4): every method on the same units, size, steps and seed.

    .venv/bin/python benchmarks/fv_quality.py [--size 224 --steps 256 --classes 8 --channels 4] [--repeats 1]
        [--methods fft,maco,...] [--out results.json] [--images DIR] [--check]
    CI size: --size 96 --steps 24 --classes 2 --channels 2 (runs and writes its table; no --check)

Over 400 lines: one self-contained script (methods, judges, statistics, targets, table, grids) like run.py.
Units of the default model (EfficientNet-Lite0, ImageNet weights), chosen once, spread over ImageNet and the layer,
never tuned (the issue's re-check uses other units): classes CLASSES (`--classes N` takes N of them spread over the
list, or give indices), channels CHANNELS of CHANNEL_LAYER. Methods (`--methods` picks a subset, in this order):
- convscope `fft` (today's default: `render(subject, per_item([class_logit(k)...]), param="fft")`), `fft+reg`
  (fft with REGULARIZERS), `maco` (canvas 1) and `maco-canvas2` (a 2x canvas seen through crops), when render offers
  them (otherwise listed as unavailable);
- `lucent`: torch-lucent 0.1.8's render_vis through benchmarks/lucent_baseline.py (benchmarks/lucent_env.sh);
- `horama`: MACO as its authors ship it (horama 0.3.0 `maco`, device cpu): NAdam lr 1, 6 crops per step of a canvas
  of 1280/224 x size px, noise 0.05; values_range (0, 1) with the model's own normalization; the whole canvas,
  as horama's plot_maco shows it, downscaled to size (antialiased) is judged. horama fetches ImageNet's magnitude
  spectrum at run time (unreachable offline): this script writes the file it wants, `spectrum_decorrelated.npy`,
  a float32 [3, 512, 257] array (mean |rfft2| per channel of the mean-subtracted PHOTOS at 512 px, after horama's
  own colour decorrelation: the inverse of its `recorrelate_colors` matrix; horama resizes it to its canvas), and
  runs horama in the folder holding it. Channels are not standardized one by one (unlike techniques.spectrum):
  horama standardizes the whole 3-channel image, so the chroma channels' power relative to luminance sets its
  colours. Each horama step costs 6 forward/backward passes, the others' one.
Judged (class images) by the built-in `lite1` / `lite2` (top-1 / top-5 of the target class at their input size,
bicubic antialiased resize) and the default model itself; (all images) by the natural-image statistics
(`convscope.techniques.trust.reference_statistics`: medians of the spectral slope, upper-half power share and
colourfulness) against the seven colour photos PHOTOS at the same size (a method's slope minus theirs, its share and
colourfulness over theirs); (channel images) by the activation reached as a
multiple of the best photo's and whether the own channel is the layer's highest (spatial means); seconds per image
(a method's wall time over its images; `--repeats` interleaves rounds of all methods, medians).
Targets (issue 24) are checked for `--candidate` (default: maco, the new default, else fft) and printed; with
`--check` a missed target exits 1. A method that raises is reported in its row and the script exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TQDM_DISABLE", "1")  # horama's progress bars

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ostrich, flamingo, golden retriever, bee, balloon, mountain bike, sports car, strawberry: animals, objects, food
CLASSES = [9, 130, 207, 309, 417, 671, 817, 949]
CHANNEL_LAYER = "blocks.4"  # 112 channels at 1/16 resolution: object parts
CHANNELS = [5, 38, 71, 104]
# total variation (weight 2, beta 2: mean squared neighbour difference) and a Gaussian blur (sigma 0.5 px) every 4
# steps, in techniques.regularizers.parse_regularizer's syntax; set once, not tuned
REGULARIZERS = ("tv:2", "blur:4:0.5")
JUDGES = ("lite1", "lite2")
ALL_METHODS = ("fft", "fft+reg", "maco", "maco-canvas2", "lucent", "horama")
HORAMA_CANVAS = 1280 / 224  # horama's default canvas over its model input size
#: the seven colour photos of scikit-image the issue's table used (= techniques.spectrum.BUILTIN_PHOTOS)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")
STATISTICS = ("spectral_slope", "high_frequency_share", "colourfulness")
TARGETS = {"top1": 0.90, "slope": 0.3, "high_share": 2.0, "colourfulness": 0.8, "channel": 2.0, "time": 1.5}


# --- statistics (helper B's techniques.trust when present; the same definitions here until then) -----------------
def _local_image_statistics(images: torch.Tensor) -> list[dict]:
    """Per image [N, 3, H, W] in [0, 1]: spectral_slope (the grey image's radially averaged power spectrum fitted on
    log-log), high_frequency_share (power above half the Nyquist radius over all non-DC power), colourfulness (Hasler &
    Suesstrunk 2003 on 0..1 values)."""
    out = []
    for image in images.double():
        grey = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
        power = torch.fft.fft2(grey - grey.mean()).abs() ** 2
        h, w = grey.shape
        radius = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.fftfreq(w)[None, :] ** 2)
        rings = torch.round(radius * min(h, w)).long()
        keep = (rings >= 1) & (rings <= min(h, w) // 2)
        sums = torch.zeros(int(rings.max()) + 1, dtype=power.dtype).index_add_(0, rings[keep], power[keep])
        counts = torch.zeros_like(sums).index_add_(0, rings[keep], torch.ones_like(power[keep]))
        r = torch.arange(len(sums))[counts > 0].double()
        slope = np.polyfit(np.log(r.numpy()), np.log((sums[counts > 0] / counts[counts > 0]).numpy() + 1e-30), 1)[0]
        share = power[radius > 0.25].sum() / power[radius > 0].sum().clamp_min(1e-30)
        rg, yb = image[0] - image[1], 0.5 * (image[0] + image[1]) - image[2]
        colourful = torch.sqrt(rg.var(unbiased=False) + yb.var(unbiased=False)) + 0.3 * torch.sqrt(
            rg.mean() ** 2 + yb.mean() ** 2
        )
        out.append(
            {"spectral_slope": float(slope), "high_frequency_share": float(share), "colourfulness": float(colourful)}
        )
    return out


def set_statistics(images: torch.Tensor) -> dict:
    """The medians over a set of images [N, 3, H, W] in [0, 1] (`trust.reference_statistics`; None: undefined)."""
    try:
        from convscope.techniques.trust import reference_statistics
    except ImportError:
        stats = _local_image_statistics(images)
        return {k: float(np.median([s[k] for s in stats])) for k in STATISTICS}
    return reference_statistics(images)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


# --- inputs -----------------------------------------------------------------------------------------------------
def colour_photos(side: int) -> tuple[list[str], torch.Tensor]:
    """PHOTOS (of the built-in `photos` dataset), centre-cropped square and resized to side (antialiased)."""
    from convscope.core.data import PHOTOS as DATASET
    from convscope.core.data import photo_array

    names, out = [], []
    for name in PHOTOS:
        pixels = photo_array(f"{DATASET}:{name}")[..., :3]
        h, w = pixels.shape[:2]
        s = min(h, w)
        crop = pixels[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255
        out.append(F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)[0])
        names.append(name)
    return names, torch.stack(out).clamp(0, 1)


def resized(images: torch.Tensor, side: int, mode: str = "bicubic") -> torch.Tensor:
    if images.shape[-1] == side and images.shape[-2] == side:
        return images
    return F.interpolate(images, size=(side, side), mode=mode, antialias=True, align_corners=False).clamp(0, 1)


def write_horama_spectrum(folder: Path, photos: torch.Tensor, side: int = 512) -> Path:
    """horama's `spectrum_decorrelated.npy`: mean |rfft2| per decorrelated channel of the photos at side x side."""
    from horama.common import get_color_correlation_svd_sqrt

    inverse = torch.linalg.inv(get_color_correlation_svd_sqrt("cpu").double())
    images = resized(photos, side, "bilinear").double()  # [N, 3, S, S]
    # horama: rgb[pixel] = decorrelated[pixel] @ M, so decorrelated = rgb @ M^-1 (per pixel, channels last)
    decorrelated = torch.einsum("nchw,cd->ndhw", images - images.mean(dim=(2, 3), keepdim=True), inverse)
    magnitude = torch.fft.rfft2(decorrelated).abs().mean(0).float().numpy()  # [3, S, S // 2 + 1]
    path = folder / "spectrum_decorrelated.npy"
    np.save(path, magnitude)
    return path


# --- methods ----------------------------------------------------------------------------------------------------
def convscope_method(name: str):
    """(keyword arguments for render, or the reason it is unavailable)."""
    from convscope.techniques.render import render

    accepted = inspect.signature(render).parameters
    wanted = {
        "fft": {"param": "fft"},
        "fft+reg": {"param": "fft", "regularizers": REGULARIZERS},  # parsed below
        "maco": {"param": "maco", "canvas": 1.0},
        "maco-canvas2": {"param": "maco", "canvas": 2.0},
    }[name]
    missing = [k for k in wanted if k not in accepted]
    if missing:
        return None, f"render has no {', '.join(missing)} parameter"
    if "regularizers" in wanted:
        from convscope.techniques.regularizers import parse_regularizer

        wanted = {**wanted, "regularizers": [parse_regularizer(text) for text in wanted["regularizers"]]}
    if wanted["param"] == "maco":
        try:
            from convscope.techniques import spectrum  # noqa: F401
        except ImportError:
            return None, "no techniques.spectrum"
    return wanted, None


def make_runner(name: str, subject, size: int, steps: int, seed: int, folder: Path):
    """A callable (objectives as ('class', k) / ('channel', c) pairs) -> images [N, 3, size, size] in [0, 1]."""
    from convscope import objectives as O
    from convscope.techniques.render import render

    def convscope_objective(units):
        return O.per_item([O.class_logit(k) if kind == "class" else O.channel(CHANNEL_LAYER, k) for kind, k in units])

    if name in ("fft", "fft+reg", "maco", "maco-canvas2"):
        kwargs, why = convscope_method(name)
        if kwargs is None:
            return None, why

        def run(units):
            images = render(subject, convscope_objective(units), size=size, steps=steps, seed=seed, **kwargs).images
            return resized(images, size, "bilinear")

        return run, None
    if name == "lucent":
        from lucent_baseline import lucent_available, make_lucent_render

        if not lucent_available():
            return None, "Lucent is not installed: run benchmarks/lucent_env.sh"
        model = copy.deepcopy(subject.model).to(memory_format=torch.contiguous_format)

        def run(units):
            out = []
            for kind in ("class", "channel"):  # one Lucent batch per layer (its objectives name one layer each)
                picked = [k for t, k in units if t == kind]
                if picked:
                    layer = "classifier" if kind == "class" else CHANNEL_LAYER.replace(".", "_")
                    images = make_lucent_render(model, layer, picked, size, steps, seed=seed)()
                    out.append(torch.from_numpy(images).permute(0, 3, 1, 2))
            return torch.cat(out).clamp(0, 1)

        return run, None
    if name == "horama":
        try:
            from horama import maco
        except ImportError:
            return None, "horama is not installed (pip install horama==0.3.0)"
        canvas = 2 * round(size * HORAMA_CANVAS / 2)  # even: horama's irfft2 returns an even width

        def objective_for(kind, k):
            if kind == "class":
                return lambda x: subject(x)[:, k].mean()
            return lambda x: subject.capture(x, [CHANNEL_LAYER])[CHANNEL_LAYER][:, k].mean()

        def run(units):
            out = []
            with contextlib.chdir(folder):  # horama reads spectrum_decorrelated.npy from the working folder
                for kind, k in units:
                    torch.manual_seed(seed)
                    image, _ = maco(
                        objective_for(kind, k),
                        total_steps=steps,
                        image_size=canvas,
                        model_input_size=size,
                        values_range=(0.0, 1.0),
                        device="cpu",
                    )
                    out.append(image.detach())
            return resized(torch.stack(out), size, "bilinear")

        return run, None
    raise ValueError(name)


# --- judging ----------------------------------------------------------------------------------------------------
def judge_classes(images: torch.Tensor, classes: list[int], judges: dict) -> dict:
    """{judge: {"top1": [bool], "top5": [bool]}} for class images [N, 3, S, S]."""
    out = {}
    target = torch.tensor(classes)
    for name, judge in judges.items():
        with torch.no_grad():
            logits = judge(resized(images, judge.input.size[0]))
        top5 = logits.topk(5, dim=1).indices
        out[name] = {"top1": (top5[:, 0] == target).tolist(), "top5": (top5 == target[:, None]).any(1).tolist()}
    return out


def channel_means(subject, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return subject.capture(images, [CHANNEL_LAYER])[CHANNEL_LAYER].mean(dim=(2, 3))  # [N, C]


def summarize(name, images, classes, channels, subject, judges, photo_stats, best_natural) -> dict:
    n_class = len(classes)
    row: dict = {"method": name}
    if n_class:
        verdicts = judge_classes(images[:n_class], classes, {"lite0": subject, **judges})
        for judge, v in verdicts.items():
            row[f"{judge}_top1"] = float(np.mean(v["top1"]))
            row[f"{judge}_top5"] = float(np.mean(v["top5"]))
        row["judged"] = verdicts
    stats = set_statistics(images)
    row["statistics"] = stats
    slope, reference = stats["spectral_slope"], photo_stats["spectral_slope"]
    row["slope_difference"] = None if slope is None or reference is None else slope - reference
    row["high_share_ratio"] = _ratio(stats["high_frequency_share"], photo_stats["high_frequency_share"])
    row["colourfulness_ratio"] = _ratio(stats["colourfulness"], photo_stats["colourfulness"])
    if channels:
        means = channel_means(subject, images[n_class:])
        own = means[torch.arange(len(channels)), torch.tensor(channels)]
        ratios = (own / best_natural).tolist()
        row["channel_ratio"] = ratios
        row["channel_ratio_min"] = float(min(ratios))
        row["own_channel_highest"] = (means.argmax(1) == torch.tensor(channels)).tolist()
    return row


# --- targets, table, images -------------------------------------------------------------------------------------
def _at_least(value: float | None, goal: float) -> bool:
    return value is not None and value >= goal


def _at_most(value: float | None, goal: float) -> bool:
    return value is not None and value <= goal


def check_targets(rows: dict, candidate: str) -> list[dict]:
    """The issue's targets for the candidate method (an undefined value misses its target)."""
    r = rows[candidate]
    out = []

    def add(what, value, goal, met):
        out.append({"method": candidate, "target": what, "value": value, "goal": goal, "met": bool(met)})

    for judge in JUDGES:
        if f"{judge}_top1" in r:
            top1 = r[f"{judge}_top1"]
            add(f"class top-1 by {judge}", top1, f">= {TARGETS['top1']}", _at_least(top1, TARGETS["top1"]))
    slope = r["slope_difference"]
    add("spectral slope - photos'", slope, "|.| <= 0.3", slope is not None and abs(slope) <= TARGETS["slope"])
    share, colour = r["high_share_ratio"], r["colourfulness_ratio"]
    add("high-frequency share / photos'", share, "<= 2", _at_most(share, TARGETS["high_share"]))
    add("colourfulness / photos'", colour, ">= 0.8", _at_least(colour, TARGETS["colourfulness"]))
    if "channel_ratio_min" in r:
        met = _at_least(r["channel_ratio_min"], TARGETS["channel"]) and all(r["own_channel_highest"])
        add("channel activation / best photo's (min), own highest", r["channel_ratio_min"], ">= 2, all own", met)
    if "time_ratio" in r:
        add("seconds per image / fft's", r["time_ratio"], "<= 1.5", _at_most(r["time_ratio"], TARGETS["time"]))
    for other in ("lucent", "horama"):
        if other not in rows or other == candidate or "unavailable" in rows[other]:
            continue
        o = rows[other]
        if "lite1_top1" in r:
            mine, theirs = r["lite1_top1"] + r["lite2_top1"], o["lite1_top1"] + o["lite2_top1"]
            add(f"transfer ahead of {other} (Lite1 + Lite2 top-1)", mine, f">= {theirs:.2f}", mine >= theirs)
        distance = lambda row: (  # noqa: E731 - how far from the photos: |slope difference|, |log high-share ratio|
            abs(row["slope_difference"]) if row["slope_difference"] is not None else np.inf,
            abs(np.log(row["high_share_ratio"])) if row["high_share_ratio"] else np.inf,
        )
        closer = all(a <= b for a, b in zip(distance(r), distance(o)))
        add(f"statistics ahead of {other} (slope and high share closer to photos')", None, "closer", closer)
    return out


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: dict, photo_stats: dict) -> str:
    """The markdown table, method x metric."""
    head = (
        "| method | top-1 Lite1 | top-1 Lite2 | top-5 Lite1 | top-5 Lite2 | top-1 Lite0 | slope (photos "
        f"{_number(photo_stats['spectral_slope'])}) | high share (x photos' "
        f"{_number(photo_stats['high_frequency_share'], 4)}) | colourfulness (x photos' "
        f"{_number(photo_stats['colourfulness'], 3)}) | channel act. (x best photo's, min) | own channel highest | "
        "s / image | x fft |"
    )
    columns = head.count(" | ") + 1
    lines = [head, "|" + " --- |" * columns]
    pct = lambda r, k: f"{100 * r[k]:.0f}%" if k in r else "—"  # noqa: E731
    for name, r in rows.items():
        if "unavailable" in r:
            lines.append(f"| {name} | unavailable: {r['unavailable']} |" + " |" * (columns - 2))
            continue
        own = f"{sum(r['own_channel_highest'])}/{len(r['own_channel_highest'])}" if "own_channel_highest" in r else "—"
        lines.append(
            f"| {name} | {pct(r, 'lite1_top1')} | {pct(r, 'lite2_top1')} | {pct(r, 'lite1_top5')} | "
            f"{pct(r, 'lite2_top5')} | {pct(r, 'lite0_top1')} | {_number(r['statistics']['spectral_slope'])} | "
            f"{_number(r['high_share_ratio'])} | {_number(r['colourfulness_ratio'])} | "
            f"{_number(r.get('channel_ratio_min'))} | {own} | {r['seconds_per_image']:.2f} | "
            f"{_number(r.get('time_ratio'))} |"
        )
    return "\n".join(lines)


def save_grid(images: torch.Tensor, path: Path, columns: int) -> None:
    from PIL import Image

    n, _, h, w = images.shape
    rows = -(-n // columns)
    grid = torch.ones(3, rows * (h + 2), columns * (w + 2))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[:, r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = image
    pixels = (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
    Image.fromarray(pixels).save(path)


def pick(option: str, pool: list[int], limit: int | None = None) -> list[int]:
    """`N` takes N of the pool spread over it; `a,b,c` gives the indices."""
    if "," in option or option.startswith("="):
        return [int(v) for v in option.strip("=").split(",") if v]
    count = int(option)
    if count > len(pool):
        raise SystemExit(f"at most {len(pool)} units in the pool; give indices a,b,c for more")
    return [pool[round(i * len(pool) / count)] for i in range(count)] if count else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--classes", default="8", help="a count (spread over CLASSES) or indices a,b,c")
    parser.add_argument("--channels", default="4", help=f"a count (spread over CHANNELS of {CHANNEL_LAYER}) or a,b")
    parser.add_argument("--methods", default=",".join(ALL_METHODS))
    parser.add_argument(
        "--candidate",
        help="the method whose targets are checked (default maco, the default parameterization, else fft)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved timing rounds (quality from the first)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--images", type=Path, help="write one PNG grid per method here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    import convscope

    torch.manual_seed(args.seed)
    classes, channels = pick(args.classes, CLASSES), pick(args.channels, CHANNELS)
    units = [("class", k) for k in classes] + [("channel", c) for c in channels]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(ALL_METHODS))
    if unknown or not units:
        raise SystemExit(f"unknown methods {unknown} (known: {', '.join(ALL_METHODS)})" if unknown else "no units")
    subject = convscope.load("default")
    judges = {name: convscope.load(name) for name in JUDGES}
    photo_names, photos = colour_photos(args.size)
    photo_stats = set_statistics(photos)
    best_natural = channel_means(subject, photos)[:, channels].max(0).values if channels else None

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "horama" in methods:
            write_horama_spectrum(folder, colour_photos(512)[1])
        runners, rows, failed = {}, {}, []
        for name in methods:
            runner, why = make_runner(name, subject, args.size, args.steps, args.seed, folder)
            if runner is None:
                print(f"{name}: unavailable ({why})", file=sys.stderr)
                rows[name] = {"method": name, "unavailable": why}
                continue
            try:  # one step on the same units: first-use costs (graphs, imports, allocations) are not timed
                make_runner(name, subject, args.size, 1, args.seed, folder)[0](units)
            except Exception as exc:  # noqa: BLE001 - a failing method is reported in its row, and exits 2
                rows[name] = {"method": name, "unavailable": f"failed: {type(exc).__name__}: {exc}"}
                failed.append(name)
                print(f"{name}: failed ({rows[name]['unavailable']})", file=sys.stderr)
                continue
            runners[name] = runner
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        produced: dict[str, torch.Tensor] = {}
        for round_ in range(args.repeats):
            for name, runner in runners.items():
                if name in failed:
                    continue
                start = time.perf_counter()
                try:
                    images = runner(units)
                except Exception as exc:  # noqa: BLE001
                    rows[name] = {"method": name, "unavailable": f"failed: {type(exc).__name__}: {exc}"}
                    failed.append(name)
                    produced.pop(name, None)
                    continue
                seconds[name].append((time.perf_counter() - start) / len(units))
                if round_ == 0:
                    produced[name] = images.float().cpu()
                print(f"{name}: round {round_ + 1}, {seconds[name][-1]:.2f} s / image", file=sys.stderr, flush=True)

    for name, images in produced.items():
        row = summarize(name, images, classes, channels, subject, judges, photo_stats, best_natural)
        row["seconds_per_image"] = statistics.median(seconds[name])
        if "fft" in produced:
            row["time_ratio"] = statistics.median([s / b for s, b in zip(seconds[name], seconds["fft"])])
        rows[name] = row
        if args.images:
            args.images.mkdir(parents=True, exist_ok=True)
            save_grid(images, args.images / f"{name.replace('+', '_')}.png", max(len(classes), len(channels), 1))
    rows = {name: rows[name] for name in methods}
    candidate = args.candidate or next((m for m in ("maco", "fft") if m in produced), None)
    targets = check_targets(rows, candidate) if candidate in produced else []
    print(table(rows, photo_stats))
    print(f"\ntargets for {candidate} (size {args.size}, {args.steps} steps, classes {classes}, channels {channels}):")
    for t in targets:
        value = "" if t["value"] is None else f"{t['value']:.3f} "
        print(f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {value}(goal {t['goal']})")
    if args.out:
        result = {
            "config": {**{k: v for k, v in vars(args).items() if k not in ("out", "images")}, "classes": classes},
            "units": {"classes": classes, "channel_layer": CHANNEL_LAYER, "channels": channels},
            "photos": {"names": photo_names, "statistics": photo_stats},
            "best_natural_activation": None if best_natural is None else best_natural.tolist(),
            "methods": rows,
            "seconds": seconds,
            "candidate": candidate,
            "targets": targets,
            "torch_threads": torch.get_num_threads(),
        }
        result["config"]["channels"] = channels
        args.out.write_text(json.dumps(result, indent=1, default=str))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 1 if args.check and not all(t["met"] for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
