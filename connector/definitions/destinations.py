"""Destinations (``config/destinations.yaml``): the ESP accounts segments are pushed to.

mailchimp-main:
  esp: mailchimp
  audience: a1b2c3d4e5
  plan_tier: essentials
  fields: {region: STATE}
  traits:
    CLVBAND: {bucket: {attribute: predicted_clv, edges: [100, 500], labels: [low, mid, high]}}
klaviyo-main:
  esp: klaviyo
  fields: {region: region}
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from connector.definitions.esp_names import ESP_NAMES
from connector.definitions.traits import Trait, ValueKind

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
    traits: dict[str, Trait] = Field(
        default_factory=dict,
        description="ESP field -> a value computed per profile (metric, attribute, "
        "top_value, bucket, map), pushed to every contact segsync manages there",
    )

    #: ESP field type (a trait's ``type:``) -> the value kinds it takes
    field_types: ClassVar[dict[str, frozenset[ValueKind]]] = {}
    #: value kind -> the field type a trait without ``type:`` is pushed as
    default_types: ClassVar[dict[ValueKind, str]] = {}
    #: field names whose type is fixed by the ESP -> that type
    fixed_types: ClassVar[dict[str, str]] = {}

    #: what a materialised part becomes in this ESP: declared once per ESP, here, and read
    #: by the planner, the adapters and every display
    group_kind: ClassVar[GroupKind]
    #: what the ESP calls a contact field, for messages
    field_noun: ClassVar[str] = "field"
    #: whether the ESP compares field names ignoring case
    field_names_ignore_case: ClassVar[bool] = False

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        """The ``mode`` values a segment may use for this destination."""
        return ("auto", cls.group_kind, "segment")


class MailchimpDestination(_Destination):
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


class KlaviyoDestination(_Destination):
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


def _esp_of(value: object) -> str | None:
    esp = value.get("esp") if isinstance(value, dict) else getattr(value, "esp", None)
    return f"kind:{esp}" if esp in ESP_NAMES else None


Destination = Annotated[
    Annotated[MailchimpDestination, Tag("kind:mailchimp")]
    | Annotated[KlaviyoDestination, Tag("kind:klaviyo")],
    Discriminator(
        _esp_of,
        custom_error_type="destination_esp",
        custom_error_message=f"esp must be {' or '.join(ESP_NAMES)}",
    ),
]
