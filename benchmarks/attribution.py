"""Attribution benchmark: one Deep Taylor (DTD) attribution with every layer's relevance vs a plain gradient and
vs Zennit's equivalent composite (z^B first layer, z+ elsewhere, its BatchNorm canonizer), batch 1 and 8, on
torchvision vgg16 (random init) and `default` (EfficientNet-Lite0). Targets: <= 3x the plain gradient, faster
than Zennit. Also the cost of the weight fingerprint that each explain computes (its share of one explain).

    .venv/bin/python benchmarks/attribution.py [--repeats N] [--json]

Every figure is a ratio against a baseline measured in the same process, interleaved (medians). The one-off
set-up of convscope's explainer (graph trace, BatchNorm folding plan and its float64 check) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import interleaved, quiet_allocator  # noqa: E402


def zennit_composite(subject):
    import torch
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import SpecialFirstLayerMapComposite
    from zennit.rules import Pass, ZBox, ZPlus
    from zennit.types import Activation, Convolution

    low = subject.normalize(torch.zeros(1, subject.input.channels, 1, 1))
    high = subject.normalize(torch.ones(1, subject.input.channels, 1, 1))
    return SpecialFirstLayerMapComposite(
        [(Activation, Pass()), (Convolution, ZPlus()), (torch.nn.Linear, ZPlus())],
        [(Convolution, ZBox(low, high))],
        canonizers=[SequentialMergeBatchNorm()],
    )


def _seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def bench(repeats: int) -> list[dict]:
    import torch

    import convscope
    from convscope.techniques.attribution import LRP

    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for spec in ("torchvision:vgg16", "default"):
        subject = convscope.load(spec, "none" if spec != "default" else "default")
        started = time.perf_counter()
        explainer = LRP(subject, "dtd")
        setup_s = time.perf_counter() - started
        composite = zennit_composite(subject)
        fingerprint_s = sorted(_seconds(subject.fingerprint) for _ in range(5))[2]  # hashed once per explain
        for batch in (1, 8):
            x = torch.rand(batch, 3, 224, 224)
            with torch.no_grad():
                target = subject(x).argmax(1)

            def gradient():
                inp = subject.normalize(x).requires_grad_(True)
                out = subject.model(inp).gather(1, target[:, None]).sum()
                return torch.autograd.grad(out, inp)[0]

            def ours():
                return explainer.explain(x, target, layers="all")

            def zennit():
                inp = subject.normalize(x).requires_grad_(True)
                with composite.context(subject.model) as modified:
                    out = modified(inp)
                    onehot = torch.zeros_like(out).scatter(1, target[:, None], 1.0)
                    return torch.autograd.grad(out, inp, onehot)[0]

            versus_gradient = interleaved(ours, gradient, repeats)
            versus_zennit = interleaved(ours, zennit, repeats)
            rows.append(
                {
                    "model": spec,
                    "batch": batch,
                    "setup_s": setup_s,
                    "layers": len(ours().layers),
                    "dtd_s": versus_gradient["candidate_s"],
                    "gradient_s": versus_gradient["baseline_s"],
                    "ratio_vs_gradient": versus_gradient["ratio"],
                    "zennit_s": versus_zennit["baseline_s"],
                    "ratio_vs_zennit": versus_zennit["ratio"],
                    "fingerprint_s": fingerprint_s,
                    "fingerprint_share": fingerprint_s / versus_gradient["candidate_s"],
                    "target": "<= 3 vs gradient, < 1 vs zennit",
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> int:
    quiet_allocator()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = bench(args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(
            f"{'model':<20} {'batch':>5} {'layers':>6} {'dtd s':>8} {'grad s':>8} {'x grad':>7} {'zennit s':>9} "
            f"{'x zennit':>8}"
        )
        for r in rows:
            print(
                f"{r['model']:<20} {r['batch']:>5} {r['layers']:>6} {r['dtd_s']:>8.3f} {r['gradient_s']:>8.3f} "
                f"{r['ratio_vs_gradient']:>7.2f} {r['zennit_s']:>9.3f} {r['ratio_vs_zennit']:>8.2f}"
            )
        print("set-up (once per model): " + ", ".join(f"{r['model']} {r['setup_s']:.2f} s" for r in rows[::2]))
        print(
            "weight fingerprint (once per explain, so caches follow in-place changes): "
            + ", ".join(
                f"{r['model']} b{r['batch']} {r['fingerprint_s'] * 1e3:.1f} ms = {r['fingerprint_share']:.1%}"
                for r in rows
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
