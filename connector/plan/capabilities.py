"""What each ESP's native segments can express, as data (the planner never asks "which ESP").

Shapes:
- ``flat`` (Mailchimp): one list of conditions, ``match: all`` or ``match: any``, no nesting.
  Mailchimp's nested "advanced segments" (Standard plan and up) exist only in its web UI —
  the Marketing API creates flat segments — so both plan tiers use this shape; the tier
  changes the default condition limit.
- ``cnf`` (Klaviyo): condition groups ANDed, conditions within a group ORed.

Native attribute conditions are allowed only where the ESP's semantics provably equal
segsync's (DESIGN.md §3): Mailchimp text merge operators ignore case, and segsync pushes
text values trimmed, so ``is``/``contains``/``starts``/``ends``/``blank``/``blank_not`` match
segsync's case-insensitive, trimmed comparisons. Klaviyo's string filters do not document
their case handling, so Klaviyo keeps only number and boolean properties native. Negative
operators (``neq``, ``not_in``, ``not_contains``) stay local everywhere: ESPs do not document
how they treat an empty field, and segsync's are true for NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from connector.definitions.conditions import Op
from connector.definitions.destinations import (
    Destination,
    KlaviyoDestination,
    MailchimpDestination,
)
from connector.source.schema import ColumnType

__all__ = ["Capabilities", "capabilities_for"]


@dataclass(frozen=True)
class Capabilities:
    esp: Literal["mailchimp", "klaviyo"]
    shape: Literal["flat", "cnf"]
    max_conditions: int
    group_kind: Literal["tag", "list"]
    #: column types whose mapped attributes can be native, and the ops allowed for each
    native_ops: dict[ColumnType, frozenset[Op]] = field(default_factory=dict)
    #: whether native text comparisons ignore case (a case_sensitive rule stays local)
    text_ignores_case: bool = True


_MAILCHIMP_TEXT = frozenset(
    {Op.EQ, Op.IN, Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.EXISTS, Op.NOT_EXISTS}
)
_KLAVIYO_NUMBER = frozenset({Op.EQ, Op.IN, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.EXISTS, Op.NOT_EXISTS})
_KLAVIYO_BOOLEAN = frozenset({Op.EQ, Op.EXISTS, Op.NOT_EXISTS})


def capabilities_for(destination: Destination) -> Capabilities:
    """The capability model of a destination (its ``max_conditions`` setting applied)."""
    if isinstance(destination, MailchimpDestination):
        limit = destination.max_conditions
        if (
            destination.plan_tier == "standard"
            and "max_conditions" not in destination.model_fields_set
        ):
            limit = 10
        return Capabilities(
            esp="mailchimp",
            shape="flat",
            max_conditions=limit,
            group_kind="tag",
            native_ops={ColumnType.TEXT: _MAILCHIMP_TEXT},
        )
    assert isinstance(destination, KlaviyoDestination)
    return Capabilities(
        esp="klaviyo",
        shape="cnf",
        max_conditions=destination.max_conditions,
        group_kind="list",
        native_ops={ColumnType.NUMBER: _KLAVIYO_NUMBER, ColumnType.BOOLEAN: _KLAVIYO_BOOLEAN},
        text_ignores_case=False,
    )
