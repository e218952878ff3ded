"""Benchmark of the REST API (`convscope serve`): what HTTP, the job runners and the store add to a recipe.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/server.py [--repeats N] [--json]

One process: a real uvicorn server on 127.0.0.1 (a free port) in a thread, `create_app(ServerConfig(data_dir=<tmp>,
models=["digits"]))`, and an httpx client (so client and server share the process, its GIL and the 2 cores).
Every measurement is interleaved with its baseline round by round; the first round warms up and is not counted;
medians and p99 (the table's `diff`: median - baseline median), and the median of the per-round ratios.

- `predict-http` vs `predict-direct`: one POST /api/runs of `predict` on the digits model for a new image (uploaded
  with POST /api/images before the clock starts, so it is never in the store), from the request to the parsed
  answer, against `convscope.recipes.run(PredictSpec(...), RunContext(out, subjects=pool))` in process on another
  new image of the same size, with one SubjectPool for every round (as the server keeps its models loaded). The
  HTTP figure includes everything a served run adds: admit + preflight, the spec key (image fingerprint), the store
  lookup, the hand-off to a `quick` worker thread and back, the store's commit of the result, the JSON answer and
  the loopback round trip. `predict-store` (in process, `ResultStore.run` of a new spec, the same pool) splits that
  overhead into the store's share and the API's share.
- `sse-latency`: the delay from a job's progress event (its `time` field, unix seconds, set by the runner when it
  emits the event) to its arrival at an SSE client (GET /api/jobs/{id}/events, httpx streaming; `time.time()` when
  the `data:` line is parsed), over the ~100 steps of a visualize job on digits per round (a new seed each round);
  events emitted before the stream was open (replayed) are left out. Baseline `sse-callback`: the same events
  handed to an in-process subscriber of the same runner (`JobRunner.subscribe`) at the same time. Median and p99
  over all events of all rounds.
- `cached-predict`: POST /api/runs of a predict spec already stored (the answer says `cached: true`) against the
  first run of the same spec (the `predict-http` request of the round).
- `cached-visualize`: the same for the visualize spec of the `sse-latency` round: POST /api/runs once it is done,
  against its first run (from POST to the job's `done`, as the client sees it: the 202 then the job's end).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402

from convscope.execution.store import ResultStore  # noqa: E402
from convscope.recipes.base import ModelRef, RunContext, SubjectPool  # noqa: E402
from convscope.server import ServerConfig, create_app  # noqa: E402

DIGITS = {"spec": "digits"}
VISUALIZE_STEPS = 100


@contextlib.contextmanager
def serve(app):
    """uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL; stops it (the app's shutdown runs)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-bench", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (32, 32), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _row(name: str, values: list[float], baseline_name: str, baseline: list[float], ratios: list[float]) -> dict:
    return {
        "benchmark": name,
        "median_ms": statistics.median(values) * 1e3,
        "p99_ms": _p(values, 99) * 1e3,
        "baseline": baseline_name,
        "baseline_median_ms": statistics.median(baseline) * 1e3,
        "baseline_p99_ms": _p(baseline, 99) * 1e3,
        "diff_ms": (statistics.median(values) - statistics.median(baseline)) * 1e3,
        "ratio": statistics.median(ratios),
        "samples": len(values),
    }


def bench_predict(client: httpx.Client, images: Path, store: ResultStore, repeats: int) -> list[dict]:
    """predict over HTTP (first, then cached) vs in process (recipes.run, ResultStore.run), interleaved."""
    from convscope.recipes import run
    from convscope.recipes.inspect import PredictSpec

    pool = SubjectPool()
    https, directs, stores, cached = [], [], [], []
    for i in range(repeats + 1):
        upload = client.post("/api/images", files={"file": ("digit.png", _png(1000 + i), "image/png")})
        upload.raise_for_status()
        body = {"recipe": "predict", "spec": {"model": DIGITS, "image": upload.json()["id"], "top": 3}}
        paths = []
        for offset in (2000, 3000):
            path = images / f"digit-{offset + i}.png"
            path.write_bytes(_png(offset + i))
            paths.append(path)

        t0 = time.perf_counter()
        answer = client.post("/api/runs", json=body)
        t1 = time.perf_counter()
        answer.raise_for_status()
        assert answer.status_code == 200 and not answer.json()["cached"], answer.text

        spec = PredictSpec(model=ModelRef(spec="digits"), image=str(paths[0]), top=3)
        t2 = time.perf_counter()
        result = run(spec, RunContext(images / f"out-{i}", subjects=pool))
        t3 = time.perf_counter()
        assert result.data["predictions"]

        spec = PredictSpec(model=ModelRef(spec="digits"), image=str(paths[1]), top=3)
        t4 = time.perf_counter()
        result, hit = store.run(spec, lambda out: RunContext(out, subjects=pool))
        t5 = time.perf_counter()
        assert not hit and result.data["predictions"]

        t6 = time.perf_counter()
        again = client.post("/api/runs", json=body)
        t7 = time.perf_counter()
        assert again.status_code == 200 and again.json()["cached"], again.text
        if i:  # the first round warms up
            https.append(t1 - t0)
            directs.append(t3 - t2)
            stores.append(t5 - t4)
            cached.append(t7 - t6)
    return [
        _row("predict-http", https, "predict-direct", directs, [h / d for h, d in zip(https, directs)]),
        _row("predict-store", stores, "predict-direct", directs, [s / d for s, d in zip(stores, directs)]),
        _row("cached-predict", cached, "predict-http (first)", https, [c / h for c, h in zip(cached, https)]),
    ]


def bench_sse(client: httpx.Client, platform, repeats: int) -> list[dict]:
    """Progress events: runner -> SSE client vs runner -> in-process subscriber; then the cached answer."""
    sse, callback, firsts, cached = [], [], [], []
    for i in range(repeats + 1):
        spec = {"model": DIGITS, "layer": "features.3", "channels": [0, 1, 2, 3], "steps": VISUALIZE_STEPS, "seed": i}
        body = {"recipe": "visualize", "spec": spec}
        t0 = time.perf_counter()
        submitted = client.post("/api/runs", json=body)
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["job"]
        heard: list[float] = []
        unsubscribe = platform.long.subscribe(
            lambda e: heard.append(time.time() - e.time) if e.kind == "progress" else None, job
        )
        arrived: list[float] = []
        try:
            with client.stream("GET", f"/api/jobs/{job}/events", timeout=120) as stream:
                opened = time.time()
                kind = None
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        now = time.time()
                        data = json.loads(line.partition(":")[2])
                        if kind == "progress" and data["time"] >= opened:
                            arrived.append(now - data["time"])
                        if kind == "state" and data["state"] in ("done", "failed", "cancelled"):
                            assert data["state"] == "done", data
                            break
        finally:
            unsubscribe()
        t1 = time.perf_counter()
        again = client.post("/api/runs", json=body)
        t2 = time.perf_counter()
        assert again.status_code == 200 and again.json()["cached"], again.text
        if i:
            sse += arrived
            callback += heard
            firsts.append(t1 - t0)
            cached.append(t2 - t1)
    sse_row = _row("sse-latency", sse, "sse-callback", callback, [statistics.median(sse) / statistics.median(callback)])
    sse_row["ratio"] = None  # one pooled figure, not per round: the ratio of microseconds says little
    return [
        sse_row,
        _row("cached-visualize", cached, "visualize (first)", firsts, [c / f for c, f in zip(cached, firsts)]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import convscope

    convscope.load("digits")  # trains and caches the digits model once (not part of any figure)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(ServerConfig(data_dir=Path(tmp) / "data", models=["digits"]))
        images = Path(tmp) / "images"
        images.mkdir()
        store = ResultStore(Path(tmp) / "direct-store")
        with serve(app) as base, httpx.Client(base_url=base, timeout=120) as client:
            rows += bench_predict(client, images, store, args.repeats)
            rows += bench_sse(client, app.state.platform, args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(
        f"{'benchmark':<17} {'median':>10} {'p99':>10}   {'baseline':<21} {'median':>10} {'p99':>10} "
        f"{'diff':>10} {'ratio':>8}"
    )
    for row in rows:
        ratio = f"{row['ratio']:>8.3f}" if row["ratio"] is not None else f"{'':>8}"
        print(
            f"{row['benchmark']:<17} {row['median_ms']:>8.3f}ms {row['p99_ms']:>8.3f}ms   {row['baseline']:<21} "
            f"{row['baseline_median_ms']:>8.3f}ms {row['baseline_p99_ms']:>8.3f}ms {row['diff_ms']:>8.3f}ms "
            f"{ratio}"
        )
    events = next(row["samples"] for row in rows if row["benchmark"] == "sse-latency")
    print(
        f"({args.repeats} rounds after a warm-up; sse rows: {events} progress events, p99 over them; diff: median"
        " - baseline median, the overhead of HTTP + runner + store for predict-http; ratio: median of per-round"
        " ratios)"
    )


if __name__ == "__main__":
    main()
