"""Klaviyo's entry in ``config/destinations.yaml``: ``esp: klaviyo``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connector.definitions.destinations import EspDestination, GroupKind
from connector.definitions.traits import ValueKind

__all__ = ["KlaviyoDestination"]


class KlaviyoDestination(EspDestination):
    group_kind: ClassVar[GroupKind] = "list"
    field_noun: ClassVar[str] = "property"
    esp: Literal["klaviyo"]
    max_conditions: int = Field(default=100, ge=1, le=100)

    # the JSON type of a custom property; text takes any value as text
    field_types: ClassVar[dict[str, frozenset[ValueKind]]] = {
        "text": frozenset(ValueKind),
        "number": frozenset({ValueKind.NUMBER}),
        "boolean": frozenset({ValueKind.BOOLEAN}),
        "date": frozenset({ValueKind.DATE}),
    }
    default_types: ClassVar[dict[ValueKind, str]] = {
        ValueKind.TEXT: "text",
        ValueKind.NUMBER: "number",
        ValueKind.BOOLEAN: "boolean",
        ValueKind.DATE: "date",
        ValueKind.OTHER: "text",
    }
    # top-level profile attributes a field sets directly (strings in Klaviyo's API)
    fixed_types: ClassVar[dict[str, str]] = dict.fromkeys(
        ("first_name", "last_name", "organization", "title", "locale", "image"), "text"
    )
