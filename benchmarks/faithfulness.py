"""Faithfulness benchmark: the time of each metric against the time of the explanation it measures, on `default`
(EfficientNet-Lite0, 224 x 224) and skimage's chelsea, for saliency and Deep Taylor (dtd). Settings are the
recipe's defaults (region perturbation: 8 px patches, 32 steps = 66 images; ROAD: 9 percentages = 18 imputed
images; faithfulness correlation: 100 subsets; randomisation: 8 points; completeness: 2 images).

    .venv/bin/python benchmarks/faithfulness.py [--device cpu|cuda] [--repeats N] [--json]

Each figure is the median of `repeats` runs in this process; the ratio is metric time / explanation time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

#: the comparison table's methods: (label, attribute()'s method, its options); "zennit" and "random" are not ours
TABLE = [
    ("dtd", "dtd", {}),
    ("dtd ignore-bias", "dtd", {"ignore_bias": True}),
    ("lrp-epsilon", "lrp-epsilon", {}),
    ("zennit EpsilonPlusFlat", "zennit", {}),
    ("gradient-x-input", "gradient-x-input", {}),
    ("integrated-gradients", "integrated-gradients", {"steps": 32}),
    ("saliency", "saliency", {}),
    ("smoothgrad", "smoothgrad", {"samples": 16}),
    ("gradcam", "gradcam", {}),
    ("occlusion", "occlusion", {"patch": 16, "stride": 16}),
    ("random map", "random", {}),
]


def zennit_map(subject, image, target):
    """Zennit 0.5.1's EpsilonPlusFlat (Flat at the first layer, z+ at convolutions, epsilon at dense layers) with every
    BatchNorm merged into the convolution before it, on the normalized input; the relevance summed over colour
    channels [H, W]. A test-only dependency, never vendored."""
    import torch
    from zennit.attribution import Gradient
    from zennit.canonizers import NamedMergeBatchNorm
    from zennit.composites import EpsilonPlusFlat

    pairs, last_conv = [], None
    for name, module in subject.model.named_modules():  # timm registers modules in execution order
        if isinstance(module, torch.nn.Conv2d):
            last_conv = name
        elif isinstance(module, torch.nn.BatchNorm2d) and last_conv is not None:
            pairs.append(([last_conv], name))
            last_conv = None
    composite = EpsilonPlusFlat(canonizers=[NamedMergeBatchNorm(pairs)])
    x = subject.normalize(subject.prepare(image)).detach().requires_grad_(True)
    with Gradient(model=subject.model, composite=composite) as attributor:
        output, relevance = attributor(x, torch.eye(subject.model(x).shape[1])[[target]])
    return relevance[0].sum(0).detach(), float(output[0, target].detach())


def table(args) -> None:
    """Region perturbation of every method's map on the built-in photos (mean over the photos, each explained for
    its predicted class) in one process: ABPC (higher: more faithful) and AOPC MoRF."""
    import statistics

    import torch

    import convscope
    from convscope.core.data import open_dataset
    from convscope.techniques.attribution import faithfulness as fa
    from convscope.techniques.attribution.report import attribute, heatmap_values

    torch.manual_seed(0)
    subject = convscope.load(args.model).to(args.device)
    photos = open_dataset("photos", subject.input)
    count = min(args.photos, len(photos))
    rows = {label: {"abpc": [], "aopc_morf": [], "seconds": []} for label, _, _ in TABLE}
    deviation = 0.0  # max relative change of the logit by Zennit's BatchNorm merging
    for i in range(count):
        image = photos.load(i)[None].to(args.device)
        target = int(subject(image).argmax(1))
        for label, method, options in TABLE:
            started = time.perf_counter()
            if method == "zennit":
                shown, logit = zennit_map(subject, image, target)
                expected = float(subject(image)[0, target])
                deviation = max(deviation, abs(logit - expected) / max(1.0, abs(expected)))
                if deviation > 0.02:  # the canonizers must not change the model (float32 merging moves it < 1 %)
                    raise SystemExit(f"zennit's canonized model gives {logit:.4f}, the model {expected:.4f}")
            elif method == "random":
                shown = torch.rand(image.shape[-2:], generator=torch.Generator().manual_seed(i))
            else:
                result = attribute(subject, image, method, target, None, **options)
                shown = heatmap_values(result.input[0], result.info.get("reduce", "sum"))
            rows[label]["seconds"].append(time.perf_counter() - started)
            curves = fa.region_perturbation(subject, image, shown, target, patch=args.region, steps=32)
            rows[label]["abpc"].append(curves.abpc)
            rows[label]["aopc_morf"].append(curves.aopc_morf / abs(curves.original))
        print(f"photo {i + 1}/{count} ({photos.ids[i]}, class {target}) done", flush=True)
    summary = []
    generator = random.Random(0)
    resamples = [[generator.randrange(count) for _ in range(count)] for _ in range(2000)]
    for label, values in rows.items():
        abpc = values["abpc"]
        difference = [a - b for a, b in zip(abpc, rows["dtd"]["abpc"])]  # this method - dtd, per photo
        means = sorted(statistics.mean(difference[i] for i in sample) for sample in resamples)
        summary.append(
            {
                "method": label,
                "abpc_mean": statistics.mean(abpc),
                "abpc_median": statistics.median(abpc),
                "aopc_morf_mean": statistics.mean(values["aopc_morf"]),
                "explanation_s_median": statistics.median(values["seconds"]),
                "photos_at_least_dtd": None if label == "dtd" else sum(d >= 0 for d in difference),
                "minus_dtd_mean": statistics.mean(difference),
                "minus_dtd_ci95": [means[49], means[1949]],  # paired bootstrap over the photos
                "abpc": abpc,
            }
        )
    if args.json:
        out = {
            "model": args.model,
            "photos": count,
            "patch": args.region,
            "zennit_deviation": deviation,
            "rows": summary,
        }
        print(json.dumps(out, indent=2))
        return
    print(f"region perturbation on {count} photos, {args.model}, {args.region} px patches, 32 steps, black baseline")
    print(f"(Zennit's BatchNorm merging changed the logit by at most {deviation:.2%})")
    print(
        f"{'method':<24} {'ABPC mean':>10} {'median':>8} {'AOPC MoRF':>10} {'time s':>8}  photos >= dtd"
        "  ABPC - dtd (95% CI)"
    )
    for row in sorted(summary, key=lambda r: -r["abpc_mean"]):
        wins = "-" if row["photos_at_least_dtd"] is None else row["photos_at_least_dtd"]
        print(
            f"{row['method']:<24} {row['abpc_mean']:>10.3f} {row['abpc_median']:>8.3f} {row['aopc_morf_mean']:>10.3f} "
            f"{row['explanation_s_median']:>8.3f}  {wins!s:>13}  {row['minus_dtd_mean']:+.3f} "
            f"({row['minus_dtd_ci95'][0]:+.3f} .. {row['minus_dtd_ci95'][1]:+.3f})"
        )


#: convscope's time / Quantus's, the median of interleaved pairs: both run the same number of forwards of the same
#: model; convscope's are BatchNorm-folded batches of 4 at 224 px (Quantus: unfolded, one image at a time), measured
#: 0.56-0.80 on a 2-core CPU, so "faster" keeps a margin for the noise of a shared machine
LIMIT = 1.0


def versus_quantus(args) -> None:
    """convscope's region perturbation and faithfulness correlation against Quantus 0.6.0's (the anchor, a test-only
    dependency) on the same model, image, map and settings, timed as interleaved pairs in this process; the numbers
    must agree (Quantus sees the [0, 1] image through a module that normalizes it)."""
    import numpy as np
    import quantus
    import skimage.data
    import torch

    import convscope
    from convscope.techniques.attribution import faithfulness as fa
    from convscope.techniques.attribution.report import attribute, heatmap_values

    subject = convscope.load("default")
    photo = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float()[None] / 255
    image = torch.nn.functional.interpolate(photo, size=subject.input.size, mode="bilinear", antialias=True).clamp(0, 1)
    result = attribute(subject, image, "saliency", 285, None)
    shown = heatmap_values(result.input[0], "max-abs")

    class Whole(torch.nn.Module):  # the [0, 1] image in, logits out: what Quantus calls
        def forward(self, x):
            return subject(x)

    net = Whole().eval()

    def region(curves):  # as Quantus reports them: f(x) - f(x_k) for k = 1..L, MoRF then LeRF
        return [[curves.original - v for v in curve[1:]] for curve in (curves.morf, curves.lerf)]

    x, y = image.numpy(), np.array([285])
    patches = (subject.input.size[0] // args.quantus_patch) ** 2
    cases = {
        "region-perturbation": (  # both curves (convscope computes MoRF and LeRF in one call)
            lambda: region(fa.region_perturbation(subject, image, shown, 285, patch=args.quantus_patch, steps=patches)),
            lambda: [
                quantus.RegionPerturbation(
                    patch_size=args.quantus_patch,
                    regions_evaluation=patches,
                    order=order,
                    perturb_baseline=0.0,
                    normalise=False,
                    disable_warnings=True,
                )(model=net, x_batch=x, y_batch=y, a_batch=shown[None, None].numpy(), softmax=False)[0]
                for order in ("morf", "lerf")
            ],
        ),
        "faithfulness-correlation": (
            lambda: (
                fa.faithfulness_correlation(
                    subject, image, shown[None], 285, subset=224, runs=50, seed=3, baseline=0.0
                ).pearson
            ),
            lambda: (
                np.random.seed(3),
                quantus.FaithfulnessCorrelation(
                    nr_runs=50,
                    subset_size=224,
                    perturb_baseline=0.0,
                    normalise=False,
                    return_aggregate=False,
                    disable_warnings=True,
                )(model=net, x_batch=x, y_batch=y, a_batch=shown[None, None].numpy(), softmax=False)[0],
            )[1],
        ),
    }
    rows = []
    for name, (ours, theirs) in cases.items():
        ours_s, theirs_s = [], []
        for _ in range(args.repeats):  # interleaved pairs: a changing load weighs on both
            start = time.perf_counter()
            mine = ours()
            ours_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            reference = theirs()
            theirs_s.append(time.perf_counter() - start)
        if name == "region-perturbation":
            agree = float(np.abs(np.asarray(mine) - np.asarray(reference)).max())
        else:
            agree = abs(float(mine) - float(reference))
        ratio = statistics.median(o / t for o, t in zip(ours_s, theirs_s))  # a drifting load cancels within a pair
        rows.append(
            {
                "metric": name,
                "convscope_s": statistics.median(ours_s),
                "quantus_s": statistics.median(theirs_s),
                "ratio": ratio,
                "max_difference": agree,
            }
        )
    if args.json:
        print(json.dumps({"versus": "quantus 0.6.0", "rows": rows}, indent=2))
    else:
        print(f"convscope vs Quantus 0.6.0, default model, chelsea, saliency map, medians of {args.repeats} pairs")
        for row in rows:
            print(
                f"  {row['metric']:<26} convscope {row['convscope_s']:.3f} s, Quantus {row['quantus_s']:.3f} s, "
                f"ratio {row['ratio']:.3f} (target <= {LIMIT}); max difference {row['max_difference']:.2e}"
            )
    if args.check:
        for row in rows:
            if row["max_difference"] > 1e-3:
                raise SystemExit(f"{row['metric']}: convscope and Quantus differ by {row['max_difference']:.3g}")
            if row["ratio"] > LIMIT:
                raise SystemExit(f"{row['metric']}: {row['ratio']:.3f} x Quantus's time, target <= {LIMIT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="saliency,dtd")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--table", action="store_true", help="the comparison table of every method instead")
    parser.add_argument("--photos", type=int, default=12, help="--table: photos of the built-in set (<= 12)")
    parser.add_argument("--region", type=int, default=8, help="--table: patch side (px)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--versus-quantus", action="store_true", help="time two metrics against Quantus's")
    parser.add_argument("--quantus-patch", type=int, default=16, help="--versus-quantus: region patch side (px)")
    parser.add_argument("--check", action="store_true", help="--versus-quantus: fail unless ratio <= LIMIT and equal")
    args = parser.parse_args()
    if args.table:
        table(args)
        return
    if args.versus_quantus:
        versus_quantus(args)
        return

    import skimage.data
    import torch

    import convscope
    from convscope.techniques.attribution import faithfulness as fa
    from convscope.techniques.attribution.randomisation import cascading_randomisation
    from convscope.techniques.attribution.report import attribute, heatmap_values

    subject = convscope.load("default").to(args.device)
    photo = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float()[None] / 255
    image = torch.nn.functional.interpolate(photo, size=subject.input.size, mode="bilinear", antialias=True)
    image = image.clamp(0, 1).to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def timed(function):
        times = []
        for _ in range(args.repeats):
            sync()
            start = time.perf_counter()
            out = function()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times), out

    rows = []
    for method in args.methods.split(","):

        def explain(s, im, t, method=method):
            result = attribute(s, im, method, t, None)
            return heatmap_values(result.input[0], result.info.get("reduce", "sum"))

        seconds, result = timed(lambda method=method: attribute(subject, image, method, 285, None))
        shown = heatmap_values(result.input[0], result.info.get("reduce", "sum"))
        raw = result.input[0]
        metrics = {
            "region-perturbation": lambda: fa.region_perturbation(subject, image, shown, 285),
            "road": lambda: fa.road(subject, image, shown, 285),
            "faithfulness-correlation": lambda: fa.faithfulness_correlation(subject, image, raw, 285),
            "randomisation": lambda: cascading_randomisation(subject, image, explain, 285, points=8, original=shown),
            "completeness": lambda: fa.completeness(subject, image, raw, 285),
        }
        row = {"method": method, "explanation_s": round(seconds, 4), "metrics": {}}
        for name, function in metrics.items():
            metric_seconds, value = timed(function)
            row["metrics"][name] = {"seconds": round(metric_seconds, 4), "ratio": round(metric_seconds / seconds, 1)}
            if name == "region-perturbation":
                row["abpc"] = value.abpc
            if name == "randomisation":
                row["final_spearman"] = value.spearman[-1]
        rows.append(row)
    if args.json:
        print(json.dumps({"device": args.device, "rows": rows}, indent=2))
        return
    for row in rows:
        print(f"{row['method']}: explanation {row['explanation_s']:.3f} s on {args.device}")
        for name, entry in row["metrics"].items():
            print(f"  {name:<26} {entry['seconds']:>8.3f} s  {entry['ratio']:>7.1f} x the explanation")


if __name__ == "__main__":
    main()
