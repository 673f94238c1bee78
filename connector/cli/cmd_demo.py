"""``segsync demo``: build the synthetic retail store, write the example config, and show
what the demo segments hold.

The command is a short list of steps (``run_demo``) so later steps — such as syncing into
the built-in emulator — slot in without touching the others.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import load_config, open_source, resolve_as_of, segsync_command
from connector.cli.context import state
from connector.cli.output import err, out, print_table
from connector.cli.progress import TerminalProgress
from connector.definitions.jsonschema import write_schemas
from connector.demo_campaign import add_campaign_outcomes
from connector.demo_sync import EspHolding, sync_demo
from connector.esp.registry import destination_models
from connector.evaluate.engine import Evaluation, evaluate, has_esp_conditions
from connector.reconcile.summary import RunSummary
from connector.source import check_writable, parse_store_url
from connector.source.demo import (
    DEFAULT_PROFILES,
    DEFAULT_SEED,
    DemoSpec,
    DemoStore,
    WrittenConfig,
    build_demo_store,
    copy_demo_store,
    default_as_of,
    write_demo_config,
)
from connector.timespec import format_instant, utc_now


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo did, for the summary (and for later steps)."""

    store: DemoStore
    config: WrittenConfig
    evaluation: Evaluation
    not_local: list[str]
    synced: tuple[RunSummary, list[EspHolding]] | None = None
    floored: bool = False  # as_of was the default: now, floored to the hour


def build_store(spec: DemoSpec, *, force: bool) -> DemoStore:
    settings = state.settings()
    if err.is_terminal:
        with err.status(f"generating {spec.profiles:,} demo profiles…"):
            return build_demo_store(settings.source_url, spec, settings.store, force=force)
    return build_demo_store(settings.source_url, spec, settings.store, force=force)


def write_config() -> WrittenConfig:
    config_dir = state.settings().config_dir
    written = write_demo_config(config_dir)
    write_schemas(
        config_dir, destination_models()
    )  # what the files' yaml-language-server modelines point at
    return written


def evaluate_segments(as_of: datetime) -> tuple[Evaluation, list[str]]:
    """Every locally evaluable segment of the config, as of the demo's ``as_of``."""
    defs = load_config()
    not_local = sorted(n for n, s in defs.segments.items() if has_esp_conditions(s.rule))
    with open_source() as store:
        return evaluate(store, defs, as_of=as_of), not_local


def print_summary(result: DemoResult) -> None:
    store, spec = result.store, result.store.spec
    out.print(
        f"built {store.url.display()}: {store.profiles:,} profiles, {store.events:,} events "
        f"(seed {spec.seed}, as of {format_instant(spec.as_of)})",
        markup=False,
    )
    config_dir = state.settings().config_dir
    kept = f"; kept {len(result.config.kept)} existing" if result.config.kept else ""
    out.print(
        f"config: wrote {len(result.config.written)} files into {config_dir}{kept} "
        f"(JSON Schemas for editors in {config_dir / 'schemas'})",
        markup=False,
    )
    ev = result.evaluation
    print_table(
        ["segment", "members", "held out"],
        [(name, ev.size(name), int(ev.held_out[name].sum())) for name in ev.segments],
        title=f"Demo segments as of {format_instant(ev.as_of)}",
    )
    if result.not_local:
        out.print(
            "evaluated by the ESP only (esp conditions): " + ", ".join(result.not_local),
            markup=False,
        )
    if result.synced is not None:
        print_sync(*result.synced)
    when = format_instant(ev.as_of)
    if result.floored:
        out.print(
            f"as_of is now floored to the hour ({when}), so re-running the demo within the "
            "hour rebuilds the same data; other commands default to the current instant, so "
            f"pass --as-of {when} to see exactly these counts",
            markup=False,
        )
    cmd = segsync_command()
    out.print(
        f"next: {cmd} validate · {cmd} preview abandoned-cart-24h --as-of {when} · "
        f"{cmd} plan --as-of {when} · {cmd} audit --as-of {when} · {cmd} report",
        markup=False,
    )


def sync_into_emulators(as_of: datetime) -> tuple[RunSummary, list[EspHolding]]:
    """Sync the demo segments into the built-in Mailchimp and Klaviyo emulators."""
    with TerminalProgress() as progress:
        return sync_demo(state.settings(), load_config(), as_of=as_of, progress=progress)


def print_sync(summary: RunSummary, holdings: list[EspHolding]) -> None:
    calls = sum(int(c["total"]) for c in summary.api_calls.values())
    out.print(
        f"synced into the built-in emulators: run {summary.run_id} {summary.status}, "
        f"{sum(p.adds for p in summary.parts):,} members added with {calls} API calls "
        f"in {summary.duration_seconds:.1f}s",
        markup=False,
    )
    rows = []
    for holding in holdings:
        for name, size in sorted(holding.groups.items()):
            rows.append((holding.destination, holding.group_kind, name, size))
        for name, size in sorted(holding.segments.items()):
            rows.append((holding.destination, "segment", name, size))
    print_table(
        ["destination", "kind", "name", "members in the ESP"], rows, title="What the ESPs hold"
    )
    for segment, why in sorted(summary.skipped_segments.items()):
        out.print(f"not pushed: {segment} ({why})", markup=False)
    for message in [*summary.guards, *summary.errors]:
        err.print(message, markup=False)


def run_demo(
    spec: DemoSpec, *, force: bool = False, sync: bool = True, floored: bool = False
) -> DemoResult:
    """The demo's steps: store, config, evaluation, sync into the emulators, summary."""
    settings = state.settings()
    if parse_store_url(settings.source_url).kind == "duckdb":
        store = build_store(spec, force=force)
        added = add_campaign_outcomes(store.url, settings.store, spec.as_of, spec.seed)
        store = replace(store, events=store.events + added)
    else:  # built in a DuckDB file, then loaded with `segsync load` as a user would
        with tempfile.TemporaryDirectory(prefix="segsync-demo-") as tmp:
            local = parse_store_url(f"duckdb:///{Path(tmp) / 'demo.duckdb'}")
            built = build_demo_store(local, spec, settings.store, force=True)
            add_campaign_outcomes(local, settings.store, spec.as_of, spec.seed)
            store = copy_demo_store(built, settings.source_url, settings.store, force=force)
    config = write_config()
    evaluation, not_local = evaluate_segments(spec.as_of)
    synced = sync_into_emulators(spec.as_of) if sync else None
    result = DemoResult(store, config, evaluation, not_local, synced, floored)
    print_summary(result)
    if synced is not None and synced[0].exit_code:
        raise typer.Exit(synced[0].exit_code)
    return result


@app.command()
def demo(
    profiles: Annotated[
        int, typer.Option("--profiles", help="How many customers to generate (at least 1).")
    ] = DEFAULT_PROFILES,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Random seed (same seed and --as-of: same data)."),
    ] = DEFAULT_SEED,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Place events up to this instant (ISO date or timestamp, UTC). "
            "Default: now, floored to the hour.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the store file even if it holds other data."),
    ] = False,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync/--no-sync",
            help="Sync the segments into the built-in ESP emulators.",
        ),
    ] = True,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Build the demo in this store (a SEGSYNC_SOURCE_URL, e.g. "
            "postgresql://user@host/db) instead of SEGSYNC_SOURCE_URL.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build a synthetic retail store and the example segments, then evaluate them.

    Writes the store at SEGSYNC_SOURCE_URL and the example config into the config directory
    (only files that do not exist yet).
    """
    if store is not None:
        # a bad URL, or a store segsync does not write, is an error before anything is built
        check_writable(parse_store_url(store), "segsync demo --store")
        state.override(store)
    moment = resolve_as_of(as_of) if as_of is not None else default_as_of(utc_now())
    spec = DemoSpec(as_of=moment, profiles=profiles, seed=seed)
    run_demo(spec, force=force, sync=sync, floored=as_of is None)
