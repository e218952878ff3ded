"""Issue 24 (web) in Chromium: how far to trust a feature visualization, beside it on the visualize page and the unit
page (verdict badge in words, the activation as a multiple of the best natural image, the statistics beside the
dataset's, the path check per layer) with the numbers the result JSON holds; the transparency map as the picture's
alpha on a toggle, the map itself openable; the parameterization offered from the recipe's schema with its default;
axe-clean. The screenshot docs/images/webapp-trust.png comes from here."""

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from webapp_helpers import run_and_wait
from webapp_helpers import serious_violations as serious
from webapp_helpers import shown_result as result_data

pytestmark = pytest.mark.usefixtures("one_thread")

DOCS_SHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "webapp-trust.png"


def shown(text: str) -> float | None:
    """A number as the panel prints it ("—" for null, "1.23e-3", "-1.65", "0.37", "2.50×")."""
    text = text.strip().rstrip("×")
    return None if text == "—" else float(text)


def close(text: str, value: float | None, digits: int | None = None) -> bool:
    """`text` shows `value`: at 3 significant digits (lib/format.ts `sci`), or at `digits` decimals."""
    got = shown(text)
    if got is None or value is None:
        return got is None and value is None
    if digits is not None:
        return abs(got - value) <= 0.5 * 10**-digits + 1e-12
    return abs(got - value) <= 5e-3 * abs(value) + 1e-12


def level(trust: dict) -> str:
    """The badge recipes/trust.py's verdict implies."""
    return "trusted" if trust["trusted"] else "with care" if trust["path"]["on_path"] else "do not trust"


def check_panel(panel, trust: dict) -> None:
    """Every number of the trust panel equals the result's."""
    assert panel.get_by_test_id("trust-badge").inner_text().lower() == level(trust)
    assert panel.get_by_test_id("trust-verdict").inner_text() == trust["verdict"]
    assert close(panel.get_by_test_id("trust-multiple-value").inner_text(), trust["activation_multiple"], 2)
    assert panel.get_by_test_id("trust-best").inner_text() == trust["best_natural"]
    assert close(panel.get_by_test_id("trust-best-activation").inner_text(), trust["best_natural_activation"])
    for key in ("spectral_slope", "high_frequency_share", "colourfulness"):
        row = panel.get_by_test_id(f"trust-stat-{key}")
        assert close(row.get_by_test_id("picture").inner_text(), trust["statistics"][key]), key
        assert close(row.get_by_test_id("reference").inner_text(), trust["reference"][key]), key
        assert row.locator("th").get_attribute("title")  # its definition on hover
    path = trust["path"]
    verdict = panel.get_by_test_id("trust-path-verdict").inner_text()
    assert verdict == ("on the natural path" if path["on_path"] else f"off the natural path, from {path['departs_at']}")
    for name, key in (("picture", "picture"), ("min", "natural_min"), ("mean", "natural_mean")):
        assert close(panel.get_by_test_id(f"trust-path-{name}").inner_text(), path[key], 2), key
    rows = panel.get_by_test_id("trust-layers").locator("tbody tr")
    assert rows.count() == len(path["layers"]) > 0
    for r, layer in enumerate(path["layers"]):
        cells = [c.text_content() for c in rows.nth(r).locator("th, td").all()]
        assert cells[0] == layer["layer"] + (" (departs here)" if layer["layer"] == path["departs_at"] else "")
        for text, key in zip(cells[1:], ("picture", "natural_min", "natural_mean")):
            assert close(text, layer[key], 2), (layer["layer"], key)
    chart = panel.get_by_test_id("trust-path-chart")
    assert len(chart.locator("polyline.picture").get_attribute("points").split()) == sum(
        layer["picture"] is not None for layer in path["layers"]
    )
    assert panel.get_by_test_id("trust-departs").count() == (1 if path["departs_at"] else 0)
    assert panel.get_by_test_id("trust-judges").count() == (1 if trust.get("judges") else 0)


def test_trust_beside_each_visualization_with_transparency_and_the_parameterization_from_the_schema(server, page):
    schema = httpx.get(f"{server}/api/recipes").json()["recipes"]
    param = next(r for r in schema if r["name"] == "visualize")["schema"]["properties"]["param"]
    page.goto(f"{server}/#/model/digits/visualize")
    page.get_by_test_id("layer-select").select_option("features.6")
    page.locator("input[name=channels]").fill("0,5")
    page.locator("input[name=steps]").fill("8")
    # the parameterization: the recipe's choices, at the recipe's default (from its JSON Schema)
    page.get_by_test_id("advanced").locator("summary").click()
    choice = page.locator("select[name=param]")
    # default null: the recipe picks maco for colour models, fft for the others (digits): "(default)" says so
    choices = next(branch["enum"] for branch in param["anyOf"] if "enum" in branch)
    assert param["default"] is None and choices == ["maco", "fft", "pixel", "laplacian"]
    assert choice.locator("option").all_inner_texts() == ["(default)", *choices]
    assert choice.input_value() == ""
    assert page.locator("select[name=keep_layer]").count() == 0  # only with a start image to accentuate
    page.get_by_test_id("accentuate").get_by_role("option").first.wait_for()  # an image picker for the start image
    run_and_wait(page, timeout=180_000)
    data = result_data(page, server)
    assert "param=" not in page.url  # left at the recipe's default: not sent
    assert len(data["images"]) == 2 and all("trust" in im for im in data["images"])
    for i, image in enumerate(data["images"]):
        panel = page.get_by_test_id(f"trust-{i}")
        check_panel(panel, image["trust"])
        assert image["trust"]["dataset"] == "digits"
        link = panel.get_by_role("link", name="its examples")
        channel = image["units"][0].split(":")[1]
        assert link.get_attribute("href") == (
            f"#/model/digits/examples?layer=features.6&channels={channel}&dataset=digits&run=1"
        )
    assert "how far to trust it" in page.get_by_test_id("result").inner_text()
    # the per-layer table opens from the keyboard
    summary = page.get_by_test_id("trust-0").locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.get_by_test_id("trust-0").get_by_test_id("trust-layers").is_visible()
    assert serious(page) == []
    DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.activeElement.blur()")  # no focus ring in the shot
    sticky = page.add_style_tag(content="header.top { position: static !important; }")  # not over the shot
    page.locator(".visualized").first.screenshot(path=str(DOCS_SHOT))
    sticky.evaluate("e => e.remove()")

    # transparency: the picture drawn through its map (luminance mask over a checkerboard), from the keyboard
    image = data["images"][0]
    assert image["transparency"].endswith(".transparency.png")
    assert "on" not in page.get_by_test_id("transparency-0").get_attribute("class").split()
    picture = page.get_by_test_id("visualization-0").locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    before = picture.screenshot()
    toggle = page.get_by_test_id("transparency-0-toggle")
    toggle.focus()
    page.keyboard.press("Space")
    assert toggle.is_checked()
    mask = picture.evaluate("img => getComputedStyle(img).maskImage")
    assert image["transparency"].split("/")[-1] in mask
    assert picture.evaluate("img => getComputedStyle(img).maskMode") == "luminance"
    page.wait_for_timeout(300)
    after = picture.screenshot()
    plain = np.asarray(Image.open(io.BytesIO(before)).convert("RGB"), float)
    masked = np.asarray(Image.open(io.BytesIO(after)).convert("RGB"), float)
    assert plain.shape == masked.shape and np.abs(plain - masked).mean() > 1  # the alpha changed what is shown
    # the map itself opens large
    page.get_by_test_id("transparency-0-map").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "transparency map" in dialog.get_by_role("heading").inner_text()
    assert page.get_by_test_id("lightbox-picture").get_attribute("src").endswith(image["transparency"].split("/")[-1])
    assert serious(page) == []
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    toggle.uncheck()
    assert not toggle.is_checked() and picture.evaluate("img => getComputedStyle(img).maskImage") == "none"


def test_unit_page_shows_trust_under_its_visualization(server, page):
    page.goto(f"{server}/#/model/digits/layer/features.6/unit/5")
    panel = page.get_by_test_id("unit-trust")
    panel.wait_for(timeout=180_000)
    section = page.get_by_test_id("unit-visualization")
    data = result_data(page, server, section)
    trust = data["images"][0]["trust"]
    assert trust["dataset"] == "digits"  # the unit page's dataset
    check_panel(panel, trust)
    assert page.get_by_test_id("unit-transparency-toggle").count() == (1 if "transparency" in data["images"][0] else 0)
    assert serious(page) == []
