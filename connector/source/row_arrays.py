"""Rows fetched through a DB-API-like cursor, as the arrays ``Store.columns`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np

__all__ = ["as_arrays", "plain_value"]


def plain_value(value: Any) -> Any:
    """A value as the other stores return it: timestamps naive UTC, decimals as floats."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def as_arrays(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, np.ndarray]:
    """One array per column: booleans without NULL as ``bool``, anything else ``object``
    (NULL as ``None``)."""
    result: dict[str, np.ndarray] = {}
    for index, name in enumerate(names):
        values = [plain_value(row[index]) for row in rows]
        if values and all(isinstance(v, bool) for v in values):
            result[name] = np.array(values, dtype=bool)
        else:
            array = np.empty(len(values), dtype=object)
            array[:] = values
            result[name] = array
    return result
