"""Mailchimp's entries in ``config/destinations.yaml``: ``esp: mailchimp``, an audience."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connector.definitions.destinations import EspDestination, GroupKind
from connector.definitions.traits import ValueKind

__all__ = ["MailchimpDestination"]


class MailchimpDestination(EspDestination):
    group_kind: ClassVar[GroupKind] = "tag"
    field_noun: ClassVar[str] = "merge field"
    field_names_ignore_case: ClassVar[bool] = True  # merge tags
    esp: Literal["mailchimp"]
    audience: str = Field(min_length=1, description="Mailchimp audience (list) id")
    plan_tier: Literal["essentials", "standard"] = "essentials"
    max_conditions: int = Field(default=5, ge=1, le=50)

    # merge field types (Audience fields and merge tags); text takes any value as text
    field_types: ClassVar[dict[str, frozenset[ValueKind]]] = {
        "text": frozenset(ValueKind),
        "number": frozenset({ValueKind.NUMBER}),
        "date": frozenset({ValueKind.DATE}),
        "birthday": frozenset({ValueKind.DATE}),
        "dropdown": frozenset({ValueKind.TEXT}),
        "radio": frozenset({ValueKind.TEXT}),
        "url": frozenset({ValueKind.TEXT}),
        "imageurl": frozenset({ValueKind.TEXT}),
        "phone": frozenset({ValueKind.TEXT}),
        "zip": frozenset({ValueKind.TEXT}),
    }
    default_types: ClassVar[dict[ValueKind, str]] = {
        ValueKind.TEXT: "text",
        ValueKind.NUMBER: "number",
        ValueKind.BOOLEAN: "text",  # Mailchimp has no boolean merge field
        ValueKind.DATE: "date",
        ValueKind.OTHER: "text",
    }
