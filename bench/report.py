"""Benchmark: the report's outcome stage against the floor scan of the outcome window.

    .venv/bin/python bench/report.py                      # 100,000 profiles
    .venv/bin/python bench/report.py --profiles 1000000   # 1 M profiles, ~14 M events

The store comes from the demo generator (built once in a child process, its events then
rewritten in time order — how an event table is usually laid out — and cached in the
temp directory). The cohorts of the demo segments at ``T = as_of − 14d`` are evaluated
once (not timed). Then, paired in each round:

- floor: ``SELECT profile_id, amount FROM events WHERE T < ts <= T + 14d``, fetched
  (``fetchnumpy``): one plain pass over the window's events reading the columns the report
  needs;
- outcome scan: ``scan_outcomes`` (the report's one pass over the window: per-profile
  conversions and revenue, fetched and sorted) — target ≤ 2.0 × the floor;
- also shown: an aggregate-only scan (``count(*), sum(amount)``, nothing fetched), and the
  statistics of every segment (KPIs, lifts, intervals, MDE) on top of the scan.

Prints the median and min of ``--repeat`` rounds (after one warm-up) and the ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import duckdb

from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.measure.cohort import evaluate_cohorts
from connector.measure.outcomes import scan_outcomes
from connector.measure.report import measure_segment
from connector.source import open_store
from connector.source.demo import DemoSpec, build_demo_store

AS_OF = datetime(2026, 11, 23)
WINDOW = timedelta(days=14)


def _build(path: str, profiles: int) -> None:
    started = time.perf_counter()
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=profiles))
    con = duckdb.connect(path)
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE events_by_time AS SELECT * FROM events ORDER BY ts")
    con.execute("DROP TABLE events")
    con.execute("ALTER TABLE events_by_time RENAME TO events")
    con.execute("CHECKPOINT")
    con.close()
    print(f"built {path} in {time.perf_counter() - started:.1f} s", flush=True)


def ensure_store(profiles: int, rebuild: bool) -> Path:
    path = Path(tempfile.gettempdir()) / "segsync-bench-report" / f"demo-{profiles}.duckdb"
    if path.exists() and not rebuild:
        print(f"reusing {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    child = multiprocessing.get_context("spawn").Process(target=_build, args=(str(path), profiles))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"building the store failed (exit {child.exitcode})")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = ensure_store(args.profiles, args.rebuild)
    start = AS_OF - WINDOW
    with as_file(files("connector") / "demo_config") as folder:
        defs = load_definitions(folder, destination_models())
    kpis = defs.kpis
    store = open_store(f"duckdb:///{path}")
    schema = store.discover()
    names = [n for n in defs.segments if n != "engaged-no-order-90d"]  # esp conditions
    cohorts = evaluate_cohorts(store, defs, names, start)
    con = store.con  # type: ignore[attr-defined]
    window = [start, start + WINDOW]

    def floor() -> object:
        sql = "SELECT profile_id, amount FROM events WHERE ts > ? AND ts <= ?"
        return con.execute(sql, window).fetchnumpy()

    def aggregate() -> list[Any]:
        sql = "SELECT count(*), sum(amount) FROM events WHERE ts > ? AND ts <= ?"
        rows: list[Any] = con.execute(sql, window).fetchall()
        return rows

    def outcomes() -> object:
        return scan_outcomes(store, kpis, start)

    def measure() -> object:
        found = scan_outcomes(store, kpis, start)
        return [measure_segment(cohorts[n], found, kpis) for n in names]

    runs = {"floor: fetch the window": floor, "aggregate-only scan": aggregate,
            "report outcome scan": outcomes, "outcome scan + statistics": measure}  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label in runs}
    for run in runs.values():
        run()  # warm-up
    for _ in range(args.repeat):
        for label, run in runs.items():
            began = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - began)
    in_window = aggregate()
    print(
        f"{schema.profile_count:,} profiles, {schema.event_count:,} events, "
        f"{in_window[0][0]:,} events in the window; {len(names)} segments, "
        f"{sum(c.size for c in cohorts.values()):,} cohort profiles"
    )
    for label, spent in times.items():
        print(f"{label:27s} median {statistics.median(spent) * 1000:8.1f} ms   "
              f"min {min(spent) * 1000:8.1f} ms")  # fmt: skip
    scan, base = times["report outcome scan"], times["floor: fetch the window"]
    print(
        f"outcome scan / floor (target <= 2.0): median "
        f"{statistics.median(scan) / statistics.median(base):.2f}, min {min(scan) / min(base):.2f}"
    )
    store.close()


if __name__ == "__main__":
    main()
