"""Guards: reasons to stop a sync before it writes anything (exit 3 unless --force)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from connector.settings import GuardSettings
from connector.source.schema import StoreSchema
from connector.timespec import format_instant

__all__ = ["RemovalCheck", "check_guards"]


@dataclass(frozen=True)
class RemovalCheck:
    destination: str
    part: str
    confirmed: int
    removes: int


def check_guards(
    schema: StoreSchema,
    as_of: datetime,
    settings: GuardSettings,
    removals: Iterable[RemovalCheck],
) -> list[str]:
    """Every guard that trips, as a sentence naming the setting that controls it."""
    problems: list[str] = []
    if schema.profile_count == 0:
        problems.append(
            f"the customer store has no profiles (table '{schema.layout.profiles_table}' is "
            "empty): refusing to remove everyone"
        )
    if settings.max_staleness is not None:
        latest = schema.latest_event
        oldest_allowed = as_of - settings.max_staleness.delta
        if latest is None or latest < oldest_allowed:
            seen = format_instant(latest) if latest else "no events at all"
            problems.append(
                f"the customer store looks stale: latest event {seen}, older than "
                f"max_staleness {settings.max_staleness} before {format_instant(as_of)} "
                "(SEGSYNC_GUARDS__MAX_STALENESS)"
            )
    limit = settings.max_removal_percent
    for check in removals:
        if check.confirmed and check.removes * 100 > limit * check.confirmed:
            share = 100 * check.removes / check.confirmed
            problems.append(
                f"{check.destination} {check.part}: would remove {check.removes} of "
                f"{check.confirmed} confirmed members ({share:.0f}% > max_removal_percent "
                f"{limit:g}%, SEGSYNC_GUARDS__MAX_REMOVAL_PERCENT)"
            )
    return problems
