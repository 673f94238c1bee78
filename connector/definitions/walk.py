"""Walk a rule tree with each node's path in its YAML file (for located errors)."""

from __future__ import annotations

from collections.abc import Iterator

from connector.definitions.conditions import (
    AllOf,
    AnyOf,
    Condition,
    EspCondition,
    EventCondition,
    FollowUp,
    InSegmentCondition,
    MetricCondition,
    NotOf,
    PropertyCondition,
)

__all__ = [
    "Path",
    "children",
    "has_esp_conditions",
    "hysteresis_nodes",
    "iter_nodes",
    "iter_properties",
    "segment_refs",
]

Path = tuple[str | int, ...]


def children(node: Condition, path: Path = ()) -> Iterator[tuple[Condition, Path]]:
    """Direct sub-conditions of a logical node, with their paths."""
    if isinstance(node, AllOf):
        for index, child in enumerate(node.all):
            yield child, (*path, "all", index)
    elif isinstance(node, AnyOf):
        for index, child in enumerate(node.any):
            yield child, (*path, "any", index)
    elif isinstance(node, NotOf):
        yield node.not_, (*path, "not")


def iter_nodes(node: Condition, path: Path = ("rule",)) -> Iterator[tuple[Condition, Path]]:
    """Every condition node, depth first, parents before children."""
    yield node, path
    for child, child_path in children(node, path):
        yield from iter_nodes(child, child_path)


def iter_properties(
    node: EventCondition | FollowUp, path: Path
) -> Iterator[tuple[PropertyCondition, Path]]:
    """The ``where`` conditions of an event condition and of its ``not_followed_by``."""
    for index, cond in enumerate(node.where):
        yield cond, (*path, "where", index)
    if isinstance(node, EventCondition) and node.not_followed_by is not None:
        yield from iter_properties(node.not_followed_by, (*path, "not_followed_by"))


def segment_refs(node: Condition, path: Path = ("rule",)) -> Iterator[tuple[str, Path]]:
    """Names of segments referenced by ``in_segment``, with where they appear."""
    for sub, sub_path in iter_nodes(node, path):
        if isinstance(sub, InSegmentCondition):
            yield sub.in_segment, (*sub_path, "in_segment")


def has_esp_conditions(rule: Condition) -> bool:
    """True when the rule holds a condition only the ESP can evaluate."""
    return any(isinstance(node, EspCondition) for node, _ in iter_nodes(rule))


def hysteresis_nodes(
    node: Condition, path: Path = ("rule",), negated: bool = False
) -> Iterator[tuple[MetricCondition, Path, bool]]:
    """Percentile conditions with ``hysteresis`` in this rule (not through ``in_segment``),
    with their paths and whether an odd number of ``not`` encloses them."""
    if isinstance(node, MetricCondition) and node.loose_percent() is not None:
        yield node, path, negated
    for child, child_path in children(node, path):
        yield from hysteresis_nodes(child, child_path, negated ^ isinstance(node, NotOf))
