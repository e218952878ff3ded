"""Benchmark of the atlas (issue 16): units per minute, the local backend vs Ray with 1 and 2 workers, in one run.

    .venv/bin/python benchmarks/atlas.py [--repeats N] [--units 8] [--steps 64] [--json]

Workload: the `digits` model, `features.3` channels 0..units-1, `steps` steps per visualization, one unit per
shard, plus the top-9 scan of all 1,797 digits in 3 shards. Every case computes into a fresh result store (no
hit). Each worker (and the local backend) computes with 1 torch thread, so the ratios show what the backend adds
or gains, not thread-level parallelism. Ray start-up (ray.init, the actors, each actor building the model on a
warm-up shard) is measured apart from the steady state. Rounds are interleaved (local, Ray 1, Ray 2); medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import torch  # noqa: E402

from convscope.execution.store import ResultStore  # noqa: E402
from convscope.recipes import RunContext, SubjectPool  # noqa: E402
from convscope.recipes.atlas import AtlasSpec  # noqa: E402

DIGITS = {"spec": "digits"}


def spec(units: int, steps: int, seed: int) -> AtlasSpec:
    return AtlasSpec(
        model=DIGITS,
        layers="features.3",
        channels=f"0-{units - 1}",
        dataset="digits",
        steps=steps,
        seed=seed,
        units_per_shard=1,
        images_per_shard=600,
    )


def timed(store: ResultStore, atlas: AtlasSpec, context) -> float:
    start = time.perf_counter()
    result, hit = store.run(atlas, context)
    assert not hit and result.data["shards"]["from_store"] == 0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from convscope.execution.distributed import RayShards

    torch.set_num_threads(1)
    subjects = SubjectPool()
    times: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
    startup: dict[str, list[float]] = {"ray-1": [], "ray-2": []}
    with tempfile.TemporaryDirectory(prefix="convscope-bench-atlas-") as folder:
        root = Path(folder)
        # warm the local backend (the model, the digits data) on a throwaway atlas
        timed(ResultStore(root / "warm"), spec(1, 2, 10_000), lambda out: RunContext(out, subjects=subjects))
        for round_ in range(args.repeats):
            seed = round_ + 1
            store = ResultStore(root / f"local-{round_}")
            times["local"].append(
                timed(store, spec(args.units, args.steps, seed), lambda out: RunContext(out, subjects=subjects))
            )
            for workers in (1, 2):
                name = f"ray-{workers}"
                data = root / f"{name}-{round_}"
                start = time.perf_counter()
                with RayShards("local", workers=workers, data_dir=data, object_store_mb=128) as shards:
                    # every actor builds the model on a warm-up shard of its own
                    timed(
                        ResultStore(data), spec(workers, 2, 20_000 + round_), lambda out: RunContext(out, shards=shards)
                    )
                    startup[name].append(time.perf_counter() - start)
                    times[name].append(
                        timed(
                            ResultStore(data),
                            spec(args.units, args.steps, seed),
                            lambda out: RunContext(out, shards=shards),
                        )
                    )
    median = {name: statistics.median(values) for name, values in times.items()}
    report = {
        "units": args.units,
        "steps": args.steps,
        "repeats": args.repeats,
        "seconds": median,
        "units_per_minute": {name: 60 * args.units / seconds for name, seconds in median.items()},
        "speedup_vs_local": {name: median["local"] / seconds for name, seconds in median.items()},
        "ray_startup_seconds": {name: statistics.median(values) for name, values in startup.items()},
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"atlas of {args.units} digits units x {args.steps} steps + a 1,797-image scan, medians of {args.repeats}")
    for name in times:
        extra = f", start-up {report['ray_startup_seconds'][name]:.1f} s" if name in startup else ""
        print(
            f"{name:6s} {median[name]:7.2f} s  {report['units_per_minute'][name]:6.1f} units/min  "
            f"x{report['speedup_vs_local'][name]:.2f} of local{extra}"
        )


if __name__ == "__main__":
    main()
