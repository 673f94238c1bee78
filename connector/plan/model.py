"""What the split planner produces: materialised parts and the native segment over them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.definitions.conditions import AttributeCondition, Condition, EspCondition
from connector.definitions.destinations import GroupKind

__all__ = ["NativeLiteral", "NativeSegment", "Part", "Split", "part_id"]


@dataclass(frozen=True)
class Part:
    """A locally evaluated sub-rule pushed as the destination's group (a tag or a list).

    Members: profiles satisfying ``rule`` (every profile when ``rule`` is None), minus the
    segment's held-out members when ``apply_holdout``, minus profiles a higher-priority
    segment of the exclusive group took when ``apply_exclusive``. A ``holdout`` part holds
    the held-out profiles themselves (the native segment excludes them).
    """

    name: str
    kind: Literal["rule", "holdout"]
    rule: Condition | None = None
    apply_holdout: bool = False
    apply_exclusive: bool = False


@dataclass(frozen=True)
class NativeLiteral:
    """One native condition: an ESP-only condition, a mapped attribute, or a part."""

    kind: Literal["esp", "attribute", "part"]
    positive: bool = True
    esp: EspCondition | None = None
    attribute: AttributeCondition | None = None
    esp_field: str = ""
    value: Any = None  # attribute literals: one value (``in`` is expanded to several)
    part: str = ""


@dataclass(frozen=True)
class NativeSegment:
    """A native segment as an AND of OR-groups.

    On a flat shape every group has one literal (``match: all``) or there is one group
    (``match: any``).
    """

    name: str
    groups: tuple[tuple[NativeLiteral, ...], ...]

    @property
    def match(self) -> Literal["all", "any"]:
        return "any" if len(self.groups) == 1 and len(self.groups[0]) > 1 else "all"

    @property
    def size(self) -> int:
        return sum(len(group) for group in self.groups)


@dataclass(frozen=True)
class Split:
    """How one segment lands in one destination."""

    segment: str
    destination: str
    esp: str
    group_kind: GroupKind
    mode: str
    parts: tuple[Part, ...]
    native: NativeSegment | None
    fields: dict[str, str] = field(default_factory=dict)  # store attribute -> ESP field

    @property
    def target(self) -> tuple[str, str]:
        """What a campaign should target: ``("segment", name)`` or ``("tag"|"list", name)``."""
        if self.native is not None:
            return "segment", self.native.name
        return self.group_kind, self.parts[0].name


def part_id(name: str, part_ids: Mapping[str, str] | None) -> str:
    """A part's ESP id in a native definition; before the ids exist (``plan``), the
    placeholder ``<id of segsync:…>``."""
    if part_ids is not None and name in part_ids:
        return part_ids[name]
    return f"<id of {name}>"
