"""A report as a terminal table, CSV, or a self-contained HTML page (forest plots of the
lifts with their intervals, and cohort size history)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape

from connector.measure.charts import ForestRow, forest_plot, history_plot
from connector.measure.report import LIFTED, Report, SegmentReport
from connector.measure.stats import CONFIDENCE, Lift
from connector.timespec import format_instant

__all__ = ["TABLE_COLUMNS", "csv_text", "forest_rows", "html_page", "notes", "table_rows"]

ALPHA = 1 - CONFIDENCE
GROUP_FIELDS = ("n", "conversion_rate", "repeat_rate", "revenue_per_profile", "aov")

TABLE_COLUMNS = [
    "segment", "members", "held out",
    "conversion m / h", "lift [95% CI]", "p",
    "repeat m / h", "lift [95% CI]", "p",
    "revenue/profile m / h", "lift [95% CI]", "p",
    "AOV m / h", "MDE", "note",
]  # fmt: skip


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}pp"


def _money(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _lift_text(lift: Lift, percent: bool) -> str:
    show = _pp if percent else (lambda v: _money(v, sign=True))
    if lift.abs is None:
        return "—"
    text = show(lift.abs)
    if lift.ci is not None:
        text += f" [{show(lift.ci[0])}, {show(lift.ci[1])}]"
    return text


def significant(lift: Lift) -> bool:
    return lift.p is not None and lift.p < ALPHA


def note(segment: SegmentReport) -> str:
    if segment.held_out.n == 0:
        return "too small: no held-out group"
    if segment.too_small:
        return "too small to measure"
    if significant(segment.lift["conversion_rate"]):
        return "significant"
    return ""


def table_rows(report: Report) -> list[list[str]]:
    rows = []
    for s in report.segments:
        m, h, lift = s.members, s.held_out, s.lift
        rows.append([
            s.name, str(m.n), str(h.n),
            f"{_pct(m.conversion_rate)} / {_pct(h.conversion_rate)}",
            _lift_text(lift["conversion_rate"], True), _p(lift["conversion_rate"].p),
            f"{_pct(m.repeat_rate)} / {_pct(h.repeat_rate)}",
            _lift_text(lift["repeat_rate"], True), _p(lift["repeat_rate"].p),
            f"{_money(m.revenue_per_profile)} / {_money(h.revenue_per_profile)}",
            _lift_text(lift["revenue_per_profile"], False), _p(lift["revenue_per_profile"].p),
            f"{_money(m.aov)} / {_money(h.aov)}",
            _pp(s.mde).lstrip("+"), note(s),
        ])  # fmt: skip
    return rows


def notes(report: Report) -> list[str]:
    """Lines printed under the table: provisional figures, what was not measured."""
    lines = []
    if report.provisional:
        last = format_instant(report.last_event) if report.last_event else "none"
        lines.append(
            f"provisional: the window ends {format_instant(report.as_of_end)} but the data's "
            f"last event is {last}; outcomes may still come in"
        )
    for name, why in sorted(report.skipped.items()):
        lines.append(f"not measured: {name} ({why})")
    return lines


def csv_text(report: Report) -> str:
    """One row per segment, one column per number (empty when undefined)."""
    header = ["segment", "as_of", "window"]
    for group in ("members", "held_out"):
        header += [f"{group}_{k}" for k in GROUP_FIELDS]
    for kpi in LIFTED:
        header += [f"lift_{kpi}_{k}" for k in ("abs", "rel", "ci_low", "ci_high", "p")]
    header += ["mde", "too_small", "provisional"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)

    def cell(value: float | int | None) -> str:
        return "" if value is None else repr(value) if isinstance(value, float) else str(value)

    for s in report.segments:
        row = [s.name, format_instant(report.as_of), report.window]
        for g in (s.members, s.held_out):
            row += [cell(g.n), cell(g.conversion_rate), cell(g.repeat_rate),
                    cell(g.revenue_per_profile), cell(g.aov)]  # fmt: skip
        for kpi in LIFTED:
            lift = s.lift[kpi]
            low, high = lift.ci if lift.ci is not None else (None, None)
            row += [cell(lift.abs), cell(lift.rel), cell(low), cell(high), cell(lift.p)]
        row += [cell(s.mde), str(s.too_small).lower(), str(report.provisional).lower()]
        writer.writerow(row)
    return buffer.getvalue()


def forest_rows(report: Report, kpi: str) -> list[ForestRow]:
    rows = []
    for s in report.segments:
        lift = s.lift[kpi]
        low, high = lift.ci if lift.ci is not None else (None, None)
        why = "no held-out group" if s.held_out.n == 0 else ""
        tag = "too small" if s.too_small and kpi == "conversion_rate" and s.held_out.n else ""
        rows.append(ForestRow(s.name, lift.abs, low, high, significant(lift), why or tag))
    return rows


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse}th,td{text-align:left;padding:.25rem .5rem;
border-bottom:1px solid #ddd}th{background:#f4f4f4}.warn{color:#9a5b00}.muted{color:#666}
.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def html_page(
    report: Report, history: Sequence[tuple[str, Sequence[tuple[datetime, int]]]] = ()
) -> str:
    """A self-contained page (no scripts, no external files)."""
    head = "".join(f"<th>{escape(c)}</th>" for c in TABLE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
        for row in table_rows(report)
    )
    warn = "".join(f'<p class="warn">{escape(line)}</p>' for line in notes(report))
    run = f" · cohort of sync run {escape(report.run_id)}" if report.run_id else ""
    charts = [
        forest_plot(forest_rows(report, "conversion_rate"), title="Conversion rate lift "
                    "(members − held out, 95 % interval)", chart_id="forest-conversion"),
        forest_plot(forest_rows(report, "repeat_rate"), title="Repeat rate lift",
                    chart_id="forest-repeat"),
        forest_plot(forest_rows(report, "revenue_per_profile"), title="Revenue per profile "
                    "lift (Welch 95 % interval)", percent=False, chart_id="forest-revenue"),
    ]  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>segsync report</title>
<style>{_CSS}</style></head><body>
<h1>segsync report</h1>
<p class="muted">cohort at {format_instant(report.as_of)}{run} · outcomes in the
{escape(report.window)} after it · members (pushed) against their held-out control group</p>
{warn}
<h2>Lifts</h2>
{"".join(charts)}
<h2>Segments</h2>
<table id="report"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Cohort size per sync run</h2>
{history_plot(history)}
</body></html>
"""
