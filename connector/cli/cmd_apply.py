"""``segsync apply plan.json``: execute exactly a reviewed plan (the CI flow: plan on the
pull request, apply on merge). Refuses (exit 3) when the customer data, the config or the
ESP's confirmed state moved since the plan was made."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from connector.cli.app import app
from connector.cli.cmd_sync import print_summary
from connector.cli.common import JsonFlag, WaitFlag, load_config
from connector.cli.context import state
from connector.cli.output import err
from connector.cli.progress import TerminalProgress
from connector.cli.signals import stop_on_signals
from connector.errors import ConfigError, GuardError
from connector.pipeline import PLAN_VERSION, plan_run
from connector.reconcile.runner import SyncOptions, run_sync
from connector.timespec import parse_instant

_COMPARED = (
    "name",
    "kind",
    "desired_digest",
    "confirmed_digest",
    "changes_digest",
    "adds",
    "removes",
)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("plan file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the plan: {exc}", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON (line {exc.lineno}): {exc.msg}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("version") != PLAN_VERSION:
        raise ConfigError(
            f"not a segsync plan (version {PLAN_VERSION}); make one with `segsync plan --out`",
            file=str(path),
        )
    if not isinstance(data.get("segments"), list) or not isinstance(data.get("as_of"), str):
        raise ConfigError("plan is missing 'segments' or 'as_of'", file=str(path))
    return data


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    return str(entry.get("segment")), str(entry.get("destination"))


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Why the current state no longer matches the reviewed plan (empty: it does)."""
    problems = []
    then = {_key(e): e for e in saved["segments"]}
    now = {_key(e): e for e in current["segments"]}
    for key in sorted(then.keys() - now.keys()):
        problems.append(f"{key[0]} -> {key[1]} is in the plan but no longer configured")
    for key in sorted(now.keys() - then.keys()):
        problems.append(f"{key[0]} -> {key[1]} is configured but not in the plan")
    for key in sorted(then.keys() & now.keys()):
        old, new = then[key], now[key]
        where = f"{key[0]} -> {key[1]}"
        if old.get("native") != new.get("native"):
            problems.append(f"{where}: the native segment definition changed")
        old_parts = [{k: p.get(k) for k in _COMPARED} for p in old.get("parts", [])]
        new_parts = [{k: p.get(k) for k in _COMPARED} for p in new.get("parts", [])]
        if [p["name"] for p in old_parts] != [p["name"] for p in new_parts]:
            problems.append(f"{where}: the split changed")
            continue
        for a, b in zip(old_parts, new_parts, strict=True):
            if a["desired_digest"] != b["desired_digest"]:
                problems.append(f"{where} {a['name']}: the desired members changed (data or rule)")
            if a["confirmed_digest"] != b["confirmed_digest"]:
                problems.append(f"{where} {a['name']}: the ESP's confirmed state moved")
            elif a["changes_digest"] != b["changes_digest"]:
                problems.append(
                    f"{where} {a['name']}: the changes differ (consent or quarantine moved)"
                )
    return problems


@app.command()
def apply(
    plan_file: Annotated[Path, typer.Argument(help="A plan saved by `segsync plan --out`.")],
    force: Annotated[bool, typer.Option("--force", help="Proceed even if a guard trips.")] = False,
    wait: WaitFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Execute a saved plan, refusing if anything it was computed from has moved."""
    saved = _read(plan_file)
    try:
        as_of = parse_instant(saved["as_of"])
    except ValueError as exc:
        raise ConfigError(f"as_of: {exc}", file=str(plan_file)) from None
    defs = load_config()
    names = sorted({str(e.get("segment")) for e in saved["segments"]})
    unknown = [n for n in names if n not in defs.segments]
    if unknown:
        raise GuardError(
            f"{plan_file}: the plan names segments that no longer exist: {', '.join(unknown)}"
        )
    settings = state.settings()
    planned = plan_run(settings, defs, as_of=as_of, names=names)
    problems = _differences(saved, planned.document.to_json())
    if problems:
        for problem in problems:
            err.print(f"stale plan: {problem}", markup=False)
        raise GuardError(
            f"{plan_file} no longer matches; run `segsync plan` again and review it",
            reasons=problems,
        )
    # exactly the reviewed changes: the run diffs again under the state store's lock and
    # stops (exit 3) if that diff is not the plan's
    options = SyncOptions(
        names=names,
        as_of=as_of,
        force=force,
        trigger="apply",
        wait=wait,
        expect=planned.expected_changes(),
    )
    with TerminalProgress() as progress, stop_on_signals() as stop:
        summary = run_sync(
            settings,
            defs,
            options=options,
            progress=progress,
            stop=stop,
            prepared=planned.prepared,
        )
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), indent=2) + "\n")
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)
