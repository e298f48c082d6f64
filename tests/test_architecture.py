"""The import graph of the three packages, read from the source (ast): no cycles, and the layers
run one way, scenarios -> solvers -> dynamics; no experiment imports another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dynamics", "solvers", "scenarios")
SHARED_SCENARIO_MODULES = ("harness", "analysis")
"""Parts of ``scenarios`` that every experiment may import; every other subpackage is one
experiment."""


def module_name(path: Path) -> str:
    """``scenarios/harness/cli.py`` -> ``scenarios.harness.cli``; a package is its ``__init__``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that ``path`` imports anywhere in its body (functions included):
    ``from a.b import c`` counts as ``a.b.c`` when that is a module, else as ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in modules
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    modules = all_modules()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return found


def experiment_of(module: str) -> str | None:
    """The experiment a ``scenarios`` module belongs to, None for the shared parts."""
    parts = module.split(".")
    if parts[0] != "scenarios" or len(parts) < 2 or parts[1] in SHARED_SCENARIO_MODULES:
        return None
    return parts[1]


def test_cycle_finder_finds_a_cycle_and_a_self_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d"]]


def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


def test_layers_run_one_way():
    below = {"dynamics": ("solvers", "scenarios"), "solvers": ("scenarios",)}
    wrong = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if target.split(".")[0] in below.get(module.split(".")[0], ())
    ]
    assert wrong == []


def test_no_experiment_imports_another_and_the_harness_imports_none():
    graph = import_graph()
    assert graph, "no modules found"
    wrong = []
    for module, targets in graph.items():
        for target in targets:
            owner, used = experiment_of(module), experiment_of(target)
            if used is not None and owner != used and module != "scenarios":
                wrong.append(f"{module} -> {target}")
    assert wrong == []
