"""The state store: what segsync owns in each ESP and what the ESP confirmed.

It lives in SQLite (a file, WAL) or PostgreSQL (``SEGSYNC_STATE_URL``), with the same schema
and SQL (``state_db.py``); runs on one store are serialised by its run lock (``state_lock.py``).

Tables (migrations below, applied in order, recorded in ``PRAGMA user_version``):

- ``objects``: every tag, list and native segment segsync created or adopted (by its
  recognisable ``segsync:`` name), with the ESP id and the definition it last sent.
- ``members``: per destination and part, the emails the ESP acknowledged. Rows move only
  after an acknowledged batch, in the same transaction as the run's counters.
- ``contacts``: per destination, contacts known present (with the ESP's id when it has
  one, and a hash of the field values last pushed) or known absent without consent.
- ``quarantine``: members the ESP refused, with its reason and the attempt count.
- ``frozen``: the membership of static segments, fixed at their first sync.
- ``pending``: members of batches sent but not yet acknowledged (a journal). A removal's
  members leave ``members`` *before* the batch is sent, so confirmed state never claims a
  member the ESP may have dropped; an addition's members join ``members`` only on the
  acknowledgement. Until then both may or may not be in the ESP: the next diff re-sends
  what is still wanted and removes what is not, so no change is lost either way.
- ``runs`` / ``run_parts``: run history (sizes, adds, removes, skips, errors, timings). A
  run still ``running`` when a later run takes the lock was interrupted (SIGKILL, a lost
  machine): it is marked ``interrupted``.
- ``run_qualified``: per run and segment with ``hysteresis``, the profile ids that
  qualified (before exclusive groups, holdout and min_size), compressed; the next run's
  hysteresis keeps them while within P + N %.
- ``processing_times``: per destination, the newest ``KEEP`` processing times of the
  account's background work (Klaviyo import jobs, Mailchimp batches: the ESP's id, items,
  seconds, when learned, the latest poll that found it unfinished; no key), so a new
  process times its first poll from them.
- ``run_cohorts``: per run and segment, the cohort the report measures (``--run ID``):
  size, entered and exited since the segment's previous recorded run, and the member and
  held-out profile ids, each set compressed (``reconcile/idsets.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from connector.errors import StateBusyError
from connector.esp.base import EspObject
from connector.esp.processing_times import KEEP, ProcessingTime
from connector.reconcile.state_db import StateDb, Tx, open_db
from connector.reconcile.state_url import StateUrl, parse_state_url

__all__ = [
    "CohortRecord",
    "KnownContact",
    "ObjectRecord",
    "QuarantineRecord",
    "RunRecord",
    "SegmentRuns",
    "StateStore",
]

MIGRATIONS: list[str] = [
    """
    CREATE TABLE objects (
        destination TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        esp_id TEXT NOT NULL,
        segment TEXT NOT NULL,
        definition TEXT,
        created_by_segsync INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (destination, name)
    );
    CREATE TABLE members (
        destination TEXT NOT NULL,
        part TEXT NOT NULL,
        email TEXT NOT NULL,
        PRIMARY KEY (destination, part, email)
    ) WITHOUT ROWID;
    CREATE TABLE contacts (
        destination TEXT NOT NULL,
        email TEXT NOT NULL,
        esp_id TEXT,
        present INTEGER NOT NULL,
        consent INTEGER NOT NULL DEFAULT 0,
        fields_hash TEXT,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (destination, email)
    ) WITHOUT ROWID;
    CREATE TABLE quarantine (
        destination TEXT NOT NULL,
        part TEXT NOT NULL,
        email TEXT NOT NULL,
        operation TEXT NOT NULL,
        reason TEXT NOT NULL,
        code TEXT NOT NULL DEFAULT '',
        permanent INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (destination, part, email)
    ) WITHOUT ROWID;
    CREATE TABLE frozen (
        segment TEXT NOT NULL,
        destination TEXT NOT NULL,
        part TEXT NOT NULL,
        email TEXT NOT NULL,
        PRIMARY KEY (segment, destination, part, email)
    ) WITHOUT ROWID;
    CREATE TABLE frozen_segments (
        segment TEXT NOT NULL,
        destination TEXT NOT NULL,
        frozen_at TEXT NOT NULL,
        PRIMARY KEY (segment, destination)
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        trigger TEXT NOT NULL,
        as_of TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        summary TEXT
    );
    CREATE TABLE run_parts (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        segment TEXT NOT NULL,
        destination TEXT NOT NULL,
        part TEXT NOT NULL,
        desired INTEGER NOT NULL DEFAULT 0,
        adds INTEGER NOT NULL DEFAULT 0,
        removes INTEGER NOT NULL DEFAULT 0,
        skipped_no_consent INTEGER NOT NULL DEFAULT 0,
        quarantined INTEGER NOT NULL DEFAULT 0,
        api_calls INTEGER NOT NULL DEFAULT 0,
        duration_seconds REAL NOT NULL DEFAULT 0,
        error TEXT,
        PRIMARY KEY (run_id, destination, part)
    );
    CREATE INDEX runs_started ON runs(started_at);
    CREATE INDEX run_parts_segment ON run_parts(segment, run_id);
    """,
    """
    CREATE TABLE pending (
        destination TEXT NOT NULL,
        part TEXT NOT NULL,
        email TEXT NOT NULL,
        PRIMARY KEY (destination, part, email)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE run_cohorts (
        run_id TEXT NOT NULL,
        segment TEXT NOT NULL,
        as_of TEXT NOT NULL,
        size INTEGER NOT NULL,
        held_out INTEGER NOT NULL,
        entered INTEGER,
        exited INTEGER,
        members BLOB NOT NULL,
        held_out_ids BLOB NOT NULL,
        PRIMARY KEY (run_id, segment)
    );
    CREATE INDEX run_cohorts_segment ON run_cohorts(segment, as_of);
    """,
    """
    CREATE TABLE run_qualified (
        run_id TEXT NOT NULL,
        segment TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        ids BLOB NOT NULL,
        PRIMARY KEY (run_id, segment)
    );
    CREATE INDEX run_qualified_segment ON run_qualified(segment, recorded_at);
    """,
    """
    CREATE TABLE processing_times (
        destination TEXT NOT NULL,
        id TEXT NOT NULL,
        items INTEGER NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (destination, id)
    );
    """,
    """
    ALTER TABLE processing_times ADD COLUMN not_before DOUBLE PRECISION NOT NULL DEFAULT 0;
    """,
]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


class KnownContact(NamedTuple):
    """One contact as the state store knows it in one destination."""

    #: the contact exists in the ESP (it can join tags/lists)
    present: bool
    #: its consent when segsync last pushed or looked it up
    consent: bool
    #: ``fields_hash`` of the values last pushed (None: never pushed, or refused)
    fields_hash: str | None
    #: the ESP's id for it, where the ESP has one (Klaviyo profile ids)
    esp_id: str | None


@dataclass(frozen=True)
class ObjectRecord:
    destination: str
    name: str
    kind: str
    esp_id: str
    segment: str
    definition: str | None


@dataclass(frozen=True)
class QuarantineRecord:
    destination: str
    part: str
    email: str
    operation: str
    reason: str
    code: str
    permanent: bool
    attempts: int


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    started_at: str
    finished_at: str | None
    trigger: str
    as_of: str
    status: str
    exit_code: int | None
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class CohortRecord:
    """One segment's cohort at one run; ``members``/``held_out_ids`` are encoded id sets
    (``None`` when only the counts were read)."""

    run_id: str
    segment: str
    as_of: str
    size: int
    held_out: int
    entered: int | None
    exited: int | None
    members: bytes | None = None
    held_out_ids: bytes | None = None


@dataclass(frozen=True)
class SegmentRuns:
    """A segment's latest run and last success (timestamps as stored: ISO, UTC, ``Z``)."""

    segment: str
    last_started_at: str
    last_status: str
    last_success_at: str | None


class StateStore:
    """One state database; safe to share between threads (writes are serialised).

    ``location`` is a ``StateUrl``, a URL (``sqlite:///…``, ``postgresql://…``) or a path to a
    SQLite file."""

    def __init__(self, location: StateUrl | Path | str) -> None:
        if isinstance(location, StateUrl):
            url = location
        elif isinstance(location, str) and "://" in location:
            url = parse_state_url(location)
        else:
            url = StateUrl("sqlite", path=None if str(location) == ":memory:" else Path(location))
        self.url = url
        self.db: StateDb = open_db(url)
        self.lock = threading.RLock()
        try:
            self.db.migrate(MIGRATIONS)
        except BaseException:
            self.db.close()
            raise

    @property
    def name(self) -> str:
        """The store, for messages (never a password)."""
        return self.url.display()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction (rolled back on error), serialised across threads."""
        with self.lock, self.db.transaction() as tx:
            yield tx

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.db.query(sql, args)

    def check(self) -> None:
        """Read the whole store once, so damage is reported before any ESP write."""
        self.db.check()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- the run lock -------------------------------------------------------------------
    def acquire_run_lock(self, *, wait: bool, stop: threading.Event | None = None) -> bool:
        """Take this store's run lock (shared by the threads of this process).

        Without ``wait`` a lock held by another process raises ``StateBusyError``; with it,
        the call waits, and returns False only when ``stop`` was set meanwhile. The first
        holder in a process marks runs left ``running`` as ``interrupted``."""
        taken = self.db.run_lock.acquire(wait=wait, stop=stop)
        if taken is None:
            if wait:
                return False
            raise StateBusyError(
                f"another segsync run holds the lock of the state store {self.name}: "
                "wait for it to finish, or pass --wait to wait for it"
            )
        if taken:
            try:
                self.mark_interrupted()
            except BaseException:
                self.db.run_lock.release()
                raise
        return True

    def release_run_lock(self) -> None:
        self.db.run_lock.release()

    def mark_interrupted(self) -> int:
        """Runs marked ``running`` while no run holds the lock: they were interrupted."""
        with self.transaction() as tx:
            rows = tx.execute("SELECT run_id FROM runs WHERE status = 'running'")
            tx.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
                (_now(),),
            )
        return len(rows)

    def mark_runs_interrupted(self, run_ids: Sequence[str]) -> None:
        """These runs will not finish (the process is leaving while they still run)."""
        with self.transaction() as tx:
            tx.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ? "
                "WHERE run_id = ? AND status = 'running'",
                ((_now(), run_id) for run_id in run_ids),
            )

    def settle_interrupted(self) -> None:
        """When no run holds the lock now, mark leftover ``running`` runs ``interrupted``
        (``status`` and the daemon's start call this; it never waits)."""
        if not any(r.status == "running" for r in self.runs(50)):
            return
        taken = self.db.run_lock.acquire(wait=False)
        if taken is None:
            return  # a run is active: its rows are right
        try:
            if taken:
                self.mark_interrupted()
        finally:
            self.db.run_lock.release()

    # -- objects ------------------------------------------------------------------------
    def objects(self, destination: str | None = None) -> list[ObjectRecord]:
        query = "SELECT destination, name, kind, esp_id, segment, definition FROM objects"
        args: tuple[Any, ...] = ()
        if destination is not None:
            query += " WHERE destination = ?"
            args = (destination,)
        return [ObjectRecord(*row) for row in self._rows(query + " ORDER BY 1, 2", args)]

    def object(self, destination: str, name: str) -> ObjectRecord | None:
        rows = self._rows(
            "SELECT destination, name, kind, esp_id, segment, definition FROM objects "
            "WHERE destination = ? AND name = ?",
            (destination, name),
        )
        return ObjectRecord(*rows[0]) if rows else None

    def record_object(
        self,
        destination: str,
        name: str,
        kind: str,
        esp_id: str,
        segment: str,
        *,
        definition: str | None = None,
        created: bool = True,
    ) -> None:
        now = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO objects (destination, name, kind, esp_id, segment, definition, "
                "created_by_segsync, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (destination, name) DO UPDATE SET esp_id = excluded.esp_id, "
                "kind = excluded.kind, "
                "definition = COALESCE(excluded.definition, objects.definition), "
                "updated_at = excluded.updated_at",
                (destination, name, kind, esp_id, segment, definition, int(created), now, now),
            )

    # -- confirmed membership -----------------------------------------------------------
    def confirmed(self, destination: str, part: str) -> set[str]:
        rows = self._rows(
            "SELECT email FROM members WHERE destination = ? AND part = ?", (destination, part)
        )
        return {email for (email,) in rows}

    def pending(self, destination: str, part: str) -> set[str]:
        """Members of batches that were sent but never acknowledged (may be in the ESP)."""
        rows = self._rows(
            "SELECT email FROM pending WHERE destination = ? AND part = ?", (destination, part)
        )
        return {email for (email,) in rows}

    def begin_batch(
        self, destination: str, part: str, operation: str, emails: Sequence[str]
    ) -> None:
        """Journal a batch before it is sent; a removal's members leave the confirmed state
        in the same transaction."""
        with self.transaction() as db:
            if operation == "remove":
                _delete_members(db, "members", destination, part, emails)
            _insert_members(db, "pending", destination, part, emails)

    def replace_confirmed(self, destination: str, part: str, emails: Iterable[str]) -> None:
        """Full resync: the ESP's actual membership becomes the confirmed state."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM pending WHERE destination = ? AND part = ?", (destination, part)
            )
            db.execute(
                "DELETE FROM members WHERE destination = ? AND part = ?", (destination, part)
            )
            _insert_members(db, "members", destination, part, list(emails))

    def adopt(
        self, destination: str, name: str, group: EspObject, segment: str, emails: Iterable[str]
    ) -> None:
        """A tag/list found in the ESP under segsync's name: record it as owned and its
        actual members as confirmed, together."""
        now = _now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO objects (destination, name, kind, esp_id, segment, definition, "
                "created_by_segsync, created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, 0, ?, ?) "
                "ON CONFLICT (destination, name) DO UPDATE SET esp_id = excluded.esp_id, "
                "kind = excluded.kind, updated_at = excluded.updated_at",
                (destination, name, group.kind, group.id, segment, now, now),
            )
            db.execute(
                "DELETE FROM pending WHERE destination = ? AND part = ?", (destination, name)
            )
            db.execute(
                "DELETE FROM members WHERE destination = ? AND part = ?", (destination, name)
            )
            _insert_members(db, "members", destination, name, list(emails))

    def confirm_batch(
        self,
        run_id: str,
        destination: str,
        part: str,
        operation: str,
        applied: Sequence[str],
        errors: Sequence[tuple[str, str, str, bool]],
        *,
        api_calls: int = 1,
        absent: Sequence[str] = (),
    ) -> None:
        """One acknowledged batch: move confirmed state, quarantine refusals, count — in one
        transaction, so a crash leaves either all of it or none. ``absent``: members of the
        batch the ESP answered for as not there (not applied, not refused): no longer
        pending."""
        now = _now()
        refused = [e[0] for e in errors]
        with self.transaction() as db:
            if operation == "add":
                _insert_members(db, "members", destination, part, applied)
            else:
                _delete_members(db, "members", destination, part, applied)
                # the ESP refused to remove these: they are still members
                _insert_members(db, "members", destination, part, refused)
            _delete_members(db, "pending", destination, part, [*applied, *refused, *absent])
            if applied and db.execute(
                "SELECT 1 FROM quarantine WHERE destination = ? AND part = ? LIMIT 1",
                (destination, part),
            ):
                _delete_members(db, "quarantine", destination, part, applied)
            db.executemany(
                "INSERT INTO quarantine (destination, part, email, operation, reason, code, "
                "permanent, attempts, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (destination, part, email) DO UPDATE SET "
                "attempts = quarantine.attempts + 1, "
                "reason = excluded.reason, code = excluded.code, permanent = excluded.permanent, "
                "operation = excluded.operation, last_seen = excluded.last_seen",
                (
                    (destination, part, email, operation, reason, code, int(perm), now, now)
                    for email, reason, code, perm in errors
                ),
            )
            column = "adds" if operation == "add" else "removes"
            db.execute(
                f"UPDATE run_parts SET {column} = {column} + ?, quarantined = quarantined + ?, "
                "api_calls = api_calls + ? WHERE run_id = ? AND destination = ? AND part = ?",
                (len(applied), len(errors), api_calls, run_id, destination, part),
            )

    # -- quarantine ---------------------------------------------------------------------
    def quarantined(self, destination: str | None = None) -> list[QuarantineRecord]:
        query = (
            "SELECT destination, part, email, operation, reason, code, permanent, attempts "
            "FROM quarantine"
        )
        args: tuple[Any, ...] = ()
        if destination is not None:
            query += " WHERE destination = ?"
            args = (destination,)
        return [
            QuarantineRecord(d, p, e, o, r, c, bool(perm), a)
            for d, p, e, o, r, c, perm, a in self._rows(query + " ORDER BY 1, 2, 3", args)
        ]

    # -- contacts -----------------------------------------------------------------------
    def contacts(self, destination: str) -> dict[str, KnownContact]:
        """email → what the state store knows of that contact in the destination."""
        rows = self._rows(
            "SELECT email, present, consent, fields_hash, esp_id FROM contacts "
            "WHERE destination = ?",
            (destination,),
        )
        return {e: KnownContact(bool(p), bool(c), h, i) for e, p, c, h, i in rows}

    def record_contacts(
        self,
        destination: str,
        rows: Iterable[tuple[str, bool, bool, str | None, str | None]],
    ) -> None:
        """Upsert ``(email, present, consent, fields_hash, esp_id)`` rows (of one email
        given twice, the later row).

        Rows sharing their other values (contacts without mapped fields all have one hash)
        go as one list of emails per shared value; SQLite reads a list of plain emails
        several times faster than rows of five."""
        latest = {row[0]: row for row in rows}
        shared: dict[tuple[int, int, str | None, str | None], list[str]] = {}
        for email, is_present, has_consent, digest, esp_id in latest.values():
            key = (int(is_present), int(has_consent), digest, esp_id)
            shared.setdefault(key, []).append(email)
        mixed: list[tuple[str, int, int, str | None, str | None]] = []
        now = _now()
        with self.transaction() as db:
            for (present, consent, digest, esp_id), emails in shared.items():
                if len(emails) < _SHARED_ROWS:
                    mixed += [(e, present, consent, digest, esp_id) for e in emails]
                    continue
                db.execute_rows(
                    _UPSERT_CONTACTS.format(values="email, ?, ?, ?, ?, ?"),
                    (destination, present, consent, digest, esp_id, now),
                    sorted(emails),
                    [("email", "text")],
                )
            db.execute_rows(
                _UPSERT_CONTACTS.format(values="email, present, consent, fields_hash, esp_id, ?"),
                (destination, now),
                sorted(mixed),
                _CONTACT_COLUMNS,
            )

    # -- processing times of background work -------------------------------------------
    def processing_times(self, destination: str) -> list[ProcessingTime]:
        """The destination's newest processing times kept, oldest first."""
        rows = self._rows(
            "SELECT id, items, seconds, seen_at, not_before FROM processing_times "
            "WHERE destination = ? ORDER BY seen_at, id",
            (destination,),
        )
        return [
            ProcessingTime(str(i), int(n), float(s), float(t), float(b)) for i, n, s, t, b in rows
        ]

    def record_processing_times(
        self, destination: str, times: Sequence[ProcessingTime], keep: int = KEEP
    ) -> None:
        """Keep these processing times (a job already kept keeps its first), then only the
        destination's newest ``keep``."""
        if not times:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO processing_times (destination, id, items, seconds, seen_at, "
                "not_before) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (destination, id) DO NOTHING",
                [(destination, t.id, t.items, t.seconds, t.seen_at, t.not_before) for t in times],
            )
            db.execute(
                "DELETE FROM processing_times WHERE destination = ? AND id NOT IN "
                "(SELECT id FROM processing_times WHERE destination = ? "
                "ORDER BY seen_at DESC, id DESC LIMIT ?)",
                (destination, destination, keep),
            )

    # -- static segments ----------------------------------------------------------------
    def frozen(self, segment: str, destination: str) -> dict[str, set[str]] | None:
        """part → emails fixed at the first sync, or None before it."""
        with self.lock:
            known = self._rows(
                "SELECT 1 FROM frozen_segments WHERE segment = ? AND destination = ?",
                (segment, destination),
            )
            if not known:
                return None
            result: dict[str, set[str]] = {}
            for part, email in self._rows(
                "SELECT part, email FROM frozen WHERE segment = ? AND destination = ?",
                (segment, destination),
            ):
                result.setdefault(part, set()).add(email)
            return result

    def freeze(self, segment: str, destination: str, parts: dict[str, set[str]]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO frozen_segments (segment, destination, frozen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (segment, destination) DO UPDATE SET frozen_at = excluded.frozen_at",
                (segment, destination, _now()),
            )
            for part, emails in parts.items():
                db.executemany(
                    "INSERT INTO frozen (segment, destination, part, email) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    ((segment, destination, part, e) for e in emails),
                )

    # -- runs ---------------------------------------------------------------------------
    def start_run(self, run_id: str, trigger: str, as_of: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, started_at, trigger, as_of, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (run_id, _now(), trigger, as_of),
            )

    def start_part(
        self, run_id: str, segment: str, destination: str, part: str, desired: int
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO run_parts (run_id, segment, destination, part, desired) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, destination, part) DO UPDATE SET "
                "segment = excluded.segment, desired = excluded.desired, adds = 0, removes = 0, "
                "skipped_no_consent = 0, quarantined = 0, api_calls = 0, duration_seconds = 0, "
                "error = NULL",
                (run_id, segment, destination, part, desired),
            )

    def update_part(self, run_id: str, destination: str, part: str, **values: Any) -> None:
        allowed = {"skipped_no_consent", "duration_seconds", "error", "api_calls"}
        assert set(values) <= allowed, values
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as db:
            db.execute(
                f"UPDATE run_parts SET {sets} WHERE run_id = ? AND destination = ? AND part = ?",
                (*values.values(), run_id, destination, part),
            )

    def part_counts(self, run_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return self.db.query_dicts(
                "SELECT segment, destination, part, desired, adds, removes, skipped_no_consent, "
                "quarantined, api_calls, duration_seconds, error FROM run_parts WHERE run_id = ? "
                "ORDER BY segment, destination, part",
                (run_id,),
            )

    def finish_run(self, run_id: str, status: str, exit_code: int, summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? "
                "WHERE run_id = ?",
                (_now(), status, exit_code, json.dumps(summary, default=str), run_id),
            )

    def has_run(self, run_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))

    def runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self._rows(
            "SELECT run_id, started_at, finished_at, trigger, as_of, status, exit_code, "
            "summary FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (limit,),
        )
        return [
            RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]) if r[7] else None)
            for r in rows
        ]

    def segment_history(self, segment: str, limit: int = 50) -> list[dict[str, Any]]:
        """Per run (newest first): the segment's desired size and changes, summed over parts."""
        rows = self._rows(
            "SELECT r.run_id, r.started_at, rp.destination, SUM(rp.desired), SUM(rp.adds), "
            "SUM(rp.removes), SUM(rp.quarantined), MAX(rp.error) FROM run_parts rp "
            "JOIN runs r USING (run_id) WHERE rp.segment = ? "
            "GROUP BY r.run_id, r.started_at, rp.destination ORDER BY r.started_at DESC LIMIT ?",
            (segment, limit),
        )
        keys = ["run_id", "started_at", "destination", "desired", "adds", "removes",
                "quarantined", "error"]  # fmt: skip
        return [
            dict(zip(keys, (*row[:3], *(int(v or 0) for v in row[3:7]), row[7]), strict=True))
            for row in rows
        ]

    # -- read helpers for the daemon (scheduling at start, metrics, status page) ---------
    def segment_last_runs(self) -> dict[str, SegmentRuns]:
        """Per segment: its latest run's start and status, and when its latest ok or
        quarantined run finished."""
        with self.lock:
            latest = self._rows(
                "SELECT segment, started_at, status FROM (SELECT rp.segment, r.started_at, "
                "r.status, ROW_NUMBER() OVER (PARTITION BY rp.segment "
                "ORDER BY r.started_at DESC, r.run_id DESC) AS n "
                "FROM run_parts rp JOIN runs r USING (run_id)) AS latest WHERE n = 1"
            )
            success = dict(
                self._rows(
                    "SELECT rp.segment, MAX(r.finished_at) FROM run_parts rp "
                    "JOIN runs r USING (run_id) WHERE r.status IN ('ok', 'quarantined') "
                    "GROUP BY rp.segment"
                )
            )
        return {
            segment: SegmentRuns(segment, started, status, success.get(segment))
            for segment, started, status in latest
        }

    def quarantine_counts(self) -> dict[str, int]:
        """destination → members currently quarantined (counts only, no emails)."""
        rows = self._rows("SELECT destination, COUNT(*) FROM quarantine GROUP BY destination")
        return {destination: int(count) for destination, count in rows}

    # -- cohorts (the report's --run and size history) ------------------------------------
    def record_cohorts(self, records: Sequence[CohortRecord]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO run_cohorts (run_id, segment, as_of, size, held_out, "
                "entered, exited, members, held_out_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, segment) DO UPDATE SET as_of = excluded.as_of, "
                "size = excluded.size, held_out = excluded.held_out, "
                "entered = excluded.entered, exited = excluded.exited, "
                "members = excluded.members, held_out_ids = excluded.held_out_ids",
                (
                    (r.run_id, r.segment, r.as_of, r.size, r.held_out, r.entered, r.exited,
                     r.members or b"", r.held_out_ids or b"")
                    for r in records
                ),
            )  # fmt: skip

    # -- qualified sets (percentile hysteresis) -------------------------------------------
    def record_qualified(self, run_id: str, qualified: Mapping[str, bytes]) -> None:
        """Each segment's qualified profile ids (encoded) at run ``run_id``."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO run_qualified (run_id, segment, recorded_at, ids) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (run_id, segment) DO UPDATE SET "
                "recorded_at = excluded.recorded_at, ids = excluded.ids",
                ((run_id, segment, now, ids) for segment, ids in sorted(qualified.items())),
            )

    def qualified(self, segment: str, run_id: str | None = None) -> bytes | None:
        """The encoded ids ``segment`` qualified at run ``run_id`` (default: the latest
        run that recorded it); ``None`` when there is none."""
        if run_id is None:
            rows = self._rows(
                "SELECT ids FROM run_qualified WHERE segment = ? "
                "ORDER BY recorded_at DESC, run_id DESC LIMIT 1",
                (segment,),
            )
        else:
            rows = self._rows(
                "SELECT ids FROM run_qualified WHERE segment = ? AND run_id = ?",
                (segment, run_id),
            )
        if not rows:
            return None
        blob = rows[0][0]
        return bytes(blob)

    def cohort(self, run_id: str, segment: str) -> CohortRecord | None:
        """A run's cohort of ``segment`` with its id sets."""
        rows = self._rows(
            "SELECT run_id, segment, as_of, size, held_out, entered, exited, members, "
            "held_out_ids FROM run_cohorts WHERE run_id = ? AND segment = ?",
            (run_id, segment),
        )
        return _cohort(rows[0]) if rows else None

    def latest_cohort(self, segment: str, until: str | None = None) -> CohortRecord | None:
        """The segment's most recently recorded cohort (with ``as_of`` at or before
        ``until``, an ISO instant, when given), with its id sets."""
        bound = "" if until is None else " AND c.as_of <= ?"
        rows = self._rows(
            "SELECT c.run_id, c.segment, c.as_of, c.size, c.held_out, c.entered, c.exited, "
            "c.members, c.held_out_ids FROM run_cohorts c "
            f"WHERE c.segment = ?{bound} ORDER BY {_COHORT_ORDER} LIMIT 1",
            (segment,) if until is None else (segment, until),
        )
        return _cohort(rows[0]) if rows else None

    def cohort_segments(self, run_id: str) -> list[str]:
        rows = self._rows(
            "SELECT segment FROM run_cohorts WHERE run_id = ? ORDER BY segment", (run_id,)
        )
        return [segment for (segment,) in rows]

    def cohort_history(self, segment: str, limit: int = 200) -> list[CohortRecord]:
        """The segment's recorded cohort sizes (no id sets), oldest first."""
        rows = self._rows(
            "SELECT c.run_id, c.segment, c.as_of, c.size, c.held_out, c.entered, c.exited "
            f"FROM run_cohorts c WHERE c.segment = ? ORDER BY {_COHORT_ORDER} LIMIT ?",
            (segment, limit),
        )
        return [_cohort(row) for row in reversed(rows)]


#: from this many contact rows with the same values, one statement of their emails
_SHARED_ROWS = 50
_UPSERT_CONTACTS = (
    "INSERT INTO contacts (destination, email, present, consent, fields_hash, esp_id, "
    "checked_at) SELECT ?, {values} FROM {{rows}} WHERE true "
    "ON CONFLICT (destination, email) DO UPDATE SET present = excluded.present, "
    "consent = excluded.consent, fields_hash = excluded.fields_hash, "
    "esp_id = COALESCE(excluded.esp_id, contacts.esp_id), checked_at = excluded.checked_at"
)
_CONTACT_COLUMNS = (
    ("email", "text"),
    ("present", "integer"),
    ("consent", "integer"),
    ("fields_hash", "text"),
    ("esp_id", "text"),
)


def _insert_members(db: Tx, table: str, destination: str, part: str, emails: Sequence[str]) -> None:
    """``emails`` into ``table`` (members or pending) of one part, in one statement; in
    key order, which is several times faster for SQLite than arrival order."""
    db.execute_rows(
        f"INSERT INTO {table} (destination, part, email) SELECT ?, ?, email FROM {{rows}} "
        "WHERE true ON CONFLICT DO NOTHING",
        (destination, part),
        sorted(emails),
        [("email", "text")],
    )


def _delete_members(db: Tx, table: str, destination: str, part: str, emails: Sequence[str]) -> None:
    """``emails`` out of ``table`` (members, pending, quarantine) of one part."""
    db.execute_rows(
        f"DELETE FROM {table} WHERE destination = ? AND part = ? "
        "AND email IN (SELECT email FROM {rows})",
        (destination, part),
        sorted(emails),
        [("email", "text")],
    )


#: newest first: by as_of, then by when the run started (SQLite's rowid is not portable)
_COHORT_ORDER = (
    "c.as_of DESC, COALESCE((SELECT r.started_at FROM runs r WHERE r.run_id = c.run_id), '') "
    "DESC, c.run_id DESC"
)


def _cohort(row: Sequence[Any]) -> CohortRecord:
    values = list(row)
    for index in (7, 8):  # PostgreSQL returns bytea as memoryview
        if index < len(values) and isinstance(values[index], memoryview):
            values[index] = bytes(values[index])
    return CohortRecord(*values)
