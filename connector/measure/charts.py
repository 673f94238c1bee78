"""Server-rendered SVG charts of a report (no scripts): a forest plot of lifts with their
95 % intervals, and a size-history line per segment. Used by ``report --html`` and the
daemon's status page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

__all__ = ["ForestRow", "forest_plot", "history_plot"]


@dataclass(frozen=True)
class ForestRow:
    """One segment's lift: the point estimate and its interval (``None`` when undefined)."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    significant: bool
    note: str = ""


def _fmt(value: float, percent: bool) -> str:
    return f"{value * 100:+.1f} pp" if percent else f"{value:+.2f}"


def forest_plot(
    rows: Sequence[ForestRow], *, title: str, percent: bool = True, chart_id: str = "forest"
) -> str:
    """Each row a point with its interval on a shared axis through zero; significant rows
    (interval excluding zero) drawn solid, others hollow."""
    width, label_w, right = 760, 220, 150
    row_h, top = 26, 30
    height = top + row_h * max(len(rows), 1) + 30
    x0, x1 = float(label_w), float(width - right)
    values = [v for r in rows for v in (r.low, r.high, r.estimate) if v is not None]
    lo = min([*values, 0.0])
    hi = max([*values, 0.0])
    pad = (hi - lo) * 0.08 or 0.01
    lo, hi = lo - pad, hi + pad

    def sx(value: float) -> float:
        return round(x0 + (value - lo) / (hi - lo) * (x1 - x0), 1)

    zero = sx(0.0)
    parts = [
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="8" y="18" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<line x1="{zero}" y1="{top - 6}" x2="{zero}" y2="{height - 24}" stroke="#888" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{x0}" y="{height - 8}" font-size="11" fill="#555">{_fmt(lo, percent)}</text>',
        f'<text x="{zero}" y="{height - 8}" font-size="11" fill="#555" '
        'text-anchor="middle">0</text>',
        f'<text x="{x1}" y="{height - 8}" font-size="11" fill="#555" '
        f'text-anchor="end">{_fmt(hi, percent)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="{x0}" y="{top + 14}" fill="#777">nothing measured</text>')
    for index, row in enumerate(rows):
        cy = top + row_h * index + row_h / 2
        label = escape(row.label)
        parts.append(f'<text x="8" y="{cy + 4}" font-size="12">{label}</text>')
        if row.estimate is None:
            parts.append(
                f'<text x="{x0}" y="{cy + 4}" font-size="12" fill="#777">'
                f"{escape(row.note or 'undefined')}</text>"
            )
            continue
        colour = "#17713a" if row.significant and row.estimate > 0 else (
            "#b00020" if row.significant else "#555")  # fmt: skip
        if row.low is not None and row.high is not None:
            parts.append(
                f'<line class="ci" x1="{sx(row.low)}" y1="{cy}" x2="{sx(row.high)}" y2="{cy}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        fill = colour if row.significant else "#fff"
        text = _fmt(row.estimate, percent)
        if row.low is not None and row.high is not None:
            text += f" [{_fmt(row.low, percent)}, {_fmt(row.high, percent)}]"
        parts.append(
            f'<circle class="estimate" cx="{sx(row.estimate)}" cy="{cy}" r="5" fill="{fill}" '
            f'stroke="{colour}" stroke-width="2"><title>{label}: {escape(text)}</title></circle>'
        )
        note = f" {row.note}" if row.note else ""
        parts.append(
            f'<text x="{x1 + 8}" y="{cy + 4}" font-size="11" fill="#333">'
            f"{escape(_fmt(row.estimate, percent) + note)}</text>"
        )
    return (
        f'<svg id="{escape(chart_id)}" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"{''.join(parts)}</svg>"
    )


def _epoch(when: datetime) -> float:
    return when.replace(tzinfo=UTC).timestamp()


def history_plot(
    series: Sequence[tuple[str, Sequence[tuple[datetime, int]]]], *, chart_id: str = "history"
) -> str:
    """Cohort size per recorded sync run, one line per segment."""
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
               "#e377c2", "#7f7f7f", "#bcbd22")  # fmt: skip
    width, height, left, bottom = 760, 220, 56, 28
    x, y, w, h = float(left), 10.0, float(width - left - 12), float(height - bottom - 10)
    stamps = [_epoch(t) for _, points in series for t, _ in points]
    t0, t1 = (min(stamps), max(stamps)) if stamps else (0.0, 1.0)
    vmax = max((v for _, points in series for _, v in points), default=0) or 1
    parts = [f'<rect width="{width}" height="{height}" fill="#fff"/>']
    for fraction in (0.0, 0.5, 1.0):
        gy = round(y + h - fraction * h, 1)
        parts.append(
            f'<line x1="{x}" y1="{gy}" x2="{x + w}" y2="{gy}" stroke="#e3e3e3"/>'
            f'<text x="{x - 6}" y="{gy + 4}" text-anchor="end" font-size="11" fill="#555">'
            f"{round(vmax * fraction)}</text>"
        )
    if not stamps:
        parts.append(
            f'<text x="{x + w / 2}" y="{y + h / 2}" text-anchor="middle" fill="#777">'
            "no sync runs recorded</text>"
        )
    legend = []
    for index, (name, points) in enumerate(series):
        colour = palette[index % len(palette)]
        legend.append(f'<span><i style="background:{colour}"></i>{escape(name)}</span>')
        coords = [
            (
                round(x + (_epoch(t) - t0) / ((t1 - t0) or 1.0) * w, 1),
                round(y + h - v / vmax * h, 1),
            )
            for t, v in sorted(points)
        ]
        if len(coords) == 1:
            parts.append(f'<circle cx="{coords[0][0]}" cy="{coords[0][1]}" r="3" fill="{colour}"/>')
        elif coords:
            path = " ".join(f"{px},{py}" for px, py in coords)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                f"<title>{escape(name)}</title></polyline>"
            )
    return (
        f'<svg id="{escape(chart_id)}" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="cohort sizes per sync run">'
        f'{"".join(parts)}</svg><div class="legend">{"".join(legend)}</div>'
    )
