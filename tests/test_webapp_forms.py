"""Issue 23, items 3 and 6 in the browser: every parameter of a recipe on its page (an "Advanced parameters"
disclosure generated from the recipe's JSON Schema) reaching the spec the page submits, errors under every field
(an advanced one, the second item of a list), and the inverse set's range hints (a unit's observed range on digits,
its feature visualization's reach). Each page is axe-clean (no serious or critical violation)."""

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from webapp_helpers import serious_violations as serious

SHOTS = Path("/tmp/shots23")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"forms-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def digit(server):
    return next(s["id"] for s in httpx.get(f"{server}/api/samples").json()["samples"] if s["name"].startswith("digit"))


def open_advanced(page):
    details = page.get_by_test_id("advanced")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


# page, its query (what it needs to submit), an advanced field, the text typed, the value the spec must carry
PAGES = [
    ("dream", "image={digit}&layer=features.3&octaves=2&steps=2", "octave_scale", "1.8", 1.8),
    ("inverse-set", "constraints=logits%3A3%3A-5%3A0&n=4&k=2", "seed", "7", 7),
    ("attribution", "image={digit}", "maxpool", "avg", "avg"),
    ("visualize", "layer=features.3&channels=0&steps=2", "batch_size", "4", 4),
    ("activations", "image={digit}&layer=features.3", "fit", "crop", "crop"),
    ("predict", "image={digit}", "fit", "crop", "crop"),
    ("examples", "dataset=digits&layer=logits&channels=3", "seed", "3", 3),
    ("selectivity", "dataset=digits&layer=logits", "batch_size", "64", 64),
    ("facets", "dataset=digits&target=logits%3A3", "m", "5", 5),
    ("evaluate", "dataset=digits", "batch_size", "64", 64),
]


def test_an_advanced_field_of_every_page_reaches_the_spec_and_its_error_shows_under_it(server, page, digit):
    """Each page's advanced field (generated from the recipe's schema) is sent in the spec the page submits, and
    only what differs from the recipe's defaults is; a 422 naming that field shows under it."""
    sent = []

    def answer(route):  # the server's answer for a field: no job starts
        body = route.request.post_data_json
        sent.append(body)
        loc = ["body", "spec", current["key"]]
        detail = [{"loc": loc, "msg": f"{current['key']} checked by the test", "type": "value_error"}]
        route.fulfill(status=422, content_type="application/json", body=json.dumps({"detail": detail}))

    current = {}
    page.route("**/api/runs", answer)
    for path, query, key, typed, value in PAGES:
        current["key"] = key
        page.goto(f"{server}/#/model/digits/{path}?{query.format(digit=digit)}")
        details = open_advanced(page)
        field = details.locator(f"[name={key}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(typed)
        else:
            field.fill(typed)
        page.wait_for_function("k => location.hash.includes(k)", arg=f"{key}={typed}")  # in the URL, as the others
        page.get_by_test_id("run").click()
        error = details.locator(".field.invalid").filter(has=page.locator(f"[name={key}]"))
        error.locator("small.error").wait_for()
        assert f"{key} checked by the test" in error.inner_text(), path
        # the page's own run (the inverse-set page also asks `unit-ranges` for its constraints' ranges, at any time)
        recipe = {"attribution": "attribute"}.get(path, path)
        runs = [body for body in sent if body["recipe"] == recipe]
        assert runs, (path, [body["recipe"] for body in sent])
        spec = runs[-1]["spec"]
        assert spec[key] == value, (path, spec)
        # the other advanced fields, left at their defaults, are not sent
        others = [n for n in details.locator("[name]").evaluate_all("es => es.map(e => e.name)") if n != key]
        assert not set(others) & set(spec), (path, set(others) & set(spec))
        if path in ("dream", "inverse-set", "attribution"):
            assert serious(page) == [], path
        if path == "dream":
            shot(page, "dream-advanced")
    page.unroute("**/api/runs")
    # DeepDream's whole list, as the issue asked: mix weights, step size, jitter, decorrelation, octave scale
    page.goto(f"{server}/#/model/digits/dream")
    names = open_advanced(page).locator("[name]").evaluate_all("es => es.map(e => e.name)")
    assert {"alphas", "step_size", "jitter", "decorrelate", "octave_scale", "max_size", "seed"} <= set(names)
    page.goto(f"{server}/#/model/digits/inverse-set")
    names = open_advanced(page).locator("[name]").evaluate_all("es => es.map(e => e.name)")
    assert {"encoder_layer", "objective", "bands", "inner_steps", "max_outer", "lr", "seed"} <= set(names)


def test_advanced_values_run_and_reach_the_job(server, page, digit):
    """DeepDream's octave scale and the inverse set's seed, run for real: the job's spec carries them, a reload
    keeps them (the disclosure opens on its own), and a value out of bounds stops the page before the server."""
    page.goto(f"{server}/#/model/digits/dream?image={digit}&layer=features.3&octaves=2&steps=2")
    details = open_advanced(page)
    scale = details.locator("[name=octave_scale]")
    scale.fill("9")
    assert "must be at most 4" in details.locator(".field.invalid").inner_text()
    assert page.get_by_test_id("run").is_disabled()
    scale.fill("1.8")
    with page.expect_response("**/api/runs") as answered:
        page.get_by_test_id("run").click()
    job = answered.value.json()["job"]
    page.get_by_test_id("result").wait_for(timeout=120_000)
    spec = httpx.get(f"{server}/api/jobs/{job}").json()["spec"]
    assert spec["octave_scale"] == 1.8 and spec["octaves"] == 2
    page.reload()
    assert page.get_by_test_id("advanced").get_attribute("open") is not None
    assert page.locator("[name=octave_scale]").input_value() == "1.8"

    page.goto(f"{server}/#/model/digits/inverse-set?constraints=logits%3A3%3A-5%3A0&n=4&k=2")
    open_advanced(page).locator("[name=seed]").fill("7")
    with page.expect_response("**/api/runs") as answered:
        page.get_by_test_id("run").click()
    job = answered.value.json()["job"]
    page.get_by_test_id("result").wait_for(timeout=240_000)
    finished = httpx.get(f"{server}/api/jobs/{job}").json()
    assert finished["spec"]["seed"] == 7 and finished["result"]["data"]["seed"] == 7


def test_a_422_on_the_second_channel_shows_under_channels(server, page):
    page.goto(f"{server}/#/model/digits/visualize")
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=channels]").fill("3, x")
    with page.expect_response("**/api/runs") as answered:
        page.get_by_test_id("run").click()
    assert answered.value.status == 422
    assert answered.value.json()["detail"][0]["loc"] == ["body", "spec", "channels", 1]
    field = page.locator(".field.invalid").filter(has=page.locator("input[name=channels]"))
    field.locator("small.error").wait_for()
    assert "item 2: Input should be a valid integer" in field.inner_text()
    assert page.locator("form.params p.error").count() == 0  # under its field, not among the form's other errors
    assert serious(page) == []


def test_the_inverse_set_shows_a_units_observed_range_and_its_reach(server, page):
    """logits:3 of the digits model on digits: the page shows the unit's min, percentiles and max (equal to the
    unit-ranges recipe's), "use 5–95%" fills the range, and feature visualization reaches past the observed max."""
    spec = {"model": {"spec": "digits"}, "dataset": "digits", "units": ["logits:3"]}
    answer = httpx.post(f"{server}/api/runs", json={"recipe": "unit-ranges", "spec": spec}, timeout=120).json()
    job = answer["job"]
    for _ in range(600):
        finished = httpx.get(f"{server}/api/jobs/{job}").json()
        if finished["status"] == "done":
            break
        page.wait_for_timeout(100)
    expected = finished["result"]["data"]["units"][0]
    page.goto(f"{server}/#/model/digits/inverse-set")
    # (the select takes its default once the model's and the datasets' lists have arrived)
    expect(page.get_by_test_id("range-source").get_by_test_id("dataset-select")).to_have_value("digits")
    observed = page.get_by_test_id("observed-range")
    observed.wait_for(timeout=60_000)
    text = observed.inner_text()
    for key, word in [("min", "min"), ("p5", "5%"), ("p50", "median"), ("p95", "95%"), ("max", "max")]:
        assert f"{word} {expected[key]:.3g}" in text, (key, text)
    assert expected["min"] < expected["p5"] < expected["p50"] < expected["p95"] < expected["max"]
    observed.get_by_role("button", name="use 5–95%").click()
    row = page.get_by_test_id("constraints")
    assert row.get_by_label("from", exact=True).input_value() == f"{expected['p5']:.3g}"
    assert row.get_by_label("to", exact=True).input_value() == f"{expected['p95']:.3g}"
    assert f"logits%3A3%3A{expected['p5']:.3g}%3A{expected['p95']:.3g}" in page.url
    page.get_by_test_id("reach").click()
    reach = page.get_by_test_id("reach-result")
    reach.filter(has_text="reaches").wait_for(timeout=120_000)
    low, high = (float(x) for x in re.search(r"reaches (\S+) to (\S+)", reach.inner_text()).groups())
    assert low < expected["min"] and high > expected["max"]  # optimized images go beyond the dataset's
    for img in reach.locator("img").element_handles():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img)
    assert serious(page) == []
    shot(page, "inverse-set-ranges")
