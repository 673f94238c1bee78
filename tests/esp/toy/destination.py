"""The toy ESP's entries in ``config/destinations.yaml``: ``esp: toy`` and a workspace."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connector.definitions.destinations import EspDestination, GroupKind


class ToyDestination(EspDestination):
    group_kind: ClassVar[GroupKind] = "list"
    field_noun: ClassVar[str] = "attribute"
    esp: Literal["toy"]
    workspace: str = Field(min_length=1, description="toy workspace id")
    max_conditions: int = Field(default=3, ge=1, le=10)
