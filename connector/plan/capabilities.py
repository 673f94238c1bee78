"""What an ESP's native segments can express, as data: the planner never asks "which ESP".

Shapes:
- ``flat``: one list of conditions, ``match: all`` or ``match: any``, no nesting.
- ``cnf``: condition groups ANDed, conditions within a group ORed.

Each ESP declares its own (``connector/esp/<name>/capabilities.py``), found through
``connector.esp.registry.capabilities_for``; native attribute conditions are allowed only
where the ESP's semantics provably equal segsync's (docs/design.md, "Native conditions").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from connector.definitions.conditions import Op
from connector.definitions.destinations import Destination, GroupKind
from connector.source.schema import ColumnType

__all__ = ["Capabilities", "CapabilitiesFor"]


@dataclass(frozen=True)
class Capabilities:
    esp: str
    shape: Literal["flat", "cnf"]
    max_conditions: int
    group_kind: GroupKind
    #: column types whose mapped attributes can be native, and the ops allowed for each
    native_ops: dict[ColumnType, frozenset[Op]] = field(default_factory=dict)
    #: whether native text comparisons ignore case (a case_sensitive rule stays local)
    text_ignores_case: bool = True
    #: the ESP's name as people write it, for messages (default: ``esp``)
    title: str = ""


#: a destination's capabilities (``connector.esp.registry.capabilities_for``)
CapabilitiesFor = Callable[[Destination], Capabilities]
