"""Issue 23, item 4: a readable network graph at any size, in real headless Chromium. After "expand all" on the
default model (EfficientNet-Lite0, 242 layers) the boxes stay at a readable size (measured on screen) and the graph
scrolls instead of shrinking; long linear chains fold into one box that opens on a click; the search box centres and
selects a layer deep inside torchvision's densenet201 (700+ modules); the path from the input to the selection is
highlighted edge by edge; axe-core finds nothing serious on the graph page.

Screenshots go to test-artifacts/web/ and /tmp/shots23/ (graph-*.png); the expanded default graph also to
docs/images/webapp-graph-expanded.png (the README's)."""

import shutil
import statistics
import time
from pathlib import Path

import httpx
import pytest

from convscope.server import ServerConfig, create_app
from webapp_helpers import SHOTS, Served, axe_violations

pytestmark = pytest.mark.usefixtures("one_thread")

SHOTS23 = Path("/tmp/shots23")
README_SHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "webapp-graph-expanded.png"
IDLE = "[data-testid=network-graph][data-busy=false]"


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    SHOTS23.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"graph-{name}.png"
    page.screenshot(path=str(path))
    shutil.copy(path, SHOTS23 / path.name)
    return path


def open_graph(page, base: str, model: str) -> None:
    page.goto(f"{base}/#/model/{model}/graph")
    page.get_by_test_id("network-graph").wait_for()
    page.locator(IDLE).wait_for()


def wait_nodes(page, predicate: str) -> None:
    """Waits until `n => ...` holds for the graph's node count (data-nodes), then for the graph to be idle."""
    page.wait_for_function(
        f"() => ({predicate})(Number(document.querySelector('[data-testid=network-graph]').dataset.nodes))"
    )
    page.locator(IDLE).wait_for()


def canvas_box(page) -> dict:
    return page.locator(".cg-canvas").bounding_box()


def on_screen_boxes(page) -> list[dict]:
    """Rendered size of every layer box inside the graph's canvas: width and height in CSS pixels, and the rendered
    font size of its name and detail lines (computed size times the viewport's scale)."""
    return page.evaluate(
        """() => {
        const pane = document.querySelector('.cg-canvas').getBoundingClientRect();
        return [...document.querySelectorAll('.react-flow__node .cg-node')].map(el => {
            const r = el.getBoundingClientRect();
            const scale = r.width / el.offsetWidth;
            const font = (sel) => parseFloat(getComputedStyle(el.querySelector(sel)).fontSize) * scale;
            return {id: el.dataset.testid, kind: el.dataset.kind, x: r.x, y: r.y, width: r.width, height: r.height,
                    name: font('.cg-node-name'), detail: font('.cg-node-detail'),
                    inside: r.right > pane.left && r.left < pane.right && r.bottom > pane.top && r.top < pane.bottom};
        }).filter(b => b.inside);
    }"""
    )


def viewport_transform(page) -> tuple[float, float, float]:
    """(x, y, zoom) of React Flow's viewport."""
    return tuple(
        page.evaluate(
            """() => {
            const viewport = document.querySelector('.react-flow__viewport');
            const m = new DOMMatrixReadOnly(getComputedStyle(viewport).transform);
            return [m.e, m.f, m.a];
        }"""
        )
    )


def serious(page) -> list[str]:
    """axe-core's serious and critical violations, once the graph has settled (a fading transition is no fault)."""
    page.locator(IDLE).wait_for()
    page.wait_for_timeout(400)
    return [v for v in axe_violations(page) if "(serious)" in v or "(critical)" in v]


def test_expand_all_keeps_the_default_graph_readable_and_scrollable_and_chains_open(server, page):
    open_graph(page, server, "default")
    shown = int(page.get_by_test_id("network-graph").get_attribute("data-nodes"))
    page.get_by_test_id("graph-expand-all").click()
    wait_nodes(page, f"n => n > {shown}")
    status = page.get_by_test_id("graph-status").inner_text()
    # 242 layers: the blocks fold into chains (one box per block), the rest stays boxes
    assert "chains folded" in status, status
    assert page.get_by_test_id("graph-fold").is_checked()

    boxes = on_screen_boxes(page)
    widths = [b["width"] for b in boxes]
    names = [b["name"] for b in boxes]
    details = [b["detail"] for b in boxes]
    print(
        f"expanded default graph: {len(boxes)} boxes on screen, width median {statistics.median(widths):.0f} px "
        f"(min {min(widths):.0f}), name font {min(names):.1f} px, detail font {min(details):.1f} px, "
        f"zoom {viewport_transform(page)[2]:.2f}"
    )
    assert len(boxes) >= 4
    assert statistics.median(widths) >= 100 and min(widths) >= 95
    assert min(names) >= 10 and min(details) >= 10
    shoot(page, "default-expanded")

    # the graph is taller than the pane at this zoom: the wheel scrolls it, the zoom stays
    x0, y0, zoom0 = viewport_transform(page)
    pane = canvas_box(page)
    page.mouse.move(pane["x"] + 80, pane["y"] + pane["height"] / 2)
    chain = page.get_by_test_id("graph-node-chain:blocks.1.1")
    for _ in range(30):
        box = chain.bounding_box()
        if box and box["y"] > pane["y"] + 40 and box["y"] + box["height"] < pane["y"] + pane["height"] - 40:
            break
        page.mouse.wheel(0, 150)
        page.wait_for_timeout(60)
    x1, y1, zoom1 = viewport_transform(page)
    assert y1 < y0 - 100 and zoom1 == pytest.approx(zoom0), (y0, y1, zoom0, zoom1)
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + 10)  # no hover: the info box shows its hint
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shoot(page, "default-expanded-chains"), README_SHOT)

    # a chain: 15 layers of an InvertedResidual block in one box; a click opens it
    text = chain.inner_text()
    assert text.startswith("15 layers: conv → bn → relu6 → conv …"), text
    assert "InvertedResidual" in text and "24×56×56" in text
    chain.click()
    wait_nodes(page, f"n => n > {int(page.get_by_test_id('network-graph').get_attribute('data-nodes'))}")
    assert chain.count() == 0
    for layer in ["blocks.1.1.conv_pw", "blocks.1.1.bn1#self", "blocks.1.1.conv_dw", "blocks.1.1.conv_pwl"]:
        assert page.get_by_test_id(f"graph-node-{layer}").count() == 1, layer
    # the other blocks stay folded
    assert page.get_by_test_id("graph-node-chain:blocks.1.0").count() == 1
    shoot(page, "default-chain-opened")
    assert serious(page) == []


def test_path_from_the_input_marks_every_edge_to_the_selection(server, page):
    open_graph(page, server, "default")
    search = page.get_by_test_id("graph-search")
    search.fill("blocks.2")
    assert page.get_by_test_id("graph-search-status").inner_text() == "32 matches"
    search.press("Enter")  # the container blocks.2 itself comes first
    assert page.get_by_test_id("graph-search-status").inner_text() == "1 of 32"
    page.locator(IDLE).wait_for()
    assert "blocks.2" in page.locator("header.page-head").inner_text()
    page.get_by_test_id("graph-node-blocks.1").click()  # collapsed: opens (blocks.1.0 feeds blocks.2 twice: skip)
    page.get_by_test_id("graph-node-blocks.1.1").wait_for()
    page.locator(IDLE).wait_for()
    page.get_by_test_id("graph-path").click()
    graph = page.get_by_test_id("network-graph")
    page.wait_for_function("() => document.querySelector('[data-testid=network-graph]').dataset.pathEdges !== ''")
    marked = set(page.locator(".react-flow__edge.cg-on-path").evaluate_all("els => els.map(e => e.dataset.id)"))
    # the expected edges, from the drawn edge list: reachable from the input and reaching blocks.2
    drawn = page.locator(".react-flow__edge").evaluate_all("els => els.map(e => e.dataset.id)")
    pairs = [tuple(e.split("->")) for e in drawn]
    assert int(graph.get_attribute("data-nodes")) <= 150  # a small view: every edge is drawn, none left out

    def reach(start, forward):
        seen, todo = {start}, [start]
        while todo:
            n = todo.pop()
            for a, b in pairs:
                m = b if forward and a == n else a if not forward and b == n else None
                if m is not None and m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    on = reach("input", True) & reach("blocks.2", False)
    expected = {f"{a}->{b}" for a, b in pairs if a in on and b in on}
    assert marked == expected
    assert marked == {
        "input->conv_stem",
        "conv_stem->bn1",
        "bn1->blocks.0",
        "blocks.0->blocks.1.0",
        "blocks.1.0->blocks.1.1",
        "blocks.1.0->blocks.2",  # the residual of blocks.1.1
        "blocks.1.1->blocks.2",
    }
    assert graph.get_attribute("data-path-edges") == "7"
    assert page.locator(".react-flow__node.cg-on-path").count() == 7  # blocks.2 included
    assert page.get_by_test_id("graph-path").get_attribute("aria-pressed") == "true"
    shoot(page, "default-path")
    page.get_by_test_id("graph-path").click()
    page.wait_for_function("() => document.querySelector('[data-testid=network-graph]').dataset.pathEdges === ''")
    assert page.locator(".react-flow__edge.cg-on-path").count() == 0
    assert serious(page) == []


@pytest.fixture(scope="module")
def densenet201(tmp_path_factory):
    """A second server offering torchvision's densenet201 (architecture only: the layers endpoint needs no weights)."""
    models = ["torchvision:densenet201"]
    served = Served(create_app(ServerConfig(data_dir=tmp_path_factory.mktemp("densenet"), models=models)))
    httpx.get(f"{served.base}/api/models/{models[0]}/layers", timeout=300).raise_for_status()
    yield served.base
    served.stop()


def test_search_centres_and_selects_a_layer_deep_inside_densenet201(densenet201, page):
    layer = "features.denseblock4.denselayer16.conv2"
    open_graph(page, densenet201, "torchvision:densenet201")
    search = page.get_by_test_id("graph-search")
    search.fill("CONV2D")  # by type, any case: the stem, 2 per dense layer (98), 3 transitions
    assert page.get_by_test_id("graph-search-status").inner_text() == "200 matches"
    search.fill("denselayer16.conv2")  # blocks 3 and 4 have a 16th dense layer
    assert page.get_by_test_id("graph-search-status").inner_text() == "2 matches"
    start = time.perf_counter()
    search.press("ArrowUp")  # from the end: the last match, in block 4
    assert page.get_by_test_id("graph-search-status").inner_text() == "2 of 2"
    node = page.get_by_test_id(f"graph-node-{layer}")
    node.wait_for()
    page.locator(IDLE).wait_for()
    took = time.perf_counter() - start
    box = node.bounding_box()
    pane = canvas_box(page)
    dx = box["x"] + box["width"] / 2 - (pane["x"] + pane["width"] / 2)
    dy = box["y"] + box["height"] / 2 - (pane["y"] + pane["height"] / 2)
    status = page.get_by_test_id("graph-status").inner_text()
    print(f"densenet201: {layer} centred {dx:+.1f}, {dy:+.1f} px from the pane's centre, {box['width']:.0f} px wide,")
    print(f"  {took:.1f} s from the key to the centred layer ({status})")
    assert abs(dx) <= 4 and abs(dy) <= 4
    assert box["width"] >= 100
    assert "cg-selected" in page.get_by_test_id(f"rf__node-{layer}").get_attribute("class")
    assert layer in page.get_by_test_id("graph-info").inner_text()
    assert layer in page.locator("header.page-head").inner_text()  # selected: the page links to its units
    # its blocks opened, the other dense layers of block 4 and the other blocks stay collapsed
    assert page.get_by_test_id("graph-node-features.denseblock4.denselayer15").get_attribute("data-kind") == "collapsed"
    assert page.get_by_test_id("graph-node-features.denseblock3").get_attribute("data-kind") == "collapsed"
    shoot(page, "densenet201-search")
    assert serious(page) == []
