"""The cyclic garbage collector while a command starts.

Importing a command (pydantic's models, sqlglot, numpy, DuckDB) makes hundreds of thousands
of objects that live as long as the process; the collector walks that growing heap again
and again while they load, and every later full collection walks it once more: a fifth of
a ``preview``'s import time (``bench/evaluate.py``). So the collector is paused while a
command's modules load, and what exists then is frozen out of later collections
(``gc.freeze``) until the command ends (``gc.unfreeze``): nothing stays uncollectable past
it, which matters where commands run in one process one after another (tests, the demo).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["command", "loading"]


@contextmanager
def loading() -> Iterator[None]:
    """Around the import of a command's module: no collection, then freeze the heap."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@contextmanager
def command() -> Iterator[None]:
    """Around a whole command: what ``loading`` froze is collectable again after it."""
    try:
        yield
    finally:
        gc.unfreeze()
