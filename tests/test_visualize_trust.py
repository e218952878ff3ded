"""The `visualize` recipe's trust numbers, MACO, regularizers and accentuation, end to end (recipe, CLI, HTTP):
each number equals a direct computation on the saved picture and the dataset."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from convscope import recipes
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.core.images import pil_to_tensor
from convscope.recipes import ModelRef, RunContext, parse_spec
from convscope.recipes.trust import judge_refs
from convscope.techniques import objectives as O
from convscope.techniques import trust as T

pytestmark = pytest.mark.usefixtures("one_thread")

DIGITS = ModelRef(spec="digits")


def visualize(tmp_path, **fields):
    spec = parse_spec("visualize", {"model": DIGITS, "steps": 8, **fields})
    return recipes.run(spec, RunContext(tmp_path)).data


def test_trust_numbers_equal_direct_computations(tmp_path, digits_subject):
    data = visualize(tmp_path, layer="features.3", channels=[2], param="maco", regularizers=["tv:0.05"])
    entry = data["images"][0]
    trust = entry["trust"]
    assert trust["dataset"] == "digits" and data["param"] == "maco" and data["regularizers"] == ["tv:0.05"]
    dataset = open_dataset("digits", digits_subject.input)
    objective = O.channel("features.3", 2)
    with torch.no_grad():
        scores = torch.cat(
            [objective(digits_subject.capture(images, ["features.3"])) for images, _ in dataset.batches(256)]
        )
    best = int(scores.argmax())
    assert trust["best_natural"] == dataset.ids[best]
    assert trust["best_natural_activation"] == pytest.approx(float(scores[best]), rel=1e-5)
    if float(scores[best]) > 0:
        assert trust["activation_multiple"] == pytest.approx(entry["activation"] / float(scores[best]), rel=1e-5)
    picture = pil_to_tensor(Image.open(entry["path"]))[None]
    direct = T.image_statistics(picture)[0]
    for key, value in trust["statistics"].items():  # the saved PNG is 8-bit: the statistics of the float picture
        assert value == pytest.approx(direct[key], abs=0.05), key
    # the path check: the picture against the unit's 8 best digits, as techniques.trust computes it
    naturals = torch.stack([dataset.load(i) for i in torch.argsort(scores, descending=True)[:8].tolist()])
    check = T.path_check(digits_subject, picture, naturals, T.path_layers(digits_subject, "features.3"))
    assert [row["layer"] for row in trust["path"]["layers"]] == check["layers"]
    assert trust["path"]["natural_min"] == pytest.approx(check["floor"]["overall"], abs=1e-9)
    assert trust["path"]["picture"] == pytest.approx(check["pictures"][0]["overall"], abs=0.05)  # 8-bit picture
    assert trust["path"]["on_path"] == (trust["path"]["picture"] >= trust["path"]["natural_min"])
    assert trust["verdict"].startswith(("Trust it", "Trust it with care", "Do not trust it"))
    assert "judges" not in trust  # a channel: no class for other models to recognize
    # the transparency map: a [0, 1] picture of the image's size, brightest where the gradient fell
    alpha = np.asarray(Image.open(entry["transparency"]))
    assert alpha.shape[:2] == picture.shape[-2:] and alpha.max() == 255


def test_trust_off_switch_and_the_judges_of_digits(tmp_path):
    data = visualize(tmp_path, classes=[3], trust=False)
    assert "trust" not in data["images"][0]
    assert judge_refs(DIGITS) == []  # no built-in model shares the digits' labels
    assert [r.spec for r in judge_refs(ModelRef(spec="default"))] == ["lite1", "lite2"]
    assert [r.spec for r in judge_refs(ModelRef(spec="lite1"), offered=["default", "digits"])] == ["default"]


def test_a_judge_with_other_labels_is_refused_by_field(tmp_path):
    with pytest.raises(Exception, match=r"judges\[0\]: `default` has another label space"):
        visualize(tmp_path, classes=[3], judges=[{"spec": "default"}])
    with pytest.raises(Exception, match=r"judges\[1\]: unknown model spec `nonexist`"):
        visualize(tmp_path, classes=[3], judges=[{"spec": "digits", "weights": "none"}, {"spec": "nonexist"}])
    # the model itself, or a judge twice, would wait for its own lease: refused by the spec
    with pytest.raises(Exception, match=r"judges\[0\]: `digits` is the model itself"):
        visualize(tmp_path, classes=[3], judges=[{"spec": "digits"}])
    with pytest.raises(Exception, match=r"judges\[1\]: `lite1` is named twice"):
        visualize(tmp_path, classes=[3], judges=[{"spec": "lite1"}, {"spec": "lite1"}])
    with pytest.raises(Exception, match="trust_dataset: dataset `/nonexistent`"):
        visualize(tmp_path, classes=[3], trust_dataset="/nonexistent")
    with pytest.raises(Exception, match="spectrum: dataset `/nonexistent`"):
        visualize(tmp_path, classes=[3], param="maco", spectrum="/nonexistent")


def test_class_pictures_are_judged_by_the_other_lite_models(tmp_path, default_subject):
    """A class picture of the default model (small and short: only the plumbing is checked here; the benchmark
    measures recognition): each judge's top-5 equals its own softmax on the picture."""
    from convscope.core import zoo

    spec = parse_spec(
        "visualize",
        {"classes": [285], "steps": 2, "size": 64, "judges": [{"spec": "lite1"}], "trust_dataset": "photos"},
    )
    data = recipes.run(spec, RunContext(tmp_path)).data
    judge = data["images"][0]["trust"]["judges"][0]
    lite1 = zoo.load("lite1")
    picture = pil_to_tensor(Image.open(data["images"][0]["path"]))[None]
    with torch.no_grad():  # the judge's own softmax on the saved (8-bit) picture at its input size
        size = lite1.input.size
        x = torch.nn.functional.interpolate(picture, size=size, mode="bilinear", align_corners=False, antialias=True)
        probabilities = lite1.forward(x)[0].softmax(0)
    assert judge["model"] == "lite1" and len(judge["top"]) == 5
    shown = [p["probability"] for p in judge["top"]]
    assert shown == sorted(shown, reverse=True)
    for p in judge["top"]:  # 8-bit rounding moves probabilities by well under 0.02
        assert p["probability"] == pytest.approx(float(probabilities[p["index"]]), abs=0.02)
    assert judge["top"][0]["index"] == int(probabilities.argmax())
    assert judge["recognized"] == (judge["top"][0]["index"] == 285)
    classes = [p["index"] for p in judge["top"]]
    assert judge["rank"] == (classes.index(285) + 1 if 285 in classes else None)


def test_accentuation_starts_from_the_image_and_raises_the_unit(tmp_path, digit_png, digits_subject):
    data = visualize(tmp_path, classes=[7], accentuate=str(digit_png), steps=16, keep_weight=0.5)
    entry = data["images"][0]
    start = pil_to_tensor(Image.open(entry["start"]))[None]
    with torch.no_grad():
        before = float(O.class_logit(7)(digits_subject.capture(start, ["logits"])))
    assert entry["activation"] > before
    assert data["keep_layer"] in T.path_layers(digits_subject, "logits")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--regularizer", "tv:x"], "regularizers[0]"),
        (["--regularizer", "wobble:1"], "regularizers[0]"),
        (["--keep-layer", "features.0"], "keep_layer"),
        (["--param", "fft", "--spectrum", "digits"], "spectrum"),
    ],
)
def test_bad_fields_are_one_line_and_exit_2(capsys, tmp_path, argv, field):
    code, out, err = run_cli(
        capsys, "visualize", "--model", "digits", "--layer", "features.3", "--channels", "0", "--out", tmp_path, *argv
    )
    assert code == 2 and field in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_cli_prints_the_verdict_and_the_json_carries_trust(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys, "visualize", "--model", "digits", "--class", "4", "--steps", "4", "--out", tmp_path / "a", "--json"
    )
    assert code == 0
    entry = json.loads(out)["images"][0]
    assert {"verdict", "trusted", "path", "statistics", "reference", "activation_multiple"} <= set(entry["trust"])
    code, out, _ = run_cli(capsys, "visualize", "--model", "digits", "--class", "4", "--steps", "4", "--out", tmp_path)
    assert code == 0 and entry["trust"]["verdict"] in out


def test_http_refuses_a_judge_the_server_does_not_offer(server):
    import httpx

    spec = {"model": {"spec": "digits"}, "classes": [1], "steps": 2, "judges": [{"spec": "lite2"}]}
    answer = httpx.post(f"{server}/api/runs", json={"recipe": "visualize", "spec": spec}, timeout=60)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][:4] == ["body", "spec", "judges", 0], answer.json()
    bad = {"model": {"spec": "digits"}, "classes": [1], "regularizers": ["tv:1", "blur:x"]}
    answer = httpx.post(f"{server}/api/runs", json={"recipe": "visualize", "spec": bad}, timeout=60)
    assert answer.status_code == 422 and "regularizers[1]" in json.dumps(answer.json())


def test_the_verdict_levels():
    """trusted only when every check passes; a class picture the judges see but off the path: care; neither:
    distrust; a dataset whose top images agree little makes the sentence say the path check is weak."""
    from convscope.recipes.trust import verdict

    def trust(on_path, multiple, recognized=None, natural_mean=0.9):
        t = {
            "path": {"on_path": on_path, "departs_at": None if on_path else "blocks.5", "natural_mean": natural_mean},
            "activation_multiple": multiple,
            "best_natural_activation": 1.0,
        }
        if recognized is not None:
            t["judges"] = [{"recognized": r} for r in recognized]
        return t

    assert verdict(trust(True, 3.0, [True, True]), 3.0)[1:] == (True, "trusted")
    assert verdict(trust(True, 0.5), 0.5)[1:] == (False, "care")
    assert verdict(trust(False, 3.0, [True, True]), 3.0)[1:] == (False, "care")
    assert verdict(trust(False, 3.0, [True, False]), 3.0)[1:] == (False, "distrust")
    text, _, level = verdict(trust(False, 3.0, natural_mean=0.25), 3.0)
    assert level == "distrust" and text.startswith("Do not trust it") and "path check is weak" in text
    assert "path check is weak" not in verdict(trust(False, 3.0), 3.0)[0]
