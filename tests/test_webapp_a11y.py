"""Issue 23 item 7 in the browser: every page of the app — with a result shown where a page has one — has no serious
or critical axe-core violation, and the home page is light: its JavaScript, as transferred (gzip), is under
400 KB (the graph, the charts and the technique pages load on demand)."""

import time

import httpx
import pytest

from webapp_helpers import axe_violations

pytestmark = pytest.mark.usefixtures("one_thread")

#: the home page's JavaScript budget, bytes as transferred
HOME_JS_BUDGET = 400_000

# (name, route, whether it shows a run's result); {digit} is a sample image's id
ROUTES = [
    ("home", "/#/", False),
    ("home-of-a-model", "/#/model/digits", False),
    ("predict", "/#/model/digits/predict?image={digit}&run=1", True),
    ("activations", "/#/model/digits/activations?image={digit}&layer=features.3&top=4&run=1", True),
    ("visualize", "/#/model/digits/visualize?layer=features.3&channels=0&steps=8&run=1", True),
    ("dream", "/#/model/digits/dream?image={digit}&layer=features.3&octaves=2&steps=4&run=1", True),
    ("attribution", "/#/model/digits/attribution?image={digit}&method=dtd&run=1", True),
    ("evaluate", "/#/model/digits/evaluate?dataset=digits&run=1", True),
    ("examples", "/#/model/digits/examples?dataset=digits&layer=logits&channels=3&top=4&run=1", True),
    ("selectivity", "/#/model/digits/selectivity?dataset=digits&layer=logits&run=1", True),
    ("facets", "/#/model/digits/facets?dataset=digits&target=logits%3A3&top_images=30&k=2&steps=4&run=1", True),
    ("inverse-set", "/#/model/digits/inverse-set?constraints=logits%3A3%3A4%3A6&n=6&k=2&run=1", True),
    ("data", "/#/data", False),
    ("jobs", "/#/jobs", False),
    ("atlases", "/#/atlas", False),
    ("atlas", "/#/atlas/{atlas}", False),
    ("graph", "/#/model/digits/graph", False),
    ("unit", "/#/model/digits/layer/features.3/unit/5", False),
]


@pytest.fixture(scope="module")
def names(server):
    """What the routes name: a sample digit's image id and an atlas in the store (small, on digits)."""
    digit = next(s["id"] for s in httpx.get(f"{server}/api/samples").json()["samples"] if s["name"].startswith("digit"))
    spec = {"model": {"spec": "digits"}, "layers": "features.3", "channels": "0-1", "dataset": "digits", "steps": 4}
    job = httpx.post(f"{server}/api/runs", json={"recipe": "atlas", "spec": {**spec, "top": 4}}).json()["job"]
    end = time.time() + 240
    while (view := httpx.get(f"{server}/api/jobs/{job}").json())["status"] in ("queued", "running"):
        assert time.time() < end, "the atlas did not finish"
        time.sleep(0.2)
    assert view["status"] == "done", view
    return {"digit": digit, "atlas": view["hash"]}


@pytest.mark.parametrize("name, route, result", ROUTES, ids=[r[0] for r in ROUTES])
def test_no_serious_accessibility_violation(server, page, names, name, route, result):
    page.goto(server + route.format(**names))
    if result:
        page.get_by_test_id("result").wait_for(timeout=180_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # the last renders after the data arrived
    serious = [v for v in axe_violations(page) if "(serious)" in v or "(critical)" in v]
    assert serious == [], f"{name}: " + "\n".join(serious)


def test_the_home_page_javascript_is_light_and_compressed(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    scripts = []
    tab.on("response", lambda r: scripts.append(r) if r.request.resource_type == "script" else None)
    tab.goto(f"{server}/", wait_until="networkidle")
    tab.get_by_test_id("card-graph").wait_for()
    entries = tab.evaluate(
        """() => performance.getEntriesByType('resource').filter(e => e.initiatorType === 'script' ||
            e.name.endsWith('.js')).map(e => ({name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize,
            decoded: e.decodedBodySize}))"""
    )
    transferred = sum(e["transfer"] for e in entries)
    decoded = sum(e["decoded"] for e in entries)
    assert scripts and all(r.headers.get("content-encoding") == "gzip" for r in scripts), [r.url for r in scripts]
    assert 0 < transferred < HOME_JS_BUDGET, (transferred, entries)
    assert sum(e["encoded"] for e in entries) < decoded / 2  # gzip at least halves it
    # the graph's code (React Flow, ELK) and the charts (recharts) are not loaded by the home page
    loaded = " ".join(e["name"] for e in entries)
    assert "NetworkGraph" not in loaded and "elk" not in loaded and "Chart" not in loaded, loaded
    context.close()
