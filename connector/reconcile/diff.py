"""Desired vs confirmed membership → the adds and removes one part needs (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["PartChanges", "chunks", "diff_part", "digest"]

T = TypeVar("T")


@dataclass(frozen=True)
class PartChanges:
    adds: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    #: members the ESP refused too often: neither retried nor counted as done
    held_back: list[str] = field(default_factory=list)
    #: desired members that cannot be added: the contact is known to be missing from the
    #: ESP and may not be created (no consent, or ``new_contacts: never``), and nothing
    #: about it changed since, so no run sends them (counted as skipped, not as adds)
    unaddable: list[str] = field(default_factory=list)
    #: desired members that may not be created and that segsync has not seen in the ESP
    #: (never pushed, or consent/fields changed since): the sync looks each one up, adds
    #: those the ESP has and counts the others as skipped. Neither adds nor skipped until
    #: then: ``plan`` and ``sync --dry-run`` (which read no contact from the ESP) show them
    #: apart as "added only if already in the ESP"
    lookups: list[str] = field(default_factory=list)

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
    absent: Set[str] = frozenset(),
    unknown: Set[str] = frozenset(),
) -> PartChanges:
    """Adds = desired − confirmed, removes = (confirmed ∪ pending) − desired, both sorted.

    ``pending`` holds members of unacknowledged batches: they may be in the ESP, so those no
    longer desired are removed (again). ``quarantine`` maps an email to (operation,
    attempts so far): a member refused ``max_attempts`` times for that operation is held
    back until someone clears it. ``absent``: emails that cannot be added (see
    ``PartChanges.unaddable``); ``unknown``: emails added only if the ESP has them (see
    ``PartChanges.lookups``).
    """
    quarantine = quarantine or {}
    maybe = confirmed | (pending or set())

    def exhausted(email: str, operation: str) -> bool:
        entry = quarantine.get(email)
        return entry is not None and entry[0] == operation and entry[1] >= max_attempts

    adds: list[str] = []
    removes: list[str] = []
    held: list[str] = []
    unaddable: list[str] = []
    lookups: list[str] = []
    for email in sorted(desired - confirmed):
        if exhausted(email, "add"):
            held.append(email)
        elif email in absent:
            unaddable.append(email)
        elif email in unknown:
            lookups.append(email)
        else:
            adds.append(email)
    for email in sorted(maybe - desired):
        (held if exhausted(email, "remove") else removes).append(email)
    return PartChanges(adds, removes, held, unaddable, lookups)


def digest(emails: Iterable[str]) -> str:
    """A short fingerprint of a set of emails (order-independent)."""
    return hashlib.sha256("\n".join(sorted(emails)).encode()).hexdigest()[:16]


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive batches of ``size``; every batch full but the last."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
