"""Desired vs confirmed membership → the adds and removes one part needs (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["PartChanges", "chunks", "diff_part"]

T = TypeVar("T")


@dataclass(frozen=True)
class PartChanges:
    adds: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    #: members the ESP refused too often: neither retried nor counted as done
    held_back: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.adds or self.removes)


def diff_part(
    desired: set[str],
    confirmed: set[str],
    quarantine: Mapping[str, tuple[str, int]] | None = None,
    *,
    max_attempts: int = 5,
    pending: set[str] | None = None,
) -> PartChanges:
    """Adds = desired − confirmed, removes = (confirmed ∪ pending) − desired, both sorted.

    ``pending`` holds members of unacknowledged batches: they may be in the ESP, so those no
    longer desired are removed (again). ``quarantine`` maps an email to (operation,
    attempts so far): a member refused ``max_attempts`` times for that operation is held
    back until someone clears it.
    """
    quarantine = quarantine or {}
    maybe = confirmed | (pending or set())

    def exhausted(email: str, operation: str) -> bool:
        entry = quarantine.get(email)
        return entry is not None and entry[0] == operation and entry[1] >= max_attempts

    adds: list[str] = []
    removes: list[str] = []
    held: list[str] = []
    for email in sorted(desired - confirmed):
        (held if exhausted(email, "add") else adds).append(email)
    for email in sorted(maybe - desired):
        (held if exhausted(email, "remove") else removes).append(email)
    return PartChanges(adds, removes, held)


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive batches of ``size``; every batch full but the last."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
