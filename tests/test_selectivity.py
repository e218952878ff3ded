"""Selectivity (seed 004 §3): units built to fire on one class, two classes, all classes, none; the 40% rule."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import convscope
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.core.errors import ConvscopeError
from convscope.techniques.selectivity import selectivity

COLORS = {"blue": (0.1, 0.1, 0.8), "green": (0.1, 0.8, 0.1), "grey": (0.5, 0.5, 0.5), "red": (0.8, 0.1, 0.1)}


@pytest.fixture(scope="module")
def color_folder(tmp_path_factory):
    """Four classes of noisy single-colour images (ImageFolder layout, 6 images each)."""
    root = tmp_path_factory.mktemp("colors")
    rng = np.random.default_rng(0)
    for name, rgb in COLORS.items():
        (root / name).mkdir()
        for i in range(6):
            pixels = np.clip(np.array(rgb) + rng.normal(0, 0.03, (12, 12, 3)), 0, 1)
            Image.fromarray((pixels * 255).round().astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def color_units():
    """1x1 conv + ReLU with hand-set units: 0 fires on red, 1 on red and green, 2 on everything, 3 never."""
    conv = nn.Conv2d(3, 4, 1)
    with torch.no_grad():
        conv.weight.copy_(
            torch.tensor([[1.0, -0.5, -0.5], [1.0, 1.0, -1.0], [1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]).view(4, 3, 1, 1)
        )
        conv.bias.copy_(torch.tensor([0.0, -0.5, 0.0, -1.0]))
    return convscope.wrap(nn.Sequential(conv, nn.ReLU()), size=12, mean=(0, 0, 0), std=(1, 1, 1))


def test_units_built_for_classes_are_found(color_units, color_folder):
    dataset = open_dataset(color_folder, color_units.input)
    result = selectivity(color_units, dataset, ["1"], batch_size=5)
    entry = result.layers[0]
    assert result.classes == ["blue", "green", "grey", "red"] and result.class_counts == [6] * 4
    assert entry.kinds() == ["unimodal", "bimodal", "non-specific", "dead"]
    units = result.to_dict()["units"]
    assert units[0]["classes"] == ["red"] and units[1]["classes"] == ["green", "red"]
    assert units[2]["classes"] == [] and units[3]["classes"] == []
    assert result.to_dict()["fractions"]["1"] == {"unimodal": 0.25, "bimodal": 0.25, "non-specific": 0.25, "dead": 0.25}
    # the red unit's red mean is ~4x its overall mean (one class of four); a threshold of 3 (300%) rejects it
    assert entry.class_means[3, 0] / entry.overall_mean[0] == pytest.approx(4.0, rel=0.05)
    strict = selectivity(color_units, dataset, ["1"], threshold=3.1).layers[0]
    assert strict.kinds()[0] == "non-specific"


def test_digits_logits_are_specific_to_their_own_class(digits_subject):
    dataset = open_dataset("digits", digits_subject.input)
    result = selectivity(digits_subject, dataset, ["logits", "features.5"], batch_size=256).to_dict()
    logits = [u for u in result["units"] if u["layer"] == "logits"]
    assert all(str(u["index"]) in u["classes"] for u in logits)  # shifted by their floor (logits are signed)
    assert sum(u["kind"] == "unimodal" for u in logits) >= 7
    assert sum(result["fractions"]["features.5"].values()) == pytest.approx(1.0)


def test_selectivity_needs_classes(color_units, tmp_path):
    Image.new("RGB", (12, 12)).save(tmp_path / "a.png")
    with pytest.raises(ConvscopeError, match="needs a dataset with classes"):
        selectivity(color_units, open_dataset(tmp_path, color_units.input), ["1"])


def test_selectivity_cli(capsys, tmp_path):
    code = main(
        [
            "selectivity",
            "--model",
            "digits",
            "--dataset",
            "digits",
            "--layer",
            "logits,classifier.1",
            "--batch-size",
            "512",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(result["fractions"]) == {"logits", "classifier.1"} and len(result["units"]) == 10 + 64
    assert {u["kind"] for u in result["units"]} <= {"unimodal", "bimodal", "non-specific", "dead"}
    assert result["units"][3]["index"] == 3 and "3" in result["units"][3]["classes"]
    assert all(Image.open(p).size == (640, 360) for p in result["plots"]) and len(result["plots"]) == 3
    code = main(["selectivity", "--model", "digits", "--dataset", "digits", "--layer", "nope", "--out", str(tmp_path)])
    assert code == 2 and "unknown layer `nope`" in capsys.readouterr().err
