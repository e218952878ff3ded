"""The `convscope` command: JSON contracts, files written, and one clear line for every kind of bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import convscope
from convscope.cli.main import main
from convscope.core import digits
from convscope.core.images import tensor_to_pil


@pytest.fixture()
def digit_png(tmp_path):
    data = digits.load_data()
    path = tmp_path / "digit.png"
    tensor_to_pil(data.images[data.test[0]]).save(path)
    return path, int(data.labels[data.test[0]])


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_layers_json_contract(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "layers", "--model", "digits", "--json", "--out", tmp_path)
    assert code == 0
    result = json.loads(out)
    first = result["layers"][0]
    assert first["name"] == "features" and first["children"][0] == "features.0"
    conv = next(layer for layer in result["layers"] if layer["name"] == "features.0")
    assert conv["type"] == "Conv2d" and conv["output_shape"] == [16, 32, 32] and conv["kernel_size"] == [3, 3]
    assert conv["stride"] == [1, 1] and conv["params"] == 16 * 9 + 16 and conv["parent"] == "features"
    assert ["input", "features.0"] in result["edges"] and ["classifier.3", "logits"] in result["edges"]
    assert (tmp_path / "layers.json").exists()


def test_predict_json_contract(capsys, digit_png, tmp_path):
    path, label = digit_png
    code, out, _ = run_cli(capsys, "predict", path, "--model", "digits", "--top", "3", "--json", "--out", tmp_path)
    assert code == 0
    predictions = json.loads(out)["predictions"]
    assert len(predictions) == 3 and predictions[0]["index"] == label
    assert set(predictions[0]) == {"index", "label", "probability"}


def test_activations_json_contract(capsys, digit_png, tmp_path):
    path, _ = digit_png
    code, out, _ = run_cli(
        capsys,
        "activations",
        path,
        "--model",
        "digits",
        "--layer",
        "features.3",
        "--top",
        "5",
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0
    result = json.loads(out)
    assert result["layer"] == "features.3" and len(result["channels"]) == 5
    means = [c["mean"] for c in result["channels"]]
    assert means == sorted(means, reverse=True)
    assert all(Path(c["image"]).exists() for c in result["channels"]) and Path(result["grid"]).exists()


def test_activations_of_several_layers_in_one_run(capsys, digit_png, tmp_path):
    """`--layer a,b,logits`: one entry per layer in the order given, each ranked and equal to its one-layer run."""
    path, _ = digit_png
    code, out, _ = run_cli(
        capsys, "activations", path, "--model", "digits", "--layer", "features.0,features.6, logits", "--top", "3",
        "--json", "--out", tmp_path / "all",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert [e["layer"] for e in result["layers"]] == ["features.0", "features.6", "logits"]
    assert [e["output_shape"] for e in result["layers"]] == [[16, 32, 32], [64, 8, 8], [10]]
    assert result["layer"] == "features.0" and result["channels"] == result["layers"][0]["channels"]
    for entry in result["layers"]:
        code, out, _ = run_cli(
            capsys, "activations", path, "--model", "digits", "--layer", entry["layer"], "--top", "3", "--json",
            "--out", tmp_path / entry["layer"],
        )  # fmt: skip
        alone = json.loads(out)
        assert [c["index"] for c in entry["channels"]] == [c["index"] for c in alone["channels"]]
        assert [c["mean"] for c in entry["channels"]] == pytest.approx([c["mean"] for c in alone["channels"]], rel=1e-5)
        assert Path(entry["grid"]).exists() and all(Path(c["image"]).exists() for c in entry["channels"])
    assert len({e["grid"] for e in result["layers"]}) == 3  # each layer's own files
    code, _, err = run_cli(
        capsys, "activations", path, "--model", "digits", "--layer", "features.0,features.99", "--out", tmp_path
    )
    assert code == 2 and "features.99" in err


def test_dead_json(capsys, digit_png, tmp_path):
    path, _ = digit_png
    code, out, _ = run_cli(
        capsys, "dead", path, path, "--model", "digits", "--layer", "features.1", "--json", "--out", tmp_path
    )
    result = json.loads(out)
    assert code == 0 and result["images"] == 2 and result["channels"] == 16
    assert all(0 <= c < 16 for c in result["dead"])


def test_models_lists_builtins_and_families(capsys):
    code, out, _ = run_cli(capsys, "models", "--json")
    result = json.loads(out)
    assert code == 0 and [b["spec"] for b in result["builtin"]] == ["default", "digits", "lite1", "lite2"]
    assert {f["spec"] for f in result["families"]} == {"timm:<name>", "torchvision:<name>", "file:<path>"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["layers", "--model", "timm:resnet5O"], "unknown timm model `resnet5O`"),
        (["layers", "--model", "nonsense"], "unknown model spec `nonsense`"),
        (["activations", "{digit}", "--model", "digits", "--layer", "features.99"], "unknown layer `features.99`"),
        (
            ["activations", "{digit}", "--model", "digits", "--layer", "features.3", "--channels", "3,40"],
            "channel 40 out of range 0..31",
        ),
        (["predict", "{text}", "--model", "digits"], "file is not an image"),
        (["predict", "{truncated}", "--model", "digits"], "truncated or corrupt"),
        (["predict", "{missing}", "--model", "digits"], "no such file"),
        (
            ["predict", "{digit}", "--model", "digits", "--weights", "{missing}"],
            "must be default, none, none:SEED or an existing",
        ),
        (["predict", "{digit}", "--model", "digits", "--device", "gpu0"], "unknown device 'gpu0'"),
    ],
)
def test_bad_input_gives_one_clear_line(capsys, tmp_path, digit_png, argv, message):
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(digit_png[0].read_bytes()[:60])
    places = {"digit": digit_png[0], "text": text, "truncated": truncated, "missing": tmp_path / "missing.png"}
    argv = [a.format(**places) for a in argv] + ["--out", str(tmp_path / "out")]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_image_over_the_pixel_limit(capsys, tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (300, 300)).save(path)
    monkeypatch.setenv("CONVSCOPE_MAX_PIXELS", "50000")
    code, _, err = run_cli(capsys, "predict", path, "--model", "digits", "--out", tmp_path)
    assert code == 2 and "300x300 = 90,000 pixels, over the limit of 50,000 pixels" in err


def test_missing_pretrained_weights_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, _, err = run_cli(capsys, "layers", "--model", "torchvision:alexnet", "--out", tmp_path)
    assert code == 2 and "never downloads: place alexnet-owt-7be5be79.pth" in err and str(tmp_path) in err


@pytest.mark.slow
def test_demo_end_to_end_through_the_installed_command(tmp_path):
    """The README's main job: the installed `convscope demo` on the default model."""
    exe = Path(sys.executable).with_name("convscope")
    out = tmp_path / "demo"
    done = subprocess.run([str(exe), "demo", "--out", str(out), "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["predictions"][0]["index"] == 285 and result["layer"] == "blocks.4"
    assert len(result["channels"]) == 16
    for name in ("index.html", "layers.json", "layers.txt", "chelsea.png", "activations/grid.png"):
        assert (out / name).exists(), name


def test_visualize_json_contract(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "visualize",
        "--model",
        "digits",
        "--layer",
        "features.3",
        "--channels",
        "0,5",
        "--steps",
        "30",
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["steps"] == 30 and result["seconds_per_step"] > 0
    assert [image["units"] for image in result["images"]] == [["features.3:0"], ["features.3:5"]]
    subject = convscope.load("digits")
    gray = subject.activations(torch.full((1, 1, 32, 32), 0.5), "features.3").mean(dim=(2, 3))[0]
    for image, channel in zip(result["images"], (0, 5)):
        assert Image.open(image["path"]).size == (32, 32)
        # a clear rise over the gray start (the size of the rise depends on the digits weights, retrained per run)
        assert image["activation"] > float(gray[channel]) + 0.15


def test_visualize_mix_and_class(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys,
        "visualize",
        "--model",
        "digits",
        "--class",
        "2,8",
        "--mix",
        "--alphas",
        "1,6",
        "--steps",
        "20",
        "--json",
        "--out",
        tmp_path,
    )
    result = json.loads(out)
    assert code == 0 and len(result["images"]) == 1
    assert result["images"][0]["units"] == ["logits:2", "logits:8"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--layer", "features.3", "--channels", "0,64"], "channel 64 out of range 0..31"),
        (["--class", "10"], "classes[0]=10 out of range 0..9"),
        (["--layer", "features.3", "--mix"], "mix (--mix) needs channels or classes"),
        (["--layer", "features.3", "--channels", "1,2", "--mix", "--alphas", "1"], "alphas: 1 weights for 2 units"),
        (["--layer", "feature.3"], "unknown layer `feature.3`"),
        (["--channels", "1"], "visualize needs a layer (--layer)"),
        (["--layer", "features.3", "--lr", "-1"], "lr: Input should be greater than 0 (got -1.0)"),
        (["--layer", "features.3", "--size", "4"], "size: Input should be greater than or equal to 8 (got 4)"),
    ],
)
def test_visualize_bad_input(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, "visualize", "--model", "digits", "--steps", "2", *argv, "--out", tmp_path)
    assert code == 2 and message in err and "Traceback" not in err


def test_dream_json_contract(capsys, tmp_path, digit_png):
    path, _ = digit_png
    code, out, err = run_cli(
        capsys,
        "dream",
        path,
        "--model",
        "digits",
        "--layer",
        "features.3",
        "--octaves",
        "2",
        "--steps",
        "5",
        "--jitter",
        "2",
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["objective_after"] > result["objective_before"]
    assert Image.open(result["path"]).size == (32, 32)
    code, _, err = run_cli(
        capsys, "dream", path, "--model", "digits", "--layer", "features.3", "--channels", "99", "--out", tmp_path
    )
    assert code == 2 and "channel 99 out of range 0..31" in err
    code, _, err = run_cli(
        capsys, "dream", path, "--model", "digits", "--layer", "features.3", "--octave-scale", "1", "--out", tmp_path
    )
    assert code == 2 and "octave_scale: Input should be greater than 1" in err


def test_device_option_is_checked_before_any_work(capsys, tmp_path, digit_png):
    """`--device cuda` on a machine without CUDA names the problem; `auto` falls back to the CPU."""
    import torch

    from convscope.core.devices import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():  # the CI machines have no GPU; on a GPU machine `cuda` is valid
        code, out, err = run_cli(
            capsys, "predict", str(digit_png[0]), "--model", "digits", "--device", "cuda", "--out", str(tmp_path)
        )
        assert code == 2 and "no CUDA GPU is available" in err and "Traceback" not in err
    code, out, err = run_cli(
        capsys, "predict", str(digit_png[0]), "--model", "digits", "--device", "auto", "--json", "--out", str(tmp_path)
    )
    assert code == 0 and json.loads(out)["predictions"]
