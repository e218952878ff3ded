"""Recipes: one typed Spec and one `run(spec, ctx) -> Result` per technique, under every surface.

    import convscope
    from convscope.recipes import PredictSpec
    result = convscope.run(PredictSpec(image="cat.jpg", top=3), out="convscope-out/predict")
    result.data["predictions"], result.artifacts

Families, one module each: `inspect` (models, layers, predict, activations, dead, demo), `visualize`
(visualize, dream), `attribute`, `dataset` (examples, selectivity, facets), `inverse_set`, `atlas` (atlas,
atlas-scan). `registry()` lists them with names, versions and JSON Schemas (`convscope recipes --json`).
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

FAMILIES = ("inspect", "visualize", "attribute", "dataset", "inverse_set", "atlas")


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


def run(spec: Spec, ctx: RunContext | None = None, *, out: str | Path | None = None, device: str = "cpu") -> Result:
    """Run a spec: its recipe's `run(spec, ctx)`. Without a context, one writing to `out` (default
    `convscope-out/<recipe>`) on `device`."""
    entry = get(spec.recipe)
    if not isinstance(spec, entry.spec):
        raise ConvscopeError(f"recipe {spec.recipe} takes a {entry.spec.__name__}, not a {type(spec).__name__}")
    ctx = ctx or RunContext(Path(out) if out is not None else Path("convscope-out") / spec.recipe, device=device)
    ctx.out.mkdir(parents=True, exist_ok=True)
    return entry.run(spec, ctx)


def __getattr__(name: str):  # the Spec classes, e.g. `from convscope.recipes import PredictSpec`
    if name.endswith("Spec"):
        for entry in registry().values():
            if entry.spec.__name__ == name:
                return entry.spec
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
    "get",
    "parse_spec",
    "registry",
    "run",
    "spec_key",
]
