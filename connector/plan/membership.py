"""Desired membership of every materialised part, from one evaluation of the run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from connector.definitions.conditions import AllOf, AnyOf, AttributeCondition, Condition, Op
from connector.evaluate.engine import Evaluation
from connector.evaluate.identity import held_out_mask
from connector.plan.model import NativeLiteral, Part, Split

__all__ = [
    "EVERYONE",
    "carrier_key",
    "everyone_rule",
    "native_attribute_rule",
    "part_key",
    "part_members",
    "part_rules",
]

EVERYONE = "__everyone"


def part_key(split: Split, part: Part) -> str:
    """The name of a part's rule in the evaluation (unique across destinations)."""
    return f"{split.destination}\x1f{part.name}"


def carrier_key(split: Split) -> str:
    """The name of a split's native-attribute rule in the evaluation."""
    return f"{split.destination}\x1f{split.segment}\x1fnative-fields"


def _literal_condition(literal: NativeLiteral) -> Condition:
    assert literal.attribute is not None
    cond = literal.attribute
    if cond.op is Op.IN:
        cond = cond.model_copy(update={"op": Op.EQ, "value": literal.value})
    return cond


def _any(items: list[Condition]) -> Condition:
    return items[0] if len(items) == 1 else AnyOf.model_validate({"any": items})


def native_attribute_rule(split: Split) -> Condition | None:
    """The profiles the ESP may admit through mapped-attribute conditions, as a local rule.

    The ESP evaluates those conditions on the field values segsync pushes, so these
    profiles must exist in the ESP with current values (*field carriers*) even when no
    tag/list holds them. None when no carrier is needed: no attribute condition, or a
    group that is just "in tag/list P" already limits the segment to P's members, whose
    fields are pushed anyway.
    """
    if split.native is None:
        return None
    groups = split.native.groups
    if any(len(g) == 1 and g[0].kind == "part" and g[0].positive for g in groups):
        return None
    pure = [g for g in groups if g and all(lit.kind == "attribute" for lit in g)]
    if pure and not (split.native.match == "any" and len(groups) == 1 and len(groups[0]) > 1):
        conditions = [_any([_literal_condition(lit) for lit in g]) for g in pure]
        return conditions[0] if len(conditions) == 1 else AllOf.model_validate({"all": conditions})
    mixed = [_literal_condition(lit) for g in groups for lit in g if lit.kind == "attribute"]
    return _any(mixed) if mixed else None


def everyone_rule(profile_id_column: str) -> Condition:
    """The rule every profile satisfies."""
    return AttributeCondition(attribute=profile_id_column, op=Op.EXISTS)


def part_rules(splits: Iterable[Split], profile_id_column: str) -> dict[str, Condition]:
    """Extra rules to evaluate with the segments: every part's members, every split's field
    carriers, and everyone (holdout parts, and refreshing fields segsync pushed before)."""
    rules: dict[str, Condition] = {}
    everyone = everyone_rule(profile_id_column)
    for split in splits:
        for part in split.parts:
            if part.kind == "holdout":
                rules[EVERYONE] = everyone
            else:
                assert part.rule is not None
                rules[part_key(split, part)] = part.rule
        carriers = native_attribute_rule(split)
        if carriers is not None:
            rules[carrier_key(split)] = carriers
            rules[EVERYONE] = everyone
    return rules


def part_members(
    result: Evaluation, split: Split, part: Part, holdouts: Mapping[str, float]
) -> np.ndarray:
    """Row mask of the profiles the part should hold (see ``Part``)."""
    holdout = holdouts.get(split.segment, 0.0)
    if part.kind == "holdout":
        return held_out_mask(split.segment, result.profile_ids, result.qualified[EVERYONE], holdout)
    rows: np.ndarray = result.qualified[part_key(split, part)].copy()
    if part.apply_exclusive:
        rows &= ~result.excluded[split.segment]
    if part.apply_holdout and holdout > 0:
        rows &= ~held_out_mask(split.segment, result.profile_ids, rows, holdout)
    return rows
