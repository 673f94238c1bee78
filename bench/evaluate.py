"""Benchmark: evaluate 50 segments against the floor of one plain aggregate scan of events.

    .venv/bin/python bench/evaluate.py                     # 1,000,000 profiles, ~20 M events
    .venv/bin/python bench/evaluate.py --profiles 100000   # smaller
    .venv/bin/python bench/evaluate.py --profiles 100000 --json
    .venv/bin/python bench/evaluate.py --profiles 100000 --store postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/evaluate.py --profiles 100000 --store 'spark://local?warehouse=/tmp/wh'

The store comes from the demo generator with its events rewritten in time order (the
layout of an append-only events table), built once in a child process and cached in the
temp directory, so its memory is not counted. The last day of events (before ``as_of``)
is then appended with ``segsync load events --append`` (the real path, in a child
process) to a working copy. Then, in this process, paired runs (``--repeat``, default 5,
after one warm-up each; median and min reported):

- floor: ``SELECT profile_id, count(*), sum(amount) FROM events GROUP BY profile_id``,
  fetched fully (``fetchnumpy``, as ``evaluate`` fetches);
- full: ``evaluate(store, defs, as_of=..., incremental=False)``: every feature from raw
  events, end to end on a freshly opened store (schema discovery, SQL, fetching, holdout);
- incremental: ``evaluate(store, defs, as_of=...)``: what a run after the append does
  (rollups, where the store keeps them, plus raw events of the boundary days; on DuckDB
  the verdict snapshot the run before the append wrote at ``as_of - 1 day``, beside the
  rollup it built: every timed run opens the store read-only, so none writes a snapshot
  of ``as_of`` that a later round would read);
- ratios to the floor (targets: incremental <= 2.0, full <= 8) and the peak RSS of this
  process (target <= 2 GiB);
- the CLI's start-up (target <= 0.3 s of imports each; ``--startup-only`` measures just
  this): the imports of ``segsync --help`` and of ``segsync preview abandoned-cart-24h``
  (the command the demo's "next:" line suggests) on the demo store. Measured so:

  - the command runs to its end in a fresh interpreter, ``python -X importtime -m
    connector ARGS``, its output going to a pipe (not a terminal), no ``SEGSYNC_*``
    variable set;
  - its imports are the sum of the cumulative times of the top-level entries that
    ``-X importtime`` prints after the interpreter's own start-up (the entry for ``site``):
    every module the command imports from its entry point to its exit, those imported on
    first use included (DuckDB when the store opens, sqlglot's DuckDB dialect at the first
    query, ``numpy.ma`` at the first fetch);
  - the least of ``--repeat`` runs (default 5; the machine is shared: other work only adds);
  - the demo store: ``segsync demo --no-sync`` (25,000 profiles) in a temporary directory;
  - reported beside them: the least wall time of the same commands without
    ``-X importtime`` (of which the imports are part) and the load average;
  - the floor, in the same rounds (one run after each command's): the imports of the
    libraries ``preview`` cannot do without, ``python -X importtime -c "import duckdb,
    pydantic, sqlglot, sqlglot.dialects.duckdb"`` (the store, the definitions' validation,
    the SQL and its DuckDB dialect), added up the same way, least of the runs; and
    ``preview``'s imports over it (the machine's speed varies from run to run by 2x: the
    ratio moves less);
  - of ``preview``'s imports (in its least run), segsync's own: the self times of the
    ``connector`` modules (their code, the pydantic models and dataclasses they build, and
    compiling their source where no bytecode is cached, as in an editable install run
    with ``PYTHONDONTWRITEBYTECODE``); the rest is the libraries'.

``--store URL`` runs the same rounds on another store (PostgreSQL, Spark): the working
copy's tables are exported as Parquet and written there with ``segsync load``'s loader (a
schema / database of the run's own, dropped at the end), the last day appended with
``load --append``; floor, full and incremental then run there, the floor as the same
query in the store's dialect. A store without rollups (``Store.incremental`` false)
evaluates the "incremental" run in full. Spark's peak RSS leaves out its JVM (another
process).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import psycopg
from sqlglot import exp

from connector.definitions.loader import load_definitions
from connector.errors import ConfigError
from connector.esp.registry import destination_models
from connector.evaluate import engine
from connector.evaluate.engine import Evaluation, evaluate
from connector.settings import StoreLayout
from connector.source import load_file, open_store, parse_store_url, table_expr
from connector.source.demo import DemoSpec, build_demo_store
from connector.source.duckdb_loader import Target

T = TypeVar("T")
AS_OF = datetime(2026, 11, 23)
FLOOR_SQL = "SELECT profile_id, count(*), sum(amount) FROM events GROUP BY profile_id"
#: the appended slice: events of the last day before ``as_of``
TAIL = timedelta(days=1)

METRICS: dict[str, dict[str, Any]] = {
    "orders_90d": {"event": "order_completed", "aggregate": "count", "within": "90d"},
    "orders_365d": {"event": "order_completed", "aggregate": "count", "within": "365d"},
    "aov": {"event": "order_completed", "aggregate": "avg", "property": "amount"},
    "revenue_365d": {
        "event": "order_completed", "aggregate": "sum", "property": "amount", "within": "365d",
    },
    "days_since_last_order": {"event": "order_completed", "aggregate": "days_since_last"},
    "categories_365d": {
        "event": "order_completed", "aggregate": "distinct_count", "property": "category",
        "within": "365d",
    },
    "biggest_order": {"event": "order_completed", "aggregate": "max", "property": "amount"},
    "cheapest_cart": {
        "event": "added_to_cart", "aggregate": "min", "property": "amount", "within": "90d",
    },
    "opens_30d": {"event": "email_open", "aggregate": "count", "within": "30d"},
    "clv": {"attribute": "predicted_clv"},
}  # fmt: skip


def _a(attribute: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"attribute": attribute, "op": op, **extra}
    if value is not None:
        node["value"] = value
    return node


def _p(prop: str, op: str, value: Any) -> dict[str, Any]:
    return {"property": prop, "op": op, "value": value}


def _e(event: str, **spec: Any) -> dict[str, Any]:
    return {"event": event, **spec}


def _m(metric: str, **spec: Any) -> dict[str, Any]:
    return {"metric": metric, **spec}


def _near(lat: float, lon: float, km: float) -> dict[str, Any]:
    return {"near": {"lat": lat, "lon": lon, "radius_km": km}}


ORDER = "order_completed"
ELECTRONICS = [_p("category", "eq", "electronics")]
RULES: dict[str, dict[str, Any]] = {
    # attributes of every type
    "ca": _a("region", "eq", "CA"),
    "north-east": {
        "all": [_a("region", "in", ["NY", "NJ", "MA"]), _a("email_consent", "eq", True)]
    },
    "likes-electronics": _a("interests", "contains", "electronics"),
    "san-cities": _a("city", "starts_with", "san"),
    "seniors": _a("age", "gte", 65),
    "mid-clv": _a("predicted_clv", "between", [100, 500]),
    "no-consent": _a("email_consent", "eq", False),
    "signed-up-90d": _a("signup_at", "within_last", "90d"),
    "old-accounts": _a("signup_at", "before", "2024-01-01"),
    "no-clv": _a("predicted_clv", "not_exists"),
    "women-not-lapsed": {
        "all": [_a("gender", "eq", "female"), _a("lifecycle_stage", "neq", "lapsed")]
    },
    "gmail": _a("email", "ends_with", "@gmail.com"),
    # event aggregates with where and windows
    "browsers-7d": _e("page_view", within="7d", count={"gte": 5}),
    "no-order-180d-active": {
        "all": [_a("lifecycle_stage", "eq", "active"), _e(ORDER, within="180d", count={"eq": 0})]
    },
    "spent-1000-365d": _e(ORDER, within="365d", sum={"property": "amount", "gte": 1000}),
    "fashion-beauty-aov": _e(
        ORDER,
        where=[_p("category", "in", ["fashion", "beauty"])],
        avg={"property": "amount", "gte": 60},
    ),
    "big-order-365d": _e(ORDER, within="365d", max={"property": "amount", "gte": 800}),
    "electronics-lookers": _e("product_view", where=ELECTRONICS, within="30d", count={"gte": 3}),
    "top-sku-carts": _e(
        "added_to_cart", where=[_p("product_id", "starts_with", "sku-0000")], within="30d"
    ),
    "openers-30d": _e("email_open", within="30d", count={"gte": 3}),
    "flyers": _e("flight_booked", within="365d", count={"gte": 2}),
    "cheap-carts": _e("added_to_cart", within="90d", min={"property": "amount", "lte": 10}),
    "big-baskets": _e("added_to_cart", within="30d", sum={"property": "amount", "gte": 500}),
    # per
    "expats": _e("flight_booked", within="365d", count={"gte": 3}, per="destination"),
    "category-loyal": _e(ORDER, within="90d", count={"gte": 3}, per="category"),
    "product-obsessed": _e("product_view", within="30d", count={"gte": 3}, per="product_id"),
    # not_followed_by
    "abandoned-cart-24h": _e("added_to_cart", within="24h", not_followed_by={"event": ORDER}),
    "abandoned-cart-7d": _e(
        "added_to_cart", within="7d", not_followed_by={"event": ORDER, "within": "1d"}
    ),
    "viewed-not-carted": _e(
        "product_view",
        where=ELECTRONICS,
        within="3d",
        not_followed_by={"event": "added_to_cart", "where": ELECTRONICS},
    ),
    # metrics: comparisons and top/bottom percent
    "orders-90d-3": _m("orders_90d", gte=3),
    "lapsed-high-aov": {"all": [_m("aov", gte=150), _e(ORDER, within="90d", count={"eq": 0})]},
    "revenue-2000": _m("revenue_365d", gte=2000),
    "slipping": _m("days_since_last_order", gte=30, lte=60),
    "many-categories": _m("categories_365d", gte=4),
    "clv-1000": _m("clv", gte=1000),
    "top-frequency-10": _m("orders_365d", top_percent=10),
    "top-revenue-5": _m("revenue_365d", top_percent=5),
    "bottom-clv-20": _m("clv", bottom_percent=20),
    "top-aov-1": _m("aov", top_percent=1),
    "big-spenders-cheap-carts": {
        "all": [_m("biggest_order", gte=500), _m("cheapest_cart", lte=15)]
    },
    "unengaged": _m("opens_30d", eq=0),
    # geo
    "near-sf": _near(37.788, -122.4075, 25),
    "near-big-cities": {
        "any": [_near(40.758, -73.9855, 50), _near(41.895, -87.6243, 50), _near(34.05, -118.24, 50)]
    },
    # in_segment and nesting
    "churn-risk": {
        "any": [
            _a("lifecycle_stage", "eq", "at_risk"),
            {"all": [_m("orders_365d", gte=2), _m("days_since_last_order", gte=60)]},
        ]
    },
    "vip-not-churning": {
        "all": [{"in_segment": "top-revenue-5"}, {"not": {"in_segment": "churn-risk"}}]
    },
    "vip-electronics-ca": {
        "all": [
            _a("region", "eq", "CA"),
            _e(ORDER, where=ELECTRONICS, within="30d", count={"gte": 4}),
            _m("orders_90d", top_percent=10),
            {"not": {"in_segment": "churn-risk"}},
        ]
    },
    "new-no-purchase": {"all": [_a("signup_at", "within_last", "30d"), _e(ORDER, count={"eq": 0})]},
    "travel-home-airport": {
        "all": [
            _a("home_airport", "in", ["SFO", "LAX", "JFK"]),
            _e("flight_booked", within="90d"),
            {"not": _a("interests", "contains", "travel")},
        ]
    },
    "sporty-men": {
        "all": [
            _a("gender", "eq", "male"),
            _a("age", "between", [25, 34]),
            {
                "any": [
                    _a("interests", "contains", "sports"),
                    _e(ORDER, where=[_p("category", "eq", "sports")], within="180d"),
                ]
            },
        ]
    },
    "deep-nesting": {
        "any": [
            {
                "all": [
                    _a("region", "eq", "TX"),
                    {"not": {"any": [_m("clv", lt=50), _a("age", "lt", 25)]}},
                ]
            },
            {"all": [{"in_segment": "openers-30d"}, {"not": _e(ORDER, within="60d")}]},
        ]
    },
}
EXTRA: dict[str, dict[str, Any]] = {
    "vip-electronics-ca": {"holdout": 10, "exclusive_group": "offers", "priority": 10},
    "top-frequency-10": {"exclusive_group": "offers", "priority": 5},
    "lapsed-high-aov": {"holdout": 20},
}


def write_config(root: Path) -> Path:
    """The 50 segments and their metrics as YAML files (JSON is YAML)."""
    (root / "segments").mkdir(parents=True, exist_ok=True)
    (root / "metrics.yaml").write_text(json.dumps(METRICS, indent=1))
    for name, rule in RULES.items():
        body = {"name": name, "rule": rule, **EXTRA.get(name, {})}
        (root / "segments" / f"{name}.yaml").write_text(json.dumps(body, indent=1))
    return root


def _build(path: str, profiles: int, events_per_profile: float, seed: int) -> None:
    """The demo store, events rewritten in time order; the last day kept aside."""
    started = time.perf_counter()
    spec = DemoSpec(
        as_of=AS_OF, profiles=profiles, seed=seed, events_per_profile=events_per_profile
    )
    store = build_demo_store(f"duckdb:///{path}", spec, force=True)
    con = duckdb.connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = true")
        cut = (AS_OF - TAIL).isoformat(sep=" ")
        con.execute(
            "CREATE TABLE events_by_time AS SELECT * FROM events "
            f"WHERE ts <= TIMESTAMP '{cut}' ORDER BY ts, profile_id"
        )
        con.execute(
            "CREATE TABLE bench_tail AS SELECT * FROM events "
            f"WHERE ts > TIMESTAMP '{cut}' ORDER BY ts, profile_id"
        )
        con.execute("DROP TABLE events")
        con.execute("ALTER TABLE events_by_time RENAME TO events")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"generated {store.profiles:,} profiles and {store.events:,} events (time-ordered) in "
        f"{time.perf_counter() - started:.1f} s (generator peak RSS {peak:,.0f} MiB)",
        file=sys.stderr,
        flush=True,
    )


def _in_child(target: Callable[..., None], *args: Any) -> None:
    child = multiprocessing.get_context("spawn").Process(target=target, args=args)
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"{target.__name__} failed (exit {child.exitcode})")


def ensure_store(args: argparse.Namespace) -> Path:
    name = f"store-{args.profiles}-{args.events_per_profile:g}-{args.seed}-by-time.duckdb"
    path = Path(args.cache) if args.cache else Path(tempfile.gettempdir()) / "segsync-bench" / name
    if path.exists() and not args.rebuild:
        print(f"reusing {path}", file=sys.stderr)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _in_child(_build, str(path), args.profiles, args.events_per_profile, args.seed)
    return path


def _append_tail(work: str, config: str) -> None:
    """In a child process: one run before the last day arrives (so a store that keeps
    rollups has them), then the last day appended with ``segsync load events --append``."""
    defs = load_definitions(Path(config), destination_models())
    tail = Path(f"{work}.tail.parquet")
    con = duckdb.connect(work)
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"COPY bench_tail TO '{tail}' (FORMAT parquet)")
        con.execute("DROP TABLE bench_tail")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    with open_store(f"duckdb:///{work}", read_only=False) as store:
        evaluate(store, defs, as_of=AS_OF - TAIL)
    started = time.perf_counter()
    report = load_file(f"duckdb:///{work}", StoreLayout(), Target.EVENTS, tail, append=True)
    print(
        f"appended {report.rows:,} events of the last day in "
        f"{time.perf_counter() - started:.2f} s (load --append; the rollup stays behind: "
        "runs read the day by its watermark)",
        file=sys.stderr,
        flush=True,
    )
    tail.unlink()


def prepare_work(base: Path, config: Path) -> Path:
    """A working copy of the cached store with the last day appended."""
    work = Path(tempfile.mkdtemp(prefix="segsync-bench-")) / "work.duckdb"
    shutil.copyfile(base, work)
    _in_child(_append_tail, str(work), str(config))
    return work


def floor_query(layout: StoreLayout) -> exp.Select:
    """``FLOOR_SQL`` as a tree, so that every store runs it in its own dialect."""
    pid = exp.column(layout.profile_id, quoted=True)
    return (
        exp.select(
            pid.as_("profile_id"),
            exp.func("count", exp.Star()).as_("n"),
            exp.func("sum", exp.column("amount", quoted=True)).as_("amount"),
        )
        .from_(table_expr(layout.events_table))
        .group_by(pid.copy())
    )


def _export(work: str, folder: str) -> None:
    """The working copy's profiles, events (all but the last day) and last day as Parquet."""
    con = duckdb.connect(work, read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        for table in ("profiles", "events", "bench_tail"):
            con.execute(f"COPY {table} TO '{Path(folder) / table}.parquet' (FORMAT parquet)")
    finally:
        con.close()


def _load_into(url: str, namespace: str, folder: str) -> None:
    """In a child process: the Parquet files written to ``url`` with the loader of
    ``segsync load`` (tables ``namespace.profiles`` / ``.events``), then the last day
    appended with ``load --append``."""
    layout = bench_layout(namespace)
    started = time.perf_counter()
    for target, name in ((Target.PROFILES, "profiles"), (Target.EVENTS, "events")):
        load_file(url, layout, target, Path(folder) / f"{name}.parquet", replace=True)
    print(
        f"loaded profiles and events into {parse_store_url(url).display()} "
        f"({namespace}) in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    tail = Path(folder) / "bench_tail.parquet"
    report = load_file(url, layout, Target.EVENTS, tail, append=True)
    print(
        f"appended {report.rows:,} events of the last day in "
        f"{time.perf_counter() - started:.2f} s (load --append)",
        file=sys.stderr,
        flush=True,
    )


def bench_layout(namespace: str | None) -> StoreLayout:
    if namespace is None:
        return StoreLayout()
    return StoreLayout(profiles_table=f"{namespace}.profiles", events_table=f"{namespace}.events")


def prepare_target(work: Path, url: str) -> str:
    """The working copy's tables in the store at ``url``, in a new schema (PostgreSQL) or
    database (Spark) named ``segsync_bench_<hex>``, which is returned."""
    namespace = f"segsync_bench_{os.urandom(4).hex()}"
    parsed = parse_store_url(url)
    if parsed.kind == "postgresql":
        with psycopg.connect(parsed.dsn, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {namespace}")
    folder = tempfile.mkdtemp(prefix="segsync-bench-parquet-")
    try:
        _export(str(work), folder)
        _in_child(_load_into, url, namespace, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return namespace


def drop_target(url: str, namespace: str) -> None:
    parsed = parse_store_url(url)
    if parsed.kind == "postgresql":
        with psycopg.connect(parsed.dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {namespace} CASCADE")
    else:
        from connector.source.spark_session import spark_session  # noqa: PLC0415 (pyspark)

        spark_session(parsed).sql(f"DROP DATABASE IF EXISTS {namespace} CASCADE")


def copy_work(base: Path) -> Path:
    """A working copy of the cached store, the last day still aside (``bench_tail``)."""
    work = Path(tempfile.mkdtemp(prefix="segsync-bench-")) / "work.duckdb"
    shutil.copyfile(base, work)
    return work


def paired(repeat: int, runs: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    """Wall times of ``repeat`` rounds, each running every function once in turn (after
    one warm-up round: file cache, buffer pool, imports). One result alive at a time."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeat + 1):
        for name, run in runs.items():
            gc.collect()
            started = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - started
            del result
            if round_:
                times[name].append(elapsed)
    return times


STARTUP_AS_OF = "2026-11-23T00:00:00Z"
STARTUP_SEGMENT = "abandoned-cart-24h"
STARTUP_TARGET_S = 0.3


#: the libraries preview cannot do without (see the module's docstring)
STARTUP_FLOOR = ("duckdb", "pydantic", "sqlglot", "sqlglot.dialects.duckdb")


def _after_site(importtime: str) -> Iterator[tuple[int, int, bool, str]]:
    """The ``-X importtime`` entries after the interpreter's own start-up (``site``): self and
    cumulative microseconds, whether top-level, and the module."""
    started = False
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|")
        top_level = len(name) - len(name.lstrip(" ")) == 1
        if not started:
            started = top_level and name.strip() == "site"
            continue
        yield int(head.split(":")[1]), int(cumulative), top_level, name.strip()
    if not started:
        raise RuntimeError("no 'site' entry in the -X importtime output")


def imports_seconds(importtime: str) -> float:
    """A command's imports from its ``-X importtime`` output: the top-level entries after
    the interpreter's own start-up (``site``), added up (see the module's docstring)."""
    return sum(cum for _, cum, top, _ in _after_site(importtime) if top) / 1e6


def own_seconds(importtime: str) -> float:
    """Of a command's imports, segsync's own: the self times of the ``connector`` modules
    imported after ``site``."""
    return (
        sum(
            own
            for own, _, _, module in _after_site(importtime)
            if module == "connector" or module.startswith("connector.")
        )
        / 1e6
    )


def _segsync(args: list[str], cwd: Path, *, importtime: bool) -> tuple[float, str]:
    """Run ``segsync ARGS`` in a fresh interpreter: its wall time and stderr."""
    python = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")}
    started = time.perf_counter()
    done = subprocess.run(
        [*python, "-m", "connector", *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"segsync {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return wall, done.stderr


def _floor_imports(cwd: Path) -> float:
    """The imports of ``STARTUP_FLOOR`` alone, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {', '.join(STARTUP_FLOOR)}"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return imports_seconds(done.stderr)


def startup(repeat: int = 5) -> dict[str, Any]:
    """The CLI's start-up figures (see the module's docstring): rounds of ``--help``,
    ``preview`` and the floor, one after the other, the least of each."""
    workspace = Path(tempfile.mkdtemp(prefix="segsync-bench-startup-"))
    commands = {
        "help": ["--help"],
        "preview": ["preview", STARTUP_SEGMENT, "--as-of", STARTUP_AS_OF],
    }
    imports: dict[str, list[tuple[float, float]]] = {key: [] for key in commands}
    walls: dict[str, list[float]] = {key: [] for key in commands}
    floor: list[float] = []
    try:
        _segsync(["demo", "--no-sync", "--as-of", STARTUP_AS_OF], workspace, importtime=False)
        for _ in range(repeat):
            for key, args in commands.items():
                output = _segsync(args, workspace, importtime=True)[1]
                imports[key].append((imports_seconds(output), own_seconds(output)))
                walls[key].append(_segsync(args, workspace, importtime=False)[0])
                floor.append(_floor_imports(workspace))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    figures: dict[str, Any] = {}
    for key in commands:
        least, own = min(imports[key])
        figures[f"{key}_import_s"] = round(least, 3)
        figures[f"{key}_wall_s"] = round(min(walls[key]), 3)
        figures[f"{key}_own_import_s"] = round(own, 3)
    figures["floor_import_s"] = round(min(floor), 3)
    figures["preview_floor_ratio"] = round(figures["preview_import_s"] / min(floor), 2)
    figures["startup_repeat"] = repeat
    figures["startup_load_average"] = round(os.getloadavg()[0], 2)
    return figures


def show_startup(report: dict[str, Any]) -> None:
    n = report["startup_repeat"]
    commands = (("help", "segsync --help"), ("preview", f"segsync preview {STARTUP_SEGMENT}"))
    for key, command in commands:
        print(
            f"{command}: imports {report[f'{key}_import_s']:.3f} s "
            f"(target <= {STARTUP_TARGET_S} s; segsync's own modules "
            f"{report[f'{key}_own_import_s']:.3f} s), wall {report[f'{key}_wall_s']:.3f} s "
            f"(least of {n}; load average {report['startup_load_average']})"
        )
    print(
        f"floor (import {', '.join(STARTUP_FLOOR)}): {report['floor_import_s']:.3f} s "
        f"(least of {2 * n}); preview / floor = {report['preview_floor_ratio']:.2f}"
    )


def parse_args() -> tuple[argparse.Namespace, str | None]:
    """The options, and the URL of a store other than DuckDB to run on (or None)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events-per-profile", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--store",
        metavar="URL",
        help="run on this store: postgresql://..., spark://local?warehouse=DIR, ... "
        "(default: the DuckDB working copy)",
    )
    parser.add_argument(
        "--cache", help="the generated DuckDB store file (default: cached in the temp directory)"
    )
    parser.add_argument("--rebuild", action="store_true", help="regenerate a cached store")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="measure only the CLI's start-up (no store of --profiles is built)",
    )
    parser.add_argument(
        "--explain", metavar="FILE", help="write EXPLAIN ANALYZE output here (DuckDB)"
    )
    parser.add_argument(
        "--results",
        action="store_true",
        help="also measure what a run brings back (DuckDB): query vs fetch time, rows, "
        "members, the result's size, profiles whose membership changed since the day before",
    )
    args = parser.parse_args()
    try:
        kind = parse_store_url(args.store).kind if args.store else "duckdb"
    except ConfigError as exc:
        parser.error(str(exc))
    target = args.store if kind != "duckdb" else None  # duckdb: the working copy
    if target and (args.explain or args.results):
        parser.error("--explain and --results run on the DuckDB working copy only")
    return args, target


def main() -> None:
    args, target = parse_args()
    if args.startup_only:
        figures = startup(args.repeat)
        if args.json:
            print(json.dumps(figures))
        else:
            show_startup(figures)
        return
    base = ensure_store(args)
    config = write_config(Path(tempfile.mkdtemp(prefix="segsync-bench-")))
    defs = load_definitions(config, destination_models())
    assert len(defs.segments) == 50, len(defs.segments)
    work = prepare_work(base, config) if target is None else copy_work(base)
    namespace = None
    try:
        if target is not None:
            namespace = prepare_target(work, target)
        url = target or f"duckdb:///{work}"
        layout = bench_layout(namespace)
        floor_sql = floor_query(layout)

        def floor() -> int:
            with open_store(url, layout) as store:
                return len(store.columns(floor_sql)["profile_id"])

        def run(incremental: bool) -> Callable[[], Evaluation]:
            def go() -> Evaluation:
                with open_store(url, layout) as store:
                    return evaluate(store, defs, as_of=AS_OF, incremental=incremental)

            return go

        times = paired(args.repeat, {"floor": floor, "full": run(False), "incremental": run(True)})
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = run(True)()
        full = run(False)()
        mismatched = [n for n in result.segments if not _same(result, full, n)]
        if mismatched:  # reported, not hidden: see "mismatched" in the output
            print(
                f"WARNING: incremental and full results differ: {', '.join(mismatched)}",
                file=sys.stderr,
            )
        with open_store(url, layout) as store:
            schema = store.discover()
            shown, keeps_rollups = store.url.display(), store.incremental
        if args.explain:
            explain(url, defs, Path(args.explain))
        results = results_report(url, defs) if args.results else {}
    finally:
        if target is not None and namespace is not None:
            drop_target(target, namespace)
        shutil.rmtree(work.parent, ignore_errors=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    report = {
        "store": shown if target else "duckdb",
        "rollups": keeps_rollups,
        "profiles": schema.profile_count,
        "events": schema.event_count,
        "floor_s": round(median["floor"], 4),
        "full_s": round(median["full"], 4),
        "incremental_s": round(median["incremental"], 4),
        "floor_min_s": round(best["floor"], 4),
        "full_min_s": round(best["full"], 4),
        "incremental_min_s": round(best["incremental"], 4),
        "ratio_full": round(median["full"] / median["floor"], 3),
        "ratio_incremental": round(median["incremental"] / median["floor"], 3),
        "peak_rss_mib": round(peak, 1),
        **startup(args.repeat),
        "repeat": args.repeat,
        "load_average": round(os.getloadavg()[0], 2),
        "mismatched": mismatched,
        **results,
    }
    if args.json:
        print(json.dumps(report))
        return
    show(report, result, median, best)


def show(
    report: dict[str, Any],
    result: Evaluation,
    median: dict[str, float],
    best: dict[str, float],
) -> None:
    sizes = sorted(((result.size(n), n) for n in result.segments), reverse=True)
    rollups = "" if report["rollups"] else "; no rollups: incremental runs in full"
    print(f"on {report['store']}{rollups}")
    print(f"store: {report['profiles']:,} profiles, {report['events']:,} events (time-ordered)")
    print("segments: 50; largest: " + ", ".join(f"{n} {s:,}" for s, n in sizes[:3])
          + f"; smallest: {sizes[-1][1]} {sizes[-1][0]:,}")  # fmt: skip
    print(f"{'':12} {'median s':>9} {'min s':>7} {'/ floor':>8}")
    for name in ("floor", "full", "incremental"):
        print(
            f"{name:12} {median[name]:9.3f} {best[name]:7.3f} {median[name] / median['floor']:8.2f}"
        )
    print("targets: incremental / floor <= 2.0, full / floor <= 8")
    print(f"peak RSS: {report['peak_rss_mib']:,.0f} MiB (target <= 2048 MiB)")
    print(f"load average {report['load_average']} on {os.cpu_count()} CPUs")
    if "result_rows" in report:
        print(
            f"results: query {report['query_s']:.2f} s, fetch {report['fetch_s']:.2f} s of a "
            f"{report['run_s']:.2f} s run; {report['result_rows']:,} rows, "
            f"{report['members_total']:,} members over the segments, "
            f"{report['result_mib']:,} MiB; {report['changed_profiles']:,} profiles changed "
            "membership since the day before"
        )
    show_startup(report)


def _same(a: Evaluation, b: Evaluation, name: str) -> bool:
    return bool(
        np.array_equal(a.profile_ids[a.members[name]], b.profile_ids[b.members[name]])
        and np.array_equal(a.profile_ids[a.pushed(name)], b.profile_ids[b.pushed(name)])
    )


class _TimedConnection:
    """A DuckDB connection whose ``fetchnumpy`` records the time of the query before it
    (``query_s``) and its own (``fetch_s``); the store's code runs unchanged around it."""

    def __init__(self, con: Any, timed: dict[str, float]) -> None:
        self._con, self._timed, self._executed = con, timed, 0.0

    def execute(self, *args: Any) -> _TimedConnection:
        started = time.perf_counter()
        self._result = self._con.execute(*args)
        self._executed = time.perf_counter() - started
        return self

    def fetchall(self) -> Any:
        return self._result.fetchall()

    def fetchnumpy(self) -> Any:
        started = time.perf_counter()
        arrays = self._result.fetchnumpy()
        self._timed["query_s"] = self._executed
        self._timed["fetch_s"] = time.perf_counter() - started
        return arrays

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def results_report(url: str, defs: Any) -> dict[str, Any]:
    """What a full run at ``AS_OF`` brings back from DuckDB and what it costs: the query's
    execution and the fetch into numpy timed apart (one run), the rows (profiles that
    qualify for any rule), the members of all segments added up (what per-segment id
    arrays would hold), the result's size in Python, and the profiles whose membership in
    some segment differs from a run a day earlier (what "changes only" would bring back)."""
    timed: dict[str, float] = {}
    with open_store(url) as store:
        store.con = _TimedConnection(store.con, timed)  # type: ignore[attr-defined]
        started = time.perf_counter()
        now = evaluate(store, defs, as_of=AS_OF, incremental=False)
        timed["run_s"] = time.perf_counter() - started
        figures = dict(timed)  # this run's (the run a day earlier records its own)
        before = evaluate(store, defs, as_of=AS_OF - TAIL, incremental=False)
    changed: set[Any] = set()
    for name in now.segments:
        members_now = set(now.profile_ids[now.members[name]].tolist())
        changed |= members_now ^ set(before.profile_ids[before.members[name]].tolist())
    arrays = [now.profile_ids, now.raw_emails, now.emails, now.consent]
    strings = sum(sys.getsizeof(v) for a in arrays if a.dtype == object for v in a if v is not None)
    masks = sum(m.nbytes for m in now.qualified.values())
    return {
        **{k: round(v, 3) for k, v in figures.items()},
        "result_rows": len(now.profile_ids),
        "members_total": sum(now.size(n) for n in now.segments),
        "result_mib": round((sum(a.nbytes for a in arrays) + strings + masks) / 2**20, 1),
        "changed_profiles": len(changed),
    }


def explain(url: str, defs: Any, out: Path) -> None:
    """EXPLAIN ANALYZE of the evaluation query (for profiling)."""
    with open_store(url) as store:
        captured: dict[str, Any] = {}
        original = store.columns

        def spy(query: Any) -> Any:
            captured["sql"] = store.sql(query)
            return original(query)

        store.columns = spy  # type: ignore[method-assign]
        engine.evaluate(store, defs, as_of=AS_OF)
        con = store.con  # type: ignore[attr-defined]
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{out}.json'")
        con.execute(captured["sql"]).fetchall()
        con.execute("PRAGMA disable_profiling")
        plan = con.execute("EXPLAIN ANALYZE " + captured["sql"]).fetchall()
    out.write_text(captured["sql"] + "\n\n" + "\n".join(str(row[1]) for row in plan))
    print(f"wrote {out} and {out}.json")


if __name__ == "__main__":
    main()
