"""The import contract (issue 13, DESIGN.md): core -> techniques -> artifacts -> recipes -> execution -> surfaces.
Each module imports only its own layer or the layers below it (imports inside functions count too), the module
graph has no cycles, and loading `convscope.render` does not load `convscope.attribution`."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "convscope"

LAYERS = {
    "core": {
        "errors",
        "seeding",
        "units",
        "jsonio",
        "cache",
        "version",
        "progress",
        "outputs",
        "images",
        "subject",
        "graph",
        "zoo",
        "digits",
        "data",
        "fold",
        "autograd_checks",
    },
    "techniques": {
        "activations",
        "predict",
        "objectives",
        "param",
        "transforms",
        "render",
        "dream",
        "datainit",
        "examples",
        "selectivity",
        "facets",
        "generators",
        "inverse_set",
        "attribution",
    },
    "artifacts": {"artifacts"},
    "recipes": {"recipes"},
    "execution": {"store", "jobs", "distributed", "site"},
    "surfaces": {"cli", "commands", "server", "__init__"},  # the package root is the Python API's facade
}
ORDER = list(LAYERS)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for layer, members in LAYERS.items():
        if top in members:
            return layer
    raise AssertionError(f"module {module} is in no layer: add it to LAYERS")


def imports(path: Path) -> set[str]:
    """The convscope modules a file imports (absolute, resolved from relative imports), anywhere in the file."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    for block in ast.walk(tree):  # `if TYPE_CHECKING:` imports never run
        if isinstance(block, ast.If) and getattr(block.test, "id", getattr(block.test, "attr", "")) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
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
                modules = {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
                found |= modules or {target}
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        edges[name] = {m for m in imports(path) if _is_module(m) or m == "convscope"} - {name}
    return edges


def test_every_import_goes_down_the_layers():
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if target == "convscope" and module != "convscope":
                upward.append(f"{module} -> convscope (the package root re-exports everything; import the module)")
            elif ORDER.index(layer_of(target)) > ORDER.index(layer_of(module)):
                upward.append(f"{module} ({layer_of(module)}) -> {target} ({layer_of(target)})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    edges = graph()
    # a package's __init__ importing its own submodules is not a cycle of the code's logic
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
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_render_does_not_load_attribution():
    code = (
        "import sys, convscope.render, convscope.fold; "
        "print(sorted(m for m in sys.modules if m.startswith('convscope.attribution')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
