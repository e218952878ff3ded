"""Inverse-set benchmark (seed 002 §4.3): seeds + fast sampling of n samples vs the full optimization of eq. (16)
of n_full samples at once, with the same constraint, generator and initial codes (the first K of the n_full).

    .venv/bin/python benchmarks/inverse_set.py [--repeats N] [--only digits|default] [--n 500] [--n-full 100]
        [--device cpu|cuda] [--json]

Reports gradient steps, seconds, seconds per sample, the share of samples in range and the Table 1 diversity of
both, and the ratios candidate / baseline (time and time per sample), as medians over interleaved repeats.
Eq. (16) is run by the same augmented Lagrangian as the seeds, with K = n_full, stopped as soon as all n_full codes
are feasible (the paper optimized it "all the way", ~13,000 steps; stopping early favours the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import quiet_allocator  # noqa: E402 - the allocator settings of benchmarks/run.py

CASES = {  # model, constraint, generator, seed-ALM inner steps
    "digits": ("digits", "logits:3:4:6", "trained:digits", 100),
    "default": ("default", "logits:285:4:7", "fourier", 50),
}


def run_case(name: str, n: int, n_full: int, k: int, repeats: int, device: str = "cpu") -> dict:
    import torch

    import convscope
    from convscope.techniques.generators import make_generator
    from convscope.techniques.inverse_set import (
        Encoder,
        InverseSet,
        Problem,
        find_seeds,
        inverse_set,
        parse_constraint,
        summarize,
    )

    model, constraint, generator_spec, inner_steps = CASES[name]
    subject = convscope.load(model).to(device)
    encoder = Encoder(subject)
    generator = make_generator(generator_spec, subject, encoder)
    problem = Problem(subject, generator, encoder, [parse_constraint(constraint)])
    fast, full = [], []
    for repeat in range(repeats):  # interleaved: baseline then candidate, new initial codes each repeat
        initial = generator.initial_codes(n_full, encoder, torch.Generator().manual_seed(repeat))
        start = time.perf_counter()
        seeds = find_seeds(problem, initial, inner_steps=inner_steps, max_outer=8)
        seconds = time.perf_counter() - start
        everything = InverseSet(
            seeds.codes.detach(),
            seeds.images,
            seeds.values,
            seeds.features,
            seeds.steps,
            0,
            seeds.outer_iterations,
            seconds,
            n_full,
        )
        full.append(summarize(everything, problem))
        result = inverse_set(problem, initial[:k], n, inner_steps=inner_steps, max_outer=8)
        fast.append(summarize(result, problem))
        print(f"{name} repeat {repeat}: fast {fast[-1]} | eq16 {full[-1]}", file=sys.stderr, flush=True)

    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    report = {
        "benchmark": "inverse-set",
        "case": name,
        "model": model,
        "constraint": constraint,
        "generator": generator_spec,
        "k": k,
        "repeats": repeats,
        "device": device,
        "fast": {
            "n": n,
            **{key: median(fast, key) for key in ("seed_steps", "sampling_steps", "seconds", "diversity", "in_range")},
        },
        "eq16": {"n": n_full, **{key: median(full, key) for key in ("seed_steps", "seconds", "diversity", "in_range")}},
    }
    report["fast"]["steps"] = report["fast"]["seed_steps"] + report["fast"]["sampling_steps"]
    report["time_ratio"] = statistics.median(f["seconds"] / b["seconds"] for f, b in zip(fast, full))
    report["time_per_sample_ratio"] = report["time_ratio"] * n_full / n
    return report


def main() -> None:
    quiet_allocator()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--n-full", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (both methods run on it)")
    args = parser.parse_args()
    reports = [
        run_case(name, args.n, args.n_full, args.k, args.repeats, args.device)
        for name in CASES
        if args.only in (None, name)
    ]
    if args.json:
        print(json.dumps(reports, indent=1))
        return
    for r in reports:
        f, b = r["fast"], r["eq16"]
        print(
            f"{r['case']:8} fast n={f['n']}: {f['seed_steps']:.0f} seed + {f['sampling_steps']:.0f} sampling steps, "
            f"{f['seconds']:.1f} s, diversity {f['diversity']:.2f}, in range {f['in_range']:.0%} | "
            f"eq.(16) n={b['n']}: {b['seed_steps']:.0f} steps, {b['seconds']:.1f} s, diversity "
            f"{b['diversity']:.2f}, in range {b['in_range']:.0%} | time ratio {r['time_ratio']:.3f}, per sample "
            f"{r['time_per_sample_ratio']:.3f}"
        )


if __name__ == "__main__":
    main()
