"""Top-k examples: equal to a brute-force sort, patches, merging of shards, the `examples` CLI contract."""

import json
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import convscope
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.core.errors import ChannelError, ConvscopeError, UnknownLayerError
from convscope.techniques.examples import cut, gc_paused, random_boxes, top_examples, unit_scores


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 4, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    return convscope.wrap(model, size=24)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    for i in range(23):
        Image.fromarray(rng.integers(0, 255, (30, 26, 3), dtype=np.uint8)).save(root / f"{i:02d}.png")
    return root


def brute_force(tiny, dataset, units, k):
    images = torch.stack([dataset.load(i) for i in range(len(dataset))])
    scores = unit_scores(tiny, images, units)
    return [
        [(float(scores[j, u]), dataset.ids[j]) for j in scores[:, u].argsort(descending=True)[:k].tolist()]
        for u in range(len(units))
    ]


def test_top_k_equals_brute_force_sort(tiny, folder):
    dataset = open_dataset(folder, tiny.input)
    units = [("0", 1), ("2", 3), ("logits", 0), ("logits", 2)]
    result = top_examples(tiny, dataset, units, k=5, batch_size=4)
    assert result.images_seen == 23
    expected = brute_force(tiny, dataset, units, 5)
    for got, want in zip(result.examples, expected):
        assert [e.id for e in got] == [w[1] for w in want]
        assert [e.score for e in got] == pytest.approx([w[0] for w in want], rel=1e-5)
        assert all(e.box == (0, 0, 24, 24) for e in got)


def test_the_garbage_collector_is_paused_only_while_the_result_is_built(tiny, folder):
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's choice to keep it off is kept
    finally:
        gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError
    assert gc.isenabled()
    top_examples(tiny, open_dataset(folder, tiny.input), [("logits", 0)], k=2)
    assert gc.isenabled()


def test_shards_merge_to_the_whole_scan(tiny, folder):
    dataset = open_dataset(folder, tiny.input)
    units = [("2", 0), ("logits", 1)]
    whole = top_examples(tiny, dataset, units, k=4, patches=3, patch_size=12)
    parts = [
        top_examples(tiny, dataset, units, k=4, patches=3, patch_size=12, indices=range(s, min(s + 8, 23)))
        for s in (0, 8, 16)
    ]
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[0].merge(parts[1].merge(parts[2]))
    for merged in (left, right, parts[2].merge(parts[0]).merge(parts[1])):
        assert [[(e.id, e.box) for e in u] for u in merged.examples] == [
            [(e.id, e.box) for e in u] for u in whole.examples
        ]
        assert merged.images_seen == 23


def test_patch_scores_are_the_scores_of_the_cut_patches(tiny, folder):
    dataset = open_dataset(folder, tiny.input)
    result = top_examples(tiny, dataset, [("2", 2)], k=6, patches=4, patch_size=10, seed=3)
    candidates = []
    for i in range(len(dataset)):
        image = dataset.load(i)
        for box in random_boxes(i, 4, 10, 24, 24, seed=3):
            candidates.append(
                (float(unit_scores(tiny, cut(image, box, (24, 24))[None], [("2", 2)])[0, 0]), dataset.ids[i], box)
            )
    candidates.sort(key=lambda c: -c[0])
    got = result.examples[0]
    assert [(e.id, e.box) for e in got] == [(c[1], c[2]) for c in candidates[:6]]
    assert all(e.box[2] - e.box[0] == 10 and e.box[3] - e.box[1] == 10 for e in got)


def test_bad_requests(tiny, folder):
    dataset = open_dataset(folder, tiny.input)
    with pytest.raises(UnknownLayerError):
        top_examples(tiny, dataset, [("nope", 0)])
    with pytest.raises(ChannelError):
        top_examples(tiny, dataset, [("0", 6)])
    with pytest.raises(ConvscopeError, match="patch size 30 does not fit"):
        top_examples(tiny, dataset, [("0", 0)], patches=2, patch_size=30)
    a = top_examples(tiny, dataset, [("0", 0)], k=2, indices=[0, 1])
    with pytest.raises(ConvscopeError, match="same units"):
        a.merge(top_examples(tiny, dataset, [("0", 1)], k=2, indices=[0, 1]))


def test_examples_cli_on_digits(capsys, tmp_path):
    code = main(
        [
            "examples",
            "--model",
            "digits",
            "--dataset",
            "digits",
            "--layer",
            "logits",
            "--channels",
            "3,7",
            "--top",
            "5",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert [(u["layer"], u["index"]) for u in result["units"]] == [("logits", 3), ("logits", 7)]
    labels = convscope.core.digits.load_data().labels
    for unit in result["units"]:
        scores = [e["score"] for e in unit["examples"]]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True)
        # the digits a class logit likes best are images of that digit
        assert all(int(labels[int(e["path"].split(":")[1])]) == unit["index"] for e in unit["examples"])
        assert unit["examples"][0]["box"] == [0, 0, 32, 32]
        assert (tmp_path / f"examples_logits_{unit['index']}.png").exists()
    assert result["images"] == 1797 and result["skipped"] == []


def test_examples_cli_errors(capsys, tmp_path):
    code = main(
        [
            "examples",
            "--model",
            "digits",
            "--dataset",
            str(tmp_path / "none"),
            "--layer",
            "logits",
            "--channels",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "neither an existing folder" in err and len(err.strip().splitlines()) == 1
    code = main(
        [
            "examples",
            "--model",
            "digits",
            "--dataset",
            "digits",
            "--layer",
            "logits",
            "--channels",
            "12",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "out of range" in capsys.readouterr().err


def test_relevance_examples_rank_images_by_the_units_lrp_relevance(capsys, tmp_path):
    """Relevance maximization: the ranking equals a brute-force sort of each image's own LRP explanation (one
    image at a time), for the predicted class and for a fixed target; shards merge to the whole scan."""
    from convscope.techniques.attribution.explainer import LRP
    from convscope.techniques.attribution.relevant import unit_relevance

    subject = convscope.load("digits")
    dataset = open_dataset("digits", subject.input)
    indices = list(range(40))
    units = [("features.3", 2), ("features.3", 6)]
    explainer = LRP(subject, "dtd")
    singles = torch.cat([unit_relevance(explainer, dataset.load(i)[None], units) for i in indices])  # [40, U]
    batched = top_examples(
        subject, dataset, units, k=6, batch_size=16, indices=indices, scorer=partial(unit_relevance, explainer)
    )
    for u, got in enumerate(batched.examples):
        order = torch.sort(singles[:, u], descending=True, stable=True).indices[:6].tolist()
        assert [e.id for e in got] == [dataset.ids[indices[j]] for j in order]
        assert [e.score for e in got] == pytest.approx(singles[order, u].tolist(), rel=1e-4, abs=1e-6)
    # the units' scores are the layer's relevance: together they are what reaches the layer of the explained
    # logit (z+ keeps it positive; the biases above absorb the rest)
    image = dataset.load(0)[None]
    explained = explainer.explain(image, layers=["features.3"])
    layer_sum = float(unit_relevance(explainer, image, [("features.3", c) for c in range(32)]).sum())
    assert layer_sum == pytest.approx(float(explained.layers["features.3"].sum()), rel=1e-5)
    assert 0 < layer_sum < float(explained.output[0])
    # a fixed target explains that class in every image (here 3: the top images are threes)
    threes = top_examples(
        subject, dataset, [("features.3", 2)], k=5, scorer=partial(unit_relevance, explainer, target=3)
    )
    labels = convscope.core.digits.load_data().labels
    assert sum(int(labels[int(e.id.split(":")[1])]) == 3 for e in threes.examples[0]) >= 4
    halves = [
        top_examples(subject, dataset, units, k=6, indices=part, scorer=partial(unit_relevance, explainer))
        for part in (indices[:25], indices[25:])
    ]
    assert [[e.id for e in u] for u in halves[0].merge(halves[1]).examples] == [
        [e.id for e in u] for u in batched.examples
    ]
    # the CLI: --by relevance, and a target with activation scoring is refused naming the fields
    code = main(
        [
            "examples", "--model", "digits", "--dataset", "digits", "--layer", "features.3", "--channels", "2",
            "--top", "4", "--by", "relevance", "--json", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["by"] == "relevance" and result["composite"] == "dtd"
    assert result["images"] == 1797 and len(result["units"][0]["examples"]) == 4
    code = main(
        [
            "examples", "--model", "digits", "--dataset", "digits", "--layer", "features.3", "--channels", "2",
            "--target", "3", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "by = relevance" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_examples_cli_default_model_on_a_user_folder(capsys, tmp_path):
    from skimage import data as skdata

    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        Image.fromarray(getattr(skdata, name)()).save(tmp_path / f"{name}.png")
    code = main(
        [
            "examples",
            "--dataset",
            str(tmp_path),
            "--layer",
            "logits",
            "--channels",
            "285,967",
            "--top",
            "2",
            "--patches",
            "2",
            "--patch-size",
            "160",
            "--json",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["units"][0]["examples"][0]["path"].endswith("chelsea.png")  # Egyptian cat
    assert result["units"][1]["examples"][0]["path"].endswith("coffee.png")  # espresso


@pytest.mark.parametrize("patches", [0, 3])
def test_ties_break_the_same_way_in_a_scan_and_in_merged_shards(patches):
    """A unit that scores the same on every image (a dead unit: all 0) selects the same examples whether the dataset
    is scanned at once or in shards that are merged: ties break by id in string order ("digits:10" before
    "digits:2"), then by box, in the scan as in `TopExamples.merge`."""
    subject = convscope.load("digits")
    dataset = open_dataset("digits", subject.input)
    indices = list(range(30))

    def dead(images, units):  # [M, U] of zeros
        return torch.zeros(images.shape[0], len(units))

    def scan(part, batch_size):
        return top_examples(
            subject,
            dataset,
            [("features.3", 0)],
            k=5,
            batch_size=batch_size,
            indices=part,
            scorer=dead,
            patches=patches,
            patch_size=8,
        )

    whole = scan(indices, 7)
    ids = [e.id for e in whole.examples[0]]
    if not patches:
        assert (
            ids
            == sorted(dataset.ids[i] for i in indices)[:5]
            == ["digits:0", "digits:1", "digits:10", "digits:11", "digits:12"]
        )
    for cut_at in (5, 17, 25):  # each shard has at least k = 5 candidates
        merged = scan(indices[cut_at:], 4).merge(scan(indices[:cut_at], 16))
        assert [(e.id, e.box) for e in merged.examples[0]] == [(e.id, e.box) for e in whole.examples[0]]
