"""The SQLite state store's WAL checkpoints: off the committing thread, still done."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from connector.reconcile.state import StateStore


def _checkpointed_rows(path: Path) -> int:
    """Pending rows in the database file itself (``immutable``: the WAL is not read, and
    no lock is taken); 0 while not even the table has been checkpointed into it (it is in
    the WAL only), or while the checkpointer is writing the very pages this read meets (a
    torn image: "malformed"); the caller reads again until every row is there."""
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM pending").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        if "no such table" not in str(exc) and "malformed" not in str(exc):
            raise
        return 0
    finally:
        con.close()


def test_commits_leave_the_wal_checkpoint_to_a_thread_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = StateStore(path)
    con = store.db.con  # type: ignore[attr-defined]
    # the commit that grows the WAL past 1,000 pages does not copy it back itself
    assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    emails = [f"member-{i:06d}@example.com" for i in range(20_000)]
    store.begin_batch("d", "p", "add", emails)  # some 2,000 WAL pages
    # ... the checkpointer does, soon after, without another commit
    deadline = time.monotonic() + 20
    while _checkpointed_rows(path) < len(emails):
        assert time.monotonic() < deadline, "the WAL was never checkpointed"
        time.sleep(0.05)
    assert store.pending("d", "p") == set(emails)
    store.close()
    assert not [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]


def test_an_in_memory_store_has_no_checkpointer() -> None:
    before = sum(t.name == "sqlite-checkpoint" for t in threading.enumerate())
    store = StateStore(":memory:")
    store.begin_batch("d", "p", "add", ["a@example.com"])
    assert sum(t.name == "sqlite-checkpoint" for t in threading.enumerate()) == before
    store.close()
