"""``segsync preview NAME``: who is in a segment, as CSV ``profile_id,email,holdout``
(and one column per trait of a destination with ``--traits DESTINATION``)."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Annotated, TextIO

import numpy as np
import typer

from connector.cli.app import app
from connector.cli.common import (
    AsOf,
    complete_segment,
    load_config,
    one_segment,
    open_source,
    resolve_as_of,
)
from connector.cli.context import state
from connector.cli.output import err, is_terminal, print_table
from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import Definitions
from connector.errors import ConfigError
from connector.evaluate.engine import Evaluation, evaluate, has_esp_conditions
from connector.evaluate.traits import TraitField, trait_fields, trait_value
from connector.reconcile.addresses import Addresses
from connector.suggest import suggest
from connector.timespec import format_instant

PREVIEW_ROWS = 20


def _trait_cells(result: Evaluation, traits: Sequence[TraitField], row: int) -> list[str]:
    """The profile's trait values as pushed ('' for NULL, which is never sent)."""
    cells = []
    for t in traits:
        value = trait_value(result.traits[t.key][row], t.field_type)
        cells.append("" if value is None else str(value))
    return cells


def write_members_csv(
    result: Evaluation,
    name: str,
    stream: TextIO,
    emails: np.ndarray | None = None,
    traits: Sequence[TraitField] = (),
) -> int:
    """Write the segment's members (after exclusive groups) sorted by profile id; the email
    column is empty where no valid address would be pushed; one column per trait."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["profile_id", "email", "holdout", *[t.esp_field for t in traits]])
    rows = result.rows(name)
    if emails is None:
        emails = Addresses(result).emails(rows)
    held = result.held_out[name]
    for row in rows:
        email = emails[row]
        writer.writerow(
            [
                result.profile_ids[row],
                email or "",
                "true" if held[row] else "false",
                *_trait_cells(result, traits, row),
            ]
        )
    return len(rows)


def summary_lines(result: Evaluation, name: str, addresses: Addresses | None = None) -> list[str]:
    rows = result.rows(name)
    addresses = addresses or Addresses(result)
    emails = addresses.emails(rows)
    held = int(result.held_out[name].sum())
    no_email = sum(1 for r in rows if emails[r] is None)
    segment = result.segments[name]
    lines = [
        f"{name} as of {format_instant(result.as_of)}: {len(rows)} members, "
        f"{held} held out, {len(rows) - held} to push, {no_email} without a valid email"
    ]
    rejected = addresses.rejects(rows).describe()
    if rejected:
        lines.append(rejected)
    excluded = int(result.qualified[name].sum()) - len(rows)
    if excluded:
        lines.append(
            f"{excluded} qualifying profiles belong to a higher-priority segment of exclusive "
            f"group '{segment.exclusive_group}'"
        )
    if result.below_min_size(name):
        lines.append(
            f"warning: below min_size {segment.min_size}: this segment would not be pushed"
        )
    return lines


def _previous(defs: Definitions, name: str, run_id: str) -> dict[str, list[object]]:
    """The qualified sets sync run ``run_id`` recorded for the hysteretic segments that
    evaluating ``name`` computes."""
    # imported only with --previous-run: the state store brings psycopg, which a plain
    # preview must not load (tests/cli/test_lazy_commands.py)
    from connector.reconcile.hysteresis import hysteretic, previous_qualified  # noqa: PLC0415
    from connector.reconcile.state import StateStore  # noqa: PLC0415
    from connector.reconcile.state_url import state_url_of  # noqa: PLC0415

    location = state_url_of(state.settings())
    if location.path is not None and not location.path.exists():
        raise ConfigError(f"no sync run '{run_id}': no state store yet", file="--previous-run")
    with closing(StateStore(location)) as store:
        if not store.has_run(run_id):
            raise ConfigError(
                f"no sync run '{run_id}' in the state store (`segsync status` lists runs)",
                file="--previous-run",
            )
        return previous_qualified(store, hysteretic(defs, [name]), run_id)


@app.command()
def preview(
    name: Annotated[
        str,
        typer.Argument(
            help="Segment name (or a glob matching one).", autocompletion=complete_segment
        ),
    ],
    as_of: AsOf = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the members CSV to this file ('-': stdout)."),
    ] = None,
    previous_run: Annotated[
        str | None,
        typer.Option(
            "--previous-run",
            help="Apply hysteresis as the run after sync run ID would (its qualified sets).",
            show_default=False,
        ),
    ] = None,
    traits_of: Annotated[
        str | None,
        typer.Option(
            "--traits",
            metavar="DESTINATION",
            help="Add one column per trait of this destination (its value as pushed).",
        ),
    ] = None,
) -> None:
    """Evaluate one segment and list its members (CSV: profile_id,email,holdout[,traits]).

    Percentile hysteresis needs the members of a previous run: without --previous-run
    the percent conditions are the plain P %."""
    defs = load_config()
    name = one_segment(defs, name)
    if traits_of is not None and traits_of not in defs.destinations:
        raise ConfigError(
            f"unknown destination '{traits_of}'{suggest(traits_of, defs.destinations)}",
            file=str(defs.config_dir / "destinations.yaml"),
        )
    if has_esp_conditions(defs.segments[name].rule):
        raise ConfigError(
            f"segment '{name}' has esp conditions that only the ESP can evaluate, so it cannot "
            "be previewed locally; `segsync plan` shows its locally evaluated parts",
            file=str(defs.segment_doc(name).file),
        )
    moment = resolve_as_of(as_of)
    previous = _previous(defs, name, previous_run) if previous_run is not None else None
    with open_source() as store:
        traits: list[TraitField] = []
        if traits_of is not None:
            schema = store.discover()
            raise_for_schema(defs, schema, [name])
            traits = trait_fields(defs, schema, [traits_of]).get(traits_of, [])
        result = evaluate(
            store,
            defs,
            as_of=moment,
            names=[name],
            traits={t.key: t.trait for t in traits},
            previous=previous,
        )
    addresses = Addresses(result)
    emails = addresses.emails(result.rows(name))
    for line in summary_lines(result, name, addresses):
        err.print(line, markup=False)
    if output is not None and str(output) != "-":
        buffer = io.StringIO()
        write_members_csv(result, name, buffer, emails, traits)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(buffer.getvalue(), encoding="utf-8")
        err.print(f"wrote {output}", markup=False)
        return
    if output is None and is_terminal():
        rows = result.rows(name)[:PREVIEW_ROWS]
        print_table(
            ["profile_id", "email", "holdout", *[t.esp_field for t in traits]],
            [
                (
                    result.profile_ids[r],
                    emails[r] or "",
                    bool(result.held_out[name][r]),
                    *_trait_cells(result, traits, r),
                )
                for r in rows
            ],
        )
        if len(result.rows(name)) > PREVIEW_ROWS:
            err.print(f"… first {PREVIEW_ROWS} shown; use --output FILE for all", markup=False)
        return
    write_members_csv(result, name, sys.stdout, emails, traits)
