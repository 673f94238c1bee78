"""Log lines of the one-shot commands: plain text on stderr, secrets and emails masked.

The level comes from ``-v`` (info), ``-vv`` (debug) or ``-q`` (errors only), else from
``SEGSYNC_LOG_LEVEL``, else ``warning`` (retries and refused members are worth seeing). The
daemon (``segsync run``) logs JSON lines on stdout instead, at the same flags or
``SEGSYNC_LOG_LEVEL`` (default ``info``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.daemon.redact import Redactor

__all__ = ["LEVELS", "configure_cli_logging", "flag_level", "resolve_level", "restored_logging"]

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip
_ENV = "SEGSYNC_LOG_LEVEL"


def flag_level(verbose: int, quiet: bool) -> str | None:
    """The level ``-v``/``-vv``/``-q`` ask for (None: no flag given)."""
    if verbose and quiet:
        raise ConfigError("-v and -q exclude each other", file="command line")
    if quiet:
        return "error"
    if verbose:
        return "info" if verbose == 1 else "debug"
    return None


def resolve_level(flag: str | None, environ: Mapping[str, str], default: str) -> str:
    """The flag's level, else ``SEGSYNC_LOG_LEVEL``, else ``default``."""
    if flag is not None:
        return flag
    named = environ.get(_ENV, "").strip().lower()
    if not named:
        return default
    if named not in LEVELS:
        raise ConfigError(f"must be one of {', '.join(LEVELS)}, got '{named}'", file=_ENV)
    return named


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (tests swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _Redacting(logging.Formatter):
    """Masks secrets and emails in the formatted line (the record itself is left alone:
    other handlers see it unchanged)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.redactor: Redactor | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self.redactor is None:
            # made for the first line logged: the redactor knows every ESP's key shapes
            # from the settings' models, which `--help` and most commands never need
            from connector.daemon.redact import Redactor  # noqa: PLC0415

            self.redactor = Redactor()
        return self.redactor.text(super().format(record))


_HANDLER = _Stderr()
_HANDLER.setFormatter(_Redacting())


def configure_cli_logging(level: str) -> None:
    """Route every logger to stderr as ``LEVEL logger: message`` at ``level``."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    root.setLevel(LEVELS[level])
    for chatty in ("httpx", "httpcore"):  # request lines with URLs: segsync logs its own
        logging.getLogger(chatty).setLevel(max(logging.WARNING, LEVELS[level]))


@contextmanager
def restored_logging() -> Iterator[None]:
    """Undo ``configure_cli_logging`` afterwards, for callers that run commands in-process
    (tests, the demo): logging is process-wide state."""
    root = logging.getLogger()
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    level = root.level
    try:
        yield
    finally:
        root.removeHandler(_HANDLER)
        root.setLevel(level)
        for name, old in chatty.items():
            logging.getLogger(name).setLevel(old)
