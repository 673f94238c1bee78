"""Packages depend one way: no two packages of ``connector`` import each other, even
through a module-level import of a third module, so a cycle cannot hide behind an import
inside a function (ruff's PLC0415 refuses those, save the lazy ones marked with a reason)."""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import connector

ROOT = Path(connector.__file__).parent


def _unit(path: Path) -> str:
    """A module's package under ``connector`` (``evaluate``), or its own name at the top."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def package_graph() -> dict[str, dict[str, set[str]]]:
    """``{package: {imported package: {importing file, ...}}}`` over every module."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(ROOT.rglob("*.py")):
        source = _unit(path)
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if parts[0] == "connector" and len(parts) > 1 and parts[1] != source:
                graph[source][parts[1]].add(str(path.relative_to(ROOT)))
    return graph


def _cycle_from(graph: dict[str, dict[str, set[str]]], start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, {}):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_package_imports_one_that_imports_it_back() -> None:
    graph = package_graph()
    for package in sorted(graph):
        cycle = _cycle_from(graph, package)
        if cycle is not None:
            steps = [f"{a} -> {b} ({sorted(graph[a][b])})" for a, b in pairwise(cycle)]
            raise AssertionError("import cycle between packages:\n" + "\n".join(steps))


def test_the_checker_sees_a_cycle() -> None:
    graph: dict[str, dict[str, set[str]]] = {"a": {"b": {"a/x.py"}}, "b": {"a": {"b/y.py"}}}
    assert _cycle_from(graph, "a") == ["a", "b", "a"]
    assert _cycle_from({"a": {"b": {"a/x.py"}}}, "a") is None
