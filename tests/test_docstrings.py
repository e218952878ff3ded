"""Docstrings of the core and techniques layers (issue 21, item 6), read from the source (nothing is imported):

- every module, and every public function, class and method (no leading underscore; dunders left out) of
  `src/convscope/core/` and `src/convscope/techniques/` has a docstring, and so has everything the package root
  hands out from those layers (`convscope.__all__`, eager imports and lazy `_LAZY` names alike);
- every technique module that implements a published method cites it: its module docstring and the docstring of
  each function that implements the method carry a citation, i.e. a year (`2017`). One source of the project
  ("Visualisation of maximising images for deep neural networks") gives no date; its title stands for the year.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convscope"
LAYERS = ("core", "techniques")

#: a citation: a year from 1900 to 2099, or the title of the one undated source
CITATION = re.compile(r"\b(?:19|20)\d\d\b|Visualisation of maximising images")

#: technique module (below src/convscope) -> the public definitions that implement its paper(s)
PAPERS = {
    "techniques/activations.py": ["activation_maps", "layers_maps"],
    "techniques/datainit.py": ["ascend", "data_init"],
    "techniques/dream.py": ["dream"],
    "techniques/examples.py": ["top_examples"],
    "techniques/evaluation.py": ["evaluate"],
    "techniques/facets.py": ["cluster_codes", "maximize_from", "facets"],
    "techniques/generators.py": ["FourierGenerator", "Fc6Generator", "train_decoder"],
    "techniques/inverse_set.py": [
        "diversity",
        "find_seeds",
        "sample_from_seeds",
        "inverse_set",
        "activation_maximization",
        "run_baselines",
    ],
    "techniques/objectives.py": ["channel", "neuron", "layer_mean", "deepdream", "direction", "diversity", "mix"],
    "techniques/param.py": ["color_matrix", "ImageParam"],
    "techniques/ranges.py": ["unit_ranges"],
    "techniques/render.py": ["render"],
    "techniques/selectivity.py": ["selectivity"],
    "techniques/transforms.py": ["Transforms", "random_crops"],
    "techniques/spectrum.py": ["magnitude_spectrum", "builtin_spectrum"],
    "techniques/regularizers.py": [
        "l1",
        "l2",
        "alpha_norm",
        "total_variation",
        "blur",
        "clip",
        "clip_contribution",
        "parse_regularizer",
    ],
    "techniques/accentuation.py": ["closeness", "accentuate"],
    "techniques/trust.py": [
        "image_statistics",
        "reference_statistics",
        "path_layers",
        "path_check",
        "judge",
        "facet_criteria",
    ],
    "techniques/attribution/cam.py": ["grad_cam", "grad_cam_plus_plus", "score_cam"],
    "techniques/attribution/explainer.py": ["LRP", "lrp"],
    "techniques/attribution/crp.py": ["conditional_relevance", "concept_graph", "graph_edges"],
    "techniques/attribution/gradients.py": ["gradient_attribution", "integrated_gradients", "smoothgrad"],
    "techniques/attribution/composites.py": ["Composite", "with_epsilon"],
    "techniques/attribution/conservation.py": ["conservation_trace", "absorbed_per_layer"],
    "techniques/attribution/liveness.py": ["live_units"],
    "techniques/attribution/mode.py": ["RelevanceMode"],
    "techniques/attribution/rules.py": ["Rule", "input_bounds"],
    "techniques/attribution/occlusion.py": ["occlusion"],
    "techniques/attribution/ranking.py": ["rank_filters"],
    "techniques/attribution/relevant.py": ["relevant_filters", "relevant_objectives", "unit_relevance"],
    "techniques/attribution/faithfulness.py": [
        "region_perturbation",
        "road",
        "faithfulness_correlation",
        "completeness",
        "impute",
    ],
    "techniques/attribution/randomisation.py": ["cascading_randomisation", "ssim"],
}


def layer_modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (PACKAGE / layer).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def is_public(name: str) -> bool:
    return not name.startswith("_")


def definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """{qualified name: node} of the public functions and classes of a module and the public methods of its public
    classes (a property's setter / deleter shares its getter's docstring)."""
    found: dict[str, ast.AST] = {}

    def walk(body, prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not is_public(node.name):
                continue
            accessor = any(
                isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in node.decorator_list
            )
            if not accessor:
                found.setdefault(prefix + node.name, node)
            if isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return found


def module_path(module: str) -> Path:
    """The file of a module below convscope (`core.zoo` -> core/zoo.py, a package -> its __init__.py)."""
    base = PACKAGE.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def root_exports() -> dict[str, tuple[str, str | None]]:
    """What the package root hands out from core / techniques: {name: (module below convscope, attribute or None
    for the module itself)}, from its eager `from .x import y` lines and its lazy `_LAZY` table."""
    tree = parse(PACKAGE / "__init__.py")
    exports: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                exports[alias.asname or alias.name] = (node.module, alias.name)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            for name, value in ast.literal_eval(node.value).items():
                exports[name] = value
    return {name: target for name, target in exports.items() if target[0].split(".")[0] in LAYERS}


def test_every_module_has_a_docstring():
    missing = [relative(p) for p in layer_modules() if not ast.get_docstring(parse(p))]
    assert not missing, "modules without a docstring: " + ", ".join(missing)


def test_every_public_definition_has_a_docstring():
    missing = [
        f"{relative(path)}:{node.lineno} {name}"
        for path in layer_modules()
        for name, node in definitions(parse(path)).items()
        if not ast.get_docstring(node)
    ]
    assert not missing, "public functions / classes / methods without a docstring:\n" + "\n".join(missing)


def test_what_the_package_root_exports_has_a_docstring():
    exports = root_exports()
    assert {"load", "wrap", "Subject", "predict", "render", "attribute", "LRP", "occlusion"} <= set(exports)
    missing = []
    for name, (module, attribute) in sorted(exports.items()):
        tree = parse(module_path(module))
        if attribute is None:
            ok = bool(ast.get_docstring(tree))
        else:
            node = definitions(tree).get(attribute)
            if node is None:  # a constant (LOGITS) or a name the module itself imports: nothing to document here
                assigned = any(
                    isinstance(n, (ast.Assign, ast.AnnAssign, ast.ImportFrom)) and attribute in ast.dump(n)
                    for n in tree.body
                )
                assert assigned, f"convscope.{name}: {module} defines no `{attribute}`"
                continue
            ok = bool(ast.get_docstring(node))
        if not ok:
            missing.append(f"convscope.{name} ({module}.{attribute or ''})")
    assert not missing, "exported without a docstring: " + ", ".join(missing)


@pytest.mark.parametrize("module", sorted(PAPERS))
def test_technique_docstrings_cite_their_papers(module):
    tree = parse(PACKAGE / module)
    assert CITATION.search(ast.get_docstring(tree) or ""), f"{module}: the module docstring cites no paper (year)"
    found = definitions(tree)
    for name in PAPERS[module]:
        assert name in found, f"{module} has no public `{name}` any more: update PAPERS in this test"
        doc = ast.get_docstring(found[name]) or ""
        assert CITATION.search(doc), f"{module}: `{name}` implements a paper but its docstring cites none (a year)"


def test_every_technique_module_is_considered():
    """A new technique module must be listed in PAPERS or in NO_PAPER, so that the citation check cannot be
    forgotten."""
    NO_PAPER = {
        "techniques/__init__.py",
        "techniques/predict.py",  # top-k softmax
        "techniques/attribution/__init__.py",
        "techniques/attribution/canonizers.py",  # BatchNorm folding (cited in core/fold.py)
        "techniques/attribution/layers.py",  # layer selection and recording, shared by the methods
        "techniques/attribution/ops.py",  # the op tables of the rewriting modes
        "techniques/attribution/report.py",  # dispatch and pictures of the methods above
        "techniques/attribution/result.py",  # the Attribution result and its target classes
    }
    modules = {relative(p) for p in (PACKAGE / "techniques").rglob("*.py")}
    unlisted = sorted(modules - set(PAPERS) - NO_PAPER)
    assert not unlisted, "list these technique modules in PAPERS or NO_PAPER: " + ", ".join(unlisted)
