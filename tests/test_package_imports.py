"""The layers import one way: ``dynamics`` imports neither ``solvers`` nor ``scenarios``,
``solvers`` does not import ``scenarios``, and no module of either package imports itself back
through a cycle (every import statement counts, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dynamics", "solvers")
PROJECT = ("dynamics", "solvers", "scenarios")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (a name imported from a package counts as the
    package, or as its submodule when one exists under that name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PROJECT)
    return found


def graph() -> dict[str, set[str]]:
    modules = {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    return {
        name: {
            target
            for target in imports(path)
            if target in modules or target.split(".")[0] == "scenarios"
        }
        for name, path in modules.items()
    }


@pytest.mark.parametrize(("package", "forbidden"), [("dynamics", ("solvers", "scenarios")),
                                                    ("solvers", ("scenarios",))])  # fmt: skip
def test_layers_import_one_way(package, forbidden):
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in forbidden
    )
    assert wrong == []


def test_no_import_cycles():
    edges = graph()
    state: dict[str, str] = {}
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges.get(name, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state and target in edges:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []
