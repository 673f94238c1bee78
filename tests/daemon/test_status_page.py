"""The status page: rendered HTML (escaping, charts, redaction) and, in a real headless
Chromium against a running daemon, what a person sees (the screenshot is kept in
``test-artifacts/status-page.png``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from connector.daemon.redact import Redactor
from connector.daemon.status_page import RunRow, SegmentRow, StatusView, render_status
from connector.definitions.kpis import Kpis
from connector.evaluate.identity import is_held_out
from connector.measure.cohort import Cohort
from connector.measure.latest import LatestLift
from connector.measure.outcomes import Outcomes
from connector.measure.report import measure_segment
from tests.daemon.conftest import ARTIFACTS, BUYERS, CA, World, assert_nothing_secret, wait_for

T0 = datetime(2026, 5, 1, 12)


def history(sizes: list[int]) -> list[dict[str, object]]:
    rows = []
    for index, size in enumerate(sizes):
        started = (T0 + timedelta(minutes=15 * index)).isoformat() + ".000Z"
        rows.append({"run_id": f"r{index}", "started_at": started, "destination": "mc",
                     "desired": size, "adds": 0, "removes": 0, "quarantined": 0,
                     "error": None})  # fmt: skip
    return list(reversed(rows))  # newest first, like StateStore.segment_history


def view(**overrides: object) -> StatusView:
    segments = [
        SegmentRow("vip-ca", "VIPs <in> \"CA\"", "15m", ["mc"], T0, False, 0, "ok",
                   "2026-05-01T12:00:00Z", history([10, 14, 12, 20])),
        SegmentRow("churn", "", "0 6 * * *", ["mc", "kl"], None, True, 2, "failed", None,
                   history([5])),
    ]  # fmt: skip
    error = f"mailchimp HTTP 400: jane@example.com is invalid; key {'0123456789abcdef' * 2}-us2"
    runs = [RunRow("r3", ["vip-ca"], "2026-05-01T12:45:00.000Z", "schedule", "failed", 1.5, 3,
                   1, 0, [error])]  # fmt: skip
    fields: dict[str, object] = {
        "generated_at": T0,
        "version": "0.1.0",
        "ready": True,
        "config_loaded_at": T0,
        "config_errors": [],
        "segments": segments,
        "runs": runs,
    }
    return StatusView(**(fields | overrides))  # type: ignore[arg-type]


def test_page_shows_segments_charts_runs_and_escapes() -> None:
    html = render_status(view(), Redactor())
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert 'id="segment-vip-ca"' in html and 'id="segment-churn"' in html
    assert "VIPs &lt;in&gt; &quot;CA&quot;" in html  # escaped
    chart = re.search(r'<svg id="size-chart".*?</svg>', html, re.S)
    assert chart is not None
    assert chart.group(0).count("<polyline") == 1  # vip-ca: four runs
    assert chart.group(0).count("<circle") == 1  # churn: one run
    assert html.count('class="spark"') == 2
    assert "2026-05-01T12:00:00Z" in chart.group(0)  # time axis
    assert ">20</text>" in chart.group(0)  # value axis reaches the largest size
    assert "2 failed in a row" in html and "running" in html
    # errors are shown, but not the email or the key inside them
    assert "<email> is invalid" in html.replace("&lt;", "<").replace("&gt;", ">")
    assert "jane@example.com" not in html and "0123456789abcdef" not in html


def test_page_with_nothing_yet_and_a_rejected_change() -> None:
    html = render_status(
        view(
            segments=[],
            runs=[],
            ready=False,
            config_errors=["config/segments/x.yaml line 3: rule: unknown attribute 'regoin'"],
        ),
        Redactor(),
    )
    assert "no runs recorded yet" in html and "no runs yet" in html
    assert "not ready" in html
    assert "was rejected" in html and "x.yaml line 3" in html


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1200,900")  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None,
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_status_page_in_headless_chromium(
    world_factory: Callable[..., World], tmp_path: Path
) -> None:
    world = world_factory({"ca": CA, "buyers": BUYERS})
    daemon = world.start()
    wait_for("two runs of ca", lambda: len(daemon.finished_runs("ca")) >= 2)
    # ca grows by the NY customers, so its line climbs
    (world.config / "segments" / "ca.yaml").write_text(
        CA.replace("op: eq, value: CA", "op: in, value: [CA, NY]")
    )
    wait_for("the reload", lambda: daemon.find("config reloaded"))
    runs = len(daemon.finished_runs("ca"))
    wait_for("two more runs of ca", lambda: len(daemon.finished_runs("ca")) >= runs + 2)
    wait_for("two runs of buyers", lambda: len(daemon.finished_runs("buyers")) >= 2)
    url = f"http://127.0.0.1:{daemon.port}/"
    browser = [_chromium() or "chromium", *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [*browser, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [*browser, f"--screenshot={shot}", url], capture_output=True, timeout=90, check=True
    )
    (ARTIFACTS / "status-page.html").write_text(dom, encoding="utf-8")

    assert 'id="segment-ca"' in dom and 'id="segment-buyers"' in dom
    chart = re.search(r'<svg id="size-chart".*?</svg>', dom, re.S)
    assert chart is not None and chart.group(0).count("<polyline") == 2  # one line each
    assert dom.count('class="spark"') == 2
    assert "ca customers" in dom  # descriptions
    assert re.search(r'<td class="ok">ok</td>', dom)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert daemon.stop() == 0
    assert_nothing_secret(dom, daemon.text)


def _lift(name: str, treated: list[int], control: list[int]) -> LatestLift:
    """A measured segment: ``treated``/``control`` are per-profile conversion counts."""
    ids_t = np.arange(len(treated), dtype=np.int64)
    ids_c = np.arange(len(treated), len(treated) + len(control), dtype=np.int64)
    counts = np.asarray(treated + control, dtype=np.int64)
    outcomes = Outcomes(np.concatenate([ids_t, ids_c]), counts, counts * 10.0)
    segment = measure_segment(Cohort(name, ids_t, ids_c), outcomes, Kpis())
    return LatestLift(segment, "r1", T0, "14d", provisional=False)


def test_page_shows_the_latest_lifts_as_a_forest_plot() -> None:
    lifts = [
        _lift("winners", [1] * 600 + [0] * 400, [1] * 100 + [0] * 200),
        _lift("flat", [1] * 50 + [0] * 450, [1] * 10 + [0] * 90),
        _lift("no-control", [1] * 5, []),
    ]
    html = render_status(view(lifts=lifts), Redactor())
    plot = re.search(r'<svg id="lifts".*?</svg>', html, re.S)
    assert plot is not None
    assert plot.group(0).count('class="estimate"') == 2  # no-control has no estimate
    assert plot.group(0).count('class="ci"') == 2
    winners = re.search(r'<tr id="lift-winners">.*?</tr>', html, re.S)
    assert winners is not None and "+26.7 pp" in winners.group(0)
    assert "&lt;0.001" in winners.group(0)
    assert "no held-out group" in html
    note = render_status(view(lifts_note="metrics.yaml line 2: unknown event 'x'"), Redactor())
    assert "unknown event" in note and 'id="lifts"' not in note
    assert "no cohorts recorded yet" in render_status(view(), Redactor())


HOLDOUT_SEGMENT = (
    "name: ca-offer\ndescription: ca offer\nschedule: 1m\n"
    "rule: {attribute: region, op: eq, value: CA}\nholdout: 30\n"
    "destinations: [{to: mc, mode: tag}]\n"
)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed")
def test_latest_lifts_in_headless_chromium(
    world_factory: Callable[..., World], tmp_path: Path
) -> None:
    world = world_factory({"ca-offer": HOLDOUT_SEGMENT}, profiles_count=300)
    # after the sync, every pushed CA member orders once; the held-out ones do not
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    treated = [i for i in range(0, 300, 3) if not is_held_out("ca-offer", f"p{i:05d}", 30)]
    con = duckdb.connect(str(world.store))
    con.executemany("INSERT INTO events VALUES (?, 'order_completed', ?, 'tv', 25.0, NULL)",
                    [(f"p{i:05d}", soon) for i in treated])  # fmt: skip
    con.close()
    daemon = world.start()
    wait_for("a run of ca-offer", lambda: daemon.finished_runs("ca-offer"), timeout=30)
    url = f"http://127.0.0.1:{daemon.port}/"
    browser = [_chromium() or "chromium", *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [*browser, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "status-page-lifts.html").write_text(dom, encoding="utf-8")
    plot = re.search(r'<svg id="lifts".*?</svg>', dom, re.S)
    assert plot is not None and plot.group(0).count('class="estimate"') == 1
    row = re.search(r'<tr id="lift-ca-offer">.*?</tr>', dom, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert int(cells[2]) == len(treated) and int(cells[3]) == 100 - len(treated)
    assert cells[4] == "+100.0 pp" and cells[6] == "&lt;0.001"
    assert "provisional" in cells[1]  # the 14-day window has not passed yet
    assert daemon.stop() == 0
    assert_nothing_secret(dom, daemon.text)
