"""The status page at ``/``: plain server-rendered HTML with inline SVG charts, no scripts.

It shows the segments (schedule, destinations, size, next run, last outcome), their
sizes over time (one chart of every segment, and a small chart per row), the latest lifts
of members against their held-out groups (a forest plot, ``segsync report``'s numbers),
the last runs with their errors, rejected config changes, and quarantine counts. Everything shown is
escaped and passed through the redactor: no keys, no member emails (counts only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from connector.daemon.redact import Redactor
from connector.measure.charts import ForestRow, forest_plot
from connector.measure.latest import LatestLift
from connector.timespec import format_instant, parse_instant

__all__ = ["RunRow", "SegmentRow", "StatusView", "render_status"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")  # fmt: skip


@dataclass
class SegmentRow:
    name: str
    description: str
    schedule: str
    destinations: list[str]
    next_due: datetime | None
    running: bool
    failures: int
    last_status: str | None
    last_success: str | None
    history: list[dict[str, Any]]
    """``StateStore.segment_history`` rows, newest first."""

    def sizes(self) -> list[tuple[datetime, int]]:
        """(run start, size) oldest first; a run's size is its largest destination's."""
        per_run: dict[str, tuple[datetime, int]] = {}
        for row in self.history:
            when = parse_instant(row["started_at"])
            size = int(row["desired"] or 0)
            old = per_run.get(row["run_id"])
            per_run[row["run_id"]] = (when, max(size, old[1] if old else 0))
        return sorted(per_run.values())


@dataclass
class RunRow:
    run_id: str
    segments: list[str]
    started_at: str
    trigger: str
    status: str
    duration: float | None
    adds: int
    removes: int
    quarantined: int
    errors: list[str]


@dataclass
class StatusView:
    generated_at: datetime
    version: str
    ready: bool
    config_loaded_at: datetime | None
    config_errors: list[str]
    segments: list[SegmentRow]
    runs: list[RunRow]
    busy: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    lifts: list[LatestLift] = field(default_factory=list)
    #: why no lifts could be measured (the kpis do not fit the store, …)
    lifts_note: str | None = None


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #ddd;vertical-align:middle}th{background:#f4f4f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.time{white-space:nowrap}.muted{color:#666}
.ok{color:#17713a}.bad{color:#b00020;font-weight:600}.warn{color:#9a5b00}
.err{background:#fff0f0;border:1px solid #f3c0c0;padding:.5rem .8rem;margin:.4rem 0;
white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}
.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def _e(redactor: Redactor, value: object) -> str:
    return escape(redactor.text("" if value is None else str(value)))


def _status_class(status: str | None) -> str:
    if status in ("ok",):
        return "ok"
    if status in ("failed", "error", "guard", "interrupted"):
        return "bad"
    return "warn" if status else "muted"


def _epoch(when: datetime) -> float:
    return when.replace(tzinfo=UTC).timestamp()


def _instant(epoch: float) -> str:
    return format_instant(datetime.fromtimestamp(round(epoch), UTC).replace(tzinfo=None))


def _points(
    series: list[tuple[datetime, int]],
    t0: float,
    t1: float,
    vmax: int,
    box: tuple[float, float, float, float],
) -> list[tuple[float, float]]:
    x, y, w, h = box
    span = (t1 - t0) or 1.0
    top = vmax or 1
    return [
        (round(x + (_epoch(when) - t0) / span * w, 1), round(y + h - size / top * h, 1))
        for when, size in series
    ]


def _lines(
    named: list[tuple[str, list[tuple[datetime, int]]]],
    box: tuple[float, float, float, float],
    colours: tuple[str, ...] = PALETTE,
) -> tuple[list[str], int, float, float]:
    stamps = [_epoch(when) for _, series in named for when, _ in series]
    t0, t1 = (min(stamps), max(stamps)) if stamps else (0.0, 1.0)
    vmax = max((size for _, series in named for _, size in series), default=0)
    shapes = []
    for index, (name, series) in enumerate(named):
        if not series:
            continue
        colour = colours[index % len(colours)]
        points = _points(series, t0, t1, vmax, box)
        label = escape(name)
        if len(points) == 1:
            (px, py) = points[0]
            shapes.append(f'<circle cx="{px}" cy="{py}" r="3" fill="{colour}"><title>{label}'
                          "</title></circle>")  # fmt: skip
            continue
        path = " ".join(f"{px},{py}" for px, py in points)
        shapes.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                      f'points="{path}"><title>{label}</title></polyline>')  # fmt: skip
    return shapes, vmax, t0, t1


def sparkline(row: SegmentRow, index: int) -> str:
    """A 160×36 chart of one segment's size over its recent runs."""
    colour = PALETTE[index % len(PALETTE)]
    shapes, vmax, _, _ = _lines([(row.name, row.sizes())], (2, 4, 156, 28), (colour,))
    return (
        f'<svg class="spark" width="160" height="36" viewBox="0 0 160 36" role="img" '
        f'aria-label="size of {escape(row.name)} over time (max {vmax})">'
        f'<rect width="160" height="36" fill="#fafafa"/>{"".join(shapes)}</svg>'
    )


def size_chart(rows: list[SegmentRow]) -> str:
    """All segments' sizes over time, with a value axis, time labels and a legend."""
    width, height, left, bottom = 760, 240, 56, 28
    box = (float(left), 10.0, float(width - left - 12), float(height - bottom - 10))
    named = [(row.name, row.sizes()) for row in rows]
    shapes, vmax, t0, t1 = _lines(named, box)
    x, y, w, h = box
    grid = []
    for fraction in (0.0, 0.5, 1.0):
        gy = round(y + h - fraction * h, 1)
        grid.append(f'<line x1="{x}" y1="{gy}" x2="{x + w}" y2="{gy}" stroke="#e3e3e3"/>'
                    f'<text x="{x - 6}" y="{gy + 4}" text-anchor="end" font-size="11" '
                    f'fill="#555">{round(vmax * fraction)}</text>')  # fmt: skip
    if any(series for _, series in named):
        start, end = _instant(t0), _instant(t1)
        grid.append(f'<text x="{x}" y="{height - 8}" font-size="11" fill="#555">{start}</text>'
                    f'<text x="{x + w}" y="{height - 8}" font-size="11" fill="#555" '
                    f'text-anchor="end">{end}</text>')  # fmt: skip
    else:
        grid.append(f'<text x="{x + w / 2}" y="{y + h / 2}" text-anchor="middle" fill="#777">'
                    "no runs recorded yet</text>")  # fmt: skip
    legend = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(name)}</span>'
        for i, (name, _) in enumerate(named)
    )
    return (
        f'<svg id="size-chart" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="segment sizes over time">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>{"".join(grid)}'
        f'{"".join(shapes)}</svg><div class="legend">{legend}</div>'
    )


def _when(value: datetime | None) -> str:
    return format_instant(value.replace(microsecond=0)) if value else "—"


def _segment_rows(view: StatusView, r: Redactor) -> str:
    rows = []
    for index, seg in enumerate(view.segments):
        sizes = seg.sizes()
        size = sizes[-1][1] if sizes else None
        state = "running" if seg.running else (seg.last_status or "never run")
        failures = (
            f' <span class="bad">({seg.failures} failed in a row)</span>' if seg.failures else ""
        )
        rows.append(
            f'<tr id="segment-{_e(r, seg.name)}"><td><strong>{_e(r, seg.name)}</strong>'
            f'<div class="muted">{_e(r, seg.description)}</div></td>'
            f"<td>{_e(r, seg.schedule)}</td><td>{_e(r, ', '.join(seg.destinations))}</td>"
            f'<td class="num">{"—" if size is None else size}</td>'
            f"<td>{sparkline(seg, index)}</td>"
            f'<td class="{_status_class(None if seg.running else seg.last_status)}">'
            f"{_e(r, state)}{failures}</td>"
            f"<td>{_e(r, seg.last_success or '—')}</td><td>{_when(seg.next_due)}</td></tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="8" class="muted">no segments with destinations</td></tr>')
    return "".join(rows)


def _signed(count: int, sign: str) -> str:
    return f"{sign}{count}" if count else "0"


def _run_rows(view: StatusView, r: Redactor) -> str:
    rows = []
    for run in view.runs:
        duration = "—" if run.duration is None else f"{run.duration:.1f}s"
        errors = "".join(f'<div class="err">{_e(r, e)}</div>' for e in run.errors[:5])
        rows.append(
            f"<tr><td><code>{_e(r, run.run_id)}</code></td>"
            f"<td>{_e(r, ', '.join(run.segments) or '—')}</td>"
            f'<td class="time">{_e(r, run.started_at)}</td><td>{_e(r, run.trigger)}</td>'
            f'<td class="{_status_class(run.status)}">{_e(r, run.status)}</td>'
            f'<td class="num">{duration}</td><td class="num">{_signed(run.adds, "+")}</td>'
            f'<td class="num">{_signed(run.removes, "−")}</td>'
            f'<td class="num">{run.quarantined}</td><td>{errors}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="10" class="muted">no runs yet</td></tr>')
    return "".join(rows)


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pp"


def lift_section(view: StatusView, r: Redactor) -> str:
    """A forest plot of each segment's conversion-rate lift and a table of the numbers."""
    if view.lifts_note:
        return f'<p class="warn">{_e(r, view.lifts_note)}</p>'
    if not view.lifts:
        return ('<p class="muted">no cohorts recorded yet: lifts are measured after a sync '
                "run records its segments' members and held-out groups</p>")  # fmt: skip
    rows, cells = [], []
    for item in view.lifts:
        seg = item.segment
        lift = seg.lift["conversion_rate"]
        low, high = lift.ci if lift.ci is not None else (None, None)
        significant = lift.p is not None and lift.p < 0.05
        why = "no held-out group" if seg.held_out.n == 0 else (
            "too small" if seg.too_small else "")  # fmt: skip
        rows.append(ForestRow(seg.name, lift.abs, low, high, significant, why))
        p = "—" if lift.p is None else ("<0.001" if lift.p < 0.001 else f"{lift.p:.3f}")
        interval = "—" if low is None or high is None else f"[{_pp(low)}, {_pp(high)}]"
        state = "provisional" if item.provisional else "complete"
        cells.append(
            f'<tr id="lift-{_e(r, seg.name)}"><td>{_e(r, seg.name)}</td>'
            f'<td class="time">{_when(item.as_of)} <span class="muted">({state})</span></td>'
            f'<td class="num">{seg.members.n}</td><td class="num">{seg.held_out.n}</td>'
            f'<td class="num">{_pp(lift.abs)}</td><td>{interval}</td>'
            f'<td class="num">{_e(r, p)}</td>'
            f'<td class="num">{_pp(seg.mde).lstrip("+")}</td><td>{_e(r, why)}</td></tr>'
        )
    chart = forest_plot(
        rows, title="Conversion-rate lift, members − held out (95 % interval)", chart_id="lifts"
    )
    return (
        f'{chart}<table id="lift-table"><thead><tr><th>segment</th><th>cohort</th>'
        "<th>members</th><th>held out</th><th>lift</th><th>95 % interval</th><th>p</th>"
        f"<th>MDE</th><th></th></tr></thead><tbody>{''.join(cells)}</tbody></table>"
        f'<p class="muted">outcomes in the {_e(r, view.lifts[0].window)} after each '
        "segment's latest recorded cohort whose window has passed (else its latest, "
        "provisional); <code>segsync report</code> has every KPI</p>"
    )


def render_status(view: StatusView, redactor: Redactor) -> str:
    """The whole page as one HTML document."""
    r = redactor
    ready = '<span class="ok">ready</span>' if view.ready else '<span class="bad">not ready</span>'
    config = (
        "".join(f'<div class="err">{_e(r, e)}</div>' for e in view.config_errors)
        if view.config_errors
        else '<p class="ok">The live definitions are the files on disk.</p>'
    )
    rejected = (
        '<p class="bad">The last config change was rejected; the daemon keeps running the '
        "last good definitions until the files are fixed:</p>"
        if view.config_errors
        else ""
    )
    busy = ", ".join(f"{a} (job {j})" for a, j in sorted(view.busy.items())) or "none"
    quarantine = ", ".join(f"{d}: {n}" for d, n in sorted(view.quarantined.items())) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>segsync status</title><style>{_CSS}</style></head>
<body>
<h1>segsync</h1>
<p class="muted">version {_e(r, view.version)} · {ready} · page generated
{_when(view.generated_at)} · definitions loaded {_when(view.config_loaded_at)}</p>
<p>ESP accounts syncing now: {_e(r, busy)} · waiting requests: {len(view.pending)} ·
quarantined members: {_e(r, quarantine)}</p>
<h2>Segment sizes over time</h2>
{size_chart(view.segments)}
<h2>Latest lifts against the holdouts</h2>
{lift_section(view, r)}
<h2>Segments</h2>
<table id="segments"><thead><tr><th>segment</th><th>schedule</th><th>destinations</th>
<th>size</th><th>recent sizes</th><th>last run</th><th>last success</th><th>next run</th>
</tr></thead><tbody>{_segment_rows(view, r)}</tbody></table>
<h2>Last runs</h2>
<table id="runs"><thead><tr><th>run</th><th>segments</th><th>started</th><th>trigger</th>
<th>status</th><th>duration</th><th>added</th><th>removed</th><th>quarantined</th><th>errors</th></tr>
</thead><tbody>{_run_rows(view, r)}</tbody></table>
<h2>Configuration</h2>
{rejected}{config}
</body></html>
"""
