"""Attribution benchmark: one Deep Taylor (DTD) attribution with every layer's relevance vs a plain gradient and
vs Zennit's equivalent composite (z^B first layer, z+ elsewhere, its BatchNorm canonizer), batch 1 and 8, on
torchvision vgg16 (random init) and `default` (EfficientNet-Lite0). Targets: <= 3x the plain gradient, faster
than Zennit. Also the cost of the weight fingerprint that each explain computes (its share of one explain).

    .venv/bin/python benchmarks/attribution.py [--repeats N] [--json]
    .venv/bin/python benchmarks/attribution.py --conservation [--json]

`--conservation`: the conservation trace of DTD on the default model (skimage's chelsea, coffee, astronaut, rocket
at 224 px, each image's predicted class), with biases and with ignore_bias: the input relevance / logit, the
smallest and largest fraction held at a top-level block's output, the share the biases absorb and the layer that
absorbs most (`conservation.conservation_trace`), and the time of one explanation each way.

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


def photos(size: int = 224):
    """skimage's chelsea, coffee, astronaut and rocket as one [4, 3, size, size] batch in [0, 1] (squashed)."""
    import numpy as np
    import torch
    from skimage import data

    images = [getattr(data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
    batch = [torch.from_numpy(np.asarray(i, np.float32) / 255).permute(2, 0, 1)[None] for i in images]
    return ["chelsea", "coffee", "astronaut", "rocket"], torch.cat(
        [torch.nn.functional.interpolate(b, size=(size, size), mode="bilinear", antialias=True) for b in batch]
    )


def conservation() -> list[dict]:
    """One row per photo and bias setting: DTD's conservation on the default model (module docstring)."""
    import convscope
    from convscope.techniques.attribution import LRP
    from convscope.techniques.attribution.conservation import conservation_trace

    subject = convscope.load("default")
    names, x = photos()
    rows = []
    for ignore_bias in (False, True):
        explainer = LRP(subject, "dtd", ignore_bias=ignore_bias)
        explainer.explain(x[:1], None, None)  # warm-up
        seconds = sorted(_seconds(lambda: explainer.explain(x[:1], None, None)) for _ in range(3))[1]
        trace = conservation_trace(subject, x, None, "dtd", ignore_bias=ignore_bias)
        for i, name in enumerate(names):
            fractions = [b["fraction"][i] for b in trace["blocks"]]
            worst = max(trace["layers"], key=lambda layer: layer["absorbed_fraction"][i])
            rows.append(
                {
                    "image": name,
                    "target": trace["target"][i],
                    "logit": trace["output"][i],
                    "ignore_bias": ignore_bias,
                    "input_fraction": trace["input_fraction"][i],
                    "block_min": min(fractions),
                    "block_max": max(fractions),
                    "absorbed": trace["absorbed_total_fraction"][i],
                    "most_absorbing": f"{worst['name']} {worst['absorbed_fraction'][i]:.1%}",
                    "explain_s_batch1": seconds,
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> int:
    quiet_allocator()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--conservation", action="store_true", help="the conservation section only")
    args = parser.parse_args()
    if args.conservation:
        rows = conservation()
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            print(
                f"{'image':<10} {'class':>5} {'logit':>6} {'bias':>8} {'input':>7} {'blocks':>15} {'absorbed':>8}  most"
            )
            for r in rows:
                print(
                    f"{r['image']:<10} {r['target']:>5} {r['logit']:>6.2f} "
                    f"{'ignored' if r['ignore_bias'] else 'kept':>8} "
                    f"{r['input_fraction']:>7.2%} {r['block_min']:>7.2%}-{r['block_max']:<7.2%} {r['absorbed']:>8.2%}  "
                    f"{r['most_absorbing']}"
                )
            print(
                "one DTD explanation (batch 1): "
                + ", ".join(
                    f"{'ignore_bias' if r['ignore_bias'] else 'biases'} {r['explain_s_batch1']:.3f} s"
                    for r in rows[::4]
                )
            )
        return 0
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
