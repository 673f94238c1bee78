"""The run lock: one sync at a time per state store, across processes and machines.

Two runs on one state store (and so on the ESP accounts it records) would both create the
same tags/lists and send every batch twice. So a run holds its store's lock from before it
reads the confirmed state until it has recorded its outcome:

- SQLite: an OS lock (``flock``, via the ``filelock`` library) on ``<state file>.lock``; the
  kernel releases it when the process dies, even by SIGKILL.
- PostgreSQL: a session advisory lock keyed by database and schema; the server releases it
  when the connection ends, so CI runners on several machines are serialised too.

Inside one process the lock is shared: the daemon runs jobs of different ESP accounts in
parallel threads, and they hold it together (a count); it is released when the last one
finishes. ``acquire(wait=False)`` answers at once; ``wait=True`` polls until it is free or the
stop event is set. Whoever takes the lock first in a process also knows that no run is active
anywhere: runs still marked ``running`` were interrupted (a SIGKILL, a lost machine).
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import filelock

__all__ = ["AdvisoryLock", "FileLock", "MemoryLock", "RunLock"]


class _Querier(Protocol):
    def query(self, sql: str, args: Any = ()) -> list[tuple[Any, ...]]: ...


class RunLock:
    """Process-wide count over an inter-process lock; subclasses try and release the latter."""

    description = "the state store"

    def __init__(self) -> None:
        self._count = 0
        self._guard = threading.Lock()

    def _try(self) -> bool:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def acquire(
        self, *, wait: bool, stop: threading.Event | None = None, poll: float = 0.2
    ) -> bool | None:
        """Take the lock. True: this call took it for the process (no run was active
        anywhere); False: the process held it already; None: not taken (held elsewhere and
        ``wait`` is false, or ``stop`` was set while waiting)."""
        while True:
            with self._guard:
                if self._count:
                    self._count += 1
                    return False
                if self._try():
                    self._count = 1
                    return True
            if not wait:
                return None
            if stop is not None:
                if stop.wait(poll):
                    return None
            else:
                time.sleep(poll)

    def release(self) -> None:
        with self._guard:
            if self._count == 0:
                return
            self._count -= 1
            if self._count == 0:
                self._release()

    @property
    def held(self) -> bool:
        return self._count > 0

    def close(self) -> None:
        with self._guard:
            if self._count:
                self._count = 0
                with contextlib.suppress(Exception):  # the OS or the server frees it anyway
                    self._release()


class MemoryLock(RunLock):
    """An in-memory store has no other process."""

    def _try(self) -> bool:
        return True

    def _release(self) -> None:
        pass


class FileLock(RunLock):
    """``flock`` on a lock file beside the SQLite state file (the file stays; only the lock
    on it matters)."""

    def __init__(self, path: Path, description: str) -> None:
        super().__init__()
        self.path = path
        self.description = description
        self._lock = filelock.FileLock(str(path), thread_local=False, preserve_lock_file=True)

    def _try(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        return True

    def _release(self) -> None:
        self._lock.release(force=True)


class AdvisoryLock(RunLock):
    """A PostgreSQL session advisory lock on the state store's connection."""

    def __init__(self, db: _Querier, key: int, description: str) -> None:
        super().__init__()
        self.db = db
        self.key = key
        self.description = description

    def _try(self) -> bool:
        return bool(self.db.query("SELECT pg_try_advisory_lock(?)", (self.key,))[0][0])

    def _release(self) -> None:
        self.db.query("SELECT pg_advisory_unlock(?)", (self.key,))
