"""Field values as plain JSON for ESP contact fields (merge fields, profile properties).

The store hands back Python, NumPy and Decimal values; ESPs take JSON. Text is trimmed,
because segsync compares text trimmed and native ESP segments must see the same values.
Dates travel as ISO strings.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

__all__ = ["plain_value"]


def plain_value(value: Any) -> Any:
    """``value`` as a JSON scalar: str (trimmed), int, float, bool, ISO date string or None."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        value = item()  # NumPy scalars
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()
