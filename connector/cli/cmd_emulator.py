"""``segsync emulator <esp>``: a local ESP for the demo, tests and benchmarks.

Prints the base URL and the emulator's own fake API key (not a secret: it only opens this
local test double), then serves until Ctrl-C or SIGTERM. Binds to loopback by default.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer

from connector.cli.app import app
from connector.cli.output import err
from connector.emulator.options import EmulatorOptions
from connector.emulator.server import Emulator
from connector.errors import ConfigError
from connector.esp.emulated import EspEmulator
from connector.esp.registry import ESPS
from connector.suggest import suggest

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: the ESPs with an emulator, in the registry's order
_EMULATED = [name for name, spec in ESPS.items() if spec.emulator is not None]


def _emulator_of(esp: str) -> EspEmulator:
    name = esp.strip().lower()
    spec = ESPS.get(name)
    if spec is None or spec.emulator is None:
        commands = " or ".join(f"`segsync emulator {known}`" for known in _EMULATED)
        raise ConfigError(f"unknown ESP '{esp}': use {commands}{suggest(name, _EMULATED)}")
    return spec.emulator()


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be between 0 and 1, got {value}")
    return value


def _announce(esp: str) -> Callable[[Emulator[Any]], None]:
    prefix = f"SEGSYNC_{esp.upper()}__"

    def announce(handle: Emulator[Any]) -> None:
        sys.stdout.write(
            f"segsync emulator: {esp} listening on {handle.base_url}\n"
            f"base_url: {handle.base_url}\n"
            f"api_key: {handle.api_key}\n"
            f"# point segsync at it:\n"
            f"export {prefix}BASE_URL={handle.base_url}\n"
            f"export {prefix}API_KEY={handle.api_key}\n"
            "Press Ctrl-C to stop.\n"
        )
        sys.stdout.flush()

    return announce


def _log_requests_on_stderr() -> None:
    """uvicorn logs each request on ``uvicorn.access``; the emulator leaves logging
    unconfigured (it runs inside tests and the demo too), so give that logger a handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


@app.command()
def emulator(
    esp: Annotated[
        str,
        typer.Argument(
            help="Which ESP to emulate.", metavar="|".join(_EMULATED), show_default=False
        ),
    ],
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    latency: Annotated[
        float, typer.Option("--latency", help="Milliseconds added to every request.")
    ] = 0.0,
    fault_rate_429: Annotated[
        float, typer.Option("--fault-rate-429", help="Share of requests answered 429.")
    ] = 0.0,
    fault_rate_5xx: Annotated[
        float, typer.Option("--fault-rate-5xx", help="Share of requests answered 5xx.")
    ] = 0.0,
    fault_rate_timeout: Annotated[
        float,
        typer.Option(
            "--fault-rate-timeout", help="Share of requests held until the client gives up."
        ),
    ] = 0.0,
    fault_rate_reset: Annotated[
        float,
        typer.Option("--fault-rate-reset", help="Share of requests whose connection is reset."),
    ] = 0.0,
    fault_phase: Annotated[
        str,
        typer.Option(
            "--fault-phase",
            help="Timeouts and resets strike before the change, or after it (response lost).",
            metavar="before|after",
        ),
    ] = "before",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the fault sequence (reproducible).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The key to accept (default: a fixed fake key).")
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option("--audience", help="Audience (list) id to create (repeatable)."),
    ] = None,
    merge_field: Annotated[
        list[str] | None,
        typer.Option("--merge-field", help="Extra merge-field tag (repeatable)."),
    ] = None,
    max_conditions: Annotated[
        int, typer.Option("--max-conditions", help="Saved-segment condition limit (audiences).")
    ] = 5,
    max_connections: Annotated[
        int, typer.Option("--max-connections", help="Simultaneous requests per key (audiences).")
    ] = 10,
    rate_limit_scale: Annotated[
        float, typer.Option("--rate-limit-scale", help="Multiply the per-endpoint rate limits.")
    ] = 1.0,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Turn the per-endpoint rate limits off.")
    ] = False,
    import_delay: Annotated[
        float, typer.Option("--import-delay", help="Seconds a bulk import job takes.")
    ] = 0.2,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr.")
    ] = False,
) -> None:
    """Run a local emulator of an ESP's API until Ctrl-C."""
    hooks = _emulator_of(esp)
    name = esp.strip().lower()
    if fault_phase not in ("before", "after"):
        raise ConfigError(f"--fault-phase must be before or after, got '{fault_phase}'")
    rates = {
        "--fault-rate-429": fault_rate_429,
        "--fault-rate-5xx": fault_rate_5xx,
        "--fault-rate-timeout": fault_rate_timeout,
        "--fault-rate-reset": fault_rate_reset,
    }
    for flag_name, value in rates.items():
        _rate(flag_name, value)
    if sum(rates.values()) > 1.0:
        raise ConfigError("the fault rates add up to more than 1")
    phase: Literal["before", "after"] = "after" if fault_phase == "after" else "before"
    options = EmulatorOptions(
        latency_ms=latency,
        fault_rate_429=fault_rate_429,
        fault_rate_5xx=fault_rate_5xx,
        fault_rate_timeout=fault_rate_timeout,
        fault_rate_reset=fault_rate_reset,
        fault_phase=phase,
        seed=seed,
        api_key=api_key,
        audiences=tuple(audience) if audience else ("demo-audience",),
        merge_fields=tuple(merge_field or ()),
        max_conditions=max_conditions,
        max_connections=max_connections,
        rate_limits=not no_rate_limits,
        rate_limit_scale=rate_limit_scale,
        import_delay_s=import_delay,
    )
    if access_log:
        _log_requests_on_stderr()
    if host not in _LOOPBACK:
        err.print(f"warning: listening on {host}, not loopback", markup=False)
    try:
        hooks.serve(options, host=host, port=port, access_log=access_log, on_ready=_announce(name))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
