"""A bounded load test of the REST API on loopback: a real uvicorn server in a thread, 50 concurrent requests while
a feature visualization runs on the `long` runner.

The burst mixes GET /api/health, GET /api/models/digits/layers, POST /api/runs predict on an uploaded image (top
1..10, so most are not in the store yet and run on the `quick` runner) and GET of an activation map (an artifact
URL). Every answer must be a 2xx, the visualization must be `running` before and after the burst (so it ran through
it), and cancelling it must end it `cancelled` within seconds. p50 / p99 latencies go to stdout (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import io
import statistics
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from convscope.server import ServerConfig, create_app

BURST = 50


@pytest.fixture()
def server(tmp_path, digits_subject):  # digits_subject: the digits model is trained before the server starts
    app = create_app(ServerConfig(data_dir=tmp_path / "data", models=["digits"]))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=uv.run, name="uvicorn-load-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"
    platform = app.state.platform  # the lifespan's shutdown ran Platform.close: every worker stopped
    assert not any(t.is_alive() for runner in (platform.long, platform.quick) for t in runner._threads)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (32, 32), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def test_burst_while_a_visualization_runs(server):
    base, app = server
    digits = {"spec": "digits"}
    with httpx.Client(base_url=base, timeout=60) as client:
        upload = client.post("/api/images", files={"file": ("digit.png", _png(), "image/png")})
        assert upload.status_code == 201, upload.text
        image = upload.json()["id"]
        activations = {"model": digits, "image": image, "layer": "features.3", "top": 4}
        answer = client.post("/api/runs", json={"recipe": "activations", "spec": activations})
        assert answer.status_code == 200, answer.text
        artifacts = [a["url"] for a in answer.json()["result"]["artifacts"] if a["media_type"] == "image/png"]
        assert artifacts

        # long enough to outlast the burst by far (a few ms a step); cancelled below
        visualize = {"model": digits, "layer": "features.3", "channels": [0, 1, 2, 3], "steps": 20_000}
        submitted = client.post("/api/runs", json={"recipe": "visualize", "spec": visualize})
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["job"]
        deadline = time.monotonic() + 30
        while True:  # running and past its first steps (the model loaded on the long runner's pool)
            view = client.get(f"/api/jobs/{job}").json()
            if view["status"] == "running" and view["progress"]["done"] > 0:
                break
            assert view["status"] in ("queued", "running") and time.monotonic() < deadline, view
            time.sleep(0.05)
        before = view["progress"]["done"]

        requests = []
        for i in range(BURST):
            kind = i % 4
            if kind == 0:
                requests.append(("GET", "/api/health", None))
            elif kind == 1:
                requests.append(("GET", "/api/models/digits/layers", None))
            elif kind == 2:
                spec = {"model": digits, "image": image, "top": 1 + (i // 4) % 10}
                requests.append(("POST", "/api/runs", {"recipe": "predict", "spec": spec}))
            else:
                requests.append(("GET", artifacts[i % len(artifacts)], None))

        async def burst():
            async with httpx.AsyncClient(base_url=base, timeout=60) as aclient:

                async def one(method, url, body):
                    t0 = time.perf_counter()
                    response = await aclient.request(method, url, json=body)
                    return response.status_code, (time.perf_counter() - t0) * 1e3, method, url

                return await asyncio.gather(*(one(*r) for r in requests))

        t0 = time.perf_counter()
        results = asyncio.run(burst())
        wall = time.perf_counter() - t0

        after = client.get(f"/api/jobs/{job}").json()
        assert after["status"] == "running", after
        assert after["progress"]["done"] > before, (before, after["progress"])  # it kept stepping during the burst

        failures = [(code, method, url) for code, _, method, url in results if not 200 <= code < 300]
        assert not failures, failures
        latencies = [ms for _, ms, _, _ in results]
        print(
            f"\nburst of {BURST} concurrent requests while visualize ran ({before} -> {after['progress']['done']} "
            f"steps): wall {wall * 1e3:.0f} ms, p50 {_percentile(latencies, 50):.1f} ms, "
            f"p99 {_percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms"
        )
        kinds = {"health": "/api/health", "layers": "/layers", "predict": "/api/runs", "artifact": "/api/artifacts/"}
        for kind, marker in kinds.items():
            mine = [ms for _, ms, _, url in results if marker in url]
            print(
                f"  {kind:<9} n={len(mine):<3} p50 {_percentile(mine, 50):7.1f} ms  p99 {_percentile(mine, 99):7.1f} ms"
            )

        cancel = client.delete(f"/api/jobs/{job}")
        assert cancel.status_code == 200 and cancel.json()["cancelled"], cancel.text
        deadline = time.monotonic() + 5
        while (status := client.get(f"/api/jobs/{job}").json()["status"]) != "cancelled":
            assert status == "running" and time.monotonic() < deadline, status
            time.sleep(0.05)
        assert app.state.platform.store.get(after["hash"]) is None  # a cancelled run stores nothing
