"""Issue 25 (web) in Chromium: the attribution page offers every method of the recipe with each one's own options,
explains a hidden unit as well as a class (a bad target is named under its field), measures the map's faithfulness
beside it on demand (the numbers, the region perturbation and randomisation curves, ROAD and the timings equal the
faithfulness result's data, the spec the panel posts is the attribution's own) and opens a top filter's concept view
(its conditional heatmap with the relevance the concepts result holds, and its concept graph edges, listed and drawn:
an edge per entry with its share, the wider the larger |share|, each lower channel linked); axe-clean. The screenshot
docs/images/webapp-faithfulness.png comes from here (the default model on chelsea)."""

from pathlib import Path

import httpx
import pytest

from webapp_helpers import run_and_wait, serious_violations, shown_result

pytestmark = pytest.mark.usefixtures("one_thread")

DOCS_SHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "webapp-faithfulness.png"

#: the options each method shows in the form (by their labels), beside those every method has
OPTIONS = {
    "dtd": {"Epsilon (LRP)", "Ignore biases (LRP)", "Layers with heatmaps"},
    "lrp-alphabeta": {"Epsilon (LRP)", "Alpha (LRP α-β)", "Ignore biases (LRP)", "Layers with heatmaps"},
    "saliency": {"Layers with heatmaps"},
    "gradient-x-input": {"Layers with heatmaps"},
    "smoothgrad": {"Method smoothed", "Noisy samples", "Noise σ (share of the input range)", "Average"},
    "gradcam": {"CAM layer"},
    "gradcam-plusplus": {"CAM layer"},
    "scorecam": {"CAM layer"},
    "integrated-gradients": {"Steps (integrated gradients)"},
    "occlusion": {"Patch (px)", "Stride (px)", "Fill"},
}
EVERY = {"Image", "Method", "Class or hidden unit", "Top filters per layer", "Compare with"}


@pytest.fixture(scope="module")
def digit(server):
    return next(s["id"] for s in httpx.get(f"{server}/api/samples").json()["samples"] if s["name"].startswith("digit"))


def number(text: str) -> float | None:
    """A number as lib/format.ts `sci` prints it ("n/a" for null)."""
    text = text.strip().rstrip("%")
    return None if text == "n/a" else float(text)


def close(text: str, value: float | None) -> bool:
    """`text` shows `value` at 3 significant digits (`sci`)."""
    got = number(text)
    if got is None or value is None:
        return got is None and value is None
    return abs(got - value) <= 5e-3 * abs(value) + 1e-12


def labels(page) -> set[str]:
    """The labels of the form's fields outside "Advanced parameters"."""
    return set(page.locator("form.params > label.field > .label").all_inner_texts())


def job_spec(server: str, recipe: str) -> dict:
    """The spec of the latest job of `recipe`, as the server received it."""
    jobs = [j for j in httpx.get(f"{server}/api/jobs").json()["jobs"] if j["recipe"] == recipe]
    return jobs[-1]["spec"]


def test_every_method_of_the_recipe_is_offered_with_its_own_options(server, page, digit):
    schema = next(r for r in httpx.get(f"{server}/api/recipes").json()["recipes"] if r["name"] == "attribute")
    methods = schema["schema"]["properties"]["method"]["enum"]
    assert len(methods) == 13 and {"smoothgrad", "gradcam-plusplus", "scorecam", "gradient-x-input"} <= set(methods)
    page.goto(f"{server}/#/model/digits/attribution?image={digit}")
    select = page.locator("select[name=method]")
    select.wait_for()
    assert select.locator("option").all_inner_texts() == methods  # the recipe's, in its order
    assert select.input_value() == "dtd"
    every_option = set().union(*OPTIONS.values())
    for method, own in OPTIONS.items():
        select.select_option(method)
        shown = labels(page)
        assert EVERY <= shown and shown & every_option == own, (method, shown)
    # SmoothGrad's options reach the recipe: gradient x input smoothed over 2 noisy copies
    select.select_option("smoothgrad")
    page.locator("select[name=smooth_of]").select_option("gradient-x-input")
    page.locator("input[name=samples]").fill("2")
    run_and_wait(page)
    data = shown_result(page, server)
    assert data["method"] == "smoothgrad" and data["info"]["of"] == "gradient-x-input" and data["info"]["samples"] == 2
    spec = job_spec(server, "attribute")
    assert spec["smooth_of"] == "gradient-x-input" and spec["samples"] == 2
    assert "SmoothGrad" in page.get_by_test_id("attribution-colorbar").inner_text()
    assert serious_violations(page) == []


def test_a_hidden_unit_is_explained_and_a_bad_target_is_named_under_its_field(server, page, digit):
    page.goto(f"{server}/#/model/digits/attribution?image={digit}&method=dtd&layers=features.6")
    target = page.locator("input[name=target]")
    for unit, words in (("features.6:2", "averaged over the map"), ("features.6:2@3,4", "at row 3, column 4")):
        target.fill(unit)
        run_and_wait(page)
        page.wait_for_function(
            "u => document.querySelector('[data-testid=attribution-unit]')?.textContent === u", arg=unit
        )
        data = shown_result(page, server)
        assert data["unit"] == unit and data["target"] == 2 and data["method"] == "dtd"
        # LRP from the unit: the relevance at its own layer is the unit's score
        assert data["layers"][0]["name"] == "features.6"
        assert abs(data["layers"][0]["relevance_sum"] - data["output"]) <= 1e-4 * abs(data["output"])
        sentence = page.get_by_test_id("attribution-sentence").inner_text()
        assert sentence.startswith(f"Explaining hidden unit {unit} (channel 2 of features.6") and words in sentence
        assert job_spec(server, "attribute")["target"] == unit  # sent as typed; a class index as a number
    # the unit's map is measured too: the metrics watch the unit's activation, the randomisation only the layers below
    panel = page.get_by_test_id("faithfulness")
    assert "for hidden unit features.6:2@3,4 (its activation)" in panel.inner_text()
    panel.locator("input[name=points]").fill("2")
    panel.get_by_test_id("faithfulness-run").click()
    panel.get_by_test_id("faithfulness-metrics").wait_for(timeout=120_000)
    measured = shown_result(page, server, panel)
    assert job_spec(server, "faithfulness")["target"] == "features.6:2@3,4"
    assert measured["unit"] == "features.6:2@3,4" and measured["output"] == data["output"]
    assert measured["randomisation"]["total"] == 3 and measured["road"]["morf_correct"] == []
    settings = panel.get_by_test_id("faithfulness-settings").inner_text()
    assert "Scores watched: the activation of hidden unit features.6:2@3,4 (channel 2)" in settings
    assert "the activation of hidden unit features.6:2@3,4 as patches are replaced" in panel.inner_text()
    check_faithfulness(panel, measured)
    # a channel out of range: the server's 422 on `target`, under the field
    target.fill("features.6:999")
    page.get_by_test_id("run").click()
    error = page.locator(".field.invalid").filter(has=target).locator("small.error")
    error.wait_for()
    assert "target" in error.inner_text() and "out of range" in error.inner_text()
    assert serious_violations(page) == []


def check_faithfulness(panel, data: dict) -> None:
    """Every number of the faithfulness panel equals the result's."""
    rows = panel.get_by_test_id("faithfulness-metrics").locator("tbody tr")
    assert rows.count() == len(data["metrics"]) == 9
    for r, metric in enumerate(data["metrics"]):
        row = rows.nth(r)
        assert row.get_attribute("data-testid") == f"metric-{metric['name']}"
        assert close(row.get_by_test_id("value").inner_text(), metric["value"]), metric["name"]
        assert row.get_by_test_id("better").inner_text() == f"{metric['better']} is more faithful"
        assert row.locator("th").get_attribute("title") == metric["definition"]
        assert metric["paper"] in row.inner_text()
    region = data["region_perturbation"]
    settings = panel.get_by_test_id("faithfulness-settings").inner_text()
    assert f"{region['patch']}×{region['patch']}-pixel patches ({region['patches']} on the grid)" in settings
    assert f"removed in {len(region['fractions']) - 1} steps" in settings
    curve = data["randomisation"]
    assert f"{len(curve['layers'])} points over the {curve['total']} layers" in settings
    # the randomisation curve: one dot per point on each line, the layer names on the x axis, its numbers in a table
    chart = panel.get_by_test_id("randomisation-curve")
    assert chart.locator(".recharts-line-dots circle").count() == 2 * len(curve["layers"])
    ticks = chart.locator(".recharts-cartesian-axis-tick-value").all_text_contents()  # the x axis's, then the y's
    assert ticks[: len(curve["layers"])] == curve["layers"]
    table = chart.get_by_test_id("randomisation-table").locator("tbody tr")
    assert table.count() == len(curve["layers"])
    for i, layer in enumerate(curve["layers"]):
        cells = [c.text_content() for c in table.nth(i).locator("th, td").all()]
        assert cells[0] == layer and cells[1] == f"{curve['randomized'][i]} of {curve['total']}"
        assert close(cells[2], curve["spearman"][i]) and close(cells[3], curve["ssim"][i])
    # the region perturbation and ROAD curves, and the timings against the explanation's
    assert panel.get_by_test_id("region-curves").locator(".recharts-line").count() == 2
    assert "share of patches removed" in panel.get_by_test_id("region-curves").inner_text()
    assert panel.get_by_test_id("road-curves").locator(".recharts-line-dots circle").count() == 2 * len(
        data["road"]["percentages"]
    )
    timings = panel.get_by_test_id("faithfulness-timings")
    assert close(
        timings.get_by_test_id("timing-explanation").locator("td").first.inner_text(), data["timings"]["explanation"]
    )
    for name, seconds in data["timings"]["metrics"].items():
        assert close(timings.get_by_test_id(f"timing-{name}").locator("td").first.inner_text(), seconds), name


def check_concept_graph(view, concepts: dict, model: str, channel: int) -> None:
    """The concept graph drawn over the edges' list: an edge per entry of the result's `edges` with its share, the
    wider the larger |share|, red for positive relevance and blue for negative, each lower channel a link to its unit
    page (the list's href) with its relevance and share in words."""
    graph = view.get_by_test_id("concept-graph")
    assert graph.is_visible()
    assert graph.get_attribute("aria-label").startswith(f"Concept graph: {concepts['layer']}:{channel} above the ")
    upper = graph.get_by_test_id("concept-graph-upper").locator("text").text_content()
    assert upper == f"{concepts['layer']}:{channel}"
    drawn = graph.get_by_test_id("concept-graph-edge")
    assert drawn.count() == len(concepts["edges"])
    widths = []
    for i, edge in enumerate(concepts["edges"]):
        line = drawn.nth(i)
        assert line.get_attribute("data-to") == edge["to"]
        assert float(line.get_attribute("data-share")) == edge["share"]
        sign = edge["relevance"] if edge["relevance"] is not None else edge["share"]
        assert ("positive" if sign > 0 else "negative" if sign < 0 else "zero") in line.get_attribute("class").split()
        red, _, blue = (int(v) for v in line.evaluate("e => getComputedStyle(e).stroke")[4:-1].split(","))
        assert red > blue if sign > 0 else blue > red if sign < 0 else True
        widths.append(float(line.evaluate("e => getComputedStyle(e).strokeWidth").removesuffix("px")))
    shares = [abs(e["share"]) for e in concepts["edges"]]
    assert max(widths) == 8 and min(widths) >= 1
    for a in range(len(widths)):
        for b in range(len(widths)):
            if widths[a] > widths[b]:  # a wider edge has the larger |share|
                assert shares[a] > shares[b], (widths, shares)
    assert widths[shares.index(max(shares))] == max(widths)
    lower = concepts["lower_layer"]
    nodes = graph.get_by_test_id("concept-graph-node")
    list_links = view.get_by_test_id("concept-edges").locator("li a")
    assert nodes.count() == len(concepts["edges"])
    for i, edge in enumerate(concepts["edges"]):
        node = nodes.nth(i)
        assert node.locator("text").text_content() == edge["to"]
        href = node.get_attribute("href")
        assert href == list_links.nth(i).get_attribute("href")
        assert href == f"#/model/{model}/layer/{lower}/unit/{edge['to'].rsplit(':', 1)[1]}"
        words = node.locator("title").text_content()
        assert words.startswith(f"{edge['to']}: relevance ") and words.endswith("%)") and "(share " in words
        assert node.get_attribute("aria-label") == words


def test_faithfulness_beside_the_map_and_a_filters_concept_view_show_their_data(server, page, digit):
    page.goto(f"{server}/#/model/digits/attribution?image={digit}&method=dtd&layers=features.3,features.6")
    run_and_wait(page)
    attribution = shown_result(page, server)
    # the conservation trace with what the biases absorbed: its total in words, a dot per shown layer it names
    info = attribution["info"]
    assert close(page.get_by_test_id("absorbed-value").inner_text(), info["absorbed_total"] * 100)
    shown_layers = {l["name"] for l in attribution["layers"]}
    dots = sum(a["layer"] in shown_layers for a in info["absorbed"]) + sum(
        b["layer"] in shown_layers for b in info["blocks"]
    )
    assert dots > 0 and page.get_by_test_id("conservation").locator(".recharts-line-dots circle").count() == dots
    # typed into the form after the run: not this map's option, so not what its faithfulness measures
    page.locator("input[name=epsilon]").fill("0.5")
    panel = page.get_by_test_id("faithfulness")
    panel.locator("input[name=points]").fill("3")
    panel.locator("input[name=region_steps]").fill("8")
    panel.get_by_test_id("faithfulness-run").click()
    panel.get_by_test_id("faithfulness-metrics").wait_for(timeout=120_000)
    data = shown_result(page, server, panel)
    # the panel measured this map: its image, method and class, with the settings typed
    spec = job_spec(server, "faithfulness")
    assert (spec["image"], spec["method"], spec["target"]) == (attribution["image"], "dtd", attribution["target"])
    assert (spec["points"], spec["region_steps"]) == (3, 8) and spec["epsilon"] is None
    assert data["target"] == attribution["target"] and len(data["randomisation"]["layers"]) == 3
    check_faithfulness(panel, data)
    # the concept view of features.6's first top filter: its conditional heatmap, the edges to features.3
    card = page.get_by_test_id("layer-features.6")
    channel = attribution["layers"][[l["name"] for l in attribution["layers"]].index("features.6")]["top_filters"][0][
        "index"
    ]
    button = card.get_by_test_id(f"concept-features.6-{channel}")
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    view = page.get_by_test_id("concept-view")
    view.get_by_test_id("concept-relevance").wait_for(timeout=60_000)
    concepts = shown_result(page, server, view.get_by_test_id("concept-crp"))
    entry = concepts["channels"][0]
    assert (
        concepts["layer"] == "features.6"
        and entry["channel"] == channel
        and concepts["target"] == attribution["target"]
    )
    assert close(view.get_by_test_id("concept-relevance").inner_text(), entry["relevance"])
    assert close(view.get_by_test_id("concept-input-relevance").inner_text(), entry["input_relevance"])
    assert close(view.get_by_test_id("concept-share").inner_text(), entry["share"] * 100)
    assert view.get_by_test_id("concept-heatmap").locator("img.overlay-map").get_attribute("src") == entry["heatmap"]
    assert concepts["lower_layer"] == "features.3"  # the card below of the same type
    edges = view.get_by_test_id("concept-edges").locator("li")
    assert edges.count() == len(concepts["edges"]) == 5
    for i, edge in enumerate(concepts["edges"]):
        assert edges.nth(i).inner_text().startswith(f"{edge['to']}: relevance ")
    check_concept_graph(view, concepts, "digits", channel)
    link = view.get_by_role("link", name="its unit page")
    assert link.get_attribute("href") == f"#/model/digits/layer/features.6/unit/{channel}"
    # its feature visualization and most relevant images: the unit page's views, on demand
    assert view.get_by_test_id("concept-visualization-run").is_visible()
    assert view.get_by_test_id("concept-relevant-run").is_visible()
    assert serious_violations(page) == []
    page.get_by_test_id("concept-close").click()
    assert page.get_by_test_id("concept-view").count() == 0


def test_the_default_model_on_chelsea_with_faithfulness_and_a_concept_open(server, page):
    """The docs' screenshot: Deep Taylor on chelsea, its faithfulness measured, a top filter's concept view open."""
    page.goto(f"{server}/#/model/default/attribution")
    page.get_by_test_id("image-chelsea").click()
    page.locator("input[name=layers]").fill("blocks.4,blocks.5")
    run_and_wait(page, timeout=180_000)
    attribution = shown_result(page, server)
    panel = page.get_by_test_id("faithfulness")
    for name, value in (("region", "16"), ("region_steps", "16"), ("points", "4")):
        panel.locator(f"input[name={name}]").fill(value)
    panel.get_by_test_id("faithfulness-run").click()
    panel.get_by_test_id("faithfulness-metrics").wait_for(timeout=180_000)
    check_faithfulness(panel, shown_result(page, server, panel))
    channel = attribution["layers"][-1]["top_filters"][0]["index"]
    page.get_by_test_id(f"concept-blocks.5-{channel}").click()
    view = page.get_by_test_id("concept-view")
    view.get_by_test_id("concept-relevance").wait_for(timeout=120_000)
    concepts = shown_result(page, server, view.get_by_test_id("concept-crp"))
    assert concepts["lower_layer"] == "blocks.4"
    assert close(view.get_by_test_id("concept-relevance").inner_text(), concepts["channels"][0]["relevance"])
    check_concept_graph(view, concepts, "default", channel)
    assert serious_violations(page) == []
    DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.activeElement.blur()")  # no focus ring in the shot
    sticky = page.add_style_tag(content="header.top { position: static !important; }")  # not over the shot
    page.get_by_test_id("result").screenshot(path=str(DOCS_SHOT))
    sticky.evaluate("e => e.remove()")
