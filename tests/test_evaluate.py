"""Issue 22, item 4: evaluate a model on a labelled dataset (seed 001, Table 3.2 and §4.3.5). On small ImageFolders
built here, the evaluation equals a direct computation (a forward of the same images, topk by hand): accuracy,
per class, confusions, and the misclassified list is exactly the wrong ones; class names are matched to labels by
normalized name or integer, a mapping overrides, bad mappings and unlabelled datasets are refused naming the field;
unmatched classes are listed and not evaluated; the recipe and the CLI give the same data."""

import csv
import json
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import convscope
from convscope.cli.main import main
from convscope.core import digits
from convscope.core.data import open_dataset
from convscope.core.errors import ConvscopeError
from convscope.core.images import tensor_to_pil
from convscope.recipes import ModelRef
from convscope.recipes.evaluate import EvaluateSpec
from convscope.techniques.evaluation import evaluate, match_classes, normalize_name

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = ModelRef(spec="digits")

#: folder -> the digit classes of its images: three folders named like the labels, with a few images of other
#: digits among them (mislabelled on purpose: the model gets those wrong), and a class no label is named after
LAYOUT = {
    "1": [1, 1, 1, 1, 7, 4],
    "3": [3, 3, 3, 8, 5],
    "7": [7, 7, 7, 1, 2, 9],
    "other": [0, 0, 6],
}


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """An ImageFolder of 32x32 digit PNGs laid out as LAYOUT, and one unreadable file (skipped, never fatal)."""
    data = digits.load_data()
    by_digit = {d: [i for i in data.test if int(data.labels[i]) == d] for d in range(10)}
    used = Counter()
    root = tmp_path_factory.mktemp("labelled")
    for folder, classes in LAYOUT.items():
        (root / folder).mkdir()
        for n, d in enumerate(classes):
            tensor_to_pil(data.images[by_digit[d][used[d]]]).save(root / folder / f"{n:02d}.png")
            used[d] += 1
    (root / "3" / "zz_broken.png").write_bytes(b"not an image")
    return root


def by_hand(subject, root, matched: dict[str, int], k: int):
    """Per image of the matched folders (sorted paths): (id, true, scores) from a plain forward of the files."""
    found = []
    for folder, true in sorted(matched.items()):
        for path in sorted((root / folder).glob("*.png")):
            if path.name.startswith("zz_"):
                continue
            with torch.no_grad():
                scores = subject(subject.load_image(path))[0].float()
            found.append((f"{folder}/{path.name}", true, scores))
    return found


def test_the_evaluation_equals_a_direct_computation(digits_subject, digit_folder, tmp_path):
    result = convscope.run(
        EvaluateSpec(model=DIGITS, dataset=str(digit_folder), top_k=2, confusions=100, batch_size=4), out=tmp_path
    )
    data = result.data
    expected = by_hand(digits_subject, digit_folder, {"1": 1, "3": 3, "7": 7}, 2)
    predicted = {id_: int(s.argmax()) for id_, _, s in expected}
    top2 = {id_: set(torch.topk(s, 2).indices.tolist()) for id_, _, s in expected}
    wrong = [(id_, t) for id_, t, _ in expected if predicted[id_] != t]
    assert len(wrong) >= 5  # the mislabelled images (at least): the test checks something
    assert data["images"] == len(expected) == 17 and data["k"] == 2
    assert data["top1"] == pytest.approx(1 - len(wrong) / 17)
    assert data["topk"] == pytest.approx(sum(t in top2[id_] for id_, t, _ in expected) / 17)
    assert data["unmatched"] == ["other"] and data["unmatched_images"] == 3
    assert data["skipped"] == [{"id": "3/zz_broken.png", "reason": data["skipped"][0]["reason"]}]

    # per class
    rows = {row["name"]: row for row in data["classes"]}
    assert list(rows) == ["1", "3", "7", "other"]
    for folder in ("1", "3", "7"):
        mine = [(id_, t) for id_, t, _ in expected if id_.startswith(folder + "/")]
        assert rows[folder]["label"] == int(folder) and rows[folder]["label_name"] == folder
        assert rows[folder]["images"] == len(mine)
        assert rows[folder]["top1"] == pytest.approx(sum(predicted[i] == t for i, t in mine) / len(mine))
        assert rows[folder]["topk"] == pytest.approx(sum(t in top2[i] for i, t in mine) / len(mine))
    unmatched = {"name": "other", "label": None, "label_name": None, "images": 3, "top1": None, "topk": None}
    assert rows["other"] == unmatched

    # confusions: every (true, predicted) pair, by count, then true, then predicted
    pairs = Counter((t, predicted[id_]) for id_, t in wrong)
    sizes = Counter(t for _, t, _ in expected)
    assert [(c["true"], c["predicted"], c["count"]) for c in data["confusions"]] == sorted(
        ((t, p, n) for (t, p), n in pairs.items()), key=lambda x: (-x[2], x[0], x[1])
    )
    for c in data["confusions"]:
        assert c["fraction"] == pytest.approx(c["count"] / sizes[c["true"]])
        assert (c["true_name"], c["predicted_name"]) == (str(c["true"]), str(c["predicted"]))

    # the misclassified list is exactly the wrong ones, in dataset order, with their probabilities and ranks
    assert [(m["id"], m["true"], m["predicted"]) for m in data["misclassified"]] == [
        (id_, t, predicted[id_]) for id_, t in wrong
    ]
    scores = {id_: s for id_, _, s in expected}
    for m in data["misclassified"]:
        p = scores[m["id"]].softmax(0)
        assert m["probability"] == pytest.approx(float(p[m["predicted"]]), abs=1e-5)
        assert m["true_probability"] == pytest.approx(float(p[m["true"]]), abs=1e-5)
        assert m["true_rank"] == 1 + int((scores[m["id"]] > scores[m["id"]][m["true"]]).sum())

    # predictions.csv: every evaluated image
    assert {a.name: a.media_type for a in result.artifacts} == {"predictions.csv": "text/csv"}
    with open(tmp_path / "predictions.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert [row["id"] for row in table] == [id_ for id_, _, _ in expected]
    assert [(int(row["predicted"]), row["correct"] == "True") for row in table] == [
        (predicted[id_], predicted[id_] == t) for id_, t, _ in expected
    ]


def test_classes_match_labels_by_normalized_name_or_index():
    labels = ["Great White Shark", "tabby cat", "hot-dog", "Cardigan", "cardigan"]
    classes = ["great_white-shark", "  TABBY   cat ", "hot dog", "4", "07", "Cardigan", "CARDIGAN", "zebra", "hot-dogs"]
    assert match_classes(classes, labels, 5) == [0, 1, 2, 4, None, 3, None, None, None]
    assert normalize_name(" Great__White - Shark ") == "great white shark"
    # without labels, integer names within the model's outputs
    assert match_classes(["0", "9", "10", "cat"], None, 10) == [0, 9, None, None]
    # an explicit mapping overrides the matching (by label name or index); several classes may share a label
    mapping = {"zebra": "TABBY_CAT", "4": "0", "CARDIGAN": "4", "hot-dogs": "hot dog"}
    assert match_classes(classes, labels, 5, mapping) == [0, 1, 2, 0, None, 3, 4, 1, 2]


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"lion": "0"}, "mapping: `lion` is not a class"),
        ({"zebra": "giraffe"}, "mapping: `zebra` -> `giraffe`"),
        ({"zebra": "5"}, "`5` is no label and out of the index range 0..4"),
        ({"zebra": "cardigan "}, "names 2 labels"),
        ({"zebra": "0", "Zebra": "1"}, "name the same class"),
    ],
)
def test_bad_mappings_are_refused_naming_mapping(mapping, message):
    labels = ["Great White Shark", "tabby cat", "hot-dog", "Cardigan", "cardigan"]
    with pytest.raises(ConvscopeError, match="^mapping: ") as info:
        match_classes(["zebra", "tabby cat"], labels, 5, mapping)
    assert message in str(info.value) and "\n" not in str(info.value)


class MeanColor(nn.Module):
    """Scores from the mean of each channel: class c scores w_c . mean(x) (4 classes, RGB)."""

    def __init__(self):
        super().__init__()
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(3, 4)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[4.0, 0, 0], [0, 4, 0], [0, 0, 4], [1, 1, 1]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture()
def colors(tmp_path):
    """Folders of plain-coloured 8x8 images: red, green, blue and grey, named in other spellings than the labels."""
    spec = {"RED": (250, 0, 0), "green_thing": (0, 250, 0), "2": (0, 0, 250), "Grey": (128, 128, 128)}
    for folder, rgb in spec.items():
        (tmp_path / folder).mkdir()
        for n in range(2):
            Image.fromarray(np.full((8, 8, 3), rgb, dtype=np.uint8)).save(tmp_path / folder / f"{n}.png")
    return tmp_path


def wrapped(labels=("red", "Green Thing", "blue", "white")):
    return convscope.wrap(MeanColor(), size=8, mean=(0, 0, 0), std=(1, 1, 1), labels=list(labels) if labels else None)


def test_names_integers_and_mapping_on_a_wrapped_model(colors):
    subject = wrapped()
    dataset = open_dataset(colors, subject.input)
    assert dataset.classes == ["2", "Grey", "RED", "green_thing"]
    result = evaluate(subject, dataset, top_k=10)
    assert result.class_labels == [2, None, 0, 1] and result.k == 4  # top_k capped at the 4 classes
    assert result.images == 6 and result.unmatched_images == 2 and result.top1() == 1.0
    assert "Grey/0.png" not in result.ids  # an unmatched class is not evaluated
    mapped = evaluate(subject, dataset, mapping={"Grey": "white"})
    assert mapped.class_labels == [2, 3, 0, 1] and mapped.images == 8 and mapped.unmatched_images == 0
    # grey (0.502 per channel) scores 2.008 on red, green and blue (a tie: torch.topk's first) and 1.506 on white
    scores = subject(dataset.load(dataset.ids.index("Grey/0.png"))[None])[0]
    tie_first = int(torch.topk(scores, 4).indices[0])
    assert tie_first in (0, 1, 2) and mapped.top1() == 0.75 and mapped.topk() == 1.0
    assert mapped.misclassified() == [
        {
            "id": f"Grey/{n}.png",
            "true": 3,
            "true_name": "white",
            "predicted": tie_first,
            "predicted_name": ["red", "Green Thing", "blue"][tie_first],
            "probability": pytest.approx(float(scores.softmax(0)[tie_first])),
            "true_probability": pytest.approx(float(scores.softmax(0)[3])),
            "true_rank": 4,
        }
        for n in range(2)
    ]
    assert mapped.confusions(5) == [
        {
            "true": 3,
            "true_name": "white",
            "predicted": tie_first,
            "predicted_name": ["red", "Green Thing", "blue"][tie_first],
            "count": 2,
            "fraction": 1.0,
        }
    ]
    assert mapped.confusions(0) == []


def test_an_unlabelled_model_matches_integer_folders(colors):
    subject = wrapped(labels=None)
    dataset = open_dataset(colors, subject.input)
    result = evaluate(subject, dataset, mapping={"RED": "0"})
    assert result.class_labels == [2, None, 0, None] and result.label_names == ["0", "1", "2", "3"]
    assert result.images == 4 and result.top1() == 1.0


def test_datasets_that_cannot_be_evaluated_are_refused_naming_dataset(colors, tmp_path_factory):
    subject = wrapped(labels=("cat", "dog", "cow", "hen"))
    for name in ("0.png", "1.png"):  # no class names a label now: RED, Grey, green_thing
        (colors / "2" / name).unlink()
    (colors / "2").rmdir()
    with pytest.raises(ConvscopeError, match="^dataset `.*`: none of its classes .* or give a mapping"):
        evaluate(subject, open_dataset(colors, subject.input))
    flat = tmp_path_factory.mktemp("flat")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(flat / "a.png")
    for dataset in (open_dataset(flat, subject.input), open_dataset("photos", subject.input)):
        with pytest.raises(ConvscopeError, match="^dataset `.*` has no classes: evaluation needs .* ImageFolder"):
            evaluate(subject, dataset)


def test_the_cli_prints_the_summary_and_the_same_data(digits_subject, digit_folder, tmp_path, capsys):
    argv = ["evaluate", "--model", "digits", "--dataset", str(digit_folder), "--top-k", "2", "--no-cache"]
    assert main([*argv, "--json", "--out", str(tmp_path / "a")]) == 0
    printed = json.loads(capsys.readouterr().out)
    spec = EvaluateSpec(model=DIGITS, dataset=str(digit_folder), top_k=2)
    assert printed == convscope.run(spec, out=tmp_path / "b").data
    assert (tmp_path / "a" / "predictions.csv").is_file()
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    wrong = len(printed["misclassified"])
    correct = printed["images"] - wrong
    assert text.startswith(
        f"top-1 {printed['top1']:.1%} ({correct}/{printed['images']}) · top-2 {printed['topk']:.1%}\n"
    )
    first = printed["misclassified"][0]
    assert f"{wrong} misclassified images" in text
    assert f"  {first['id']}  {first['true_name']} → {first['predicted_name']} ({first['probability']:.2f})" in text
    assert "1 class matches no label of the model (3 images not evaluated): other" in text


def test_the_cli_takes_a_mapping_and_refuses_a_bad_one_in_one_line(digits_subject, digit_folder, tmp_path, capsys):
    argv = ["evaluate", "--model", "digits", "--dataset", str(digit_folder), "--no-cache", "--json"]
    assert main([*argv, "--out", str(tmp_path / "a"), "--mapping", "other=0, 7=1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unmatched"] == [] and data["images"] == 20 and data["unmatched_images"] == 0
    assert [(row["name"], row["label"]) for row in data["classes"]] == [("1", 1), ("3", 3), ("7", 1), ("other", 0)]
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"other": 0}))
    assert main([*argv, "--out", str(tmp_path / "b"), "--mapping", str(mapping)]) == 0
    assert [row["label"] for row in json.loads(capsys.readouterr().out)["classes"]] == [1, 3, 7, 0]
    for bad, message in [
        ("lion=3", "mapping: `lion` is not a class of the dataset"),
        ("other=12", "mapping: `other` -> `12`: `12` is no label and out of the index range 0..9"),
        ("other", "mapping: `other` is not CLASS=LABEL"),
        (str(tmp_path / "missing.json"), "mapping: cannot read"),
    ]:
        assert main([*argv, "--out", str(tmp_path / "c"), "--mapping", bad]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert captured.err.startswith("convscope evaluate: error: " + message)


def test_imagenet_wordnet_folder_names_match_a_1000_class_model():
    """ImageNet's own folders are named by WordNet id: `n02124075` is class 285 (Egyptian cat) of a 1,000-class
    model, `n01440764` class 0; an unknown id is unmatched; a model of another size reads them as names only."""
    from convscope.core.zoo import imagenet_labels

    labels = imagenet_labels()
    assert match_classes(["n02124075", "n01440764", "n99999999"], labels, 1000) == [285, 0, None]
    assert match_classes(["n02124075"], None, 10) == [None]
