"""What the browser tests share (tests/test_webapp*.py): a served app (`serve`), Debian's Chromium, a page that fails
its test on a console error, `run_and_wait`, axe-core's violations and PNG bytes. The fixtures (`server`, `browser`,
`page`) live in tests/conftest.py and call these."""

import socket
import threading
import time
from pathlib import Path

import uvicorn

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "web"
AXE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """uvicorn serving `app` on 127.0.0.1 (a free port) in a thread: `.base` is its URL; `stop()` ends it."""

    def __init__(self, app):
        self.port = free_port()
        self.instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.instance.run, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"
        end = time.time() + 30
        while not self.instance.started:
            assert time.time() < end, "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.instance.should_exit = True
        self.thread.join(timeout=30)


def run_and_wait(page, timeout=120_000):
    page.get_by_test_id("run").click()
    page.get_by_test_id("result").wait_for(timeout=timeout)


AXE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:
    """axe-core's accessibility violations on the page as it is (one line each: rule, impact, first element)."""
    assert AXE.is_file(), "axe-core is a dev dependency of web/ (npm ci)"
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(
            v => `${v.id} (${v.impact}): ${v.nodes.length} x ${v.nodes[0].target.join(" ")}`)"""
    )


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is."""
    return [v for v in axe_violations(page) if "(serious)" in v or "(critical)" in v]


def shown_result(page, server: str, scope=None) -> dict:
    """The data of the result shown in `scope` (default: the page's first), from the API: its hash is in the run's
    download link."""
    import re

    href = (scope or page).get_by_test_id("run-download").first.get_attribute("href")
    key = re.fullmatch(r"/api/results/([0-9a-f]{64})/archive", href).group(1)
    return page.request.get(f"{server}/api/results/{key}").json()["data"]


def png_bytes(array) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()
