"""The two databases a state store can live in: SQLite (a file, WAL) and PostgreSQL.

``StateStore`` writes one portable SQL (``?`` placeholders, ``ON CONFLICT`` upserts) and
talks to a ``StateDb``:

- ``SqliteDb``: one connection shared by the threads of a process (writes serialised by a
  lock); transactions are ``BEGIN IMMEDIATE``; the schema version is ``PRAGMA user_version``.
  Before opening, the file and its directory are checked, so a read-only or unreadable state
  gets one message naming the file instead of SQLite's error halfway through a run (and no
  ``-shm`` file is left behind with the read-only file's mode).
- ``PostgresDb``: one autocommit connection; transactions via ``conn.transaction()``; the
  schema version lives in ``segsync_schema``; tables go to the first schema of the search
  path, so one database can hold several state stores.

Many rows go to one statement as a table parameter (``Tx.execute_rows``): the SQL names it
``{rows}``, SQLite reads it from one JSON array (``json_each``), PostgreSQL from one array
per column (``unnest``). One statement for a batch's 10,000 emails instead of 10,000
executions: about three times faster on SQLite, and it holds Python's interpreter lock only
to encode the array, so the HTTP threads of the run go on while SQLite works.

Both migrate atomically: the write lock (``BEGIN IMMEDIATE``, an advisory transaction lock)
is taken *before* the schema version is read, so two processes starting together on a new
store never both create the tables. Every database error leaves as a ``StateError`` naming
the store and saying what to do.

Each database also hands out its ``RunLock`` (``state_lock.py``): a lock file beside the
SQLite file, a session advisory lock in PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg

from connector.errors import DependencyError, StateError
from connector.reconcile.state_lock import AdvisoryLock, FileLock, MemoryLock, RunLock
from connector.reconcile.state_url import StateUrl

_T = TypeVar("_T")

__all__ = ["Column", "PostgresDb", "SqliteDb", "StateDb", "Tx", "open_db"]

log = logging.getLogger("segsync.state")

Row = tuple[Any, ...]
#: a column of a table parameter: its name and its PostgreSQL type (``text``, ``integer``)
Column = tuple[str, str]


class Tx(Protocol):
    """What a transaction offers: statements with ``?`` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def execute_rows(
        self, sql: str, args: Sequence[Any], rows: Sequence[Any], columns: Sequence[Column]
    ) -> None:
        """One statement over many rows: ``sql`` uses ``{rows}`` once, as a FROM item with
        ``columns``; ``args`` are the ``?`` values before and after it, in order; ``rows``
        are tuples, or plain values for one column."""
        ...


def _split_args(sql: str, args: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """``args`` before and after the ``{rows}`` of ``sql``."""
    before = sql.split("{rows}", 1)[0].count("?")
    return list(args[:before]), list(args[before:])


class StateDb(Protocol):
    url: StateUrl
    run_lock: RunLock

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def query_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def transaction(self) -> Any: ...  # a context manager yielding a Tx

    def migrate(self, migrations: Sequence[str]) -> None: ...

    def check(self) -> None: ...

    def close(self) -> None: ...


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- SQLite -------------------------------------------------------------------------------
class _SqliteTx:
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self.con.execute(sql, args).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.con.executemany(sql, rows)

    def execute_rows(
        self, sql: str, args: Sequence[Any], rows: Sequence[Any], columns: Sequence[Column]
    ) -> None:
        if not rows:
            return
        if len(columns) == 1:
            table = f"(SELECT value AS {columns[0][0]} FROM json_each(?))"
        else:
            picks = ", ".join(
                f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(columns)
            )
            table = f"(SELECT {picks} FROM json_each(?))"
        before, after = _split_args(sql, args)
        encoded = json.dumps(rows, separators=(",", ":"))
        self.con.execute(sql.replace("{rows}", table), [*before, encoded, *after])


_READ = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_WRITE = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def _check_sqlite_files(path: Path) -> None:
    """Refuse, with one clear message, a state file SQLite could not use safely."""
    where = "SEGSYNC_STATE_URL/SEGSYNC_STATE_PATH"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"cannot create the state directory {path.parent} ({exc.strerror}): create it, "
            f"or point {where} elsewhere",
        ) from None
    if path.is_dir():
        raise StateError(f"the state store {path} is a directory: point {where} at a file")
    folder_mode = path.parent.stat().st_mode
    # the mode bits too: root passes os.access, but a read-only mode says what was meant
    if not os.access(path.parent, os.W_OK | os.X_OK) or not folder_mode & _WRITE:
        raise StateError(
            f"the state directory {path.parent} is not writable (SQLite keeps {path.name}-wal "
            f"and {path.name}-shm beside the state file): make it writable, or point {where} "
            "elsewhere",
        )
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            continue
        if not os.access(file, os.R_OK) or not mode & _READ:
            raise StateError(
                f"cannot read the state store file {file} (permission denied): make it "
                f"readable and writable by this user (chmod u+rw {file})",
            )
        if not os.access(file, os.W_OK) or not mode & _WRITE:
            raise StateError(
                f"the state store file {file} is read-only: make it writable "
                f"(chmod u+w {file}), or point {where} at a writable copy",
            )


class SqliteDb:
    """A SQLite state store (WAL); one connection shared by threads."""

    def __init__(self, url: StateUrl) -> None:
        self.url = url
        self.path = url.path
        self.name = str(self.path) if self.path is not None else ":memory:"
        if self.path is not None:
            _check_sqlite_files(self.path)
        self.lock = threading.RLock()
        with self._errors():
            self.con = sqlite3.connect(
                self.name, check_same_thread=False, isolation_level=None, timeout=30
            )
            _retry_busy(lambda: self.con.execute("PRAGMA journal_mode=WAL"))
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.execute("PRAGMA foreign_keys=ON")
        #: the WAL is checkpointed by a thread of its own, not by the commit that grew it
        self._checkpointer = _Checkpointer(self.name) if self.path is not None else None
        if self._checkpointer is not None:
            self.con.execute("PRAGMA wal_autocheckpoint=0")
        self.run_lock: RunLock = (
            FileLock(self.path.with_name(self.path.name + ".lock"), str(self.path))
            if self.path is not None
            else MemoryLock()
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StateError(self._explain(exc)) from None

    def _explain(self, exc: sqlite3.Error) -> str:
        text = _first_line(exc)
        lowered = text.lower()
        if isinstance(exc, sqlite3.DatabaseError) and (
            "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered
        ):
            return (
                f"the state store {self.name} is damaged ({text}): restore it from a backup, "
                "or move it aside (with its -wal and -shm files); the next sync then reads "
                "the membership of the tags/lists segsync owns back from the ESP"
            )
        if "readonly" in lowered or "read-only" in lowered:
            return (
                f"the state store {self.name} is read-only ({text}): make it and its "
                "directory writable"
            )
        if "locked" in lowered or "busy" in lowered:
            return f"the state store {self.name} stayed locked by another process ({text})"
        return f"the state store {self.name} failed: {text}"

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.lock, self._errors():
            return self.con.execute(sql, args).fetchall()

    def query_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lock, self._errors():
            cursor = self.con.execute(sql, args)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """``BEGIN IMMEDIATE … COMMIT`` (rolled back on error), serialised across threads."""
        with self.lock, self._errors():
            self.con.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self.con)
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        if self._checkpointer is not None:
            self._checkpointer.wake()

    def migrate(self, migrations: Sequence[str]) -> None:
        with self.lock, self._errors():
            current = _retry_busy(lambda: self.con.execute("PRAGMA user_version").fetchall())
        if current[0][0] == len(migrations):
            return
        with self.transaction() as tx:  # the write lock first, then the version
            (version,) = tx.execute("PRAGMA user_version")[0]
            _check_version(version, len(migrations), self.name)
            for index in range(version, len(migrations)):
                for statement in _statements(migrations[index]):
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {len(migrations)}")

    def check(self) -> None:
        """Read every page once (``quick_check``): damage shows now, before any ESP write."""
        rows = self.query("PRAGMA quick_check")
        if rows and rows[0][0] != "ok":
            detail = str(rows[0][0]).splitlines()[0]
            raise StateError(self._explain(sqlite3.DatabaseError(f"malformed: {detail}")))

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self.lock:
            self.run_lock.close()
            self.con.close()


class _Checkpointer:
    """Checkpoints a WAL database from a thread and connection of its own.

    SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000
    pages, in the committing thread: with 100,000 members confirmed after a bulk import's
    answer, the run waited for it (the pages copied back and the file synced). Here the
    connection's automatic checkpoint is off and every commit wakes this thread instead,
    which runs a PASSIVE checkpoint (it never blocks a writer or a reader; wakes that come
    while it works make one more). Nothing about durability changes: a commit is in the WAL
    when it returns either way, and the WAL is still copied back and restarted."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            con = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        except sqlite3.Error:
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or failing: the next commit tries again
                    log.debug("state store checkpoint failed: %s", _first_line(exc))
        finally:
            con.close()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(30)


def _retry_busy(step: Callable[[], _T], seconds: float = 30.0) -> _T:
    """Run ``step``, retrying while SQLite answers "locked"/"busy".

    Switching a new file to WAL, and reading a WAL file another process is recovering, can
    answer SQLITE_BUSY at once without calling the busy handler (so ``timeout=`` does not
    cover it): several processes opening a fresh state store together would otherwise fail.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _check_version(version: int, known: int, name: str) -> None:
    if version > known:
        raise StateError(
            f"the state store {name} was written by a newer segsync (schema {version}, this one "
            f"knows {known}): upgrade segsync",
        )


# -- PostgreSQL ---------------------------------------------------------------------------
def _pg(sql: str) -> str:
    return sql.replace("?", "%s").replace(" WITHOUT ROWID", "").replace(" BLOB ", " BYTEA ")


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.cursor = cursor

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        self.cursor.execute(_pg(sql), args)
        return self.cursor.fetchall() if self.cursor.description else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            self.cursor.executemany(_pg(sql), batch)

    def execute_rows(
        self, sql: str, args: Sequence[Any], rows: Sequence[Any], columns: Sequence[Column]
    ) -> None:
        if not rows:
            return
        arrays = ", ".join(f"?::{kind}[]" for _, kind in columns)
        table = f"unnest({arrays}) AS rows_({', '.join(n for n, _ in columns)})"
        values = [list(rows)] if len(columns) == 1 else [list(c) for c in zip(*rows, strict=True)]
        before, after = _split_args(sql, args)
        self.cursor.execute(_pg(sql.replace("{rows}", table)), [*before, *values, *after])


def _key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresDb:
    """A PostgreSQL state store: tables in the first schema of the connection's search path."""

    def __init__(self, url: StateUrl) -> None:
        self.url = url
        self.name = url.display()
        self.lock = threading.RLock()
        try:
            self.con = psycopg.connect(url.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DependencyError(
                f"SEGSYNC_STATE_URL: cannot connect to the state store {self.name}: "
                f"{_first_line(exc)}"
            ) from None
        rows = self.query("SELECT current_database(), current_schema()")
        database, schema = rows[0]
        if schema is None:
            raise StateError(
                f"the state store {self.name} has no schema to write to (the search path names "
                "none that exists): create it, or set options=-csearch_path=SCHEMA in the URL",
                file="SEGSYNC_STATE_URL",
            )
        self.schema = str(schema)
        self._migration_key = _key("segsync-migrate", str(database), self.schema)
        self.run_lock: RunLock = AdvisoryLock(
            self, _key("segsync-run", str(database), self.schema), f"{self.name} ({schema})"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:  # the server went away
            raise DependencyError(
                f"the state store {self.name} failed: {_first_line(exc)}"
            ) from None
        except psycopg.Error as exc:
            raise StateError(
                f"the state store {self.name} failed: {_first_line(exc)}",
                file="SEGSYNC_STATE_URL",
            ) from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.lock, self._errors(), self.con.cursor() as cursor:
            cursor.execute(_pg(sql), args)
            return cursor.fetchall() if cursor.description else []

    def query_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lock, self._errors(), self.con.cursor() as cursor:
            cursor.execute(_pg(sql), args)
            names = [d.name for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.lock, self._errors(), self.con.transaction(), self.con.cursor() as cursor:
            yield _PgTx(cursor)

    def migrate(self, migrations: Sequence[str]) -> None:
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (self._migration_key,))
            tx.execute("CREATE TABLE IF NOT EXISTS segsync_schema (version INTEGER NOT NULL)")
            rows = tx.execute("SELECT version FROM segsync_schema")
            if not rows:
                tx.execute("INSERT INTO segsync_schema (version) VALUES (0)")
            version = int(rows[0][0]) if rows else 0
            _check_version(version, len(migrations), self.name)
            for index in range(version, len(migrations)):
                for statement in _statements(migrations[index]):
                    tx.execute(statement)
            tx.execute("UPDATE segsync_schema SET version = ?", (len(migrations),))

    def check(self) -> None:
        """Nothing to scan: PostgreSQL checks its own pages."""

    def close(self) -> None:
        with self.lock:
            self.run_lock.close()
            self.con.close()


def open_db(url: StateUrl) -> SqliteDb | PostgresDb:
    return SqliteDb(url) if url.kind == "sqlite" else PostgresDb(url)
