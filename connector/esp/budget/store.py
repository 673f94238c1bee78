"""What the budget needs from a database: one serialised transaction per account, with the
database's own clock (so hosts whose clocks disagree still agree on lease expiry)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["BudgetStore", "BudgetTx"]


class BudgetTx(Protocol):
    """Statements with ``?`` placeholders inside one transaction."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class BudgetStore(Protocol):
    """The budget tables' database (``connector/reconcile/budget_db.py`` opens one)."""

    def locked(self, account: str) -> AbstractContextManager[tuple[BudgetTx, float]]:
        """A transaction no other process runs at the same time for ``account``, and the
        database's time (epoch seconds) taken once the lock is held or before."""
        ...

    def close(self) -> None: ...
