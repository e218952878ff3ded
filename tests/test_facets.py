"""MFV facets (seed 000): a class made of two distinct sub-types comes out as two facets; the facet
visualization raises the unit's activation over its mean image and keeps its layout; TV denoising in the
original's 0..255 units; the `facets` CLI contract."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import convscope
from convscope import objectives as O
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.core.errors import ConvscopeError
from convscope.techniques.facets import (
    PRESETS,
    Octave,
    cluster_codes,
    facets,
    maximize_from,
    penultimate_layer,
    scaled_octaves,
    structure_similarity,
    tv_denoise,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    )
    return convscope.wrap(model, size=24)


@pytest.fixture(scope="module")
def two_kinds(tmp_path_factory):
    """Class `mixed` = 12 orange-ish images with dark blobs + 12 teal-ish striped images; class `other` = grey."""
    root = tmp_path_factory.mktemp("facets")
    rng = np.random.default_rng(0)
    for folder in ("mixed", "other"):
        (root / folder).mkdir()
    for i in range(12):
        warm = np.clip(np.array([0.9, 0.5, 0.1]) + rng.normal(0, 0.05, (24, 24, 3)), 0, 1)
        warm[rng.integers(0, 16) :, rng.integers(0, 16) :][:6, :6] *= 0.3
        cool = np.clip(np.array([0.1, 0.6, 0.7]) + rng.normal(0, 0.05, (24, 24, 3)), 0, 1)
        cool[::4] *= 0.5
        for name, pixels in ((f"warm{i:02d}", warm), (f"cool{i:02d}", cool)):
            Image.fromarray((pixels * 255).astype(np.uint8)).save(root / "mixed" / f"{name}.png")
        grey = np.clip(0.5 + rng.normal(0, 0.05, (24, 24, 3)), 0, 1)
        Image.fromarray((grey * 255).astype(np.uint8)).save(root / "other" / f"grey{i:02d}.png")
    return root


def test_two_subtypes_come_out_as_two_facets(tiny, two_kinds):
    dataset = open_dataset(two_kinds, tiny.input)
    indices = dataset.indices_of_class(dataset.class_index("mixed"))
    found, clusters, _kept = facets(
        tiny, dataset, ("logits", 1), indices=indices, k=2, m=5, octaves=scaled_octaves("torchvision", 12)
    )
    assert clusters.used == {
        "k": 2,
        "pca_dims": 8,
        "perplexity": pytest.approx(23 / 3),
        "images": 24,
        "m": 5,
        "code_layer": "3",
    }
    kinds = [{dataset.ids[i].split("/")[-1][:4] for i in facet.members} for facet in found]
    assert sorted(map(sorted, kinds)) == [["cool"], ["warm"]]  # each facet is one sub-type, purity 1
    for facet, kind in zip(found, kinds):
        assert len(facet.members) == 12 and facet.nearest == facet.members[0]
        red = facet.mean_image[0].mean().item()
        assert (red > 0.6) if kind == {"warm"} else (red < 0.3)  # the mean image looks like its sub-type
        assert facet.facet_image.shape == (3, 24, 24) and 0 <= facet.facet_image.min() <= facet.facet_image.max() <= 1
        assert facet.activation > facet.mean_activation  # the maximization raised the unit


def test_tv_denoise_is_the_original_call_in_0_255_units():
    """weight w on 0..255 pixels = 255 w on [0, 1] pixels, with the tolerance scaled too; repeated calls keep the
    colours (a tolerance of 1e-3 on [0, 1] pixels stops the split Bregman early and, over the steps of a facet,
    drained green and blue: every facet drifted to red)."""
    from skimage.data import chelsea
    from skimage.restoration import denoise_tv_bregman

    image = torch.from_numpy(chelsea()[::6, ::6].astype(np.float32) / 255).permute(2, 0, 1)  # [3, 50, 76]
    for weight in (0.1, 0.4, 2.0):
        original = (
            denoise_tv_bregman(image.permute(1, 2, 0).double().numpy() * 255, weight=weight, eps=1e-3, channel_axis=-1)
            / 255
        )
        assert np.abs(tv_denoise(image, weight).permute(1, 2, 0).numpy() - original).max() < 1e-5
    smooth = image
    for _ in range(20):
        smooth = tv_denoise(smooth, 0.4)
    assert (smooth - image).abs().mean() > 0.01  # it does smooth ...
    assert torch.allclose(smooth.mean(dim=(1, 2)), image.mean(dim=(1, 2)), atol=0.003)  # ... and keeps the colours


def test_maximization_from_mean_images_raises_every_facet_and_keeps_structure(digits_subject):
    """MFV's point: started from a mean image, the facet raises the unit a lot and keeps the mean image's layout.
    Digits model, logit 3, started from the mean images of 15 threes, fives, eights and zeros (default preset
    scaled to 24 steps): each result stays closer to its own start than to any other digit's mean image."""
    dataset = open_dataset("digits", digits_subject.input)
    labels = np.asarray(convscope.core.digits.load_data().labels)
    means = [
        torch.stack([dataset.load(int(i)) for i in np.flatnonzero(labels == d)[:15]]).mean(dim=0) for d in range(10)
    ]
    objective = O.channel("logits", 3)
    for digit in (3, 5, 8, 0):
        mean = means[digit]
        image = maximize_from(digits_subject, mean, objective, scaled_octaves("torchvision", 24))
        with torch.no_grad():
            after, before = objective(digits_subject.capture(torch.stack([image, mean]), ["logits"])).tolist()
        assert image.shape == mean.shape and after > before + 10  # measured: +15 to +39
        assert (image - mean).abs().mean() > 0.03  # the image changed (measured 0.06-0.10) ...
        own = structure_similarity(image, mean)  # ... but kept its layout (measured 0.91-0.97)
        others = max(structure_similarity(image, means[d]) for d in range(10) if d != digit)  # measured <= 0.85
        assert own > 0.85 and own > others + 0.05
    assert structure_similarity(means[3], means[3]) == pytest.approx(1.0)


def test_octave_checks_and_zoom_back(digits_subject):
    with pytest.raises(ConvscopeError, match="zoom > 0"):
        Octave(10, 1.0, 1.0, zoom=0.0)
    with pytest.raises(ConvscopeError, match="TV weights"):
        Octave(10, 1.0, 1.0, tv_start=-1.0)
    with pytest.raises(ConvscopeError, match="margin in"):
        Octave(10, 1.0, 1.0, margin=0.5)
    with pytest.raises(ConvscopeError, match="cannot compare"):
        structure_similarity(torch.zeros(1, 8, 8), torch.zeros(1, 8, 9))
    start = torch.full((1, 32, 32), 0.3)
    zoomed = (Octave(2, 1.0, 1.0, 1.5, 0.4, 0.4), Octave(2, 1.0, 1.0, 1 / 1.5, 0.4, 0.4))
    assert maximize_from(digits_subject, start, O.channel("logits", 3), zoomed).shape == (1, 32, 32)


def test_caps_and_defaults(tiny, digits_subject):
    used = cluster_codes(np.random.default_rng(0).normal(size=(7, 64)), k=10, pca_dims=50).used
    assert used == {"k": 7, "pca_dims": 7, "perplexity": 2.0, "images": 7}
    with pytest.raises(ConvscopeError, match="at least 3 images"):
        cluster_codes(np.zeros((2, 4)))
    assert penultimate_layer(tiny) == "3" and penultimate_layer(digits_subject) == "classifier.2"
    assert [o.iterations for o in PRESETS["caffenet"]] == [190, 150, 20, 10] and round(
        PRESETS["caffenet"][2].margin * 227
    ) == 50
    assert [o.zoom for o in PRESETS["torchvision"]] == [1.0, 1.2, pytest.approx(1 / 1.2)]
    assert sum(o.iterations for o in scaled_octaves("caffenet", 50)) in range(48, 53)
    with pytest.raises(ConvscopeError, match="unknown octave preset"):
        scaled_octaves("vgg", None)


def test_facets_cli_on_digits(capsys, tmp_path):
    code = main(
        [
            "facets",
            "--model",
            "digits",
            "--dataset",
            "digits",
            "--target",
            "logits:3",
            "--top-images",
            "60",
            "--k",
            "3",
            "--m",
            "4",
            "--steps",
            "6",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["used"]["k"] == 3 and result["code_layer"] == "classifier.2"
    assert sum(len(c["members"]) for c in result["clusters"]) == 60
    labels = convscope.core.digits.load_data().labels
    for cluster in result["clusters"]:
        assert set(cluster) >= {"id", "members", "mean_image", "facet_image", "activation", "nearest_image"}
        assert cluster["nearest_image"] == cluster["members"][0]
        assert Image.open(cluster["facet_image"]).size == (32, 32)
        assert cluster["activation"] > cluster["mean_activation"] and 0.5 < cluster["structure"] <= 1
    top = [int(labels[int(p.split(":")[1])]) for c in result["clusters"] for p in c["members"]]
    assert top.count(3) >= 50  # the top images of logit 3 are mostly threes
    assert Image.open(result["embedding_plot"]).size == (900, 900)


def test_facets_cli_errors(capsys, tmp_path):
    for argv, message in (
        (["--target", "logits"], "must be LAYER:UNIT"),
        (["--target", "logits:3", "--class", "cat"], "unknown class `cat`"),
        (["--target", "logits:30"], "out of range"),
    ):
        code = main(["facets", "--model", "digits", "--dataset", "digits", "--out", str(tmp_path), *argv])
        assert code == 2 and message in capsys.readouterr().err
