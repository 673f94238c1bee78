"""``segsync run``: the long-running daemon (container sidecar).

scheduler.py    when each segment syncs; one job at a time per ESP account; backoff
reload.py       config directory watching and safe reloading (last good kept)
service.py      wires it all: sync jobs in threads, signals, graceful shutdown
http.py         /healthz /readyz /metrics / (status page) POST /sync[/{name}] /jobs/{id}
metrics.py      every Prometheus metric, one registry
status_page.py  the HTML status page with inline SVG charts
logging.py      JSON lines on stdout (structlog)
redact.py       masks keys, tokens and emails in logs, responses and pages
"""

from connector.daemon.service import Daemon, DaemonOptions

__all__ = ["Daemon", "DaemonOptions"]
