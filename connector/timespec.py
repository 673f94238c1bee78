"""Durations (``30d``), instants (ISO dates and timestamps) and schedules, parsed strictly.

Internally every instant is a naive ``datetime`` in UTC, matching the stores' TIMESTAMP
columns; an aware input is converted to UTC, a naive one is taken as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "Duration",
    "Schedule",
    "format_instant",
    "parse_duration",
    "parse_instant",
    "parse_schedule",
    "utc_now",
]

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_HINT = "use a whole number and m, h, d or w, e.g. 15m, 24h, 30d, 2w"


@dataclass(frozen=True)
class Duration:
    """A positive span written as ``<integer><m|h|d|w>``; ``text`` keeps the spelling."""

    text: str
    delta: timedelta

    def __str__(self) -> str:
        return self.text


def parse_duration(value: object) -> Duration:
    """Parse ``30d``-style durations; raise ``ValueError`` with a hint otherwise.

    >>> parse_duration("24h").delta
    datetime.timedelta(days=1)
    """
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {DURATION_HINT}")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"invalid duration {value!r}: {DURATION_HINT}")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"invalid duration {value!r}: must be greater than zero")
    return Duration(f"{amount}{unit}", timedelta(**{_UNITS[unit]: amount}))


def parse_instant(value: object) -> datetime:
    """Parse an ISO date (00:00 UTC that day) or instant into a naive UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                return datetime(day.year, day.month, day.day)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"invalid date or instant {value!r}: use ISO 8601, e.g. 2026-05-01 "
                "or 2026-05-01T12:00:00Z"
            ) from None
    else:
        raise ValueError(f"invalid date or instant {value!r}: expected an ISO 8601 string")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def format_instant(value: datetime) -> str:
    """``2026-05-01T12:00:00Z`` for a naive UTC datetime."""
    return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds") + "Z"


def utc_now() -> datetime:
    """Now, naive UTC, to the second (the default ``as_of``)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Schedule:
    """When a segment runs: every ``interval`` or on a cron expression."""

    text: str
    interval: Duration | None = None
    cron: str | None = None

    def __str__(self) -> str:
        return self.text

    def next_after(self, moment: datetime) -> datetime:
        """The first run time strictly after ``moment`` (naive UTC)."""
        if self.interval is not None:
            return moment + self.interval.delta
        # croniter (~0.1 s to import) loads only for cron schedules, not with every config
        from croniter import croniter  # noqa: PLC0415

        nxt: datetime = croniter(self.cron, moment).get_next(datetime)
        return nxt


def parse_schedule(value: object) -> Schedule:
    """An interval (``15m``) or a five-field cron expression (``0 6 * * *``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid schedule {value!r}: use an interval like 15m or a cron line")
    text = value.strip()
    if _DURATION.match(text):
        return Schedule(text, interval=parse_duration(text))
    from croniter import croniter  # noqa: PLC0415  (as above)

    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(
            f"invalid schedule {value!r}: use an interval ({DURATION_HINT}) or a five-field "
            "cron expression such as '0 6 * * *'"
        )
    return Schedule(text, cron=text)
