"""Rules as boolean formulas for the split planner: negation normal form and clause forms.

``to_nnf`` pushes every ``not`` down to a leaf (De Morgan), so the planner only meets
AND, OR and possibly negated leaves. ``clauses`` turns a formula over *atoms* into CNF
(an AND of OR-clauses) or DNF (an OR of AND-terms) by distribution, with a size cap so a
pathological rule fails with a clear message instead of exhausting memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from connector.definitions.conditions import AllOf, AnyOf, Condition, NotOf
from connector.errors import ConfigError

__all__ = ["And", "Formula", "Leaf", "Or", "clauses", "leaves", "to_condition", "to_nnf"]

#: a CNF or DNF may hold at most this many clauses before planning gives up
MAX_CLAUSES = 512


@dataclass(frozen=True)
class Leaf:
    """A condition that is not all/any/not, possibly negated."""

    condition: Condition
    positive: bool = True


@dataclass(frozen=True)
class And:
    items: tuple[Formula, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Formula, ...]


Formula = Leaf | And | Or


def to_nnf(node: Condition, positive: bool = True) -> Formula:
    """The rule with every ``not`` pushed down to a leaf."""
    if isinstance(node, NotOf):
        return to_nnf(node.not_, not positive)
    if isinstance(node, AllOf | AnyOf):
        items = tuple(
            to_nnf(child, positive) for child in (node.all if isinstance(node, AllOf) else node.any)
        )
        conjunctive = isinstance(node, AllOf) == positive
        return _flatten(And(items) if conjunctive else Or(items))
    return Leaf(node, positive)


def _flatten(formula: And | Or) -> Formula:
    """Merge nested connectives of the same kind; a single item stands for itself."""
    kind = type(formula)
    items: list[Formula] = []
    for item in formula.items:
        items.extend(item.items if isinstance(item, kind) else (item,))
    return items[0] if len(items) == 1 else kind(tuple(items))


def to_condition(formula: Formula) -> Condition:
    """Back to the segment language (a negated leaf becomes ``not``)."""
    if isinstance(formula, Leaf):
        return (
            formula.condition
            if formula.positive
            else NotOf.model_validate({"not": formula.condition})
        )
    items = tuple(to_condition(item) for item in formula.items)
    if isinstance(formula, And):
        return AllOf.model_validate({"all": items})
    return AnyOf.model_validate({"any": items})


def leaves(formula: Formula) -> Iterator[Leaf]:
    if isinstance(formula, Leaf):
        yield formula
        return
    for item in formula.items:
        yield from leaves(item)


def clauses(
    formula: Formula,
    form: Literal["cnf", "dnf"],
    is_atom: Callable[[Formula], bool],
    describe: Callable[[], str],
) -> list[list[Formula]]:
    """CNF (``[[a, b], [c]]`` = (a ∨ b) ∧ c) or DNF (= (a ∧ b) ∨ c) over atoms.

    ``is_atom`` says which sub-formulas are indivisible (leaves always are).
    """
    outer = And if form == "cnf" else Or

    def convert(f: Formula) -> list[list[Formula]]:
        if is_atom(f) or isinstance(f, Leaf):
            return [[f]]
        assert isinstance(f, And | Or)
        parts = [convert(item) for item in f.items]
        if isinstance(f, outer):
            return [clause for part in parts for clause in part]
        result: list[list[Formula]] = [[]]
        for part in parts:
            result = [left + right for left in result for right in part]
            if len(result) > MAX_CLAUSES:
                raise ConfigError(
                    f"{describe()}: the rule is too deeply nested to split into ESP conditions "
                    f"(over {MAX_CLAUSES} clauses); simplify it or use a tag/list mode"
                )
        return result

    return [_dedupe(clause) for clause in convert(formula)]


def _dedupe(clause: list[Formula]) -> list[Formula]:
    seen: list[Formula] = []
    for item in clause:
        if item not in seen:
            seen.append(item)
    return seen
