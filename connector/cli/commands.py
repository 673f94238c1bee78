"""The table of ``segsync`` commands: the module each lives in and the summary ``--help``
shows. A command's module is imported only when that command runs (see
``connector.cli.app.LazyGroup``), so ``segsync --help`` and a ``preview`` never import what
``report`` or ``sync`` need (scipy, statsmodels, pandas, the ESP SDKs).

``tests/cli/test_lazy_commands.py`` checks every summary against its command's docstring.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COMMANDS", "CommandEntry"]


class CommandEntry(NamedTuple):
    module: str
    summary: str  # the first sentence of the command's docstring


def _entry(name: str, summary: str) -> CommandEntry:
    return CommandEntry(f"connector.cli.cmd_{name}", summary)


#: in the order ``segsync --help`` lists them
COMMANDS: dict[str, CommandEntry] = {
    "sync": _entry(
        "sync",
        "Sync segment membership into the ESPs (exit 0 ok, 2 ESP failure, 3 guard, "
        "4 quarantined members, 5 another run holds the state store's lock).",
    ),
    "apply": _entry(
        "apply", "Execute a saved plan, refusing if anything it was computed from has moved."
    ),
    "audit": _entry(
        "audit",
        "Audit every locally evaluable segment: sizes, overlaps, coverage, tiny segments.",
    ),
    "demo": _entry(
        "demo",
        "Build a synthetic retail store and the example segments, then evaluate them.",
    ),
    "doctor": _entry(
        "doctor",
        "Check each destination in the ESP: API key, audience/account, mapped fields, "
        "scopes, rate-limit headroom.",
    ),
    "emulator": _entry("emulator", "Run a local emulator of an ESP's API until Ctrl-C."),
    "explain": _entry("explain", "Show each condition's value and result for one profile."),
    "init": _entry(
        "init",
        "Scaffold a project: config/ (a segment, metrics, destinations), .env.example and the "
        "GitHub Actions workflow.",
    ),
    "load": _entry(
        "load",
        "Import CSV, Parquet or JSONL into the store at SEGSYNC_SOURCE_URL (DuckDB or PostgreSQL).",
    ),
    "plan": _entry(
        "plan",
        "Show how each segment splits into native conditions and tags/lists, and its sizes.",
    ),
    "preview": _entry(
        "preview",
        "Evaluate one segment and list its members (CSV: profile_id,email,holdout[,traits]).",
    ),
    "report": _entry(
        "report",
        "Measure each segment's members against its held-out control group: conversion, "
        "repeat rate, revenue per profile and AOV, with lifts, 95 % intervals, p-values and "
        "MDE.",
    ),
    "run": _entry(
        "run",
        "Run as a daemon: sync each segment on its schedule, reload the config directory when "
        "it changes, serve /healthz /readyz /metrics, a status page and POST /sync; exit 0 on "
        "SIGTERM/SIGINT after the batches in flight.",
    ),
    "schema": _entry(
        "schema",
        "Print the JSON Schema of a config file (point your editor's YAML plugin at it).",
    ),
    "status": _entry(
        "status",
        "Show recent sync runs, quarantined members and the ESP objects segsync owns.",
    ),
    "validate": _entry(
        "validate",
        "Check every segment, metric and destination; exit 1 with located errors if any.",
    ),
}
