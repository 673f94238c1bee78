"""``segsync explain NAME PROFILE_ID``: why a profile is in or out."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from connector.cli.app import app
from connector.cli.common import (
    AsOf,
    JsonFlag,
    complete_segment,
    load_config,
    one_segment,
    open_source,
    resolve_as_of,
)
from connector.cli.output import out
from connector.evaluate.explain import Explanation, explain_profile
from connector.timespec import format_instant


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    if hasattr(value, "isoformat"):
        return format_instant(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _mark(result: bool | None) -> str:
    return {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]?[/]"}[result]


def _plain_mark(result: bool | None) -> str:
    return {True: "yes", False: "no ", None: "esp"}[result]


def _verdict(ex: Explanation) -> str:
    if ex.qualifies is None:
        return "depends on ESP-only conditions"
    if not ex.qualifies:
        return "OUT (the rule does not hold)"
    if ex.excluded_by:
        return f"OUT (exclusive group: belongs to higher-priority '{ex.excluded_by}')"
    return "IN, held out (control group)" if ex.held_out else "IN"


def _payload(ex: Explanation) -> dict[str, Any]:
    return {
        "segment": ex.segment,
        "profile_id": ex.profile_id,
        "as_of": format_instant(ex.as_of),
        "qualifies": ex.qualifies,
        "member": ex.member,
        "excluded_by": ex.excluded_by,
        "held_out": ex.held_out,
        "email": ex.email,
        "consent": ex.consent,
        "conditions": [
            {
                "path": ".".join(str(p) for p in n.path),
                "condition": n.text,
                "result": n.result,
                "value": n.value if not hasattr(n.value, "isoformat") else format_instant(n.value),
                **(n.extra or {}),
            }
            for n in ex.nodes
        ],
    }


@app.command()
def explain(
    name: Annotated[
        str,
        typer.Argument(
            help="Segment name (or a glob matching one).", autocompletion=complete_segment
        ),
    ],
    profile_id: Annotated[str, typer.Argument(help="Profile id.")],
    as_of: AsOf = None,
    as_json: JsonFlag = False,
) -> None:
    """Show each condition's value and result for one profile."""
    defs = load_config()
    name = one_segment(defs, name)
    with open_source() as store:
        ex = explain_profile(store, defs, name, profile_id, as_of=resolve_as_of(as_of))
    if as_json:
        sys.stdout.write(json.dumps(_payload(ex), indent=2, default=str) + "\n")
        return
    out.print(
        f"{ex.segment} for profile {ex.profile_id} as of {format_instant(ex.as_of)}: "
        f"{_verdict(ex)}",
        markup=False,
    )
    terminal = out.is_terminal
    for node in ex.nodes:
        indent = "  " * (node.depth + 1)
        value = f"  = {_fmt(node.value)}" if node.has_value else ""
        if node.extra and "cume_dist" in node.extra:
            value += f" (share at or above: {_fmt(node.extra['cume_dist'])})"
        if terminal:
            out.print(f"{indent}{_mark(node.result)} {node.text}[dim]{value}[/]", highlight=False)
        else:
            out.print(f"{indent}{_plain_mark(node.result)} {node.text}{value}", markup=False)
    email = ex.email or f"invalid ({_fmt(ex.raw_email)})"
    out.print(f"  email: {email}; consent: {'yes' if ex.consent else 'no'}", markup=False)
