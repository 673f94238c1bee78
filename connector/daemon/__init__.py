"""``segsync run``: the long-running daemon (container sidecar).

scheduler.py    when each segment syncs; one job at a time per ESP account; backoff
reload.py       config directory watching and safe reloading (last good kept)
service.py      wires it all: sync jobs in threads, signals, graceful shutdown
http.py         /healthz /readyz /metrics / (status page) POST /sync[/{name}] /jobs/{id}
prometheus.py   every Prometheus metric, one registry
status_page.py  the HTML status page with inline SVG charts
logging.py      JSON lines on stdout (structlog)
redact.py       masks keys, tokens and emails in logs, responses and pages

The package imports nothing by itself (``redact`` is used by every command's logging):
``Daemon`` and ``DaemonOptions`` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.daemon.service import Daemon, DaemonOptions

__all__ = ["Daemon", "DaemonOptions"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        # on first use only: importing the package must stay free (see above)
        from connector.daemon import service  # noqa: PLC0415

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
