"""Issue 15: the browser app end to end, in real headless Chromium (Debian's `chromium`, driven by Playwright):
the main flow of every page on `digits`, chelsea -> "Egyptian cat" on the default model, a unit page opened from
its URL, a job cancelled from the Jobs page, an API error shown next to its field, and no console errors.
A screenshot of each page is kept in test-artifacts/web/.

The app must be built (scripts/test.sh runs scripts/build_web.sh first); a missing build fails, never skips. The
fixtures (`server`, `browser`, `page`) are in tests/conftest.py, the helpers in tests/webapp_helpers.py."""

import json
import threading
import time

import httpx
import pytest

from convscope.server import ServerConfig, create_app
from webapp_helpers import SHOTS, Served, axe_violations, png_bytes, run_and_wait


def test_home_lists_models_and_pages(server, page):
    page.goto(f"{server}/")
    page.get_by_test_id("model-digits").wait_for()
    summary = page.get_by_test_id("model-summary-digits")
    summary.wait_for()
    assert "input 1×32×32" in summary.inner_text() and "10 classes" in summary.inner_text()
    for card in ["graph", "predict", "activations", "visualize", "dream", "attribution", "examples", "selectivity"]:
        assert page.get_by_test_id(f"card-{card}").is_visible()
    page.get_by_test_id("model-digits").click()
    page.get_by_test_id("card-predict").click()
    assert page.url.endswith("#/model/digits/predict")


def test_prediction_of_chelsea_on_the_default_model(server, page):
    page.goto(f"{server}/#/model/default/predict")
    page.get_by_test_id("image-chelsea").click()
    run_and_wait(page)
    table = page.get_by_test_id("predictions").inner_text()
    assert "Egyptian cat" in table.splitlines()[1], table
    # the state is in the URL: a reload shows the same result (from the store)
    page.reload()
    page.get_by_test_id("predictions").wait_for()
    assert "Egyptian cat" in page.get_by_test_id("predictions").inner_text()


def test_the_default_models_data_pages_scan_photographs(server, page):
    """Issue 22 (first part): on the ImageNet model the dataset field starts at the built-in photographs, never at
    digits, and the examples page shows photos."""
    page.goto(f"{server}/#/model/default/examples")
    field = page.get_by_test_id("dataset-select")
    field.wait_for()  # the form shows once the models and datasets are known
    assert field.input_value() == "photos"
    assert "digits" not in field.locator("option").all_inner_texts()  # grayscale: does not fit an RGB model
    page.goto(f"{server}/#/model/default/examples?dataset=photos&layer=blocks.5&channels=3&top=3&run=1")
    page.get_by_test_id("result").wait_for(timeout=120_000)
    assert page.locator(".result img").count() >= 1
    page.goto(f"{server}/#/model/digits/examples")
    page.get_by_test_id("dataset-select").wait_for()
    assert page.get_by_test_id("dataset-select").input_value() == "digits"
    assert "photos" not in page.get_by_test_id("dataset-select").locator("option").all_inner_texts()


def test_network_graph_expands_and_selects(server, page):
    page.goto(f"{server}/#/model/digits/graph")
    graph = page.get_by_test_id("network-graph")
    graph.wait_for()
    page.locator("[data-testid=network-graph][data-busy=false]").wait_for()
    opened = int(graph.get_attribute("data-nodes"))
    page.get_by_test_id("graph-node-features.3").click()  # digits opens its one big block by default
    assert "features.3" in page.get_by_test_id("graph-info").inner_text()
    assert "features.3" in page.locator("header.page-head").inner_text()  # selected: links to its units
    page.get_by_test_id("graph-node-features").click()  # the group's header: closes it
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=network-graph]').dataset.nodes) < n", arg=opened
    )
    page.locator("[data-testid=network-graph][data-busy=false]").wait_for()
    page.get_by_test_id("graph-node-features").click()  # collapsed: opens again
    page.get_by_test_id("graph-node-features.3").wait_for()
    page.locator("[data-testid=network-graph][data-busy=false]").wait_for()
    page.get_by_test_id("graph-node-features.6").focus()  # and from the keyboard: Enter selects
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('header.page-head').innerText.includes('features.6')")


def test_activation_maps_then_unit_page(server, page):
    page.goto(f"{server}/#/model/digits/activations")
    page.get_by_test_id("image-digit 4").click()
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=more]").fill("features.0, logits")  # several layers in one run
    page.locator("input[name=top]").fill("4")
    run_and_wait(page)
    for layer, count in (("features.3", 4), ("features.0", 4), ("logits", 4)):
        assert page.get_by_test_id(f"maps-{layer}").locator("[data-testid^=map-]").count() == count
    first = page.get_by_test_id("maps-features.3").locator("[data-testid^=map-]").first
    index = first.get_attribute("data-testid").split("-")[1]
    first.locator("a").click()
    assert page.url.endswith(f"#/model/digits/layer/features.3/unit/{index}")
    result = page.get_by_test_id("unit-visualization-result")  # the finished image, not a preview
    result.wait_for(timeout=120_000)
    assert "activation" in result.inner_text()
    # the images for which the unit is most relevant (relevance maximization over the dataset), on demand
    page.get_by_test_id("unit-relevant-run").click()
    sheet = page.get_by_test_id("unit-relevant").locator("img.sheet")
    sheet.wait_for(timeout=120_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sheet.element_handle())


def test_feature_visualization_with_progress(server, page):
    page.goto(f"{server}/#/model/digits/visualize")
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=channels]").fill("0,1")
    page.locator("input[name=steps]").fill("48")
    page.get_by_test_id("run").click()
    page.get_by_test_id("result").wait_for(timeout=120_000)
    assert page.locator(".result img").count() == 2
    assert "job=" in page.url and "channels=0%2C1" in page.url  # run=1 became the job (issue 23)


def test_api_error_shows_next_to_its_field(server, page):
    page.goto(f"{server}/#/model/digits/visualize")
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=channels]").fill("700")
    page.get_by_test_id("run").click()
    error = page.locator(".field.invalid small.error")
    error.wait_for()
    assert "channel 700 out of range 0..31" in error.inner_text()


@pytest.mark.parametrize(
    "path, query",
    [
        ("dream", "image={digit}&layer=features.3&octaves=2&steps=4"),
        ("attribution", "image={digit}&method=dtd"),
        ("examples", "dataset=digits&layer=logits&channels=3&top=4"),
        ("examples", "dataset=digits&layer=features.3&channels=2&top=4&by=relevance"),
        ("selectivity", "dataset=digits&layer=logits"),
        ("facets", "dataset=digits&target=logits%3A3&top_images=30&k=2&steps=4"),
        ("inverse-set", "constraints=logits%3A3%3A4%3A6&n=6&k=2"),
    ],
)
def test_every_technique_page_runs_from_its_url(server, page, path, query):
    digit = next(s["id"] for s in httpx.get(f"{server}/api/samples").json()["samples"] if s["name"].startswith("digit"))
    page.goto(f"{server}/#/model/digits/{path}?{query.format(digit=digit)}&run=1")
    page.get_by_test_id("result").wait_for(timeout=240_000)
    assert page.locator(".result img").count() >= 1
    if path == "attribution":
        assert page.get_by_test_id("conservation").is_visible()
    if path == "facets":  # the t-SNE scatter: hovering a point shows its image
        page.locator("[data-testid=embedding] .recharts-scatter-symbol").first.hover()
        picture = page.get_by_test_id("embedding-hover").locator("img")
        picture.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())


def test_a_job_is_cancelled_from_the_jobs_page(server, page):
    spec = {"model": {"spec": "digits"}, "layer": "features.3", "channels": [9], "steps": 100_000}
    job = httpx.post(f"{server}/api/runs", json={"recipe": "visualize", "spec": spec}).json()["job"]
    page.goto(f"{server}/#/jobs")
    page.get_by_test_id(f"cancel-{job}").click()
    page.locator(f"[data-testid=job-{job}] .status-cancelled").wait_for(timeout=30_000)
    assert httpx.get(f"{server}/api/jobs/{job}").json()["status"] == "cancelled"


def test_an_atlas_is_browsable_from_the_store(server, page):
    """Issue 16: an atlas in the server's store (here made by the atlas recipe over the API) is listed, shown as a
    grid per layer, and its units' pages show the stored picture and examples without running anything."""
    spec = {
        "model": {"spec": "digits"},
        "layers": "features.0,features.3",
        "channels": "0-2",
        "dataset": "digits",
        "steps": 4,
        "top": 4,
    }
    job = httpx.post(f"{server}/api/runs", json={"recipe": "atlas", "spec": spec}).json()["job"]
    end = time.time() + 240
    while (status := httpx.get(f"{server}/api/jobs/{job}").json()["status"]) not in ("done", "failed", "cancelled"):
        assert time.time() < end, "the atlas did not finish"
        time.sleep(0.5)
    assert status == "done"
    view = httpx.get(f"{server}/api/jobs/{job}").json()
    key = view["hash"]
    # progress per stage: units done / total and shards done / total (the Jobs page shows them as bars)
    assert view["stages"]["units"] == {"stage": "units", "done": 6, "total": 6}
    assert view["stages"]["shards"]["done"] == view["stages"]["shards"]["total"] == 6  # 2 layers + 4 scan shards
    listed = httpx.get(f"{server}/api/atlases").json()["atlases"]
    assert [a["units"] for a in listed if a["hash"] == key] == [6]
    jobs_before = {j["id"] for j in httpx.get(f"{server}/api/jobs").json()["jobs"]}
    page.goto(f"{server}/#/atlas")
    page.get_by_test_id(f"atlas-{key}").click()
    grid = page.get_by_test_id("atlas-layer-features.3")
    grid.wait_for()
    assert grid.locator("figure").count() == 3
    page.get_by_test_id("atlas-unit-features.3-1").locator("a").click()
    assert page.url.endswith(f"#/model/digits/layer/features.3/unit/1?atlas={key}")
    section = page.get_by_test_id("unit-atlas")
    section.wait_for()
    for picture in section.locator("img").element_handles():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture)
    assert section.locator("img").count() == 2 and "mean activation per class" in section.inner_text()
    new_jobs = [j["recipe"] for j in httpx.get(f"{server}/api/jobs").json()["jobs"] if j["id"] not in jobs_before]
    assert set(new_jobs) <= {"layers"}, new_jobs  # only the page's layer list: no visualization, no scan


def test_an_exported_atlas_is_a_static_site(tmp_path, page, browser):
    """`convscope atlas --export DIR`: the folder, served by a plain static web server (no convscope), shows the
    atlas's grid and a unit page with its picture and examples."""
    import functools
    import http.server

    from convscope.cli.main import main

    site = tmp_path / "site"
    argv = ["atlas", "--model", "digits", "--layers", "features.0,features.3", "--channels", "0-3", "--dataset"]
    argv += ["digits", "--steps", "4", "--top", "4", "--export", str(site), "--out", str(tmp_path / "out")]
    assert main([*argv, "--data-dir", str(tmp_path / "store"), "--json"]) == 0
    exported = json.loads((site / "atlas.json").read_text())
    assert len(exported["units"]) == 8 and exported["units"][5]["page"] == "index.html#/unit/features.3/1"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        page.goto(f"{base}/index.html")
        grid = page.get_by_test_id("atlas-layer-features.3")
        grid.wait_for()
        assert grid.locator("figure").count() == 4
        page.get_by_test_id("atlas-unit-features.3-1").locator("a").click()
        section = page.get_by_test_id("unit-atlas")
        section.wait_for()
        for picture in section.locator("img").element_handles():
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture)
        assert "features.3:1" in page.locator("header.page-head").inner_text()
        page.goto(f"{base}/{exported['units'][0]['page']}")  # a unit's page straight from atlas.json
        page.get_by_test_id("unit-atlas").wait_for()
        assert "features.0:0" in page.locator("header.page-head").inner_text()
    finally:
        httpd.shutdown()
    # opened as a file, the browser refuses the app's modules: the page says what to do instead of staying blank
    tab = browser.new_page()
    tab.goto((site / "index.html").as_uri())
    tab.wait_for_function("() => document.body.innerText.includes('python -m http.server')")
    tab.close()


def test_state_follows_the_url_the_model_and_the_nav(server, page):
    """A new user's trial found these: a hash edited in the same tab runs its spec; another model never shows the
    previous model's result; the nav leads back to a page as it was left (and from pages without a model to the
    model last used); the unit page's views belong to the unit shown."""
    digit = next(s["id"] for s in httpx.get(f"{server}/api/samples").json()["samples"] if s["name"] == "digit 4")
    base = f"{server}/#/model/digits/predict?image={digit}&top=3"
    page.goto(f"{base}&run=1")
    page.get_by_test_id("predictions").wait_for()
    assert page.get_by_test_id("predictions").locator("tbody tr").count() == 3
    page.evaluate("url => { window.location.href = url }", f"{base.replace('top=3', 'top=2')}&run=1")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=predictions] tbody tr').length === 2")
    # the nav: away and back, the page comes back with its parameters and its result
    page.locator("nav").get_by_text("Activation maps").click()
    page.get_by_test_id("layer-select").wait_for()
    page.locator("nav").get_by_text("Prediction").click()
    page.get_by_test_id("predictions").wait_for()
    assert page.get_by_test_id("predictions").locator("tbody tr").count() == 2
    # another model: no result of the old one under it
    page.get_by_test_id("model-picker").select_option("default")
    page.wait_for_function("() => window.location.hash.startsWith('#/model/default/predict')")
    assert page.get_by_test_id("predictions").count() == 0
    # from the Jobs page, the nav leads to the model last used
    page.goto(f"{server}/#/jobs")
    page.get_by_test_id("jobs").wait_for()
    assert page.locator("nav").get_by_text("Prediction").get_attribute("href").startswith("#/model/default/predict")
    # the unit page: the next unit shows no view of the previous one
    page.goto(f"{server}/#/model/digits/layer/features.3/unit/5")
    page.get_by_test_id("unit-examples-run").click()
    page.get_by_test_id("unit-examples").locator("img.sheet").wait_for(timeout=120_000)
    page.get_by_text("6 →").click()
    page.wait_for_function("() => document.querySelector('header.page-head h1').innerText.includes('features.3:6')")
    assert page.get_by_test_id("unit-examples").locator("img.sheet").count() == 0
    assert page.get_by_test_id("unit-examples-run").is_visible()


def test_narrow_window(server, browser):
    context = browser.new_context(viewport={"width": 420, "height": 800})
    tab = context.new_page()
    tab.goto(f"{server}/#/model/digits/predict")
    tab.get_by_test_id("run").wait_for()
    width = tab.evaluate("document.documentElement.scrollWidth")
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "narrow-predict.png"), full_page=True)
    context.close()
    assert width <= 440, width  # no horizontal scrolling at 420 px


@pytest.mark.slow
def test_large_graphs_render_and_expand_in_the_browser(tmp_path, browser, digits_subject):
    """torchvision googlenet, resnet50 and densenet121 (architecture only): time to the first laid-out render
    and to 'expand all', measured in Chromium (printed; the figures are in docs/webapp.md)."""
    models = ["torchvision:googlenet", "torchvision:resnet50", "torchvision:densenet121"]
    served = Served(create_app(ServerConfig(data_dir=tmp_path, models=models)))
    port = served.port
    try:
        for model in models:
            httpx.get(f"http://127.0.0.1:{port}/api/models/{model}/layers", timeout=120).raise_for_status()
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            tab = context.new_page()
            tab.set_default_timeout(120_000)
            start = time.perf_counter()
            tab.goto(f"http://127.0.0.1:{port}/#/model/{model}/graph")
            idle = tab.locator("[data-testid=network-graph][data-busy=false]")
            idle.wait_for()
            first = time.perf_counter() - start
            shown = int(tab.get_by_test_id("network-graph").get_attribute("data-nodes"))
            start = time.perf_counter()
            tab.get_by_test_id("graph-expand-all").click()
            tab.wait_for_function(
                "n => Number(document.querySelector('[data-testid=network-graph]').dataset.nodes) > n", arg=shown
            )
            idle.wait_for()
            expanded = time.perf_counter() - start
            nodes = int(tab.get_by_test_id("network-graph").get_attribute("data-nodes"))
            SHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SHOTS / f"graph-{model.split(':')[1]}-expanded.png"))
            context.close()
            print(f"{model}: first render {first:.2f} s ({shown} nodes), expand all {expanded:.2f} s ({nodes} nodes)")
            assert nodes > 100 and first < 60 and expanded < 60
    finally:
        served.stop()


# --- issue 22: the Data page, the fit rule, the evaluation page, two models side by side -----------------------------
def test_a_zip_of_photos_is_uploaded_and_scanned_by_the_default_model(server, page, tmp_path):
    """Issue 22: a zip of four photos uploaded on the Data page is listed with its count and thumbnails; the
    examples page of a default-model unit on it shows those photos."""
    import zipfile

    import numpy as np
    from PIL import Image
    from skimage import data

    names = ["chelsea", "coffee", "astronaut", "rocket"]
    archive = tmp_path / "snaps.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in names:
            small = Image.fromarray(getattr(data, name)()).convert("RGB").resize((96, 96))
            zipped.writestr(f"{name}.png", png_bytes(np.asarray(small)))
    page.goto(f"{server}/#/data")
    page.get_by_test_id("dataset-files").set_input_files(str(archive))
    assert page.get_by_test_id("dataset-name").input_value() == "snaps"  # the zip's name
    page.get_by_test_id("dataset-upload-run").click()
    page.get_by_test_id("dataset-added").wait_for()
    card = page.get_by_test_id("dataset-snaps")
    card.wait_for()
    assert page.get_by_test_id("dataset-facts-snaps").inner_text() == "4 images · RGB · no classes"
    thumbs = card.locator(".dataset-thumbs img")
    assert thumbs.count() == 4
    for thumb in thumbs.element_handles():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb)
    assert page.get_by_test_id("model-uploads-off").is_visible()  # the fixture's server does not allow models
    assert axe_violations(page) == []
    page.goto(f"{server}/#/model/default/examples?dataset=snaps&layer=blocks.5&channels=3&top=4&run=1")
    ids = page.get_by_test_id("example-ids-blocks.5:3")
    ids.wait_for(timeout=120_000)
    assert sorted(part.split(". ")[1].split(" (")[0] for part in ids.inner_text().split(" · ")) == sorted(
        f"{name}.png" for name in names
    )
    # the digits model takes grayscale images: the RGB photos are not offered there, and a URL naming them says so
    page.goto(f"{server}/#/model/digits/examples?dataset=snaps&layer=logits&channels=3&run=1")
    page.get_by_test_id("not-run").wait_for()
    assert (
        "snaps holds RGB (3 channels) images; digits takes grayscale (1 channel) input"
        in page.get_by_test_id("not-run").inner_text()
    )
    offered = page.get_by_test_id("dataset-select").locator("option").all_inner_texts()
    assert "snaps (does not fit)" in offered and "photos" not in offered and "digits" in offered
    assert page.get_by_test_id("result").count() == 0


def test_evaluation_lists_the_misclassified_images_and_explains_one(server, page):
    """Issue 22: the evaluation page on a small labelled set (three classes of digits, one 7 filed under 1) shows
    the accuracy, the per-class table and the misclassified images; one click opens the attribution page on that
    image for its predicted class, which runs."""
    from convscope.core import digits

    loaded = digits.load_data()
    labels = loaded.labels.tolist()
    files = []
    for label in (0, 1, 2):
        for i in [i for i, x in enumerate(labels) if x == label][:3]:
            files.append((f"{label}/digit-{i}.png", loaded.images[i, 0]))
    seven = labels.index(7)
    files.append((f"1/planted-{seven}.png", loaded.images[seven, 0]))  # a 7 labelled 1: wrong by construction
    form = [("files", (name, png_bytes((x.numpy() * 255).astype("uint8")), "image/png")) for name, x in files]
    answer = httpx.post(f"{server}/api/datasets", data={"name": "digits3"}, files=form, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.json()["classes"] == ["0", "1", "2"] and answer.json()["channels"] == 1
    page.goto(f"{server}/#/model/digits/evaluate")
    field = page.get_by_test_id("dataset-select")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=dataset-select] option').length >= 2")
    # only labelled datasets that fit the model: not photos (RGB, unlabelled)
    assert field.locator("option").all_inner_texts() == ["digits", "digits3"]
    field.select_option("digits3")
    page.locator("input[name=top_k]").fill("2")
    run_and_wait(page)
    grid = page.get_by_test_id("misclassified")
    wrong = grid.locator("button.mis")
    count = wrong.count()
    assert 1 <= count <= 10 and f"Misclassified images: {count}" in grid.inner_text()
    assert page.get_by_test_id("top1").inner_text() == f"{(10 - count) * 10:.1f}%"
    assert page.get_by_test_id("class-table").locator("tbody tr").count() == 3
    assert axe_violations(page) == []
    planted = page.get_by_test_id(f"misclassified-1/planted-{seven}.png")
    caption = planted.inner_text()
    assert caption.startswith("1 → ")
    predicted = caption.split("→ ")[1].split(" (")[0]
    planted.click()
    page.wait_for_function("() => window.location.hash.includes('/attribution?')")
    assert "#/model/digits/attribution?" in page.url and f"target={predicted}" in page.url
    assert "run=1" in page.url or "job=" in page.url  # run=1 becomes the job once it exists (issue 23)
    page.get_by_test_id("result").wait_for(timeout=120_000)
    assert f"Explaining class {predicted} ({predicted})" in page.get_by_test_id("result").inner_text()


def test_prediction_compares_two_models_side_by_side(server, page):
    """Issue 22 (seed 001 Fig. 4.20): "Compare with" runs the same image on a second model; the two results show
    side by side, each headed by its model."""
    page.goto(f"{server}/#/model/digits/predict")
    page.get_by_test_id("image-digit 4").click()
    page.get_by_test_id("compare-select").select_option("default")
    run_and_wait(page)
    page.get_by_test_id("result-compare").wait_for(timeout=120_000)
    sides = page.get_by_test_id("side-by-side").locator("section.side")
    assert sides.count() == 2
    assert [sides.nth(i).locator("h2").inner_text() for i in range(2)] == ["digits", "default"]
    first = page.get_by_test_id("result").locator("tbody tr").first.inner_text()
    assert first.split("\t")[1] == "4"  # the digits model reads its digit
    assert "compare=default" in page.url
    box = [sides.nth(i).bounding_box() for i in range(2)]
    assert box[0]["x"] < box[1]["x"] and abs(box[0]["y"] - box[1]["y"]) < 2  # side by side at 1280 px
    assert axe_violations(page) == []
