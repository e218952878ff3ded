"""Data-initialized maximization (seed 004 §4): best dataset start, steps bounded by 1% per pixel, threshold."""

import json

import pytest
import torch
from PIL import Image

import convscope.techniques.objectives as O
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.techniques.datainit import MAX_PIXEL_STEP, ascend, best_images, data_init


@pytest.fixture(scope="module")
def digits_data(digits_subject):
    return open_dataset("digits", digits_subject.input)


def test_start_is_the_best_dataset_image(digits_subject, digits_data):
    objectives = [O.class_logit(4), O.channel("features.3", 5)]
    found = best_images(digits_subject, digits_data, objectives, batch_size=300)
    with torch.no_grad():
        everything = torch.stack([digits_data.load(i) for i in range(len(digits_data))])
        for objective, (index, score) in zip(objectives, found):
            scores = objective(digits_subject.capture(everything, list(objective.layers)))
            assert index == int(scores.argmax()) and score == pytest.approx(float(scores.max()), rel=1e-5)
    assert digits_data.targets[found[0][0]] == 4


def test_steps_are_bounded_and_raise_the_unit(digits_subject, digits_data):
    objective = O.channel("features.3", 5)
    start = digits_data.load(11)
    one, _ = ascend(digits_subject, start, objective, steps=1)
    moved = (one - start).abs()
    assert moved.max().item() <= MAX_PIXEL_STEP + 1e-6
    assert moved.max().item() >= MAX_PIXEL_STEP * 0.5  # the largest-gradient pixel moves (unless clipped)
    image, history = ascend(digits_subject, start, objective, steps=20)
    assert (image - start).abs().max().item() <= 20 * MAX_PIXEL_STEP + 1e-5
    assert history[-1] > history[0] * 1.05 and len(history) == 21
    binary, _ = ascend(digits_subject, start, objective, steps=5, threshold=0.9)
    assert set(binary.unique().tolist()) <= {0.0, 1.0}


def test_data_init_results(digits_subject, digits_data):
    (result,) = data_init(digits_subject, digits_data, [O.class_logit(7)], steps=10, batch_size=512)
    assert digits_data.targets[result.start_index] == 7
    assert result.activation > result.start_activation


def test_visualize_init_from_data_cli(capsys, tmp_path):
    code = main(
        [
            "visualize",
            "--model",
            "digits",
            "--class",
            "2,5",
            "--init-from-data",
            "digits",
            "--steps",
            "8",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["init_from_data"] == "digits" and result["steps"] == 8
    for entry in result["images"]:
        assert entry["activation"] > entry["start_activation"]
        assert entry["start_image"].startswith("digits:") and Image.open(entry["path"]).size == (32, 32)
    code = main(["visualize", "--model", "digits", "--class", "2", "--binarize", "0.9", "--out", str(tmp_path)])
    assert code == 2 and "binarize (--binarize) only applies with init_from_data" in capsys.readouterr().err
