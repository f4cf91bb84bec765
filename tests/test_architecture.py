"""The package's imports point one way: no cycles, and no layer imports a layer above it.

Every module of `kerasviz/` is parsed with `ast` (nothing is imported): imports
at module level and inside functions, `import kerasviz.x`, `from kerasviz
import x`, `from kerasviz.x import y`, relative imports and
`importlib.import_module("kerasviz.x")` with a constant name all count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "kerasviz"

#: The layers, lowest first. A module may import its own layer and the ones
#: below it, never one above. The key is a module or a package (its
#: submodules share its layer); "kerasviz" itself, the public facade that
#: re-exports from every layer, matches only the package's __init__.
LAYERS: dict[str, int] = {
    # foundation: errors, then the checks, then modules that need only those
    "kerasviz.errors": 0,
    "kerasviz._validation": 1,
    "kerasviz._backend_check": 2,
    "kerasviz._compat": 2,
    "kerasviz.names": 2,
    "kerasviz.normalize": 2,
    # images on disk and the ImageNet mean: a leaf that layers and networks read
    "kerasviz.data": 2,
    # the precisions maps are computed in: names, checks, a speed probe (TensorFlow on use)
    "kerasviz.precision": 2,
    # the backward rules, and what is built on them
    "kerasviz.relevance": 3,
    "kerasviz.rules": 3,
    "kerasviz.override": 3,
    "kerasviz.layers": 4,
    "kerasviz.relevance_layers": 4,
    "kerasviz.methods": 4,
    "kerasviz.inputs": 4,
    "kerasviz.perturbation": 4,
    "kerasviz.rewrite": 4,
    "kerasviz.targets": 4,
    "kerasviz.visualizer": 5,
    # networks
    "kerasviz.randomization": 6,
    "kerasviz.zoo": 6,
    # faithfulness metrics: above the visualizer, below datasets (neither imports networks)
    "kerasviz.evaluation": 6,
    "kerasviz.datasets": 7,
    # pictures, then measurements
    "kerasviz.render": 8,
    "kerasviz.render_inputs": 8,
    "kerasviz.analysis": 9,
    # the browser viewer of map stores (reads Zarr; needs no TensorFlow)
    "kerasviz.view": 10,
    # entry points
    "kerasviz.callbacks": 11,
    "kerasviz.cli": 11,
    "kerasviz.cli_checks": 11,
    "kerasviz.__main__": 11,
    "kerasviz": 11,
}

#: Imports that break the order on purpose, each with its reason. Keep it short.
ALLOWED: dict[tuple[str, str], str] = {
    ("kerasviz.methods", "kerasviz.perturbation"): (
        "kv.methods re-exports the perturbation methods, which subclass methods.Method "
        "(a function-level import in methods.__getattr__, run after both modules loaded)"
    ),
}

LAYER_NAMES = {
    0: "errors",
    1: "checks",
    2: "foundation",
    3: "rules",
    4: "core",
    5: "visualizer",
    6: "networks",
    7: "datasets",
    8: "render",
    9: "analysis",
    10: "view",
    11: "entry points",
}


# --------------------------------------------------------------------------- #
# The checker                                                                  #
# --------------------------------------------------------------------------- #


def module_files(package_dir: Path) -> dict[str, Path]:
    """`{dotted module name: file}` for every .py file of the package."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path, known: set[str], package: str) -> list[tuple[str, int]]:
    """The package modules that `module` imports, with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []

    def add(name: str, line: int) -> None:
        if name == package or name.startswith(package + "."):
            found.append((name, line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                source = _resolve_relative(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub in known else source, node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Attribute, ast.Name))
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value, node.lineno)
    return found


def import_graph(package_dir: Path, allowed=()) -> dict[str, dict[str, int]]:
    """`{module: {imported module: line}}` over the package, self-imports and `allowed` edges left out."""
    files = module_files(package_dir)
    package = package_dir.name
    graph = {}
    for module, path in files.items():
        edges: dict[str, int] = {}
        for target, line in imports_of(module, path, set(files), package):
            if target != module and (module, target) not in allowed:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The layer of the longest key that is `module` or a package above it."""
    package = min(layers, key=len)  # the package itself matches exactly only
    best = None
    for key in layers:
        if module == key or (key != package and module.startswith(key + ".")):
            if best is None or len(key) > len(best):
                best = key
    return None if best is None else layers[best]


def unknown_modules(graph: dict[str, dict[str, int]], layers: dict[str, int]) -> list[str]:
    return sorted(m for m in graph if layer_of(m, layers) is None)


def layer_violations(graph: dict[str, dict[str, int]], layers: dict[str, int]) -> list[str]:
    """One line per import of a higher layer."""
    out = []
    for module, edges in sorted(graph.items()):
        low = layer_of(module, layers)
        for target, line in sorted(edges.items()):
            high = layer_of(target, layers)
            if low is not None and high is not None and high > low:
                out.append(
                    f"{module} (layer {low}, {LAYER_NAMES.get(low, '?')}) imports {target} "
                    f"(layer {high}, {LAYER_NAMES.get(high, '?')}) at line {line}"
                )
    return out


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# --------------------------------------------------------------------------- #
# The package                                                                  #
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def graph():
    return import_graph(PACKAGE_DIR, ALLOWED)


def test_allowed_exceptions_are_still_needed():
    everything = import_graph(PACKAGE_DIR)
    stale = [edge for edge in ALLOWED if edge[1] not in everything.get(edge[0], {})]
    assert not stale, f"Remove these from ALLOWED in tests/test_architecture.py: {stale}"


def test_every_module_has_a_layer(graph):
    missing = unknown_modules(graph, LAYERS)
    assert not missing, (
        f"Modules without a layer: {missing}. Add each to LAYERS in tests/test_architecture.py "
        "(a module or package name → its layer number; lower layers may not import higher ones)."
    )


def test_no_layer_imports_a_layer_above_it(graph):
    assert layer_violations(graph, LAYERS) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_render_and_callbacks_do_not_need_the_experiments(graph):
    """What `import kerasviz.render` / `kerasviz.callbacks` loads: never experiments, zoo or reproduce."""

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            module = todo.pop()
            for target in graph.get(module, {}):
                # the packages' own __init__ run too, but load submodules lazily
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    heavy = {"kerasviz.analysis.experiments", "kerasviz.analysis.reproduce", "kerasviz.zoo"}
    assert not reachable("kerasviz.render") & (heavy | {"kerasviz.analysis"})
    assert not reachable("kerasviz.callbacks") & heavy


def test_the_graph_sees_the_imports_we_know_of(graph):
    """Guards the parser itself on the real package: module-level, from-imports and function-level ones."""
    assert "kerasviz.normalize" in graph["kerasviz.render"]
    assert "kerasviz.analysis.metrics" in graph["kerasviz.callbacks"]
    assert "kerasviz.errors" in graph["kerasviz.normalize"]
    assert "kerasviz.analysis.experiments" in graph["kerasviz.analysis.reproduce"]  # inside functions only


# --------------------------------------------------------------------------- #
# The checker can fail                                                         #
# --------------------------------------------------------------------------- #


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_parser_finds_every_form_of_import(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": "from pkg import low\n",
        "pkg/low.py": "def f():\n    from pkg.high import thing\n    return thing\n",
        "pkg/high.py": "import pkg.low\nfrom . import low as again\n",
        "pkg/sub/__init__.py": "from .. import high\nfrom .inner import x\n",
        "pkg/sub/inner.py": "import importlib\nmod = importlib.import_module('pkg.low')\nx = 1\n",
    })
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.low": 1},
        "pkg.low": {"pkg.high": 2},
        "pkg.high": {"pkg.low": 1},
        "pkg.sub": {"pkg.high": 1, "pkg.sub.inner": 2},
        "pkg.sub.inner": {"pkg.low": 2},
    }


def test_checker_reports_a_cycle_an_upward_import_and_an_unknown_module(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low.py": "def f():\n    from pkg.high import thing\n    return thing\n",
        "pkg/high.py": "from pkg import low\nthing = 1\n",
        "pkg/stray.py": "",
    })
    graph = import_graph(package)
    layers = {"pkg": 9, "pkg.low": 0, "pkg.high": 1}
    assert cycles(graph) == [["pkg.high", "pkg.low"]]
    assert layer_violations(graph, layers) == [
        "pkg.low (layer 0, errors) imports pkg.high (layer 1, checks) at line 2"
    ]
    assert unknown_modules(graph, layers) == ["pkg.stray"]


def test_layer_of_takes_the_longest_key_and_the_package_only_exactly():
    layers = {"kerasviz": 10, "kerasviz.analysis": 9, "kerasviz.analysis.theory": 2}
    assert layer_of("kerasviz.analysis.metrics", layers) == 9
    assert layer_of("kerasviz.analysis.theory", layers) == 2
    assert layer_of("kerasviz", layers) == 10
    assert layer_of("kerasviz.newthing", layers) is None
