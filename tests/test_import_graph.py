"""Headwater's packages form layers: a package imports only those below it, never one above.

Every import counts — at the top of a module, inside a function, or under ``TYPE_CHECKING``:
an import deferred into a function hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "headwater"

# Lowest first. A package may import those in earlier layers only (and itself).
LAYERS: list[set[str]] = [
    {"errors"},
    {"durations", "guides", "json_values", "lazy", "retry", "stopping", "tempdirs"},
    {"project"},
    {"connect"},
    {"state", "samples"},
    {"lake"},
    {"sql"},
    {"ingest", "quality"},
    {"streams"},
    {"cdc"},
    {"orchestrate"},
    {"workspace", "tasks", "checks"},
    {"web"},
    {"cli"},
    {"__init__"},
]


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) → the files where that import is written."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        owner = parts[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == "headwater" and len(bits) > 1 and bits[1] != owner:
                    found[(owner, bits[1])].append(str(path.relative_to(PACKAGE.parent)))
    return found


def test_every_package_is_in_a_layer() -> None:
    placed = set().union(*LAYERS)
    packages = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.is_file() and path.suffix == ".py") or (path / "__init__.py").exists()
    }
    unplaced = sorted(packages - placed)
    assert unplaced == [], f"add {unplaced} to LAYERS in {__file__}"


def test_no_import_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    edges = imports()
    for owner, target in edges:
        graph[owner].add(target)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        where = {f"{a} → {b}": edges[(a, b)][:3] for a, b in itertools.pairwise(cycle)}
        pytest.fail(f"import cycle {' → '.join(cycle)}: {where}")


def test_no_package_imports_its_own_layer_or_a_higher_one() -> None:
    layer = {name: index for index, names in enumerate(LAYERS) for name in names}
    upward = {
        f"{owner} → {target}": files[:3]
        for (owner, target), files in imports().items()
        if layer.get(target, -1) >= layer.get(owner, len(LAYERS))
    }
    assert upward == {}, f"imports of a package in the same or a higher layer: {upward}"
