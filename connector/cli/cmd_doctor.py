"""``segsync doctor``: check every destination against its ESP, for real and read-only."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

import typer

from connector.cli.app import app
from connector.cli.common import JsonFlag, load_config, open_source
from connector.cli.context import state
from connector.definitions.trait_checks import check_traits_against_esp
from connector.errors import EXIT_ESP, ConnectorError
from connector.esp.registry import adapter_for, spec_for
from connector.reconcile.budget_db import budget_for
from connector.source.schema import StoreSchema

__all__ = ["doctor"]


@dataclass
class Finding:
    destination: str
    esp: str
    problems: list[str] = field(default_factory=list)


@app.command()
def doctor(as_json: JsonFlag = False) -> None:
    """Check each destination in the ESP: API key, audience/account, mapped fields,
    scopes, rate-limit headroom. One line per problem; exit 0 when all is well,
    2 otherwise. Nothing is written to the ESP."""
    defs = load_config()
    settings = state.settings()
    findings: list[Finding] = []
    schema = _StoreSchema()
    for name, destination in sorted(defs.destinations.items()):
        finding = Finding(name, destination.esp)
        try:
            adapter = adapter_for(destination, settings, budget=budget_for(settings))
            try:
                finding.problems = adapter.doctor(
                    sorted({*destination.fields.values(), *destination.traits})
                )
                if destination.traits and spec_for(destination).typed_fields:
                    actual = adapter.field_types(sorted(destination.traits))
                    finding.problems += [
                        str(issue)
                        for issue in check_traits_against_esp(defs, name, actual, schema())
                    ]
            finally:
                adapter.close()
        except ConnectorError as exc:  # missing key, unreachable host, 5xx after retries
            finding.problems = [str(exc)]
        findings.append(finding)
    failed = any(f.problems for f in findings)
    if as_json:
        payload = {
            "ok": not failed,
            "exit_code": EXIT_ESP if failed else 0,
            "destinations": [
                {"name": f.destination, "esp": f.esp, "ok": not f.problems, "problems": f.problems}
                for f in findings
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        if not findings:
            sys.stdout.write("no destinations in config/destinations.yaml\n")
        for f in findings:
            if not f.problems:
                sys.stdout.write(f"{f.destination} ({f.esp}): ok\n")
            for problem in f.problems:
                sys.stdout.write(f"{f.destination} ({f.esp}): {problem}\n")
    if failed:
        raise typer.Exit(EXIT_ESP)


class _StoreSchema:
    """The customer store's schema, read once when a trait check needs it; None when the
    store cannot be opened (doctor checks the ESP: the store is ``validate``'s)."""

    def __init__(self) -> None:
        self._read = False
        self._schema: StoreSchema | None = None

    def __call__(self) -> StoreSchema | None:
        if not self._read:
            self._read = True
            try:
                with open_source() as store:
                    self._schema = store.discover()
            except ConnectorError:
                self._schema = None
        return self._schema
