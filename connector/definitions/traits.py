"""Traits (``traits:`` of a destination): one computed value per profile, pushed to an ESP
field (docs/design.md, Traits).

    traits:
      ORDERS90: {metric: orders_90d}                   # a named metric's value
      STAGE:    {attribute: lifecycle_stage}            # an attribute, as `fields` does
      FAVCAT:   {top_value: {event: order_completed, property: category, within: 365d}}
      CLVBAND:  {bucket: {attribute: predicted_clv, edges: [100, 500, 2000],
                          labels: [low, mid, high, top]}}
      TIER:     {map: {attribute: region, values: {CA: premium}, default: standard}}

Each may say ``type:``, the ESP field's type (a Mailchimp merge field type, or the JSON
type of a Klaviyo property); the value must fit it (checked at ``validate``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from connector.definitions.conditions import DurationField, PropertyCondition

__all__ = [
    "TRAIT_KINDS",
    "AttributeTrait",
    "BucketSpec",
    "BucketTrait",
    "MapSpec",
    "MapTrait",
    "MetricTrait",
    "TopValueSpec",
    "TopValueTrait",
    "Trait",
    "ValueKind",
    "trait_kind",
]

TRAIT_KINDS = ("metric", "attribute", "top_value", "bucket", "map")


class ValueKind(StrEnum):
    """What a trait's values are, to check against the ESP field's type."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # a date or an instant
    OTHER = "other"


class _Trait(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str | None = Field(
        default=None,
        description="the ESP field's type, one of the types the destination's ESP has "
        "(e.g. text, number, date); default: the trait's own",
    )


class MetricTrait(_Trait):
    """A named metric's value (``config/metrics.yaml``); a number, NULL when it has none."""

    metric: str = Field(min_length=1)


class AttributeTrait(_Trait):
    """A profile attribute's value, as ``fields`` pushes it."""

    attribute: str = Field(min_length=1)


class TopValueSpec(BaseModel):
    """The most frequent non-NULL, non-blank value of ``property`` over the matching events
    in the window; text compared and pushed trimmed and lower-cased; ties → the smallest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(min_length=1)
    property: str = Field(min_length=1)
    where: tuple[PropertyCondition, ...] = ()
    within: DurationField | None = None


class TopValueTrait(_Trait):
    top_value: TopValueSpec


def _one_source(attribute: str | None, metric: str | None, what: str) -> None:
    if (attribute is None) == (metric is None):
        raise ValueError(f"{what} needs exactly one of attribute or metric")


class BucketSpec(BaseModel):
    """``labels[i]`` where ``edges[i-1] <= v < edges[i]`` (``labels[0]`` below the first
    edge, the last label at or above the last); NULL stays NULL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str | None = Field(default=None, min_length=1)
    metric: str | None = Field(default=None, min_length=1)
    edges: tuple[float, ...] = Field(min_length=1)
    labels: tuple[str, ...]

    @model_validator(mode="after")
    def _fits(self) -> BucketSpec:
        _one_source(self.attribute, self.metric, "bucket")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(
                f"{len(self.edges)} edges make {len(self.edges) + 1} buckets, so "
                f"{len(self.edges) + 1} labels are needed (got {len(self.labels)})"
            )
        if any(not label.strip() for label in self.labels):
            raise ValueError("a label cannot be blank")
        return self


class MapSpec(BaseModel):
    """Lookup of the attribute's trimmed, case-insensitive text in ``values``; ``default``
    when absent or NULL (NULL when there is no default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: str = Field(min_length=1)
    values: dict[str, str] = Field(min_length=1)
    default: str | None = None

    @model_validator(mode="after")
    def _fits(self) -> MapSpec:
        seen: dict[str, str] = {}
        for key in self.values:
            norm = key.strip().lower()
            if norm in seen:
                raise ValueError(f"keys '{seen[norm]}' and '{key}' are the same text")
            seen[norm] = key
        if any(not v.strip() for v in self.values.values()) or (
            self.default is not None and not self.default.strip()
        ):
            raise ValueError("a value cannot be blank")
        return self


class BucketTrait(_Trait):
    bucket: BucketSpec


class MapTrait(_Trait):
    map: MapSpec


def trait_kind(value: Any) -> str | None:
    """The union tag of a trait (``kind:<key>``), by the key it holds (None: none or several)."""
    if isinstance(value, BaseModel):
        return _TAGS.get(type(value))
    if isinstance(value, dict):
        keys = set(value)
        found = [k for k in TRAIT_KINDS if k in keys]
        return f"kind:{found[0]}" if len(found) == 1 else None
    return None


_TAGS: dict[type[BaseModel], str] = {
    MetricTrait: "kind:metric",
    AttributeTrait: "kind:attribute",
    TopValueTrait: "kind:top_value",
    BucketTrait: "kind:bucket",
    MapTrait: "kind:map",
}

Trait = Annotated[
    Annotated[MetricTrait, Tag("kind:metric")]
    | Annotated[AttributeTrait, Tag("kind:attribute")]
    | Annotated[TopValueTrait, Tag("kind:top_value")]
    | Annotated[BucketTrait, Tag("kind:bucket")]
    | Annotated[MapTrait, Tag("kind:map")],
    Discriminator(
        trait_kind,
        custom_error_type="trait_kind",
        custom_error_message="a trait is exactly one of: " + ", ".join(TRAIT_KINDS),
    ),
]
