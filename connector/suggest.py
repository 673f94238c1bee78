"""Did-you-mean hints for located errors: the known name closest to a misspelt one.

Every layer that refuses a name (config keys, columns, segments, destinations, CLI options)
ends its message the same way, so the helper lives below all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["suggest"]


def suggest(name: str, known: Iterable[str]) -> str:
    """`` — did you mean 'region'?`` when a known name is close, else ``""``."""
    choices = sorted(set(known))
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f" — did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" — did you mean '{lowered[close[0]]}'?" if close else ""
