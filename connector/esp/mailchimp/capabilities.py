"""What Mailchimp accepts, as data: native-segment capabilities and per-call limits.

Mailchimp's nested "advanced segments" (Standard plan and up) exist only in its web UI —
the Marketing API creates flat segments — so both plan tiers use the ``flat`` shape; the
tier changes the default condition limit. Text merge operators ignore case, and segsync
pushes text values trimmed, so ``is``/``contains``/``starts``/``ends``/``blank``/``blank_not``
match segsync's case-insensitive, trimmed comparisons. Negative operators stay local: the
API does not document how they treat an empty field, and segsync's are true for NULL.
"""

from __future__ import annotations

from connector.definitions.conditions import Op
from connector.esp.base import EspLimits
from connector.esp.mailchimp.destination import MailchimpDestination
from connector.plan.capabilities import Capabilities
from connector.source.schema import ColumnType

__all__ = ["LIMITS", "capabilities"]

_TEXT = frozenset(
    {Op.EQ, Op.IN, Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.EXISTS, Op.NOT_EXISTS}
)
#: the default condition limit of a Standard-plan account
_STANDARD_MAX_CONDITIONS = 10

LIMITS = EspLimits(
    esp="mailchimp",
    group_kind=MailchimpDestination.group_kind,
    max_members_per_call=500,
    max_contacts_per_upsert=500,
    member_page_size=1000,
    max_concurrency=10,
    adds_and_removes_per_call=True,
    aside_first=True,  # the no-consent contacts' fields: one POST /batches, polled
)


def capabilities(destination: MailchimpDestination) -> Capabilities:
    """The capability model of a Mailchimp destination (its ``max_conditions`` applied)."""
    limit = destination.max_conditions
    if destination.plan_tier == "standard" and "max_conditions" not in destination.model_fields_set:
        limit = _STANDARD_MAX_CONDITIONS
    return Capabilities(
        esp="mailchimp",
        title="Mailchimp",
        shape="flat",
        max_conditions=limit,
        group_kind=destination.group_kind,
        native_ops={ColumnType.TEXT: _TEXT},
    )
