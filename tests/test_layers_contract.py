"""The import contract (issue 21, docs/architecture.md): the folders of `src/convscope/` are the layers,
core -> techniques -> artifacts -> recipes -> execution -> server -> cli, with the package root as the Python API's
facade on top. Each module imports only its own folder or the folders below it (imports inside functions and
type-only imports under `TYPE_CHECKING` count too), the module graph has no cycles at all, every module lives in a
layer folder, and loading `convscope.techniques.render` does not load the attribution package."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convscope"

#: the layer folders, lowest first
ORDER = ["core", "techniques", "artifacts", "recipes", "execution", "server", "cli"]
ROOT = "convscope"  # the facade: may import every layer; nothing imports it


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return ROOT
    if parts[1] not in ORDER:
        raise AssertionError(f"module {module} is in no layer folder ({', '.join(ORDER)})")
    return parts[1]


def rank(layer: str) -> int:
    return len(ORDER) if layer == ROOT else ORDER.index(layer)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "webapp" not in p.relative_to(PACKAGE).parts)


def imports(path: Path) -> set[str]:
    """The convscope modules a file imports (absolute, resolved from relative imports), anywhere in the file, type-only
    imports included."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("convscope")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("convscope"):
                named = {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
                found |= named or {target}
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    edges = {}
    for path in modules():
        name = module_name(path)
        edges[name] = {m for m in imports(path) if _is_module(m) or m == "convscope"} - {name}
    return edges


def test_every_module_lives_in_a_layer_folder():
    flat = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert not flat, f"modules outside the layer folders: {flat}"
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert folders == sorted(ORDER), folders
    for path in modules():
        layer_of(module_name(path))


def test_every_import_goes_down_the_layers():
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if target == "convscope" and module != "convscope":
                upward.append(f"{module} -> convscope (the package root is the facade; import the module)")
            elif rank(layer_of(target)) > rank(layer_of(module)):
                upward.append(f"{module} ({layer_of(module)}) -> {target} ({layer_of(target)})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(sorted(upward))


def find_cycles(edges: dict[str, set[str]]) -> list[str]:
    # a package's __init__ importing its own submodules is how a package exports them, not a cycle of logic
    edges = {
        m: {
            t
            for t in ts
            if not (t.startswith(m + ".") and (PACKAGE / Path(*m.split(".")[1:]) / "__init__.py").is_file())
        }
        for m, ts in edges.items()
    }
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "active"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "active":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycles_type_only_imports_included():
    cycles = find_cycles(graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    "edges, found",
    [
        ({"convscope.core.a": {"convscope.core.b"}, "convscope.core.b": {"convscope.core.a"}}, True),
        ({"convscope.core.a": {"convscope.core.b"}, "convscope.core.b": set()}, False),
    ],
)
def test_the_cycle_check_finds_cycles(edges, found):
    assert bool(find_cycles(edges)) is found


def test_the_layer_check_sees_type_only_and_function_level_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "convscope")
    source = tmp_path / "convscope" / "core" / "probe.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from convscope.recipes.base import Result\n"
        "def f():\n    from convscope.server import app\n"
    )
    assert imports(source) == {"convscope.recipes.base", "convscope.server"}


def test_render_does_not_load_attribution():
    code = (
        "import sys, convscope.techniques.render, convscope.core.fold; "
        "print(sorted(m for m in sys.modules if m.startswith('convscope.techniques.attribution')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_long_modules_say_why_at_their_top():
    """No module over ~400 lines without the reason written in its first lines (issue 21)."""
    silent = []
    for path in modules():
        lines = path.read_text().splitlines()
        if len(lines) > 400 and not any("over 400 lines" in line.lower() for line in lines[:12]):
            silent.append(f"{path.relative_to(PACKAGE)} ({len(lines)} lines)")
    assert not silent, "modules over 400 lines without a reason at their top:\n" + "\n".join(silent)
