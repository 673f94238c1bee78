"""JSON-lines logging for the daemon (structlog), one line per event on stdout.

Every line has ``timestamp`` (UTC, ISO 8601), ``level``, ``logger`` and ``event``, plus
whatever the caller bound: a sync job binds ``job_id`` (and its ``run_id`` once known), so
``grep`` by either finds the whole run. Standard-library loggers (the ESP adapters'
retry warnings, uvicorn) go through the same formatter, so stdout never mixes formats.

The ``Redactor`` runs last, just before rendering: API keys, the trigger token and
customer emails never reach the stream even if a message carried them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

from connector.daemon.redact import Redactor

__all__ = ["configure_logging", "get_logger"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip
# chatty third-party loggers that log request URLs or per-request lines
_QUIET = ("httpx", "httpcore", "uvicorn.access", "watchfiles", "urllib3")


_FIRST = ("timestamp", "level", "event", "logger", "job_id", "run_id")


def _ordered(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """Put the fields a reader scans for first: when, how bad, what, which job."""
    first = {k: event_dict[k] for k in _FIRST if k in event_dict}
    return first | {k: v for k, v in event_dict.items() if k not in first}


def _level(name: str) -> int:
    return _LEVELS.get(name.strip().lower(), logging.INFO)


def configure_logging(
    level: str = "info", *, redactor: Redactor | None = None, stream: IO[str] | None = None
) -> None:
    """Send structlog and standard-library logging as JSON lines to ``stream`` (stdout)."""
    redactor = redactor or Redactor()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            _ordered,
            structlog.processors.JSONRenderer(default=str),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, _level(level)))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """A structlog logger named ``segsync.daemon.<name>``."""
    return structlog.stdlib.get_logger(f"segsync.daemon.{name}")
