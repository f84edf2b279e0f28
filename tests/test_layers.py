"""The layers docs/architecture.md draws are the ones in the imports: every `vsi_data` import (at the top of a
module or inside a function) goes from a higher row of its "Layers" block to a lower one, and no module imports
itself back through others."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "vsi_data"


def documented_layers() -> dict[str, int]:
    """Unit (a top-level module or package of vsi_data) → its row, 0 the lowest, from the fenced block after
    the "## Layers" heading."""
    text = (REPO / "docs/architecture.md").read_text()
    block = re.search(r"^## Layers\n.*?^```\n(.*?)^```", text, re.S | re.M)
    assert block, "docs/architecture.md has no ## Layers block"
    rows = [line.split() for line in block.group(1).splitlines() if line.strip()]
    return {unit: height for height, row in enumerate(reversed(rows)) for unit in row}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The vsi_data modules `path` imports (a `from package import name` counts as the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("vsi_data"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("vsi_data")}
    return found


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""  # "": the package itself (its version)


GRAPH = {module_name(path): imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_unit_has_a_documented_row():
    layers = documented_layers()
    assert {unit(m) for m in GRAPH} - {""} <= set(layers), "a vsi_data module missing from the Layers block"
    assert set(layers) <= {unit(m) for m in GRAPH}, "the Layers block names a module that does not exist"


def upward_imports(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """Every import of a unit on the importer's own row or above it (the package's version is below all)."""
    return sorted(
        f"{module} imports {target} ({unit(module)}, row {layers[unit(module)]} -> {unit(target)}, row "
        f"{layers[unit(target)]})"
        for module, targets in graph.items()
        for target in targets
        if unit(module) and unit(target) and unit(target) != unit(module)
        if layers[unit(target)] >= layers[unit(module)]
    )


def test_imports_go_down_the_documented_layers():
    upward = upward_imports(GRAPH, documented_layers())
    assert not upward, "imports against the documented direction:\n" + "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules that import each other (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while (top := stack.pop()) != node:
                group.append(top)
            if group:
                found.append(sorted([node, *group]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_cycles_are_found(graph, expected):
    assert cycles(graph) == expected


def test_an_import_up_or_across_a_row_is_reported():
    layers = {"geometry": 0, "scene": 1, "qa": 2, "sources": 2}
    graph = {
        "vsi_data.geometry.visibility": {"vsi_data.scene", "vsi_data"},  # up
        "vsi_data.qa.recipe": {"vsi_data.sources.base", "vsi_data.qa.templates", "vsi_data.geometry"},  # across
        "vsi_data.sources.base": {"vsi_data.scene"},  # down: fine
    }
    assert upward_imports(graph, layers) == [
        "vsi_data.geometry.visibility imports vsi_data.scene (geometry, row 0 -> scene, row 1)",
        "vsi_data.qa.recipe imports vsi_data.sources.base (qa, row 2 -> sources, row 2)",
    ]


def test_the_documented_direction_keeps_generators_apart_from_sources_and_files():
    layers = documented_layers()
    assert layers["geometry"] < layers["scene"] < layers["qa"] < layers["output"]
    assert layers["sources"] == layers["qa"]  # peers: neither may import the other
    assert layers["errors"] == layers["io"] == 0
