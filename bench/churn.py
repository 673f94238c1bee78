"""Churn of percentile segments over 30 simulated daily runs, with and without hysteresis.

    .venv/bin/python bench/churn.py                    # the demo: 25,000 profiles, N = 2
    .venv/bin/python bench/churn.py --hysteresis 5 --json

The demo store is built (``segsync demo``'s generator, as of ``AS_OF``); a working copy keeps
the events up to 30 days before it and holds the rest aside. Each simulated day appends that
day's events to ``events`` and evaluates the demo config's segments that use top/bottom
percent conditions at the end of the day — once as shipped, once with ``hysteresis: N``
added to every percent condition, each fed the qualified sets of its own previous day (what
a sync run records in the state store). Per segment and in total it reports the profiles
that entered plus those that exited the qualified set (what the exclusive groups, holdout
and ESP calls start from) over the 30 runs, both ways, and the reduction.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from ruamel.yaml import YAML

from connector.definitions.loader import Definitions, load_definitions
from connector.definitions.walk import hysteresis_nodes, iter_nodes
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate
from connector.source import open_store
from connector.source.demo import DEFAULT_PROFILES, DemoSpec, build_demo_store, write_demo_config

AS_OF = datetime(2026, 11, 23)
DAYS = 30


def _percent_segments(defs: Definitions) -> list[str]:
    return sorted(
        name
        for name, segment in defs.segments.items()
        if any(
            getattr(node, "top_percent", None) or getattr(node, "bottom_percent", None)
            for node, _ in iter_nodes(segment.rule)
        )
    )


def _add_hysteresis(node: Any, points: float) -> None:
    """``hysteresis: points`` on every percent condition of a raw rule (not under ``not``)."""
    if isinstance(node, dict):
        if "top_percent" in node or "bottom_percent" in node:
            node["hysteresis"] = points
        for key, child in node.items():
            if key != "not":
                _add_hysteresis(child, points)
    elif isinstance(node, list):
        for child in node:
            _add_hysteresis(child, points)


def _configs(root: Path, points: float) -> tuple[Definitions, Definitions]:
    plain_dir, sticky_dir = root / "plain", root / "sticky"
    write_demo_config(plain_dir)
    write_demo_config(sticky_dir)
    yaml = YAML()
    for path in sorted((sticky_dir / "segments").glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        _add_hysteresis(data["rule"], points)
        with path.open("w", encoding="utf-8") as handle:
            yaml.dump(data, handle)
    return load_definitions(plain_dir, destination_models()), load_definitions(
        sticky_dir, destination_models()
    )


def _split_store(built: Path, working: Path, start: datetime) -> None:
    """``working``: the demo with events up to ``start``; later events aside in ``__later``."""
    con = duckdb.connect(str(working))
    try:
        con.execute(f"ATTACH '{built}' AS demo (READ_ONLY)")
        con.execute("CREATE TABLE profiles AS SELECT * FROM demo.profiles")
        con.execute("CREATE TABLE events AS SELECT * FROM demo.events WHERE ts <= ?", [start])
        con.execute("CREATE TABLE __later AS SELECT * FROM demo.events WHERE ts > ?", [start])
    finally:
        con.close()


def _append_day(working: Path, since: datetime, until: datetime) -> int:
    con = duckdb.connect(str(working))
    try:
        con.execute(
            "INSERT INTO events SELECT * FROM __later WHERE ts > ? AND ts <= ?", [since, until]
        )
        (count,) = con.execute(
            "SELECT count(*) FROM events WHERE ts > ? AND ts <= ?", [since, until]
        ).fetchone() or (0,)
        return int(count)
    finally:
        con.close()


def _qualified(
    working: Path, defs: Definitions, names: list[str], as_of: datetime, previous: Any
) -> dict[str, set[Any]]:
    with open_store(f"duckdb:///{working}") as store:
        result = evaluate(store, defs, as_of=as_of, names=names, previous=previous)
    return {n: set(result.profile_ids[result.qualified[n]].tolist()) for n in names}


def simulate(profiles: int, points: float) -> dict[str, Any]:
    start = AS_OF - timedelta(days=DAYS)
    with tempfile.TemporaryDirectory(prefix="segsync-churn-") as tmp:
        root = Path(tmp)
        built = root / "demo.duckdb"
        build_demo_store(f"duckdb:///{built}", DemoSpec(as_of=AS_OF, profiles=profiles))
        plain_defs, sticky_defs = _configs(root, points)
        names = _percent_segments(plain_defs)
        sticky = [
            n for n in names if any(True for _ in hysteresis_nodes(sticky_defs.segments[n].rule))
        ]
        working = root / "working.duckdb"
        _split_store(built, working, start)
        plain = _qualified(working, plain_defs, names, start, None)
        kept = _qualified(working, sticky_defs, names, start, None)  # first run: plain
        churn: dict[str, dict[str, int]] = {
            n: {"plain": 0, "hysteresis": 0, "size_plain": 0, "size_hysteresis": 0} for n in names
        }
        appended = 0
        for day in range(1, DAYS + 1):
            as_of = start + timedelta(days=day)
            appended += _append_day(working, as_of - timedelta(days=1), as_of)
            now_plain = _qualified(working, plain_defs, names, as_of, None)
            previous: Mapping[str, list[Any]] = {n: sorted(kept[n]) for n in sticky}
            now_kept = _qualified(working, sticky_defs, names, as_of, previous)
            for n in names:
                churn[n]["plain"] += len(now_plain[n] ^ plain[n])
                churn[n]["hysteresis"] += len(now_kept[n] ^ kept[n])
                churn[n]["size_plain"] += len(now_plain[n])
                churn[n]["size_hysteresis"] += len(now_kept[n])
            plain, kept = now_plain, now_kept
    for row in churn.values():
        row["size_plain"] = round(row["size_plain"] / DAYS)
        row["size_hysteresis"] = round(row["size_hysteresis"] / DAYS)
    total_plain = sum(r["plain"] for r in churn.values())
    total_kept = sum(r["hysteresis"] for r in churn.values())
    return {
        "profiles": profiles,
        "days": DAYS,
        "hysteresis": points,
        "events_appended": appended,
        "segments": churn,
        "entered_plus_exited": {"plain": total_plain, "hysteresis": total_kept},
        "reduction": round(1 - total_kept / total_plain, 3) if total_plain else None,
        "ratio": round(total_kept / total_plain, 3) if total_plain else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=DEFAULT_PROFILES)
    parser.add_argument("--hysteresis", type=float, default=2.0, help="percentage points")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = simulate(args.profiles, args.hysteresis)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['profiles']:,} profiles, {report['days']} daily runs, "
        f"{report['events_appended']:,} events appended, hysteresis {report['hysteresis']:g} pp"
    )
    print(f"{'segment':<24}{'avg size':>10}{'entered+exited':>16}{'with hysteresis':>17}")
    for name, row in report["segments"].items():
        print(
            f"{name:<24}{row['size_plain']:>10,}{row['plain']:>16,}{row['hysteresis']:>17,}"
            f"   (avg size {row['size_hysteresis']:,})"
        )
    totals = report["entered_plus_exited"]
    print(
        f"{'total':<24}{'':>10}{totals['plain']:>16,}{totals['hysteresis']:>17,}"
        f"   ratio {report['ratio']}, reduction {report['reduction']:.1%}"
        if report["ratio"] is not None
        else "no churn"
    )


if __name__ == "__main__":
    main()
