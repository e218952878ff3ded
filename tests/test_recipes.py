"""Issue 13: one typed spec and one run() per technique. A registry walk: every recipe's spec round-trips through
JSON, has a schema, runs on `digits` through `convscope.run`, and its CLI command prints the same spec with
--print-spec; `convscope run` reproduces a result from a printed spec; results repeat from the store."""

import json
import threading

import pytest
from PIL import Image

import convscope
from convscope import recipes
from convscope.cli.main import main
from convscope.core import digits
from convscope.core.errors import Cancelled, ConvscopeError
from convscope.recipes import ModelRef, RunContext, canonical_json, parse_spec, spec_key

DIGITS = ModelRef(spec="digits")


def cases(png: str) -> dict[str, tuple[dict, list[str]]]:
    """recipe -> (spec fields for the digits model, the CLI argv that builds the same spec)."""
    model = ["--model", "digits"]
    return {
        "models": ({}, ["models"]),
        "layers": ({"model": DIGITS}, ["layers", *model]),
        "predict": ({"model": DIGITS, "image": png, "top": 3}, ["predict", png, *model, "--top", "3"]),
        "activations": (
            {"model": DIGITS, "image": png, "layer": "features.3", "top": 4},
            ["activations", png, *model, "--layer", "features.3", "--top", "4"],
        ),
        "dead": (
            {"model": DIGITS, "images": [png, png], "layer": "features.3"},
            ["dead", png, png, *model, "--layer", "features.3"],
        ),
        "demo": ({"model": DIGITS}, ["demo", *model]),
        "visualize": (
            {"model": DIGITS, "layer": "features.3", "channels": [0, 1], "steps": 2},
            ["visualize", *model, "--layer", "features.3", "--channels", "0,1", "--steps", "2"],
        ),
        "dream": (
            {"model": DIGITS, "image": png, "layer": "features.3", "octaves": 2, "steps": 2},
            ["dream", png, *model, "--layer", "features.3", "--octaves", "2", "--steps", "2"],
        ),
        "attribute": ({"model": DIGITS, "image": png, "method": "dtd"}, ["attribute", png, *model]),
        "concepts": (
            {"model": DIGITS, "image": png, "layer": "features.3", "top": 2, "lower_layer": "features.0"},
            ["concepts", png, *model, "--layer", "features.3", "--top", "2", "--lower-layer", "features.0"],
        ),
        "faithfulness": (
            {"model": DIGITS, "image": png, "method": "saliency", "runs": 10, "points": 2, "percentages": [20, 60]},
            ["faithfulness", png, *model, "--runs", "10", "--points", "2", "--percentages", "20,60"],
        ),
        "examples": (
            {"model": DIGITS, "dataset": "digits", "layer": "logits", "channels": [3], "top": 2, "batch_size": 512},
            [
                "examples",
                *model,
                "--dataset",
                "digits",
                "--layer",
                "logits",
                "--channels",
                "3",
                "--top",
                "2",
                "--batch-size",
                "512",
            ],
        ),
        "selectivity": (
            {"model": DIGITS, "dataset": "digits", "layer": "logits", "batch_size": 512},
            ["selectivity", *model, "--dataset", "digits", "--layer", "logits", "--batch-size", "512"],
        ),
        "facets": (
            {
                "model": DIGITS,
                "dataset": "digits",
                "target": "logits:3",
                "top_images": 30,
                "k": 2,
                "m": 3,
                "pca": 5,
                "steps": 3,
                "batch_size": 512,
            },
            [
                "facets",
                *model,
                "--dataset",
                "digits",
                "--target",
                "logits:3",
                "--top-images",
                "30",
                "--k",
                "2",
                "--m",
                "3",
                "--pca",
                "5",
                "--steps",
                "3",
                "--batch-size",
                "512",
            ],
        ),
        "inverse-set": (
            {"model": DIGITS, "constraints": ["logits:3:2:4"], "n": 4, "k": 2, "inner_steps": 30},
            ["inverse-set", *model, "--constraint", "logits:3:2:4", "--n", "4", "--k", "2", "--inner-steps", "30"],
        ),
        "atlas": (
            {"model": DIGITS, "layers": "features.3", "channels": "0-1", "dataset": "digits", "steps": 2, "top": 2},
            [
                "atlas",
                *model,
                "--layers",
                "features.3",
                "--channels",
                "0-1",
                "--dataset",
                "digits",
                "--steps",
                "2",
                "--top",
                "2",
            ],
        ),  # fmt: skip
        # a shard of the atlas's scan (no command of its own: the atlas recipe makes these)
        "atlas-scan": (
            {"model": DIGITS, "dataset": "digits", "layers": ["logits"], "channels": [[3]], "start": 0, "stop": 100},
            None,
        ),
        "evaluate": (
            {"model": DIGITS, "dataset": "digits", "top_k": 3, "batch_size": 512},
            ["evaluate", *model, "--dataset", "digits", "--top-k", "3", "--batch-size", "512"],
        ),
        # the inverse-set page's observed ranges (no command of its own: `convscope run` runs its spec)
        "unit-ranges": ({"model": DIGITS, "dataset": "digits", "units": ["logits:3"], "batch_size": 512}, None),
    }


def test_every_command_has_a_recipe_and_every_recipe_a_case(digit_png):
    from convscope.cli.main import COMMANDS, build_parser

    build_parser()
    ours = {name for name in recipes.registry() if not name.startswith("test-")}  # (other tests register some)
    assert ours == set(cases(digit_png))
    shard_only = {name for name, (_, argv) in cases(digit_png).items() if argv is None}
    # serve: the server, over every recipe; datasets: the uploaded datasets of a data dir (no technique)
    assert set(COMMANDS) - {"run", "recipes", "serve", "datasets"} == ours - shard_only


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "models",
        "layers",
        "predict",
        "activations",
        "dead",
        "demo",
        "visualize",
        "dream",
        "attribute",
        "faithfulness",
        "concepts",
        "examples",
        "selectivity",
        "facets",
        "inverse-set",
        "atlas",
        "atlas-scan",
        "evaluate",
        "unit-ranges",
    ],
)
def test_registry_walk(name, digit_png, tmp_path, capsys):
    fields, argv = cases(digit_png)[name]
    entry = recipes.get(name)
    spec = entry.spec(**fields)
    schema = entry.schema()
    assert schema["type"] == "object" and set(fields) <= set(schema["properties"])
    again = parse_spec(name, json.loads(canonical_json(spec))["spec"])  # JSON round trip
    assert again == spec and spec_key(again) == spec_key(spec)
    if argv is not None:
        assert main([*argv, "--print-spec"]) == 0  # the CLI builds the same spec
        printed = json.loads(capsys.readouterr().out)
        assert printed == json.loads(canonical_json(spec))
    result = convscope.run(spec, out=tmp_path / "run")
    assert result.recipe == name and json.loads(json.dumps(result.data, allow_nan=False)) == result.data
    for artifact in result.artifacts:
        assert (tmp_path / "run" / artifact.name).is_file()
    numbers_only = ("models", "layers", "dead", "predict", "examples", "selectivity", "atlas-scan", "evaluate")
    if name not in (*numbers_only, "unit-ranges"):
        assert any(a.media_type == "image/png" for a in result.artifacts)
        assert "<img" in result._repr_html_() and result._repr_png_()[:4] == b"\x89PNG"


def test_run_reproduces_a_printed_spec_and_repeats_from_the_store(digit_png, tmp_path, capsys):
    argv = ["attribute", digit_png, "--model", "digits", "--method", "saliency", "--json"]
    assert main([*argv, "--print-spec"]) == 0
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(capsys.readouterr().out)
    store = ["--data-dir", tmp_path / "store"]
    assert main([*argv, "--out", str(tmp_path / "a"), *map(str, store)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["run", str(spec_file), "--json", "--out", str(tmp_path / "b"), *map(str, store)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["heatmap"].startswith(str(tmp_path / "a")) and second["heatmap"].startswith(str(tmp_path / "b"))
    assert Image.open(first["heatmap"]).tobytes() == Image.open(second["heatmap"]).tobytes()
    assert first["input"].startswith(str(tmp_path / "a")) and second["input"].startswith(str(tmp_path / "b"))
    assert {k: v for k, v in first.items() if k not in ("heatmap", "input", "json", "layers")} == {
        k: v for k, v in second.items() if k not in ("heatmap", "input", "json", "layers")
    }
    from convscope.execution.store import ResultStore

    assert len(ResultStore(tmp_path / "store")) == 1  # the second run came from the store
    details = json.loads((tmp_path / "b" / "digit_saliency.json").read_text())
    assert details["heatmap"] == "digit_saliency_input.png"  # paths in written JSON are relative to the folder


@pytest.mark.parametrize(
    "document, message",
    [
        ({"recipe": "nope", "spec": {}}, "unknown recipe `nope`"),
        (
            {"recipe": "predict", "spec": {"image": "x.png", "top": 0}},
            "top: Input should be greater than or equal to 1",
        ),
        ({"recipe": "predict", "spec": {"image": "x.png", "colour": 1}}, "colour: Extra inputs are not permitted"),
        (
            {"recipe": "inverse-set", "spec": {"constraints": ["logits:3"]}},
            "constraints[0] `logits:3` is not LAYER:UNIT",
        ),
        ({"spec": {}}, "a spec file is"),
    ],
)
def test_bad_spec_files_are_one_line(document, message, tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(document))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


LONG = {  # recipe: (spec fields on digits, the stage whose second report is cancelled, its done at that report)
    "visualize": ({"layer": "features.3", "channels": [0], "steps": 50}, "steps", 2),
    "visualize from data": (
        {"layer": "features.3", "channels": [0], "steps": 50, "init_from_data": "digits"},
        "steps",
        2,
    ),
    "dream": ({"layer": "features.3", "octaves": 2, "steps": 20}, "steps", 2),
    "examples": ({"dataset": "digits", "layer": "logits", "channels": [3], "batch_size": 64}, "images", 128),
    "selectivity": ({"dataset": "digits", "layer": "logits", "batch_size": 64}, "images", 128),
    "dead": ({"layer": "features.3"}, "images", 2),
    "facets": (
        {"dataset": "digits", "target": "logits:3", "top_images": 30, "k": 2, "m": 3, "pca": 5, "steps": 40},
        "steps",
        2,
    ),
    "inverse-set": ({"constraints": ["logits:3:10:12"], "n": 4, "k": 2, "inner_steps": 30}, "seed steps", 2),
    "attribute integrated gradients": ({"method": "integrated-gradients", "steps": 64}, "steps", 32),
    "attribute occlusion": ({"method": "occlusion", "patch": 4, "stride": 1}, "patches", 64),
    "atlas": ({"layers": "features.3", "channels": "0-3", "steps": 4, "units_per_shard": 1}, "shards", 2),
    "atlas-scan": (
        {"dataset": "digits", "layers": ["logits"], "channels": [[3]], "start": 0, "stop": 1000, "batch_size": 64},
        "images",
        128,
    ),
    "evaluate": ({"dataset": "digits", "batch_size": 64}, "images", 128),
    "unit-ranges": ({"dataset": "digits", "units": ["logits:3"], "batch_size": 64}, "images", 128),
}


@pytest.mark.parametrize("case", list(LONG))
def test_cancel_stops_every_long_recipe_within_one_step(case, tmp_path, digit_png, digits_subject):
    """Every loop of a long recipe reports progress, and a cancel set during one report stops the run there:
    no further step, batch or octave runs (ctx.progress raises Cancelled right after reporting)."""
    fields, stage, at = LONG[case]
    name = case.split()[0]
    fields = {"model": DIGITS, **fields}
    if name in ("dream", "attribute"):
        fields["image"] = digit_png
    if name == "dead":
        fields["images"] = [digit_png] * 5
    seen = []
    cancel = threading.Event()

    def progress(s, done, total):
        seen.append((s, done))
        if s == stage and done >= at:
            cancel.set()

    ctx = RunContext(tmp_path, cancel=cancel, on_progress=progress)
    with pytest.raises(Cancelled):
        recipes.run(parse_spec(name, fields), ctx)
    assert seen[-1] == (stage, at), seen[-5:]
    assert [d for s, d in seen if s == stage][-2:] == [at // 2, at]  # it reported the step (batch) before too


def test_previews_are_intermediate_images_in_range(tmp_path, digit_png):
    """render and dream hand a few intermediate pictures to the context (a live display shows them)."""
    got = []
    ctx = RunContext(tmp_path, on_preview=lambda name, image: got.append((name, image)))
    recipes.run(parse_spec("visualize", {"model": DIGITS, "layer": "features.3", "channels": [0, 1], "steps": 16}), ctx)
    names = [name for name, _ in got]
    assert names.count("features.3:0") == 8 and names.count("features.3:1") == 8  # every 2 of 16 steps
    size = (1, digits.SIZE, digits.SIZE)
    assert all(image.shape == size and 0 <= image.min() and image.max() <= 1 for _, image in got)
    got.clear()
    spec = {"model": DIGITS, "image": digit_png, "layer": "features.3", "octaves": 2, "steps": 4}
    recipes.run(parse_spec("dream", spec), RunContext(tmp_path / "d", on_preview=lambda n, i: got.append((n, i))))
    assert [name for name, _ in got] == ["dream"] * 8


def test_model_training_reports_progress_and_stops_on_cancel():
    """First-use training (the digits model) reports each epoch and stops when the callback raises."""
    seen = []
    digits.train(epochs=2, progress=lambda *event: seen.append(event))
    assert seen == [("training digits model", 1, 2), ("training digits model", 2, 2)]

    def stop(stage, done, total):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        digits.train(epochs=3, progress=stop)


def test_spec_key_follows_the_content_of_named_files(tmp_path, digit_png):
    from convscope.recipes.inspect import PredictSpec

    image = tmp_path / "a.png"
    Image.open(digit_png).save(image)
    spec = PredictSpec(model=DIGITS, image=str(image))
    key = spec_key(spec)
    assert spec_key(PredictSpec(model=DIGITS, image=str(image), top=4)) != key
    Image.open(digit_png).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(image)
    assert spec_key(spec) != key
    missing = PredictSpec(model=DIGITS, image=str(tmp_path / "missing.png"))
    assert spec_key(missing) != key
    with pytest.raises(ConvscopeError, match="missing.png: no such file"):  # the recipe's own message
        convscope.run(missing, out=tmp_path / "o")


def test_transform_parameters_override_the_preset(tmp_path, capsys):
    """Seed 001 Table 3.1's padding, jitter, rotation and scale, each settable over the preset."""
    from convscope.recipes.visualize import _transforms
    from convscope.techniques.transforms import preset

    spec = parse_spec("visualize", {"model": DIGITS, "layer": "features.3", "channels": [0], "pad": 0, "rotate": 20})
    chosen = _transforms(spec)
    assert (chosen.pad, chosen.jitter, chosen.rotate, chosen.scale) == (0, preset("seed001").jitter, 20, 0.1)
    assert _transforms(parse_spec("visualize", {"layer": "features.3", "channels": [0]})) == "seed001"
    with pytest.raises(ConvscopeError, match="scale"):
        parse_spec("visualize", {"layer": "features.3", "channels": [0], "scale": 1.5})
    argv = [
        "visualize",
        "--model",
        "digits",
        "--layer",
        "features.3",
        "--channels",
        "0",
        "--pad",
        "0",
        "--rotate",
        "20",
    ]
    assert main([*argv, "--print-spec"]) == 0
    printed = json.loads(capsys.readouterr().out)["spec"]
    assert (printed["pad"], printed["rotate"], printed["jitter"]) == (0, 20.0, None)
