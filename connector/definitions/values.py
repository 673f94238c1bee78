"""Which operators fit which column type, and rule values coerced to the column's type.

One place for this, used by validation (a ``ValueError`` becomes a located issue) and by
the compiler (which then only sees well-typed values).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.definitions.conditions import LIST_OPS, NO_VALUE_OPS, TEXT_OPS, Op
from connector.source.schema import ColumnType
from connector.timespec import Duration, parse_instant

__all__ = ["coerce_value"]

_ORDER_OPS = {Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN}
_EQUALITY = {Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN} | NO_VALUE_OPS
_TIME_ONLY = {Op.WITHIN_LAST, Op.NOT_WITHIN_LAST, Op.BEFORE, Op.AFTER}

_ALLOWED: dict[ColumnType, frozenset[Op]] = {
    ColumnType.TEXT: frozenset(_EQUALITY | _ORDER_OPS | TEXT_OPS),
    ColumnType.NUMBER: frozenset(_EQUALITY | _ORDER_OPS),
    ColumnType.BOOLEAN: frozenset(_EQUALITY),
    ColumnType.TIMESTAMP: frozenset(_EQUALITY | _ORDER_OPS | _TIME_ONLY),
    ColumnType.DATE: frozenset(_EQUALITY | _ORDER_OPS | _TIME_ONLY),
    ColumnType.OTHER: frozenset(NO_VALUE_OPS),
}


def _one(value: Any, kind: ColumnType) -> Any:
    if kind is ColumnType.TEXT:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"expected a text value, got {value!r}")
        return value if isinstance(value, str) else str(value)
    if kind is ColumnType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        return value
    if kind is ColumnType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind.is_time:
        if isinstance(value, bool | int | float):
            raise ValueError(f"expected an ISO date or instant, got {value!r}")
        return parse_instant(value)
    raise ValueError("this column's type supports only exists / not_exists")


def coerce_value(op: Op, value: Any, kind: ColumnType) -> Any:
    """``value`` (already shape-checked for ``op``) converted for a column of ``kind``.

    Raises ``ValueError`` with a user-facing message when the op or value does not fit.
    """
    if op not in _ALLOWED[kind]:
        raise ValueError(f"op {op.value} does not apply to a {kind.value} column")
    if op in NO_VALUE_OPS:
        return None
    if isinstance(value, Duration | datetime) and op in _TIME_ONLY:
        return value
    if op in LIST_OPS or op is Op.BETWEEN:
        items = tuple(_one(v, kind) for v in value)
        if op is Op.BETWEEN and kind is not ColumnType.TEXT and items[0] > items[1]:
            raise ValueError(f"between needs [low, high], got {list(value)!r}")
        return items
    return _one(value, kind)
