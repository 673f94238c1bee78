"""The email → Klaviyo profile id map (lists take profile ids, segsync knows emails).

Thread-safe; the reconciler can persist it between runs (``snapshot``/``update``) so that
later runs add and remove members without looking ids up again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

__all__ = ["ProfileIds"]


class ProfileIds:
    """A locked dict of lower-cased email → profile id."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, email: str) -> str | None:
        with self._lock:
            return self._ids.get(email.strip().lower())

    def having(self, emails: Iterable[str]) -> set[str]:
        """Those of ``emails`` (normalised) that have an id, under one lock."""
        with self._lock:
            if not self._ids:  # a first run: nothing learned yet, nothing to normalise
                return set()
            return {e for e in emails if e.strip().lower() in self._ids}

    def update(self, mapping: Mapping[str, str]) -> None:
        with self._lock:
            self._ids.update({e.strip().lower(): pid for e, pid in mapping.items() if pid})

    def forget(self, emails: Iterable[str]) -> None:
        with self._lock:
            for email in emails:
                self._ids.pop(email.strip().lower(), None)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._ids)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
