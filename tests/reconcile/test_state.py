"""The state store (SQLite and PostgreSQL): migrations, atomic batch confirmation,
quarantine, history."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.reconcile.state import MIGRATIONS, CohortRecord, StateStore


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    opened = StateStore(state_url)
    yield opened
    opened.close()


def test_creates_directory_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    StateStore(path).close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    StateStore(path).close()  # reopening migrates nothing twice


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(ConfigError, match="newer segsync"):
        StateStore(path)


def test_confirm_batch_moves_members_quarantines_and_counts(store: StateStore) -> None:
    store.start_run("r1", "test", "2026-11-23T00:00:00Z")
    store.start_part("r1", "seg", "mc", "segsync:seg", desired=3)
    store.confirm_batch(
        "r1",
        "mc",
        "segsync:seg",
        "add",
        ["a@x.com", "b@x.com"],
        [("c@x.com", "Member In Compliance State", "400", True)],
    )
    assert store.confirmed("mc", "segsync:seg") == {"a@x.com", "b@x.com"}
    (q,) = store.quarantined()
    assert (q.email, q.permanent, q.attempts, q.operation) == ("c@x.com", True, 1, "add")
    store.confirm_batch("r1", "mc", "segsync:seg", "add", [], [("c@x.com", "again", "", True)])
    assert store.quarantined()[0].attempts == 2
    store.confirm_batch("r1", "mc", "segsync:seg", "add", ["c@x.com"], [])
    assert store.quarantined() == []  # an acknowledged member leaves quarantine
    store.confirm_batch("r1", "mc", "segsync:seg", "remove", ["a@x.com"], [])
    assert store.confirmed("mc", "segsync:seg") == {"b@x.com", "c@x.com"}
    (row,) = store.part_counts("r1")
    assert (row["adds"], row["removes"], row["quarantined"], row["api_calls"]) == (3, 1, 2, 4)


def test_a_failed_transaction_leaves_nothing(store: StateStore) -> None:
    store.start_run("r1", "test", "x")
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO members VALUES ('mc', 'p', 'a@x.com')")
        raise RuntimeError("crash between the two writes")
    assert store.confirmed("mc", "p") == set()


def test_objects_contacts_frozen_and_history(store: StateStore) -> None:
    store.record_object("mc", "segsync:a", "tag", "17", "a")
    store.record_object("mc", "segsync:a:segment", "segment", "18", "a", definition='{"x": 1}')
    store.record_object("mc", "segsync:a", "tag", "17", "a")  # idempotent
    assert [o.name for o in store.objects("mc")] == ["segsync:a", "segsync:a:segment"]
    assert store.object("mc", "segsync:a:segment").definition == '{"x": 1}'  # type: ignore[union-attr]
    store.record_contacts(
        "kl", [("a@x.com", True, True, "h1", "01ABC"), ("b@x.com", False, False, "h2", None)]
    )
    store.record_contacts("kl", [("a@x.com", True, True, "h3", None)])  # keeps the known id
    assert store.contacts("kl")["a@x.com"] == (True, True, "h3", "01ABC")
    assert store.frozen("s", "mc") is None
    store.freeze("s", "mc", {"segsync:s": {"a@x.com"}, "segsync:s:2": set()})
    assert store.frozen("s", "mc") == {"segsync:s": {"a@x.com"}}
    store.start_run("r1", "schedule", "2026-11-23T00:00:00Z")
    store.start_part("r1", "s", "mc", "segsync:s", desired=1)
    store.confirm_batch("r1", "mc", "segsync:s", "add", ["a@x.com"], [])
    store.finish_run("r1", "ok", 0, {"parts": []})
    (run,) = store.runs()
    assert (run.status, run.exit_code, run.trigger) == ("ok", 0, "schedule")
    (history,) = store.segment_history("s")
    assert (history["desired"], history["adds"]) == (1, 1)


def test_unwritable_state_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="SEGSYNC_STATE_PATH"):
        StateStore(blocker / "s.db")


def test_journal_keeps_confirmed_state_honest(store: StateStore) -> None:
    store.start_run("r1", "test", "x")
    store.start_part("r1", "s", "mc", "p", desired=0)
    store.confirm_batch("r1", "mc", "p", "add", ["a@x.com", "b@x.com"], [])
    # a removal leaves confirmed state before it is sent
    store.begin_batch("mc", "p", "remove", ["a@x.com"])
    assert store.confirmed("mc", "p") == {"b@x.com"}
    assert store.pending("mc", "p") == {"a@x.com"}
    # an addition joins confirmed state only when acknowledged
    store.begin_batch("mc", "p", "add", ["c@x.com"])
    assert store.confirmed("mc", "p") == {"b@x.com"}
    assert store.pending("mc", "p") == {"a@x.com", "c@x.com"}
    store.confirm_batch("r1", "mc", "p", "add", ["c@x.com"], [])
    store.confirm_batch("r1", "mc", "p", "remove", [], [("a@x.com", "refused", "", False)])
    assert store.pending("mc", "p") == set()
    assert store.confirmed("mc", "p") == {"a@x.com", "b@x.com", "c@x.com"}  # refused: still there


def test_cohorts_round_trip_bytes_and_order(store: StateStore) -> None:
    for run_id, as_of, size in [("r1", "2026-11-01", 3), ("r2", "2026-11-02", 5)]:
        store.start_run(run_id, "cli", as_of)
        store.record_cohorts([CohortRecord(run_id, "s", as_of, size, 1, None, None, b"\x00ab")])
    latest = store.latest_cohort("s")
    assert latest is not None and (latest.run_id, latest.members) == ("r2", b"\x00ab")
    assert [c.size for c in store.cohort_history("s")] == [3, 5]  # oldest first
    assert store.cohort("r1", "s").held_out_ids == b""  # type: ignore[union-attr]
    assert store.cohort_segments("r2") == ["s"]
    # the status page's latest lifts take the newest cohort whose window has passed
    older = store.latest_cohort("s", until="2026-11-01T12:00:00")
    assert older is not None and older.run_id == "r1"
    assert store.latest_cohort("s", until="2026-10-01") is None


def test_many_rows_in_one_statement_keep_every_value(store: StateStore) -> None:
    """Batches and contact rows go as one table parameter (JSON on SQLite, arrays on
    PostgreSQL): odd addresses survive, shared and mixed rows land alike, a known id is
    kept, and the later of two rows for one email wins."""
    odd = ["zoë@exämple.com", 'quo"te@x.com', "back\\slash@x.com", "o'neil@x.com"]
    many = [f"m{i:03}@x.com" for i in range(120)] + odd
    store.start_run("r1", "test", "x")
    store.start_part("r1", "s", "d", "p", desired=len(many))
    store.begin_batch("d", "p", "add", many)
    assert store.pending("d", "p") == set(many)
    store.confirm_batch("r1", "d", "p", "add", many[:-1], [], absent=many[-1:])
    assert store.confirmed("d", "p") == set(many[:-1])
    assert store.pending("d", "p") == set()
    store.record_contacts("d", [("zoë@exämple.com", True, True, "h0", "ID0")])
    rows = [(e, True, True, "{}", None) for e in many]  # shared values: one list of emails
    rows += [(odd[0], True, False, '{"A":"1"}', None), (odd[1], False, False, None, "ID1")]
    store.record_contacts("d", rows)
    known = store.contacts("d")
    assert len(known) == len(many)
    assert known["m007@x.com"] == (True, True, "{}", None)
    assert known[odd[0]] == (True, False, '{"A":"1"}', "ID0")  # later row; id kept
    assert known[odd[1]] == (False, False, None, "ID1")
    assert known[odd[3]] == (True, True, "{}", None)
    store.begin_batch("d", "p", "remove", many[:100])
    assert store.confirmed("d", "p") == set(many[100:-1])
