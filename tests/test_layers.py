"""The import graph flows one way: the lower layers never import from the ones above them, and the top-level
packages import each other without a cycle. Read from the source with ast, so nothing is imported to check it."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "tetsuban"

FOUNDATION = {
    "errors",
    "params",
    "files",
    "progress",
    "classnames",
    "csvcells",
    "cache",
    "parallel",
    "runtime",
    "templating",
    "props",
    "cluster",
    "interrupts",
}
"""Modules that every layer may use and that use nothing but each other."""

BASE = {"imaging", "store", "pipeline", "infer", "config"}
"""What every stage reads and computes with: pixels, the store, the transforms, the ONNX runner, tetsuban.toml."""

STAGES = [
    "ingest",
    "status",
    "survey",
    "splits",
    "backbones",
    "learn",
    "active",
    "agreement",
    "accounts",
    "finetune",
    "deploy",
    "evaluate",
    "export",
]
"""The stages in the order of the recipe's data flow: a stage may use the ones before it, never one after."""

LAYERS = [
    FOUNDATION,
    BASE,
    {"workspace"},
    set(STAGES),
    {"reports", "commands", "project"},
    {"server", "console", "cli", "__main__", "tetsuban"},
]
"""Bottom to top, as src/tetsuban/__init__.py's docstring tells them; a layer imports only from itself and below."""

ALLOWED = {
    "imaging": FOUNDATION,
    "store": FOUNDATION,
    "pipeline": FOUNDATION | {"imaging"},
    "infer": FOUNDATION | {"imaging", "pipeline"},
    **{name: FOUNDATION for name in FOUNDATION},
}
"""Within the lower layers, what each may import from (besides itself)."""


def package_imports() -> dict[str, set[str]]:
    """Top-level package (or module) of tetsuban -> the top-level ones it imports, anywhere in its code."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        here = parts[0] if parts[0] != "__init__" else "tetsuban"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                pieces = name.split(".")
                if pieces[0] == "tetsuban" and len(pieces) > 1 and pieces[1] != here:
                    graph[here].add(pieces[1])
    return graph


def test_the_lower_layers_import_nothing_above_them() -> None:
    graph = package_imports()
    wrong = {layer: sorted(graph[layer] - allowed) for layer, allowed in ALLOWED.items() if graph[layer] - allowed}
    assert wrong == {}


def layer_of(package: str) -> int:
    return next(n for n, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_a_layer_and_imports_only_from_its_own_or_lower() -> None:
    graph = package_imports()
    packages = {p.stem if p.is_file() else p.name for p in SOURCE.iterdir() if p.suffix == ".py" or p.is_dir()}
    packages = {p for p in packages if p != "__pycache__"} - {"__init__"} | {"tetsuban"}
    placed = set().union(*LAYERS)
    assert packages - placed == set(), "place each new package in a layer of LAYERS"
    upward = {(low, high) for low, highs in graph.items() for high in highs if layer_of(high) > layer_of(low)}
    assert upward == set()


def test_a_stage_uses_only_the_stages_before_it() -> None:
    graph = package_imports()
    later = {
        (stage, other)
        for stage in STAGES
        for other in graph.get(stage, ())
        if other in STAGES and STAGES.index(other) > STAGES.index(stage)
    }
    assert later == set()


def test_the_packages_import_each_other_without_a_cycle() -> None:
    graph = package_imports()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state:
                found = visit(nxt, [*path, node])
                if found:
                    return found
        state[node] = "done"
        return None

    cycles = [c for node in sorted(graph) if node not in state and (c := visit(node, []))]
    assert cycles == []
