"""Recipes: one typed Spec, one data model and one `run(spec, ctx) -> Result[Data]` per technique, under every
surface.

    import convscope
    from convscope.recipes import PredictSpec
    result = convscope.run(PredictSpec(image="cat.jpg", top=3), out="convscope-out/predict")
    result.data["predictions"], result.artifacts       # result: a Result[PredictData]

Families, one module each: `inspect` (models, layers, predict, activations, dead, demo), `visualize`
(visualize, dream), `attribute`, `faithfulness` (metrics of a heatmap), `concepts` (CRP), `dataset` (examples,
selectivity, facets), `inverse_set`, `ranges` (unit-ranges: units' observed activation ranges on a dataset),
`atlas` (atlas, atlas-scan), `evaluate` (accuracy on a labelled dataset). `registry()` lists them with names,
versions and the JSON Schemas of their specs and results (`convscope recipes --json`); `result_models()` /
`data_models()` give every recipe's result classes (the REST API's OpenAPI document is built from them).
`recipes.results` explains the typed results.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..core.errors import ConvscopeError
from .base import (
    REGISTRY,
    Artifact,
    ModelRef,
    Recipe,
    Result,
    RunContext,
    Spec,
    SubjectPool,
    canonical_json,
    parse_spec,
    spec_key,
)

FAMILIES = (
    "inspect",
    "visualize",
    "attribute",
    "faithfulness",
    "concepts",
    "dataset",
    "inverse_set",
    "ranges",
    "atlas",
    "evaluate",
)


_loaded = False


def registry() -> dict[str, Recipe]:
    """Every recipe by name (importing the family modules on first use; recipes registered elsewhere, by a
    plugin or a test, stay beside them)."""
    global _loaded
    if not _loaded:
        for family in FAMILIES:
            importlib.import_module(f"{__name__}.{family}")
        _loaded = True
    return REGISTRY


def get(name: str) -> Recipe:
    """The recipe `name`, or a ConvscopeError listing the names."""
    recipes = registry()
    if name not in recipes:
        raise ConvscopeError(f"unknown recipe `{name}`; recipes: {', '.join(sorted(recipes))}")
    return recipes[name]


def result_model(name: str) -> type[Result]:
    """The class of recipe `name`'s results, `Result[Data]` (e.g. `Result[PredictData]`); the plain `Result` for a
    recipe without a data model or not registered in this process (a plugin's result found in the store)."""
    entry = registry().get(name)
    return entry.result if entry is not None else Result


def result_models() -> dict[str, type[Result]]:
    """{recipe name: its `Result[Data]` class} for every recipe that declares a data model (all of convscope's;
    recipes registered without one, such as the tests', are left out), sorted by name."""
    return {name: entry.result for name, entry in sorted(registry().items()) if entry.data is not None}


def data_models() -> dict[str, type]:
    """{recipe name: the model of its data} (a TypedDict, e.g. `PredictData`) for every recipe that declares one,
    sorted by name. Put one into another pydantic model as `Verbatim[Data]` (`recipes.results`) to keep the JSON
    exactly as the recipe made it."""
    return {name: entry.data for name, entry in sorted(registry().items()) if entry.data is not None}


def run(spec: Spec, ctx: RunContext | None = None, *, out: str | Path | None = None, device: str = "cpu") -> Result:
    """Run a spec: its recipe's `run(spec, ctx)`. Without a context, one writing to `out` (default
    `convscope-out/<recipe>`) on `device`."""
    entry = get(spec.recipe)
    if not isinstance(spec, entry.spec):
        raise ConvscopeError(f"recipe {spec.recipe} takes a {entry.spec.__name__}, not a {type(spec).__name__}")
    ctx = ctx or RunContext(Path(out) if out is not None else Path("convscope-out") / spec.recipe, device=device)
    ctx.out.mkdir(parents=True, exist_ok=True)
    return entry.run(spec, ctx)


def __getattr__(name: str):  # the Spec and data classes, e.g. `from convscope.recipes import PredictSpec, PredictData`
    if name.endswith("Spec"):
        for entry in registry().values():
            if entry.spec.__name__ == name:
                return entry.spec
    if name.endswith("Data"):
        for entry in registry().values():
            if entry.data is not None and entry.data.__name__ == name:
                return entry.data
    raise AttributeError(name)


__all__ = [
    "Artifact",
    "ModelRef",
    "Recipe",
    "Result",
    "RunContext",
    "Spec",
    "SubjectPool",
    "canonical_json",
    "data_models",
    "get",
    "parse_spec",
    "registry",
    "result_model",
    "result_models",
    "run",
    "spec_key",
]
