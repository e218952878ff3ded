"""Benchmark of the result store (issue 13): a cached run vs the first run of the same spec (target < 0.01).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/store.py [--repeats N] [--only NAME] [--json]

Every round takes a fresh spec (a new seed, or a new image file, so a new key), runs it once through
`ResultStore.run` (a miss: the recipe runs and its result is committed) and once more (a hit: key, index lookup,
file checks, the Result), interleaved; medians and the median of the per-round ratios cached / first.

- `work`: a benchmark recipe doing ~0.3 s of torch work (matrix products) and writing 3 files (two .npy, a PNG).
- `predict-cold`: the real `predict` recipe on the `digits` model with a fresh SubjectPool for each first run,
  i.e. what a new process (the CLI) pays: the model is built again (the trained weights come from the cache).
- `predict-warm`: the same with one SubjectPool for every run, i.e. what a long-running server pays: one tiny
  forward, no files; the cached path costs the same, so this ratio is the least favourable.
- `job-submit`: `JobRunner.submit` of a stored spec (done at once) vs the first run of `work` through the runner.
The predict cases are skipped while `convscope.recipes.get("predict")` does not import.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import Field

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from convscope.execution.store import ResultStore  # noqa: E402
from convscope.recipes.base import REGISTRY, RunContext, Spec, SubjectPool, recipe  # noqa: E402


class WorkSpec(Spec):
    """`rounds` products of two n x n matrices, then three files."""

    n: int = Field(384, ge=1)
    rounds: int = Field(40, ge=1)
    seed: int = 0


def run_work(spec: WorkSpec, ctx: RunContext):
    import numpy as np
    import torch
    from PIL import Image

    generator = torch.Generator().manual_seed(spec.seed)
    a = torch.randn(spec.n, spec.n, generator=generator)
    b = torch.randn(spec.n, spec.n, generator=generator) / spec.n**0.5
    for step in range(spec.rounds):
        a = torch.tanh(a @ b)
        ctx.progress("work", step + 1, spec.rounds)
    np.save(ctx.path("a.npy"), a.numpy())
    np.save(ctx.path("b.npy"), b.numpy())
    image = ((a[:128, :128] + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    Image.fromarray(image).save(ctx.path("a.png"))
    return ctx.result(
        "bench-work", {"mean": float(a.mean()), "files": [str(ctx.out / n) for n in ("a.npy", "b.npy", "a.png")]}
    )


def _register() -> bool:
    """Register `bench-work`, after the family modules (registry() imports them only while REGISTRY is empty);
    True when `predict` is there."""
    try:
        from convscope.recipes import get

        get("predict")
        predict = True
    except Exception as exc:  # the family modules are not there (yet)
        print(f"predict skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        predict = False
    if "bench-work" not in REGISTRY:
        recipe("bench-work", 1, WorkSpec, "benchmark: ~0.3 s of torch work, three files")(run_work)
    return predict


def _pair(first, cached, repeats: int) -> dict:
    """Rounds of (first, cached) on a fresh spec each; medians and the median per-round ratio."""
    firsts, hits = [], []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        spec = first(i)
        t1 = time.perf_counter()
        cached(spec)
        t2 = time.perf_counter()
        if i:  # the first round warms up
            firsts.append(t1 - t0)
            hits.append(t2 - t1)
    ratios = [h / f for h, f in zip(hits, firsts)]
    return {
        "first_s": statistics.median(firsts),
        "cached_s": statistics.median(hits),
        "ratio": statistics.median(ratios),
        "worst_ratio": max(ratios),
        "repeats": repeats,
    }


def bench_work(store: ResultStore, repeats: int) -> dict:
    def first(i):
        spec = WorkSpec(seed=1000 + i)
        result, hit = store.run(spec)
        assert not hit
        return spec

    def cached(spec):
        result, hit = store.run(spec)
        assert hit and Path(result.data["files"][0]).is_file()

    return {"benchmark": "work", **_pair(first, cached, repeats)}


def _predict_spec(folder: Path, i: int):
    import numpy as np
    from PIL import Image

    from convscope.recipes.base import ModelRef
    from convscope.recipes.inspect import PredictSpec

    path = folder / f"digit-{i}.png"
    Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32), dtype=np.uint8)).save(path)
    return PredictSpec(model=ModelRef(spec="digits"), image=str(path), top=3)


def bench_predict(store: ResultStore, folder: Path, repeats: int, cold: bool) -> dict:
    shared = SubjectPool()

    def first(i):
        spec = _predict_spec(folder, i + (0 if cold else 10_000))
        pool = SubjectPool() if cold else shared
        result, hit = store.run(spec, lambda out: RunContext(out, subjects=pool))
        assert not hit and result.data["predictions"]
        return spec

    def cached(spec):
        result, hit = store.run(spec, lambda out: RunContext(out, subjects=shared))
        assert hit

    return {"benchmark": "predict-cold" if cold else "predict-warm", **_pair(first, cached, repeats)}


def bench_job_submit(store: ResultStore, repeats: int) -> dict:
    from convscope.execution.jobs import JobRunner

    runner = JobRunner(store)
    try:

        def first(i):
            spec = WorkSpec(seed=5000 + i)
            job = runner.wait(runner.submit(spec).id, 120)
            assert job.state == "done" and not job.from_store
            return spec

        def cached(spec):
            job = runner.submit(spec)
            assert job.state == "done" and job.from_store

        return {"benchmark": "job-submit", **_pair(first, cached, repeats)}
    finally:
        runner.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["work", "predict-cold", "predict-warm", "job-submit"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    predict = _register()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "data")
        images = Path(tmp) / "images"
        images.mkdir()
        wanted = lambda name: args.only in (None, name)  # noqa: E731
        if wanted("work"):
            rows.append(bench_work(store, args.repeats))
        if predict:
            import convscope

            convscope.load("digits")  # trains and caches the digits model once (not part of any figure)
            if wanted("predict-cold"):
                rows.append(bench_predict(store, images, args.repeats, cold=True))
            if wanted("predict-warm"):
                rows.append(bench_predict(store, images, args.repeats, cold=False))
        if wanted("job-submit"):
            rows.append(bench_job_submit(store, args.repeats))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'benchmark':<14} {'first':>10} {'cached':>10} {'ratio':>9} {'worst':>9}  target < 0.01")
    for row in rows:
        print(
            f"{row['benchmark']:<14} {row['first_s'] * 1e3:>8.2f}ms {row['cached_s'] * 1e3:>8.3f}ms "
            f"{row['ratio']:>9.5f} {row['worst_ratio']:>9.5f}  {'met' if row['ratio'] < 0.01 else 'not met'}"
        )


if __name__ == "__main__":
    main()
