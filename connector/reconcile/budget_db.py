"""The rate budget's database: where processes that share an ESP account meet.

By default it is the state store's: a SQLite state file ``state/segsync.db`` keeps its budget
in ``state/segsync.budget.db`` beside it (its own file, so a run's state writes never hold up
a request), a PostgreSQL state store in ``segsync_budget_*`` tables of its schema. So every
process on one state store — the daemon, a manual ``sync``, a CI job on another host — shares
one budget per ESP account. ``SEGSYNC_BUDGET__URL`` points processes with different state
stores at one budget; ``SEGSYNC_BUDGET__ENABLED=false`` keeps the gates in-process.

One ``SharedBudget`` per budget URL and process (``budget_for``), closed at exit (its slots
given back) or by ``close_budgets`` (tests).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from connector.errors import ConfigError
from connector.esp.budget import SharedBudget
from connector.esp.budget.leases import LEASES_DDL
from connector.esp.budget.store import BudgetTx
from connector.esp.budget.windows import GRANTS_DDL
from connector.reconcile.state_db import PostgresDb, SqliteDb, open_db
from connector.reconcile.state_url import StateUrl, parse_state_url, state_url_of
from connector.settings import Settings

__all__ = ["BudgetDb", "budget_for", "budget_url_of", "close_budgets"]

_DDL = (LEASES_DDL, *GRANTS_DDL)
_SETTING = "SEGSYNC_BUDGET__URL"


def _key(*parts: str) -> int:
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class BudgetDb:
    """A ``BudgetStore`` on a SQLite file or a PostgreSQL schema (its own connection)."""

    def __init__(self, url: StateUrl) -> None:
        self.url = url
        self.db: SqliteDb | PostgresDb = open_db(url)
        self._schema = getattr(self.db, "schema", "")
        #: transactions run (grants, renewals): the budget's cost, for benchmarks
        self.transactions = 0
        with self._transaction("segsync-budget-migrate") as (tx, _):
            for statement in _DDL:
                tx.execute(statement)

    @contextmanager
    def _transaction(self, lock: str) -> Iterator[tuple[BudgetTx, float]]:
        self.transactions += 1
        with self.db.transaction() as tx:
            if isinstance(self.db, PostgresDb):
                # the advisory lock serialises one account's grants across hosts; the
                # server's clock is the one every host reads
                rows = tx.execute(
                    "SELECT pg_advisory_xact_lock(?), EXTRACT(EPOCH FROM clock_timestamp())",
                    (_key(lock, self._schema),),
                )
                yield tx, float(rows[0][1])
            else:  # BEGIN IMMEDIATE holds the file's write lock; one host reads one clock
                yield tx, time.time()

    def locked(self, account: str) -> contextlib.AbstractContextManager[tuple[BudgetTx, float]]:
        return self._transaction(f"segsync-budget:{account}")

    def close(self) -> None:
        self.db.close()


def budget_url_of(settings: Settings) -> StateUrl | None:
    """Where this process's budget lives; None: no other process can share it (disabled,
    or an in-memory state store)."""
    if not settings.budget.enabled:
        return None
    if settings.budget.url:
        try:
            url = parse_state_url(settings.budget.url)
        except ConfigError:
            raise ConfigError(
                "unsupported budget URL: use sqlite:///path.db or postgresql://user@host/db",
                file=_SETTING,
            ) from None
        return url if url.kind == "postgresql" or url.path is not None else None
    state = state_url_of(settings)
    if state.kind == "postgresql":
        return state
    if state.path is None:
        return None
    return StateUrl("sqlite", path=state.path.with_name(f"{state.path.stem}.budget.db"))


_lock = threading.Lock()
_budgets: dict[StateUrl, SharedBudget] = {}


def budget_for(settings: Settings) -> SharedBudget | None:
    """The process's shared budget for these settings (opened on first use)."""
    url = budget_url_of(settings)
    if url is None:
        return None
    with _lock:
        budget = _budgets.get(url)
        if budget is None:
            budget = _budgets[url] = SharedBudget(
                BudgetDb(url),
                lease_seconds=settings.budget.lease_seconds,
                description=url.display(),
            )
        return budget


def close_budgets() -> None:
    """Give back every lease of this process and close the budget stores."""
    with _lock:
        budgets = list(_budgets.values())
        _budgets.clear()
    for budget in budgets:
        budget.close()


atexit.register(close_budgets)
