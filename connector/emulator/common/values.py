"""Values both APIs write alike: timestamps and (loosely checked) email addresses."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = ["is_valid_email", "now_iso"]

# Deliberately simple, like a form validator: one @, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STAMP: tuple[int, str] = (0, "")


def is_valid_email(email: object) -> bool:
    """Whether ``email`` looks like an address the ESPs accept."""
    return isinstance(email, str) and bool(_EMAIL.match(email))


def now_iso(offset_s: float = 0.0) -> str:
    """Both APIs' timestamp format, ``2021-03-02T19:04:19+00:00``, ``offset_s`` from now
    (now: formatted once a second, as big batches stamp every member)."""
    global _STAMP  # noqa: PLW0603  (a tuple swap is atomic; a race only reformats)
    second = int(time.time() + offset_s)
    if offset_s:
        return datetime.fromtimestamp(second, UTC).isoformat()
    if _STAMP[0] != second:
        _STAMP = (second, datetime.fromtimestamp(second, UTC).isoformat())
    return _STAMP[1]
