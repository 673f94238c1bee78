"""Desired membership of every materialised part, from one evaluation of the run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from connector.definitions.conditions import AttributeCondition, Condition, Op
from connector.evaluate.engine import Evaluation
from connector.evaluate.identity import is_held_out
from connector.plan.model import Part, Split

__all__ = ["EVERYONE", "part_key", "part_members", "part_rules"]

EVERYONE = "__everyone"


def part_key(split: Split, part: Part) -> str:
    """The name of a part's rule in the evaluation (unique across destinations)."""
    return f"{split.destination}\x1f{part.name}"


def part_rules(splits: Iterable[Split], profile_id_column: str) -> dict[str, Condition]:
    """Extra rules to evaluate with the segments so every part's members are known."""
    rules: dict[str, Condition] = {}
    for split in splits:
        for part in split.parts:
            if part.kind == "holdout":
                rules[EVERYONE] = AttributeCondition(attribute=profile_id_column, op=Op.EXISTS)
            else:
                assert part.rule is not None
                rules[part_key(split, part)] = part.rule
    return rules


def _held(result: Evaluation, segment: str, rows: np.ndarray, holdout: float) -> np.ndarray:
    held = np.zeros(len(result.profile_ids), dtype=bool)
    for row in np.flatnonzero(rows):
        held[row] = is_held_out(segment, result.profile_ids[row], holdout)
    return held


def part_members(
    result: Evaluation, split: Split, part: Part, holdouts: Mapping[str, float]
) -> np.ndarray:
    """Row mask of the profiles the part should hold (see ``Part``)."""
    holdout = holdouts.get(split.segment, 0.0)
    if part.kind == "holdout":
        everyone: np.ndarray = result.qualified[EVERYONE]
        held: np.ndarray = everyone & _held(result, split.segment, everyone, holdout)
        return held
    rows: np.ndarray = result.qualified[part_key(split, part)].copy()
    if part.apply_exclusive:
        rows &= ~result.excluded[split.segment]
    if part.apply_holdout and holdout > 0:
        rows &= ~_held(result, split.segment, rows, holdout)
    return rows
