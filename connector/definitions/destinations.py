"""Destinations (``config/destinations.yaml``): the ESP accounts segments are pushed to.

mailchimp-main:
  esp: mailchimp
  audience: a1b2c3d4e5
  plan_tier: essentials
  fields: {region: STATE}
klaviyo-main:
  esp: klaviyo
  fields: {region: region}
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

__all__ = [
    "Destination",
    "GroupKind",
    "KlaviyoDestination",
    "MailchimpDestination",
    "NewContacts",
]

NewContacts = Literal["consent_only", "never"]
#: what a materialised part becomes in the ESP
GroupKind = Literal["tag", "list"]


class _Destination(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = Field(
        default_factory=dict,
        description="local profile attribute -> ESP field (merge tag / profile property)",
    )
    new_contacts: NewContacts = "consent_only"
    #: what a materialised part becomes in this ESP: declared once per ESP, here, and read
    #: by the planner, the adapters and every display
    group_kind: ClassVar[GroupKind]

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        """The ``mode`` values a segment may use for this destination."""
        return ("auto", cls.group_kind, "segment")


class MailchimpDestination(_Destination):
    group_kind: ClassVar[GroupKind] = "tag"
    esp: Literal["mailchimp"]
    audience: str = Field(min_length=1, description="Mailchimp audience (list) id")
    plan_tier: Literal["essentials", "standard"] = "essentials"
    max_conditions: int = Field(default=5, ge=1, le=50)


class KlaviyoDestination(_Destination):
    group_kind: ClassVar[GroupKind] = "list"
    esp: Literal["klaviyo"]
    max_conditions: int = Field(default=100, ge=1, le=100)


def _esp_of(value: object) -> str | None:
    esp = value.get("esp") if isinstance(value, dict) else getattr(value, "esp", None)
    return f"kind:{esp}" if esp in ("mailchimp", "klaviyo") else None


Destination = Annotated[
    Annotated[MailchimpDestination, Tag("kind:mailchimp")]
    | Annotated[KlaviyoDestination, Tag("kind:klaviyo")],
    Discriminator(
        _esp_of,
        custom_error_type="destination_esp",
        custom_error_message="esp must be mailchimp or klaviyo",
    ),
]
