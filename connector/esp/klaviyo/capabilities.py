"""What Klaviyo accepts, as data: native-segment capabilities and per-call limits.

Segment definitions are condition groups ANDed, conditions within a group ORed (``cnf``).
Klaviyo's string filters do not document their case handling, so only number and boolean
profile properties are native; negative operators stay local (the API does not document
how they treat an unset property, and segsync's are true for NULL).
"""

from __future__ import annotations

from connector.definitions.conditions import Op
from connector.esp.base import EspLimits
from connector.esp.klaviyo.destination import KlaviyoDestination
from connector.plan.capabilities import Capabilities
from connector.source.schema import ColumnType

__all__ = ["LIMITS", "capabilities"]

_NUMBER = frozenset({Op.EQ, Op.IN, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.EXISTS, Op.NOT_EXISTS})
_BOOLEAN = frozenset({Op.EQ, Op.EXISTS, Op.NOT_EXISTS})

LIMITS = EspLimits(
    esp="klaviyo",
    group_kind=KlaviyoDestination.group_kind,
    max_members_per_call=1000,
    max_contacts_per_upsert=10_000,
    member_page_size=100,
    max_concurrency=4,
    joins_on_import=True,
)


def capabilities(destination: KlaviyoDestination) -> Capabilities:
    """The capability model of a Klaviyo destination (its ``max_conditions`` applied)."""
    return Capabilities(
        esp="klaviyo",
        title="Klaviyo",
        shape="cnf",
        max_conditions=destination.max_conditions,
        group_kind=destination.group_kind,
        native_ops={ColumnType.NUMBER: _NUMBER, ColumnType.BOOLEAN: _BOOLEAN},
        text_ignores_case=False,
    )
