"""Named metrics (``config/metrics.yaml``): an event aggregate or a profile attribute.

orders_90d: {event: order_completed, aggregate: count, within: 90d}
aov: {event: order_completed, aggregate: avg, property: amount}
clv: {attribute: predicted_clv}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connector.definitions.conditions import DurationField, PropertyCondition

__all__ = ["AttributeMetric", "EventMetric", "Metric"]

MetricAggregate = Literal["count", "sum", "avg", "min", "max", "distinct_count", "days_since_last"]


class _Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""


class EventMetric(_Metric):
    """An aggregate of the profile's events; without ``within`` it covers all events."""

    event: str = Field(min_length=1)
    aggregate: MetricAggregate
    property: str | None = Field(default=None, min_length=1)
    where: tuple[PropertyCondition, ...] = ()
    within: DurationField | None = None

    @model_validator(mode="after")
    def _property_fits(self) -> EventMetric:
        needs = self.aggregate in ("sum", "avg", "min", "max", "distinct_count")
        if needs and self.property is None:
            raise ValueError(f"aggregate {self.aggregate} needs a property")
        if not needs and self.property is not None:
            raise ValueError(f"aggregate {self.aggregate} takes no property")
        return self


class AttributeMetric(_Metric):
    """A profile column used as a metric (e.g. a predicted value)."""

    attribute: str = Field(min_length=1)


Metric = EventMetric | AttributeMetric
