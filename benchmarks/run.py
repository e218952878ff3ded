"""convscope benchmarks: every figure is a ratio against a baseline measured in the same process, interleaved.

    .venv/bin/python benchmarks/run.py [--repeats N] [--only NAME] [--json]

CPU timings on shared machines are noisy: each benchmark alternates candidate and baseline runs, and reports
medians and the median ratio. glibc's allocator stalls are avoided by raising its mmap / trim thresholds
(the script re-executes itself with them set).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


def interleaved(candidate: Callable[[], object], baseline: Callable[[], object], repeats: int) -> dict:
    """Run baseline and candidate alternately (after one warm-up each); return medians and the median ratio."""
    candidate(), baseline()
    cand, base, ratios = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        baseline()
        middle = time.perf_counter()
        candidate()
        end = time.perf_counter()
        base.append(middle - start)
        cand.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return {"candidate_s": statistics.median(cand), "baseline_s": statistics.median(base),
            "ratio": statistics.median(ratios)}


def bench_truncation(repeats: int) -> list[dict]:
    """capture() of an early layer vs a full forward (target for vgg16 `features.4`: ratio <= 1/3), and
    capture() of `logits` vs the bare model (the cost of the wrapper: ratio ~ 1)."""
    import torch

    import convscope

    torch.manual_seed(0)
    results = []
    for spec, layer, batch in (("torchvision:vgg16", "features.4", 4), ("default", "blocks.2", 8)):
        subject = convscope.load(spec, "none" if spec != "default" else "default")
        x = torch.rand(batch, 3, 224, 224)
        subject.graph  # noqa: B018 - the one-off dry run is not part of the measurement
        with torch.no_grad():
            full = lambda: subject.model(subject.normalize(x))  # noqa: E731
            early = interleaved(lambda: subject.capture(x, [layer]), full, repeats)
            wrapper = interleaved(lambda: subject.capture(x, ["logits"]), full, repeats)
        results.append({"benchmark": "truncation", "model": spec, "layer": layer, "batch": batch, **early,
                        "target": "<= 0.333" if spec == "torchvision:vgg16" else None})
        results.append({"benchmark": "capture-overhead", "model": spec, "layer": "logits", "batch": batch,
                        **wrapper, "target": None})
    return results


BENCHMARKS = {"truncation": bench_truncation}


def main() -> int:
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, bench in BENCHMARKS.items():
        if args.only and name != args.only:
            continue
        rows.extend(bench(args.repeats))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'benchmark':<18} {'model':<20} {'layer':<12} {'batch':>5} {'candidate':>11} {'baseline':>11} "
              f"{'ratio':>7}  target")
        for r in rows:
            print(f"{r['benchmark']:<18} {r['model']:<20} {r['layer']:<12} {r['batch']:>5} "
                  f"{r['candidate_s'] * 1e3:>9.1f}ms {r['baseline_s'] * 1e3:>9.1f}ms {r['ratio']:>7.3f}  "
                  f"{r['target'] or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
