"""``segsync audit``: sizes, held-out, members without email, overlaps, coverage, and the
over-segmentation view (too small to measure, heavy overlaps, profiles in no segment)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer

from connector.cli.app import app
from connector.cli.common import AsOf, JsonFlag, load_config, open_source, resolve_as_of
from connector.cli.output import out, print_table
from connector.evaluate.audit import audit as run_audit
from connector.evaluate.engine import evaluate, has_esp_conditions
from connector.measure.oversegmentation import OverSegmentation, over_segmentation
from connector.reconcile.addresses import Addresses
from connector.timespec import format_instant


@app.command()
def audit(
    as_of: AsOf = None,
    top: Annotated[int, typer.Option("--top", help="How many overlapping pairs to show.")] = 10,
    max_overlap: Annotated[
        float,
        typer.Option(
            "--max-overlap",
            min=0.0,
            max=1.0,
            help="Flag pairs of segments whose overlap (Jaccard) is above this.",
        ),
    ] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Audit every locally evaluable segment: sizes, overlaps, coverage, tiny segments."""
    defs = load_config()
    skipped = sorted(n for n, s in defs.segments.items() if has_esp_conditions(s.rule))
    moment = resolve_as_of(as_of)
    with open_source() as store:
        result = evaluate(store, defs, as_of=moment)
        total = store.discover().profile_count
        addresses = Addresses(result)
        member_rows = sorted({int(r) for name in result.members for r in result.rows(name)})
        emails = addresses.emails(member_rows)
        rejects = addresses.rejects()
        report = run_audit(result, total, emails)
        crowd = over_segmentation(store, defs, result, report, max_overlap)
    if as_json:
        payload = {
            "as_of": format_instant(moment),
            "profiles": total,
            "covered": report.profiles_covered,
            "segments": [asdict(s) for s in report.segments],
            "overlaps": [asdict(o) for o in report.overlaps],
            "not_evaluated_locally": skipped,
            "rejected": rejects.to_json(),
            "over_segmentation": {
                "max_mde": crowd.max_mde,
                "max_overlap": crowd.max_overlap,
                "sizes": [asdict(s) for s in crowd.sizes],
                "too_small": [s.name for s in crowd.too_small],
                "overlapping": [asdict(o) for o in crowd.overlapping],
                "in_no_segment": crowd.in_no_segment,
                "problem": crowd.problem,
            },
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    print_table(
        ["segment", "members", "held out", "to push", "no valid email", "contacts",
         "no consent", "min size"],
        [
            (s.name, s.members, s.held_out, s.to_push, s.no_valid_email, s.contacts,
             s.without_consent, f"{s.min_size} BELOW" if s.below_min_size else s.min_size)
            for s in report.segments
        ],
        title=f"Segments as of {format_instant(moment)}",
    )  # fmt: skip
    if report.overlaps:
        print_table(
            ["segment", "segment", "shared", "jaccard"],
            [(o.first, o.second, o.shared, f"{o.jaccard:.2f}") for o in report.overlaps[:top]],
            title="Largest overlaps",
        )
    share = report.profiles_covered / total if total else 0.0
    out.print(
        f"coverage: {report.profiles_covered} of {total} profiles ({share:.1%}) are in at "
        "least one segment",
        markup=False,
    )
    if rejects.describe():
        out.print(rejects.describe(), markup=False)
    tiny = [s.name for s in report.segments if s.below_min_size]
    if tiny:
        out.print(f"below min_size (not pushed): {', '.join(tiny)}", markup=False)
    if skipped:
        out.print(f"not evaluated locally (esp conditions): {', '.join(skipped)}", markup=False)
    _print_over_segmentation(crowd)


def _print_over_segmentation(crowd: OverSegmentation) -> None:
    if crowd.problem:
        out.print(f"too small to measure: not checked ({crowd.problem})", markup=False)
    elif crowd.too_small:
        print_table(
            ["segment", "members", "held out", "MDE"],
            [
                (s.name, s.members, s.held_out,
                 "no held-out group" if not s.held_out
                 else "—" if s.mde is None else f"{s.mde * 100:.1f}pp")
                for s in crowd.too_small
            ],
            title=f"Too small to measure (MDE above {crowd.max_mde * 100:.1f}pp at recent "
            "conversion rates, or no held-out group)",
        )  # fmt: skip
    else:
        out.print("too small to measure: none", markup=False)
    if crowd.overlapping:
        out.print(
            f"overlapping above {crowd.max_overlap:.2f}: "
            + ", ".join(f"{o.first} & {o.second} ({o.jaccard:.2f})" for o in crowd.overlapping),
            markup=False,
        )
    out.print(f"in no segment: {crowd.in_no_segment} profiles", markup=False)
