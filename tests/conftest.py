import os

import numpy as np
import pytest
import torch

import convscope


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep the digits model cache of the test run in one temporary folder shared by all tests."""
    if "CONVSCOPE_CACHE" not in os.environ:
        os.environ["CONVSCOPE_CACHE"] = str(tmp_path_factory.mktemp("convscope-cache"))
    os.environ["CONVSCOPE_DATA"] = str(tmp_path_factory.mktemp("convscope-data"))  # the result store of this run
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def default_subject():
    return convscope.load("default")


@pytest.fixture(scope="session")
def digits_subject():
    return convscope.load("digits")


@pytest.fixture()
def rgb_png(tmp_path):
    from PIL import Image

    path = tmp_path / "noise.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture()
def one_thread():
    """One torch thread while a test runs (it shares the machine's cores with the rest of the suite), restored after;
    a module opts in with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hooks_left(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """The first test digit of sklearn's digits as a 32x32 grayscale PNG file: its path."""
    from convscope.core import digits
    from convscope.core.images import tensor_to_pil

    data = digits.load_data()
    path = tmp_path_factory.mktemp("img") / "digit.png"
    tensor_to_pil(data.images[data.test[0]]).save(path)
    return str(path)


# --- the browser tests' fixtures (tests/test_webapp*.py; helpers in tests/webapp_helpers.py) ------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory, digits_subject):
    """The platform (models digits and default) served on 127.0.0.1 for one test module: its base URL."""
    from convscope.server import ServerConfig, create_app
    from convscope.server.app import WEBAPP
    from webapp_helpers import Served

    assert (WEBAPP / "index.html").is_file(), "the web app is not built: run scripts/build_web.sh"
    app = create_app(ServerConfig(data_dir=tmp_path_factory.mktemp("web") / "data", models=["digits", "default"]))
    served = Served(app)
    yield served.base
    served.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from webapp_helpers import CHROMIUM

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/setup.sh installs it)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A 1280x800 tab; the test fails on any console error (a 422 the page shows under its field aside); a
    screenshot of the page as the test left it goes to test-artifacts/web/."""
    from webapp_helpers import SHOTS

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors = []
    # a 422 is an answer the page shows next to its field (the browser still logs it); anything else is a fault
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.set_default_timeout(60_000)
    yield tab
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], errors
