"""SIGTERM/SIGINT during a sync: stop between two ESP calls instead of dying mid-batch."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["stop_on_signals"]


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield the run's stop event; the first SIGTERM/SIGINT sets it (no further ESP call is
    made, the calls in flight are confirmed, the run ends ``stopped``), a second one acts as
    the signal normally does."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            signal.signal(signum, previous[signal.Signals(signum)] or signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        stop.set()

    for sig in signals:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
