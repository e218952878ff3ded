"""Screenshots of the web app for the README (docs/images/webapp-*.png), on the default model.

    .venv/bin/python scripts/webapp_screenshots.py      # needs the built app and /usr/bin/chromium

Starts a server on a free loopback port with a temporary data dir, opens the home page, the attribution of
chelsea (Deep Taylor: its result, the map over the image) and the network graph in headless Chromium, and saves
one PNG each at 1280 px wide.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from convscope.server import ServerConfig, create_app  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def main() -> None:
    with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        app = create_app(ServerConfig(data_dir=Path(data), models=["default", "digits"]))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(180_000)
            page.goto(f"{base}/#/model/default")
            page.get_by_test_id("model-summary-default").wait_for()
            page.screenshot(path=str(OUT / "webapp-home.png"))
            page.goto(f"{base}/#/model/default/attribution")
            page.get_by_test_id("image-chelsea").click()
            page.get_by_test_id("run").click()
            page.get_by_test_id("result").wait_for()
            page.wait_for_timeout(500)
            # the result, not the form: the map over the image with its colour bar (issue 23)
            page.evaluate("document.querySelector('[data-testid=result]').scrollIntoView(); window.scrollBy(0, -100)")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "webapp-attribution.png"))
            page.goto(f"{base}/#/model/default/graph")
            page.locator("[data-testid=network-graph][data-busy=false]").wait_for()
            page.get_by_test_id("graph-node-blocks").click()
            page.locator("[data-testid=network-graph][data-busy=false]").wait_for()
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / "webapp-graph.png"))
            browser.close()
        server.should_exit = True
    print(f"wrote {OUT}/webapp-home.png, webapp-attribution.png, webapp-graph.png")


if __name__ == "__main__":
    main()
