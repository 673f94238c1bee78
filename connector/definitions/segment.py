"""A segment file (``config/segments/<name>.yaml``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from connector.definitions.conditions import Condition
from connector.timespec import Schedule, parse_schedule

__all__ = ["NAME_PATTERN", "DestinationRef", "Segment"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
NAME_RE = re.compile(NAME_PATTERN)

ScheduleField = Annotated[
    Schedule,
    BeforeValidator(lambda v: v if isinstance(v, Schedule) else parse_schedule(v)),
    PlainSerializer(str, return_type=str),
]


class DestinationRef(BaseModel):
    """Where a segment goes: a destination named in destinations.yaml, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(min_length=1)
    mode: Literal["auto", "tag", "list", "segment"] = "auto"


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    description: str = ""
    type: Literal["dynamic", "static"] = "dynamic"
    schedule: ScheduleField | None = None
    rule: Condition
    exclusive_group: str | None = Field(default=None, pattern=NAME_PATTERN)
    priority: int = 0
    holdout: float = Field(default=0, ge=0, le=50)
    min_size: int = Field(default=0, ge=0)
    destinations: tuple[DestinationRef, ...] = ()
