"""``segsync`` command line. Commands live in one module each; this wires them and maps
errors to exit codes (0 ok, 1 invalid config or input, 2 a dependency failed — an ESP, the
network, the customer store or the state store — 3 stopped by a guard, 4 finished with
quarantined members, 5 another run holds the state store's lock).

Every failure ends here, once: the located problems go to stderr, and with ``--json`` the
same failure is also one JSON object on stdout (``error``, ``exit_code``, ``problems``), so
scripts never have to parse messages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TypeVar, cast

import typer
from typer._click.exceptions import ClickException as _TyperClickException

from connector.cli import collector
from connector.cli.app import app
from connector.cli.logs import restored_logging
from connector.cli.output import err
from connector.errors import ConfigError, ConnectorError

__all__ = ["app", "failure_json", "main", "wants_json"]

E = TypeVar("E", bound=BaseException)


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asks for JSON (``--json`` before any ``--``)."""
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


def failure_json(error: str, exit_code: int, problems: list[dict[str, object]]) -> str:
    """The one JSON object a failing command prints on stdout under ``--json``."""
    return json.dumps({"error": error, "exit_code": exit_code, "problems": problems}, indent=2)


def _fail(as_json: bool, error: str, code: int, problems: list[dict[str, object]]) -> None:
    if as_json:
        sys.stdout.write(failure_json(error, code, problems) + "\n")
        sys.stdout.flush()
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``segsync`` console script."""
    with restored_logging(), collector.command():
        _main(argv)


def _or_clicks(own: type[E], name: str) -> tuple[type[E], ...]:
    """``own`` and click's exception ``name`` when a library has loaded click: typer (>= 0.29)
    raises its own classes (its copy of click, ``typer._click``) and imports no click, so a
    click exception exists only where a library imported click. An ``except`` evaluates
    this only when an exception reaches it. click's ``exceptions.Exit``, ``Abort`` and
    ``ClickException`` have the attributes used here of typer's namesakes."""
    click = sys.modules.get("click")
    if click is None:
        return (own,)
    return (own, cast("type[E]", getattr(click.exceptions, name)))


def _main(argv: list[str] | None) -> None:
    as_json = wants_json(sys.argv[1:] if argv is None else argv)
    try:
        # without standalone mode, click *returns* the code of a `typer.Exit` it caught
        code = app(args=argv, prog_name="segsync", standalone_mode=False)
    except _or_clicks(typer.Exit, "Exit") as exc:
        sys.exit(exc.exit_code)
    except _or_clicks(typer.Abort, "Abort"):
        err.print("aborted")
        _fail(as_json, "aborted", 130, [])
    except _or_clicks(_TyperClickException, "ClickException") as exc:
        exc.show()
        code = 1 if exc.exit_code == 2 else exc.exit_code  # usage errors are input errors
        _fail(as_json, exc.format_message(), code, [{"message": exc.format_message()}])
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False)
        error = (
            str(exc.issues[0])
            if len(exc.issues) == 1
            else (f"invalid config or input: {len(exc.issues)} problems")
        )
        _fail(as_json, error, exc.exit_code, exc.problems())
    except ConnectorError as exc:
        err.print(f"error: {exc}", markup=False)
        _fail(as_json, str(exc), exc.exit_code, exc.problems())
    except Exception as exc:  # a bug: the traceback follows, and scripts still get JSON
        if as_json:
            message = f"internal error ({type(exc).__name__}); please report it with the traceback"
            sys.stdout.write(failure_json(message, 1, []) + "\n")
            sys.stdout.flush()
        raise
    sys.exit(code if isinstance(code, int) else 0)
