"""Issue 21, item 4: typed results. Every recipe declares the model of its `data` (`recipes.results`); a real run of
every recipe on `digits`, in each of its modes, matches its model exactly (a key the model does not declare, a
key it requires and the run left out, or a value of another JSON type fails: the models forbid undeclared keys and
are strict), and the JSON Schema the API publishes agrees; the JSON is kept as the recipe made it; the store loads
a stored result back as its recipe's `Result[Data]`; the data models make the API's discriminated union."""

import json
import typing
from typing import Annotated, Any, Literal, Union

import jsonschema
import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

import convscope
from convscope import recipes
from convscope.core import digits
from convscope.core.images import tensor_to_pil
from convscope.execution.store import ResultStore
from convscope.recipes import RunContext, parse_spec
from convscope.recipes.inspect import PredictData, PredictSpec
from convscope.recipes.results import Result, Verbatim
from convscope.techniques.attribution.report import METHODS
from test_recipes import DIGITS, cases  # (the digit_png fixture: tests/conftest.py)


def ours() -> dict[str, recipes.Recipe]:
    return {name: entry for name, entry in recipes.registry().items() if not name.startswith("test-")}


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory):
    """A tiny labelled folder: 3 classes of 4 digits, and one file that is not an image (reported as skipped)."""
    data = digits.load_data()
    root = tmp_path_factory.mktemp("ds")
    for c in range(3):
        (root / f"c{c}").mkdir()
        for i in range(4):
            tensor_to_pil(data.images[data.test[c * 4 + i]]).save(root / f"c{c}" / f"{i}.png")
    (root / "c0" / "broken.png").write_bytes(b"not an image")
    return str(root)


def variants(png: str, folder: str) -> dict[str, tuple[str, dict]]:
    """case -> (recipe, spec fields): test_recipes' case of every recipe, and the other modes whose data differ."""
    found = {name: (name, fields) for name, (fields, _argv) in cases(png).items()}
    found.update(
        {
            "models all": ("models", {"all": True}),
            "activations of two layers": (
                "activations",
                {"model": DIGITS, "image": png, "layer": "features.0,features.3", "channels": [0, 1]},
            ),
            "visualize a mix of classes": (
                "visualize",
                {"model": DIGITS, "classes": [1, 2], "mix": True, "alphas": [1, 2], "steps": 2},
            ),
            "visualize a layer": ("visualize", {"model": DIGITS, "layer": "features.3", "steps": 2}),
            "visualize from data": (
                "visualize",
                {"model": DIGITS, "layer": "features.3", "channels": [0], "steps": 2, "init_from_data": folder}
                | {"binarize": 0.5},
            ),
            "visualize relevant": (
                "visualize",
                {"model": DIGITS, "layer": "features.3", "relevant": png, "top": 2, "mix": True, "steps": 2},
            ),
            "attribute with npy": ("attribute", {"model": DIGITS, "image": png, "method": "dtd", "save_npy": True}),
            "examples by relevance, patches": (
                "examples",
                {"model": DIGITS, "dataset": folder, "layer": "features.3", "channels": [0, 1], "top": 2}
                | {"by": "relevance", "patches": 2, "patch_size": 8},
            ),
            "selectivity of two layers": (
                "selectivity",
                {"model": DIGITS, "dataset": folder, "layer": "features.3,logits"},
            ),
            "facets of a class": (
                "facets",
                {"model": DIGITS, "dataset": folder, "target": "logits:1", "class_name": "c1", "k": 2, "m": 2}
                | {"pca": 3, "steps": 2},
            ),
            "inverse-set with baselines": (
                "inverse-set",
                {"model": DIGITS, "constraints": ["logits:3:2:4", "logits:5:-20:20"], "n": 4, "k": 2}
                | {"inner_steps": 20, "baselines": True, "animation": True, "bands": 2},
            ),
            "atlas without a dataset": (
                "atlas",
                {"model": DIGITS, "layers": "features.3", "channels": "0", "steps": 2},
            ),
            "atlas of a folder": (
                "atlas",
                {"model": DIGITS, "layers": "features.3", "channels": "0", "steps": 2, "dataset": folder, "top": 2},
            ),
            "evaluate a folder with a mapping": (  # c2 unmatched, a file skipped, wrong ones listed
                "evaluate",
                {"model": DIGITS, "dataset": folder, "mapping": {"c0": "0", "c1": "2"}, "top_k": 1},
            ),
            "atlas-scan of a folder": (
                "atlas-scan",
                {"model": DIGITS, "dataset": folder, "layers": ["logits"], "channels": [[3]], "start": 0, "stop": 9},
            ),
        }
    )
    for method in METHODS:  # each method's own `info` and layer entries
        found[f"attribute {method}"] = (
            "attribute",
            {"model": DIGITS, "image": png, "method": method, "steps": 4, "rank": 2, "patch": 8, "stride": 8},
        )
    return found


CASES = list(variants("x.png", "ds"))


def check_matches(name: str, data: dict) -> None:
    """`data` matches recipe `name`'s model exactly (pydantic: undeclared keys forbidden, strict JSON types) and the
    JSON Schema published for it (what the REST API's clients check)."""
    entry = recipes.get(name)
    TypeAdapter(entry.data).validate_python(data)
    jsonschema.validate(data, entry.result_schema())


# --- every recipe is typed ----------------------------------------------------------------------------------------
def test_every_recipe_declares_the_model_of_its_data():
    for name, entry in ours().items():
        assert entry.data is not None, f"recipe {name} has no data model"
        assert entry.result is Result[entry.data] and issubclass(entry.result, Result)
        assert recipes.result_model(name) is entry.result
        schema = entry.to_dict()["result_schema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert recipes.result_models() == {name: entry.result for name, entry in sorted(ours().items())}
    assert recipes.data_models() == {name: entry.data for name, entry in sorted(ours().items())}
    assert recipes.result_model("no-such-recipe") is Result
    assert recipes.PredictData is PredictData  # the data classes by name, as the specs


def test_run_signatures_say_what_they_return():
    for name, entry in ours().items():
        run = getattr(entry.run, "__wrapped__", entry.run)  # (the registry wraps it to explain model errors)
        assert typing.get_type_hints(run)["return"] is Result[entry.data], name
        assert run.__doc__ and all(part in run.__doc__ for part in ("Args:", "Returns:")), name


def test_every_data_model_forbids_undeclared_keys_and_describes_its_fields():
    """additionalProperties false on every object of every result schema (a key the model does not declare is
    an error) and a description on every model and every field (units, ranges, what a path holds)."""
    for name, data in recipes.data_models().items():
        schema = TypeAdapter(data).json_schema()
        for title, obj in [(data.__name__, schema), *schema.get("$defs", {}).items()]:
            assert obj.get("additionalProperties") is False, f"{name}: {title} takes undeclared keys"
            assert obj.get("description"), f"{name}: {title} says nothing about itself"
            for field, sub in obj["properties"].items():
                assert "description" in sub or "$ref" in sub, f"{name}: {title}.{field} has no description"


# --- real results match their models ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_a_real_result_matches_its_model_exactly(case, digit_png, folder_dataset, tmp_path):  # noqa: F811
    name, fields = variants(digit_png, folder_dataset)[case]
    result = convscope.run(parse_spec(name, fields), out=tmp_path / "run")
    assert type(result) is recipes.get(name).result  # the run's Result[Data] (ctx.result validated it already)
    check_matches(name, result.data)
    assert json.loads(result.model_dump_json())["data"] == result.data  # the JSON is the data, as it was made
    assert list(json.loads(result.model_dump_json())["data"]) == list(result.data)  # in its order


def test_a_result_whose_shape_drifts_is_refused(digit_png, tmp_path):  # noqa: F811
    ctx = RunContext(tmp_path)
    good = {"image": digit_png, "predictions": [{"index": 3, "label": "3", "probability": 0.5}]}
    assert ctx.result("predict", good).data == good
    drifted = [
        {**good, "surprise": 1},  # a key the model does not declare
        {"image": digit_png},  # a required key left out
        {**good, "predictions": [{"index": 3, "label": "3"}]},  # ... also in an item
        {**good, "predictions": [{"index": "3", "label": "3", "probability": 0.5}]},  # another JSON type
        {**good, "predictions": [{"index": 3, "label": "3", "probability": 0.5, "logit": 2.0}]},
    ]
    for data in drifted:
        with pytest.raises(ValidationError):
            ctx.result("predict", data)
        with pytest.raises((ValidationError, jsonschema.ValidationError)):
            check_matches("predict", data)


def test_the_json_is_kept_as_the_recipe_made_it():
    """Validated, not rewritten: key order and an integer in a float field survive (the wire stays the same)."""
    data = {"predictions": [{"probability": 1, "label": "1", "index": 1}], "image": "x.png"}
    result = Result[PredictData](recipe="predict", data=data)
    assert result.data == data and result.data["predictions"][0]["probability"] == 1
    text = result.model_dump_json()
    assert '"data":{"predictions":[{"probability":1,"label":"1","index":1}],"image":"x.png"}' in text
    assert Result[PredictData].model_validate_json(text).model_dump_json() == text
    assert Result(recipe="anything", data={"free": [1, "form"]}).data == {"free": [1, "form"]}  # untyped: any object


def test_non_finite_measurements_are_null_and_still_valid(tmp_path):
    """Strict JSON writes NaN as null: a measured number is `float | null`, so such a result is still valid."""
    with pytest.warns(Warning, match="probability"):
        result = RunContext(tmp_path).result(
            "predict", {"image": "x", "predictions": [{"index": 0, "label": "0", "probability": float("nan")}]}
        )
    assert result.data["predictions"][0]["probability"] is None


# --- the store ----------------------------------------------------------------------------------------------------
def test_a_stored_result_loads_back_typed(digit_png, tmp_path):  # noqa: F811
    store = ResultStore(tmp_path / "store")
    spec = PredictSpec(model=DIGITS, image=digit_png, top=3)
    first, hit = store.run(spec)
    again, hit_again = store.run(spec)
    assert (hit, hit_again) == (False, True)
    assert type(first) is Result[PredictData] and type(again) is Result[PredictData]
    assert again.data == first.data
    reopened = ResultStore(tmp_path / "store").get(recipes.spec_key(spec))  # another connection, same row
    assert type(reopened) is Result[PredictData] and reopened.model_dump_json() == again.model_dump_json()


def test_results_stored_before_typing_still_load(digit_png, tmp_path):  # noqa: F811
    """A row written by the untyped Result (the same JSON) loads typed; one its model refuses (stored by another
    version of the recipe) loads as a plain Result rather than not at all."""
    store = ResultStore(tmp_path / "store")
    spec = PredictSpec(model=DIGITS, image=digit_png, top=3)
    data = {"image": digit_png, "predictions": [{"index": 3, "label": "3", "probability": 0.5}]}
    store.put("before-typing", spec, Result(recipe="predict", data=data))
    loaded = store.get("before-typing")
    assert type(loaded) is Result[PredictData] and loaded.data == data
    older = {"image": digit_png, "classes": [3]}  # another version's shape
    store.put("other-version", spec, Result(recipe="predict", data=older))
    loaded = store.get("other-version")
    assert type(loaded) is Result and loaded.data == older


# --- the REST API's discriminated union (how the server declares the results) -------------------------------------
def test_the_data_models_make_the_apis_discriminated_union():
    """The server's recipe: one `<Name>ResultView` per recipe (`recipe` a Literal, `data` its `Verbatim[Data]`) in
    a union discriminated by `recipe`; its schema names every data model in both modes (FastAPI documents
    responses in serialization mode) and a result passes through it unchanged."""

    class ResultView(BaseModel):
        hash: str
        recipe: str
        data: dict[str, Any]

    def view(name: str, data: type) -> type[ResultView]:
        title = "".join(part.title() for part in name.split("-"))
        return create_model(
            f"{title}ResultView", __base__=ResultView, recipe=(Literal[name], ...), data=(Verbatim[data], ...)
        )

    union = Annotated[
        Union[tuple(view(name, data) for name, data in recipes.data_models().items())],
        Field(discriminator="recipe"),
    ]
    adapter = TypeAdapter(union)
    for mode in ("validation", "serialization"):
        schema = adapter.json_schema(mode=mode)
        assert set(schema["discriminator"]["mapping"]) == set(ours())
        assert {data.__name__ for data in recipes.data_models().values()} <= set(schema["$defs"])
    answer = {"hash": "h", "recipe": "predict", "data": {"predictions": [], "image": "id"}}
    parsed = adapter.validate_python(answer)
    assert type(parsed).__name__ == "PredictResultView"
    assert adapter.dump_json(parsed) == json.dumps(answer, separators=(",", ":")).encode()
    with pytest.raises(ValidationError):
        adapter.validate_python({**answer, "data": {"image": "id"}})
