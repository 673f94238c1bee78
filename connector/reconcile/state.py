"""The state store (SQLite, WAL): what segsync owns in each ESP and what the ESP confirmed.

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
- ``runs`` / ``run_parts``: run history (sizes, adds, removes, skips, errors, timings).
- ``run_cohorts``: per run and segment, the cohort the report measures (``--run ID``):
  size, entered and exited since the segment's previous recorded run, and the member and
  held-out profile ids, each set compressed (``reconcile/idsets.py``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.errors import ConfigError

__all__ = [
    "CohortRecord",
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
]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


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
    """One SQLite database; safe to share between threads (writes are serialised)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the state directory {self.path.parent}: {exc.strerror}",
                    file="SEGSYNC_STATE_PATH",
                ) from None
        try:
            self.db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the state store {path}: {exc}", file="SEGSYNC_STATE_PATH"
            ) from None
        self.lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        with self.lock:
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version > len(MIGRATIONS):
                raise ConfigError(
                    f"the state store {self.path} was written by a newer segsync "
                    f"(schema {version}, this one knows {len(MIGRATIONS)})",
                    file="SEGSYNC_STATE_PATH",
                )
            for index in range(version, len(MIGRATIONS)):
                # executescript commits first, so the script carries its own transaction
                self.db.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[index]}\n"
                    f"PRAGMA user_version = {index + 1};\nCOMMIT;"
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE … COMMIT`` (rolled back on error), serialised across threads."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- objects ------------------------------------------------------------------------
    def objects(self, destination: str | None = None) -> list[ObjectRecord]:
        query = "SELECT destination, name, kind, esp_id, segment, definition FROM objects"
        args: tuple[Any, ...] = ()
        if destination is not None:
            query += " WHERE destination = ?"
            args = (destination,)
        with self.lock:
            return [ObjectRecord(*row) for row in self.db.execute(query + " ORDER BY 1, 2", args)]

    def object(self, destination: str, name: str) -> ObjectRecord | None:
        with self.lock:
            row = self.db.execute(
                "SELECT destination, name, kind, esp_id, segment, definition FROM objects "
                "WHERE destination = ? AND name = ?",
                (destination, name),
            ).fetchone()
        return ObjectRecord(*row) if row else None

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
                "kind = excluded.kind, definition = COALESCE(excluded.definition, definition), "
                "updated_at = excluded.updated_at",
                (destination, name, kind, esp_id, segment, definition, int(created), now, now),
            )

    # -- confirmed membership -----------------------------------------------------------
    def confirmed(self, destination: str, part: str) -> set[str]:
        with self.lock:
            rows = self.db.execute(
                "SELECT email FROM members WHERE destination = ? AND part = ?",
                (destination, part),
            )
            return {email for (email,) in rows}

    def pending(self, destination: str, part: str) -> set[str]:
        """Members of batches that were sent but never acknowledged (may be in the ESP)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT email FROM pending WHERE destination = ? AND part = ?",
                (destination, part),
            )
            return {email for (email,) in rows}

    def begin_batch(
        self, destination: str, part: str, operation: str, emails: Sequence[str]
    ) -> None:
        """Journal a batch before it is sent; a removal's members leave the confirmed state
        in the same transaction."""
        with self.transaction() as db:
            if operation == "remove":
                db.executemany(
                    "DELETE FROM members WHERE destination = ? AND part = ? AND email = ?",
                    ((destination, part, e) for e in emails),
                )
            db.executemany(
                "INSERT OR IGNORE INTO pending (destination, part, email) VALUES (?, ?, ?)",
                ((destination, part, e) for e in emails),
            )

    def replace_confirmed(self, destination: str, part: str, emails: Iterable[str]) -> None:
        """Full resync: the ESP's actual membership becomes the confirmed state."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM pending WHERE destination = ? AND part = ?", (destination, part)
            )
            db.execute(
                "DELETE FROM members WHERE destination = ? AND part = ?", (destination, part)
            )
            db.executemany(
                "INSERT OR IGNORE INTO members (destination, part, email) VALUES (?, ?, ?)",
                ((destination, part, e) for e in emails),
            )

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
    ) -> None:
        """One acknowledged batch: move confirmed state, quarantine refusals, count — in one
        transaction, so a crash leaves either all of it or none."""
        now = _now()
        with self.transaction() as db:
            if operation == "add":
                db.executemany(
                    "INSERT OR IGNORE INTO members (destination, part, email) VALUES (?, ?, ?)",
                    ((destination, part, e) for e in applied),
                )
            else:
                db.executemany(
                    "DELETE FROM members WHERE destination = ? AND part = ? AND email = ?",
                    ((destination, part, e) for e in applied),
                )
                # the ESP refused to remove these: they are still members
                db.executemany(
                    "INSERT OR IGNORE INTO members (destination, part, email) VALUES (?, ?, ?)",
                    ((destination, part, e[0]) for e in errors),
                )
            db.executemany(
                "DELETE FROM pending WHERE destination = ? AND part = ? AND email = ?",
                ((destination, part, e) for e in [*applied, *(e[0] for e in errors)]),
            )
            db.executemany(
                "DELETE FROM quarantine WHERE destination = ? AND part = ? AND email = ?",
                ((destination, part, e) for e in applied),
            )
            db.executemany(
                "INSERT INTO quarantine (destination, part, email, operation, reason, code, "
                "permanent, attempts, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (destination, part, email) DO UPDATE SET attempts = attempts + 1, "
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
        with self.lock:
            return [
                QuarantineRecord(d, p, e, o, r, c, bool(perm), a)
                for d, p, e, o, r, c, perm, a in self.db.execute(query + " ORDER BY 1, 2, 3", args)
            ]

    # -- contacts -----------------------------------------------------------------------
    def contacts(self, destination: str) -> dict[str, tuple[bool, bool, str | None, str | None]]:
        """email → (present, consent, fields_hash, esp_id)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT email, present, consent, fields_hash, esp_id FROM contacts "
                "WHERE destination = ?",
                (destination,),
            )
            return {e: (bool(p), bool(c), h, i) for e, p, c, h, i in rows}

    def record_contacts(
        self,
        destination: str,
        rows: Iterable[tuple[str, bool, bool, str | None, str | None]],
    ) -> None:
        """Upsert ``(email, present, consent, fields_hash, esp_id)`` rows."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO contacts (destination, email, present, consent, fields_hash, esp_id, "
                "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (destination, email) DO "
                "UPDATE SET present = excluded.present, consent = excluded.consent, "
                "fields_hash = excluded.fields_hash, "
                "esp_id = COALESCE(excluded.esp_id, esp_id), checked_at = excluded.checked_at",
                ((destination, e, int(p), int(c), h, i, now) for e, p, c, h, i in rows),
            )

    # -- static segments ----------------------------------------------------------------
    def frozen(self, segment: str, destination: str) -> dict[str, set[str]] | None:
        """part → emails fixed at the first sync, or None before it."""
        with self.lock:
            known = self.db.execute(
                "SELECT 1 FROM frozen_segments WHERE segment = ? AND destination = ?",
                (segment, destination),
            ).fetchone()
            if not known:
                return None
            result: dict[str, set[str]] = {}
            for part, email in self.db.execute(
                "SELECT part, email FROM frozen WHERE segment = ? AND destination = ?",
                (segment, destination),
            ):
                result.setdefault(part, set()).add(email)
            return result

    def freeze(self, segment: str, destination: str, parts: dict[str, set[str]]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO frozen_segments VALUES (?, ?, ?)",
                (segment, destination, _now()),
            )
            for part, emails in parts.items():
                db.executemany(
                    "INSERT OR IGNORE INTO frozen VALUES (?, ?, ?, ?)",
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
                "INSERT OR REPLACE INTO run_parts (run_id, segment, destination, part, desired) "
                "VALUES (?, ?, ?, ?, ?)",
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
            cursor = self.db.execute(
                "SELECT segment, destination, part, desired, adds, removes, skipped_no_consent, "
                "quarantined, api_calls, duration_seconds, error FROM run_parts WHERE run_id = ? "
                "ORDER BY segment, destination, part",
                (run_id,),
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def finish_run(self, run_id: str, status: str, exit_code: int, summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? "
                "WHERE run_id = ?",
                (_now(), status, exit_code, json.dumps(summary, default=str), run_id),
            )

    def runs(self, limit: int = 20) -> list[RunRecord]:
        with self.lock:
            rows = self.db.execute(
                "SELECT run_id, started_at, finished_at, trigger, as_of, status, exit_code, "
                "summary FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]) if r[7] else None)
            for r in rows
        ]

    def segment_history(self, segment: str, limit: int = 50) -> list[dict[str, Any]]:
        """Per run (newest first): the segment's desired size and changes, summed over parts."""
        with self.lock:
            cursor = self.db.execute(
                "SELECT r.run_id, r.started_at, rp.destination, SUM(rp.desired), SUM(rp.adds), "
                "SUM(rp.removes), SUM(rp.quarantined), MAX(rp.error) FROM run_parts rp "
                "JOIN runs r USING (run_id) WHERE rp.segment = ? "
                "GROUP BY r.run_id, rp.destination ORDER BY r.started_at DESC LIMIT ?",
                (segment, limit),
            )
            keys = ["run_id", "started_at", "destination", "desired", "adds", "removes",
                    "quarantined", "error"]  # fmt: skip
            return [dict(zip(keys, row, strict=True)) for row in cursor]

    # -- read helpers for the daemon (scheduling at start, metrics, status page) ---------
    def segment_last_runs(self) -> dict[str, SegmentRuns]:
        """Per segment: its latest run's start and status, and when its latest ok or
        quarantined run finished."""
        with self.lock:
            latest = self.db.execute(
                "SELECT segment, started_at, status FROM (SELECT rp.segment, r.started_at, "
                "r.status, ROW_NUMBER() OVER (PARTITION BY rp.segment "
                "ORDER BY r.started_at DESC, r.run_id DESC) AS n "
                "FROM run_parts rp JOIN runs r USING (run_id)) WHERE n = 1"
            ).fetchall()
            success = dict(
                self.db.execute(
                    "SELECT rp.segment, MAX(r.finished_at) FROM run_parts rp "
                    "JOIN runs r USING (run_id) WHERE r.status IN ('ok', 'quarantined') "
                    "GROUP BY rp.segment"
                ).fetchall()
            )
        return {
            segment: SegmentRuns(segment, started, status, success.get(segment))
            for segment, started, status in latest
        }

    def quarantine_counts(self) -> dict[str, int]:
        """destination → members currently quarantined (counts only, no emails)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT destination, COUNT(*) FROM quarantine GROUP BY destination"
            ).fetchall()
        return {destination: count for destination, count in rows}

    # -- cohorts (the report's --run and size history) ------------------------------------
    def record_cohorts(self, records: Sequence[CohortRecord]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO run_cohorts (run_id, segment, as_of, size, held_out, "
                "entered, exited, members, held_out_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (r.run_id, r.segment, r.as_of, r.size, r.held_out, r.entered, r.exited,
                     r.members or b"", r.held_out_ids or b"")
                    for r in records
                ),
            )  # fmt: skip

    def cohort(self, run_id: str, segment: str) -> CohortRecord | None:
        """A run's cohort of ``segment`` with its id sets."""
        with self.lock:
            row = self.db.execute(
                "SELECT run_id, segment, as_of, size, held_out, entered, exited, members, "
                "held_out_ids FROM run_cohorts WHERE run_id = ? AND segment = ?",
                (run_id, segment),
            ).fetchone()
        return CohortRecord(*row) if row else None

    def latest_cohort(self, segment: str) -> CohortRecord | None:
        """The segment's most recently recorded cohort, with its id sets."""
        with self.lock:
            row = self.db.execute(
                "SELECT run_id, segment, as_of, size, held_out, entered, exited, members, "
                "held_out_ids FROM run_cohorts WHERE segment = ? "
                "ORDER BY as_of DESC, rowid DESC LIMIT 1",
                (segment,),
            ).fetchone()
        return CohortRecord(*row) if row else None

    def cohort_segments(self, run_id: str) -> list[str]:
        with self.lock:
            rows = self.db.execute(
                "SELECT segment FROM run_cohorts WHERE run_id = ? ORDER BY segment", (run_id,)
            ).fetchall()
        return [segment for (segment,) in rows]

    def cohort_history(self, segment: str, limit: int = 200) -> list[CohortRecord]:
        """The segment's recorded cohort sizes (no id sets), oldest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT run_id, segment, as_of, size, held_out, entered, exited FROM ("
                "SELECT *, rowid AS r FROM run_cohorts WHERE segment = ? "
                "ORDER BY as_of DESC, r DESC LIMIT ?) ORDER BY as_of, r",
                (segment, limit),
            ).fetchall()
        return [CohortRecord(*row) for row in rows]
