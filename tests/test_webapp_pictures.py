"""Issue 23, items 1 and 2, in Chromium: maps over their input with an opacity control and a colour bar in the map's
units (attribution, activation maps), a picture opened at full resolution and downloaded, a whole run downloaded
as one zip, a visualization's objective per step as a plot, the replay of a run's previews; axe-clean pages."""

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from webapp_helpers import run_and_wait
from webapp_helpers import serious_violations as serious
from webapp_helpers import shown_result as result_data

SHOTS = Path("/tmp/shots23")
PNG = b"\x89PNG\r\n\x1a\n"


def shot(page, name: str, full: bool = True) -> None:
    """The page as a user sees it (the whole page, or the window: a dialog) into /tmp/shots23."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pictures-{name}.png"), full_page=full)


def number(text: str) -> float:
    """A number as the colour bar prints it ("≥ 8.62e-2", "0.163", "2.54e-6")."""
    return float(text.replace("≥", "").strip())


def loaded(page, picture) -> None:
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())


def test_attribution_map_over_its_input_with_colour_bar_opened_large_and_downloaded(server, page):
    page.goto(f"{server}/#/model/default/attribution")
    page.get_by_test_id("image-chelsea").click()
    page.locator("select[name=method]").select_option("dtd")
    page.locator("input[name=layers]").fill("blocks.5")  # one layer's map (all 265: seconds more on 2 cores)
    run_and_wait(page, timeout=180_000)
    data = result_data(page, server)
    figure = page.get_by_test_id("attribution-input")
    bar = page.get_by_test_id("attribution-colorbar")
    # the colour bar: the ramp's ends and the map's extremes as the recipe measured them, in scientific notation
    # (Deep Taylor relevance per pixel of a 224 x 224 image is ~1e-6 of the logit: "0.00" before)
    scale = data["scale"]
    assert scale["signed"] is False and 0 < scale["high"] < 1e-3
    assert bar.get_by_test_id("colorbar-low").inner_text() == "0"
    high = bar.get_by_test_id("colorbar-high").inner_text()
    assert re.fullmatch(r"\d\.\d\de-\d+", high) and abs(number(high) - scale["high"]) <= 5e-3 * scale["high"]
    assert abs(number(bar.get_by_test_id("colorbar-max").inner_text()) - scale["max"]) <= 5e-3 * scale["max"]
    assert abs(number(bar.get_by_test_id("colorbar-min").inner_text()) - scale["min"]) <= 5e-3 * abs(scale["min"])
    words = bar.inner_text()
    assert "relevance per pixel" in words and "Egyptian cat" in words and "black (0)" in words
    # over the image the model saw; the opacity control changes the picture
    overlay = figure.get_by_test_id("overlay")
    under, over = overlay.locator("img").nth(0), overlay.locator("img").nth(1)
    loaded(page, under)
    loaded(page, over)
    assert under.get_attribute("src").endswith("_dtd_image.png")  # the image as the model saw it
    assert over.get_attribute("src").endswith("_dtd_input.png")  # the input's relevance map
    shown = overlay.screenshot()
    slider = page.get_by_test_id("overlay-opacity")
    assert slider.input_value() == "60" and over.evaluate("e => getComputedStyle(e).opacity") == "0.6"
    slider.focus()
    page.keyboard.press("End")
    assert slider.input_value() == "100" and over.evaluate("e => getComputedStyle(e).opacity") == "1"
    opaque = overlay.screenshot()
    page.keyboard.press("Home")
    assert over.evaluate("e => getComputedStyle(e).opacity") == "0"
    clear = overlay.screenshot()
    assert len({shown, opaque, clear}) == 3
    # at opacity 0 the cat shows; at 1 only the map (mostly black: relevance sits on the eyes and the nose)
    brightness = [np.asarray(Image.open(io.BytesIO(p)).convert("L"), float).mean() for p in (clear, opaque)]
    assert brightness[0] > 2 * brightness[1]
    slider.fill("60")
    # the map alone
    page.get_by_test_id("overlay-over").uncheck()
    assert figure.get_by_test_id("overlay").count() == 0 and figure.locator("img").count() == 1
    page.get_by_test_id("overlay-over").check()
    shot(page, "attribution")
    # opened large: the 224 x 224 map at its natural size or more, with its caption and a download
    figure.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    heading = dialog.get_by_role("heading")
    assert dialog.get_attribute("aria-labelledby") == heading.get_attribute("id")  # the dialog's label
    assert heading.inner_text() == "dtd map of “Egyptian cat” over the input"
    picture = page.get_by_test_id("lightbox-picture")
    loaded(page, picture)
    natural = picture.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    box = picture.bounding_box()
    assert natural == [224, 224] and box["width"] >= 224 and box["height"] >= 224
    assert page.get_by_test_id("lightbox-size").inner_text().startswith("224 × 224 px")
    assert "relevance per pixel" in dialog.inner_text()
    assert serious(page) == []
    shot(page, "attribution-lightbox", full=False)
    # the keyboard stays in the dialog
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate("() => !!document.activeElement.closest('dialog')"), key
    with page.expect_download() as download:
        page.get_by_test_id("lightbox-download").click()
    saved = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == f"attribution-dtd-class-{data['target']}.png"
    assert saved.startswith(PNG) and Image.open(io.BytesIO(saved)).size == (224, 224)
    page.keyboard.press("Escape")  # Esc closes it, and the focus is back on the picture
    dialog.wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')").startswith("enlarge: dtd map")
    # each layer's map: its own compact colour bar, the recipe's numbers
    first = next(layer for layer in data["layers"] if "scale" in layer and len(layer["shape"]) == 3)
    card = page.get_by_test_id(f"layer-{first['name']}")
    assert abs(number(card.get_by_test_id("colorbar-high").inner_text()) - first["scale"]["high"]) <= 5e-3 * abs(
        first["scale"]["high"]
    )
    assert card.get_by_test_id("overlay").count() == 1
    assert serious(page) == []


def test_saliency_shows_its_robust_scale_and_magnitude_legend(server, page):
    page.goto(f"{server}/#/model/default/attribution")
    page.get_by_test_id("image-chelsea").click()
    page.locator("select[name=method]").select_option("saliency")
    page.locator("input[name=layers]").fill("blocks.5")
    run_and_wait(page, timeout=180_000)
    scale = result_data(page, server)["scale"]
    bar = page.get_by_test_id("attribution-colorbar")
    assert scale["percentile"] == 99 and scale["high"] < scale["max"]
    high = bar.get_by_test_id("colorbar-high").inner_text()
    assert high.startswith("≥ ") and abs(number(high) - scale["high"]) <= 5e-3 * scale["high"]
    words = bar.inner_text()
    assert "99th percentile" in words and "a magnitude, not evidence for or against" in words
    assert serious(page) == []


def test_activation_maps_over_the_image_with_their_scales_and_the_run_as_a_zip(server, page):
    page.goto(f"{server}/#/model/digits/activations")
    page.get_by_test_id("image-digit 4").click()
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=more]").fill("logits")
    page.locator("input[name=top]").fill("4")
    run_and_wait(page)
    data = result_data(page, server)
    maps = page.get_by_test_id("maps-features.3")
    for channel in data["channels"]:
        tile = maps.get_by_test_id(f"map-{channel['index']}")
        # its colour bar: 0 to the map's own maximum, as the recipe measured it (0 for a channel that is negative
        # everywhere on this image: the ramp starts at 0; which channels those are depends on the trained weights)
        assert tile.get_by_test_id("colorbar-low").inner_text() == "0"
        high = number(tile.get_by_test_id("colorbar-high").inner_text())
        expected = max(channel["max"], 0.0)
        assert abs(high - expected) <= 5e-3 * expected + 1e-12, (high, channel["max"])
        assert tile.get_by_test_id("overlay").locator("img").first.get_attribute("src").endswith("/input.png")
    # a linear layer's 1 x 1 "maps" cover nothing: shown alone
    assert page.get_by_test_id("maps-logits").get_by_test_id("overlay").count() == 0
    first = maps.get_by_test_id(f"map-{data['channels'][0]['index']}").get_by_test_id("overlay")
    for picture in first.locator("img").element_handles():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture)
    before = first.screenshot()
    page.get_by_test_id("overlay-opacity").focus()
    page.keyboard.press("End")
    after = first.screenshot()
    assert before != after and first.locator("img.overlay-map").evaluate("e => e.style.opacity") == "1"
    assert serious(page) == []
    shot(page, "activations")
    # the whole run as one zip: its files, its spec and its data
    with page.expect_download() as download:
        page.get_by_test_id("run-download").click()
    zipped = zipfile.ZipFile(download.value.path())
    names = zipped.namelist()
    assert download.value.suggested_filename.startswith("convscope-activations-")
    assert {"spec.json", "result.json", "files/input.png"} <= set(names)
    spec = json.loads(zipped.read("spec.json"))
    assert spec["recipe"] == "activations" and spec["spec"]["layer"] == "features.3,logits"
    artifacts = [re.sub(r"^/api/artifacts/[0-9a-f]{64}/", "files/", c["image"]) for c in data["channels"]]
    assert artifacts[0].startswith("files/features.3/") and set(artifacts) <= set(names)
    assert zipped.read("files/input.png").startswith(PNG)


def test_visualization_score_plot_lightbox_and_replay(server, page):
    page.goto(f"{server}/#/model/digits/visualize")
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=channels]").fill("2,3")
    page.locator("input[name=steps]").fill("40")
    run_and_wait(page)
    images = result_data(page, server)["images"]
    for i, image in enumerate(images):
        plot = page.get_by_test_id(f"score-plot-{i}")
        points = plot.locator("polyline").get_attribute("points").split()
        assert len(points) == 40 == len(image["curve"])  # one point per step
        ys = [float(p.split(",")[1]) for p in points]
        assert ys[-1] < ys[0]  # the objective rose (SVG y grows downwards)
        assert plot.locator("text", has_text="step 40").count() == 1
    # the replay of the run's previews: 8 frames a run, the first and the last differ
    replay = page.get_by_test_id("preview-replay")
    replay.wait_for()
    slider = page.get_by_test_id("replay-slider")
    assert slider.get_attribute("max") == "7" and slider.input_value() == "7"
    frame = page.get_by_test_id("replay-features.3:2")
    loaded(page, frame)
    last = frame.get_attribute("src")
    assert "(steps: 40 of 40)" in replay.inner_text()
    slider.focus()
    page.keyboard.press("Home")
    assert "frame 1 of 8 (steps: 5 of 40)" in replay.inner_text()
    loaded(page, frame)
    assert frame.get_attribute("src") != last and frame.screenshot()
    assert serious(page) == []
    shot(page, "visualize")
    # a 32 x 32 visualization opens enlarged by a whole factor, crisp
    page.get_by_test_id("visualization-0").get_by_role("button").click()
    picture = page.get_by_test_id("lightbox-picture")
    loaded(page, picture)
    width = picture.bounding_box()["width"]
    assert picture.evaluate("img => img.naturalWidth") == 32 and width >= 32 * 4 and width % 32 == 0
    assert "features.3:2" in page.get_by_role("dialog").get_by_role("heading").inner_text()
    assert serious(page) == []
    shot(page, "visualize-lightbox", full=False)
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("dialog").wait_for(state="hidden")


def test_unit_page_and_deepdream_pictures_open_large(server, page):
    page.goto(f"{server}/#/model/digits/layer/features.3/unit/5")
    result = page.get_by_test_id("unit-visualization-result")
    result.wait_for(timeout=120_000)
    plot = page.get_by_test_id("unit-score-plot")
    assert len(plot.locator("polyline").get_attribute("points").split()) == 128  # the unit page's 128 steps
    result.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    assert "feature visualization of features.3:5" in dialog.get_by_role("heading").inner_text()
    assert "128 steps → activation" in dialog.inner_text()
    loaded(page, page.get_by_test_id("lightbox-picture"))
    assert serious(page) == []
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.get_by_test_id("preview-replay").wait_for()  # the visualization's run, replayable here too
    assert serious(page) == []
    shot(page, "unit")
    # DeepDream: an image, not a map; it opens large and downloads
    page.goto(f"{server}/#/model/digits/dream")
    page.get_by_test_id("image-digit 4").click()
    page.get_by_test_id("layer-select").select_option("features.3")
    page.locator("input[name=octaves]").fill("2")
    page.locator("input[name=steps]").fill("4")
    run_and_wait(page)
    page.get_by_test_id("dreamed").get_by_role("button").click()
    picture = page.get_by_test_id("lightbox-picture")
    loaded(page, picture)
    assert "DeepDream of" in page.get_by_role("dialog").get_by_role("heading").inner_text()
    with page.expect_download() as download:
        page.get_by_test_id("lightbox-download").click()
    saved = Image.open(download.value.path())
    assert saved.format == "PNG" and saved.size == tuple(picture.evaluate("i => [i.naturalWidth, i.naturalHeight]"))
    assert serious(page) == []
    shot(page, "dream-lightbox", full=False)
