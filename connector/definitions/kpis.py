"""The ``kpis:`` block of ``config/metrics.yaml``: what ``segsync report`` measures.

kpis:
  conversion_event: order_completed   # an event name
  revenue_property: amount            # numeric property of that event
  window: 14d                         # outcome window after the cohort instant
  max_mde: 0.05                       # above this MDE a segment is "too small to measure"
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.definitions.conditions import DurationField
from connector.timespec import parse_duration

__all__ = ["KPIS_KEY", "Kpis"]

#: the reserved key of ``metrics.yaml`` that holds the block (it is not a metric)
KPIS_KEY = "kpis"


class Kpis(BaseModel):
    """Outcome definition of the report (docs/design.md, Measuring); every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversion_event: str = Field(default="order_completed", min_length=1)
    revenue_property: str = Field(default="amount", min_length=1)
    window: DurationField = Field(default_factory=lambda: parse_duration("14d"))
    max_mde: float = Field(default=0.05, gt=0, le=1)
