"""``segsync`` command line. Commands live in one module each; this wires them and maps
errors to exit codes (0 ok, 1 invalid config or input, 2 ESP/network failure, 3 stopped by
a guard, 4 finished with quarantined members)."""

from __future__ import annotations

import sys

import click
import typer

try:  # typer >= 0.29 raises its own copy of click's exceptions for bad options
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover - older typer re-uses click's
    _TyperClickException = click.ClickException  # type: ignore[assignment,misc]

from connector.cli import commands  # noqa: F401  (registers the commands)
from connector.cli.app import app
from connector.cli.output import err
from connector.errors import ConfigError, ConnectorError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``segsync`` console script."""
    try:
        # without standalone mode, click *returns* the code of a `typer.Exit` it caught
        code = app(args=argv, prog_name="segsync", standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err.print("aborted")
        sys.exit(130)
    except (click.ClickException, _TyperClickException) as exc:
        exc.show()
        sys.exit(1 if exc.exit_code == 2 else exc.exit_code)  # usage errors are input errors
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False)
        sys.exit(exc.exit_code)
    except ConnectorError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
