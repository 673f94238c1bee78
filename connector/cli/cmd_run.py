"""``segsync run``: the daemon (schedules, config reloads, HTTP, graceful shutdown)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.context import state
from connector.daemon.redact import Redactor, secrets_of
from connector.errors import ConfigError


@app.command()
def run(
    bind: Annotated[
        str | None,
        typer.Option(
            "--bind",
            help="HTTP host:port (default $SEGSYNC_HTTP__BIND or 127.0.0.1:8080).",
            show_default=False,
        ),
    ] = None,
    grace_period: Annotated[
        float,
        typer.Option(
            "--grace-period", min=0, help="Seconds a shutdown waits for batches in flight."
        ),
    ] = 30.0,
    tick: Annotated[float, typer.Option("--tick", min=0.05, hidden=True)] = 1.0,
    backoff: Annotated[float, typer.Option("--backoff", min=0, hidden=True)] = 60.0,
    time_scale: Annotated[float, typer.Option("--time-scale", min=1, hidden=True)] = 1.0,
    config_poll: Annotated[float, typer.Option("--config-poll", min=0.1, hidden=True)] = 10.0,
) -> None:
    """Run as a daemon: sync each segment on its schedule, reload the config directory when
    it changes, serve /healthz /readyz /metrics, a status page and POST /sync; exit 0 on
    SIGTERM/SIGINT after the batches in flight. Logs are JSON lines on stdout."""
    # the daemon (starlette, uvicorn, prometheus, the report's statistics: ~1,400 modules)
    # loads only to run it, not for `segsync run --help` (tests/cli/test_lazy_commands.py)
    from connector.daemon import Daemon, DaemonOptions  # noqa: PLC0415
    from connector.daemon.logging import configure_logging, get_logger  # noqa: PLC0415
    from connector.daemon.reload import load_checked  # noqa: PLC0415

    settings = state.settings()
    if bind is not None:
        settings = settings.model_copy(
            update={"http": settings.http.model_copy(update={"bind": bind})}
        )
    secrets = secrets_of(*settings.esp_api_keys(), settings.http.token)
    configure_logging(state.log_flag or settings.log_level, redactor=Redactor(secrets))
    log = get_logger("cli")
    options = DaemonOptions(
        grace_seconds=grace_period,
        tick_seconds=tick,
        backoff_seconds=backoff,
        time_scale=time_scale,
        config_poll_seconds=config_poll,
    )
    try:
        defs, _checked = load_checked(settings)
        daemon = Daemon(settings, defs, options)
    except ConfigError as exc:
        log.error("cannot start: invalid configuration", errors=[str(i) for i in exc.issues])
        sys.exit(exc.exit_code)  # SystemExit passes through click unchanged in every mode
    if not daemon.serve_forever():
        # a batch is still in flight after the grace period: leave without waiting for it
        sys.stdout.flush()
        os._exit(0)
