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
