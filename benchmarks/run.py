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


def _timed(function: Callable[[], object]) -> float:
    """Seconds a call takes; a function that returns a float times itself (e.g. only its loop)."""
    start = time.perf_counter()
    reported = function()
    return reported if isinstance(reported, float) else time.perf_counter() - start


def quiet_allocator() -> None:
    """Re-execute this script with glibc's mmap / trim thresholds raised (they caused 2-60x stalls), once."""
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})


def interleaved_rounds(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each function per round: one warm-up each, then every round runs them all in the given order."""
    for function in functions.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name].append(_timed(function))
    return times


def paired(times: dict[str, list[float]], candidate: str, baseline: str) -> dict:
    """Medians of two functions' rounds and the median of their per-round time ratios."""
    ratios = [c / b for c, b in zip(times[candidate], times[baseline])]
    return {
        "candidate_s": statistics.median(times[candidate]),
        "baseline_s": statistics.median(times[baseline]),
        "ratio": statistics.median(ratios),
    }


def interleaved(candidate: Callable[[], object], baseline: Callable[[], object], repeats: int) -> dict:
    """Run baseline and candidate alternately (after one warm-up each); return medians and the median ratio."""
    return paired(interleaved_rounds({"baseline": baseline, "candidate": candidate}, repeats), "candidate", "baseline")


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
        results.append(
            {
                "benchmark": "truncation",
                "model": spec,
                "layer": layer,
                "batch": batch,
                **early,
                "target": "<= 0.333" if spec == "torchvision:vgg16" else None,
            }
        )
        results.append(
            {
                "benchmark": "capture-overhead",
                "model": spec,
                "layer": "logits",
                "batch": batch,
                **wrapper,
                "target": None,
            }
        )
    return results


def bench_render_step(repeats: int) -> list[dict]:
    """A render step (parameterization -> transforms -> capture -> objective -> backward -> Adam) vs a bare
    forward + backward of the same truncated, frozen model at the same input size (target <= 1.10x).

    The bare baseline is the default model cut by hand after `blocks.4` (nn.Sequential of its stem and first
    five stages), a fixed input that requires grad, and the same channel objective, in two layouts: the
    channels-last layout convscope gives the model (the ratio is convscope's own overhead; the target) and the
    NCHW layout timm builds it in (what a user's own bare loop runs). Redirected ReLU steps are measured
    separately (they only run in the first steps of a render). The render step folds eval-mode BatchNorms into
    their convs (convscope.core.fold, on by default); `render-step-unfolded` is the same step without folding, i.e.
    the overhead of the rest of the machinery."""
    import copy

    import torch
    from torch import nn

    import convscope
    from convscope import objectives as O
    from convscope.techniques.render import render

    subject = convscope.load("default")
    model = subject.model
    truncated = nn.Sequential(subject.normalize, model.conv_stem, model.bn1, *model.blocks[:5])
    truncated_nchw = copy.deepcopy(truncated).to(memory_format=torch.contiguous_format)
    results = []
    steps = 8
    for batch, size in ((1, 224), (8, 224), (8, 128)):
        channels = list(range(batch))
        objective = O.per_item([O.channel("blocks.4", c) for c in channels])
        # the same layout the Subject feeds its model (channels-last), so the ratio is convscope's overhead only
        x = subject.prepare(torch.rand(batch, 3, size, size)).requires_grad_(True)
        x_nchw = x.detach().contiguous().requires_grad_(True)
        index = torch.arange(batch)

        def bare(network: nn.Module = truncated, x: torch.Tensor = x) -> None:
            for _ in range(steps):
                x.grad = None
                out = network(x)
                (-out[index, index].mean(dim=(1, 2)).sum()).backward()

        def ours(redirect: int = 0, fold: bool = True) -> float:  # the loop's own time, without set-up
            return (
                render(
                    subject, objective, size=size, steps=steps, redirect_relu_steps=redirect, fold_batchnorm=fold
                ).seconds_per_step
                * steps
            )

        measured = interleaved(ours, bare, repeats)
        results.append(
            {
                "benchmark": "render-step",
                "model": "default",
                "layer": "blocks.4",
                "batch": batch,
                "size": size,
                **{k: v / steps if k.endswith("_s") else v for k, v in measured.items()},
                "target": "<= 1.10",
            }
        )
        unfolded = interleaved(lambda: ours(fold=False), bare, repeats)
        results.append(
            {
                "benchmark": "render-step-unfolded",
                "model": "default",
                "layer": "blocks.4",
                "batch": batch,
                "size": size,
                **{k: v / steps if k.endswith("_s") else v for k, v in unfolded.items()},
                "target": None,
            }
        )
        versus_nchw = interleaved(ours, lambda: bare(truncated_nchw, x_nchw), repeats)
        results.append(
            {
                "benchmark": "render-step-vs-nchw",
                "model": "default",
                "layer": "blocks.4",
                "batch": batch,
                "size": size,
                **{k: v / steps if k.endswith("_s") else v for k, v in versus_nchw.items()},
                "target": None,
            }
        )
        redirect = interleaved(lambda: ours(steps), ours, repeats)
        results.append(
            {
                "benchmark": "redirect-relu-step",
                "model": "default",
                "layer": "blocks.4",
                "batch": batch,
                "size": size,
                **{k: v / steps if k.endswith("_s") else v for k, v in redirect.items()},
                "target": None,
            }
        )
    return results


def bench_vs_lucent(repeats: int) -> list[dict]:
    """convscope's render step vs Lucent 0.1.8's on torchvision googlenet (random init) `inception4a` channel
    objectives, network input 224 px, batch 1 and 8 (target: >= 1.7x faster per step), and the activation both
    reach in 128 steps on the same 8 channels (target: convscope's >= Lucent's), on googlenet and on the
    default model, whose real ImageNet weights make the comparison meaningful. Both use FFT + decorrelation +
    sigmoid, Adam lr 0.05 and Lucid's standard transforms; redirected ReLU off (Lucent has none).
    Lucent runs from benchmarks/.lucent (benchmarks/lucent_env.sh installs it there)."""
    import numpy as np
    import torch

    import convscope
    from convscope import objectives as O
    from convscope.techniques.render import render
    from lucent_baseline import lucent_available, make_lucent_render

    if not lucent_available():
        raise SystemExit("Lucent is not installed: run benchmarks/lucent_env.sh first")
    import copy

    torch.manual_seed(0)
    subject = convscope.load("torchvision:googlenet", "none")
    # Lucent gets the model as torchvision builds it (convscope stores its copy's weights channels-last)
    lucent_model = copy.deepcopy(subject.model).to(memory_format=torch.contiguous_format)
    layer, results = "inception4a", []

    def ours(channels: list[int], steps: int):
        objective = O.per_item([O.channel(layer, c) for c in channels])
        return render(subject, objective, size=224, steps=steps, transforms="standard", redirect_relu_steps=0)

    steps = 16
    for channels in ([0], list(range(8))):
        lucent = make_lucent_render(lucent_model, layer, channels, 224, steps)
        measured = interleaved(lambda: ours(channels, steps).seconds_per_step * steps, lucent, repeats)
        results.append(
            {
                "benchmark": "step-vs-lucent",
                "model": "torchvision:googlenet",
                "layer": layer,
                "batch": len(channels),
                "size": 224,
                **{k: v / steps if k.endswith("_s") else v for k, v in measured.items()},
                "speedup": 1 / measured["ratio"],
                "target": "speedup >= 1.7",
            }
        )
    # activation at equal steps: googlenet (random init, as above) and the default model (real ImageNet weights)
    default = convscope.load("default")
    default_lucent = copy.deepcopy(default.model).to(memory_format=torch.contiguous_format)
    channels, quality_steps = list(range(8)), 128
    for name, subj, their_model, unit_layer in (
        ("torchvision:googlenet", subject, lucent_model, layer),
        ("default", default, default_lucent, "blocks.4"),
    ):
        objective = O.per_item([O.channel(unit_layer, c) for c in channels])
        mine = render(
            subj, objective, size=224, steps=quality_steps, transforms="standard", redirect_relu_steps=0
        ).images
        theirs = torch.from_numpy(
            make_lucent_render(their_model, unit_layer.replace(".", "_"), channels, 224, quality_steps)()
        ).permute(0, 3, 1, 2)
        with torch.no_grad():
            a_ours = objective(subj.capture(mine, [unit_layer])).numpy()
            a_lucent = objective(subj.capture(theirs, [unit_layer])).numpy()
        results.append(
            {
                "benchmark": "activation-vs-lucent",
                "model": name,
                "layer": unit_layer,
                "batch": 8,
                "size": 224,
                "candidate_s": float(np.mean(a_ours)),
                "baseline_s": float(np.mean(a_lucent)),
                "ratio": float(np.mean(a_ours) / np.mean(a_lucent)),
                "wins": int((a_ours >= a_lucent).sum()),
                "target": f"ratio >= 1 (mean activation, {quality_steps} steps)",
                "unit": "activation",
            }
        )
    return results


BENCHMARKS = {"truncation": bench_truncation, "render": bench_render_step, "lucent": bench_vs_lucent}


def main() -> int:
    quiet_allocator()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--skip", action="append", default=[], choices=sorted(BENCHMARKS), help="leave a benchmark out (repeatable)"
    )
    args = parser.parse_args()
    rows = []
    for name, bench in BENCHMARKS.items():
        if (args.only and name != args.only) or name in args.skip:
            continue
        rows.extend(bench(args.repeats))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(
            f"{'benchmark':<20} {'model':<22} {'layer':<12} {'batch':>5} {'size':>5} {'candidate':>11} "
            f"{'baseline':>11} {'ratio':>7}  target"
        )
        for r in rows:
            if r.get("unit") == "activation":
                values = f"{r['candidate_s']:>11.2f} {r['baseline_s']:>11.2f}"
            else:
                values = f"{r['candidate_s'] * 1e3:>9.1f}ms {r['baseline_s'] * 1e3:>9.1f}ms"
            extra = f" speedup {r['speedup']:.2f}x" if "speedup" in r else ""
            extra += f" ({r['wins']}/8 channels higher)" if "wins" in r else ""
            print(
                f"{r['benchmark']:<20} {r['model']:<22} {r['layer']:<12} {r['batch']:>5} {r.get('size', 224):>5} "
                f"{values} {r['ratio']:>7.3f}  {r['target'] or ''}{extra}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
