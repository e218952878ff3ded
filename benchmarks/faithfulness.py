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
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="saliency,dtd")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

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
