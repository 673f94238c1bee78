"""The demo: a deterministic synthetic retail store and the example config that goes with it.

``build_demo_store`` writes ``profiles`` and ``events`` into a new DuckDB file next to the
target and then moves it into place, so a crash never leaves half a store behind. It only
replaces a file that holds nothing but an earlier demo (or when forced): the tables carry a
``segsync demo`` comment that marks them. The same seed and ``as_of`` always give the same
rows; every event lies in the ~400 days up to ``as_of``.

``write_demo_config`` copies the example config (``connector/demo_config/``) into a config
directory, never overwriting a file that already exists.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import duckdb
import numpy as np
from sqlglot import exp

from connector.errors import ConfigError
from connector.source import demo_data as data
from connector.source import load_file, open_store
from connector.source.duckdb_loader import Target
from connector.source.layout import StoreLayout
from connector.source.store import Store, table_expr
from connector.source.url import StoreUrl, parse_store_url
from connector.timespec import format_instant

__all__ = [
    "DEFAULT_PROFILES",
    "DEFAULT_SEED",
    "DemoSpec",
    "DemoStore",
    "WrittenConfig",
    "build_demo_store",
    "default_as_of",
    "generate",
    "write_demo_config",
]

DEFAULT_PROFILES = 25_000
DEFAULT_SEED = 7
MARK = "segsync demo"


@dataclass(frozen=True)
class DemoSpec:
    """What to generate. ``events_per_profile`` scales the background behaviour (the
    cohorts that make the demo segments interesting stay the same size per profile)."""

    as_of: datetime
    profiles: int = DEFAULT_PROFILES
    seed: int = DEFAULT_SEED
    events_per_profile: float = data.BASE_EVENTS_PER_PROFILE

    def __post_init__(self) -> None:
        if self.profiles < 1:
            raise ConfigError("the demo needs at least one profile", file="--profiles")
        if self.events_per_profile <= 0:
            raise ConfigError("events per profile must be positive", file="--events-per-profile")


@dataclass(frozen=True)
class DemoStore:
    """The store that was built."""

    url: StoreUrl
    spec: DemoSpec
    profiles: int
    events: int


def default_as_of(now: datetime) -> datetime:
    """``now`` floored to the hour: the demo's default ``as_of``."""
    return now.replace(minute=0, second=0, microsecond=0)


# -- SQL --------------------------------------------------------------------------------
def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _table(name: str) -> str:
    return table_expr(name).sql("duckdb")


def _texts(values: Sequence[str]) -> str:
    """A DuckDB list literal of our own constant texts (indexed 1-based by code + 1)."""
    return exp.Array(expressions=[exp.Literal.string(v) for v in values]).sql("duckdb")


def _padded(prefix: str, column: str, width: int) -> str:
    """``prefix`` and ``column`` zero-padded to ``width`` digits (``c000042``), the fast way:
    the digits of ``column + 10**width`` without the leading 1."""
    return f"'{prefix}' || CAST({column} + {10**width} AS VARCHAR)[2:]"


def _profile_columns(layout: StoreLayout) -> list[tuple[str, str]]:
    return [
        (layout.profile_id, "VARCHAR"),
        (layout.email, "VARCHAR"),
        (layout.consent, "BOOLEAN"),
        ("first_name", "VARCHAR"),
        ("gender", "VARCHAR"),
        ("age", "INTEGER"),
        ("region", "VARCHAR"),
        ("city", "VARCHAR"),
        (layout.latitude, "DOUBLE"),
        (layout.longitude, "DOUBLE"),
        ("home_airport", "VARCHAR"),
        ("lifecycle_stage", "VARCHAR"),
        ("signup_at", "TIMESTAMP"),
        ("interests", "VARCHAR"),
        ("predicted_clv", "DOUBLE"),
    ]


def _event_columns(layout: StoreLayout) -> list[tuple[str, str]]:
    return [
        (layout.profile_id, "VARCHAR"),
        (layout.event, "VARCHAR"),
        (layout.ts, "TIMESTAMP"),
        ("category", "VARCHAR"),
        ("product_id", "VARCHAR"),
        ("amount", "DOUBLE"),
        ("destination", "VARCHAR"),
    ]


def _profiles_sql(width: int) -> str:
    first, last = _texts(data.FIRST_NAMES), _texts(data.LAST_NAMES)
    domains = _texts(data.DOMAINS)
    local = f"lower({first}[first + 1]) || '.' || {last}[last + 1] || email_number"
    address = f"{local} || '@' || {domains}[domain + 1]"
    email = (
        f"CASE email_quirk WHEN 1 THEN NULL "
        f"WHEN 2 THEN {local} || '@' || split_part({domains}[domain + 1], '.', 1) "
        f"WHEN 3 THEN {first}[first + 1] || '.' || {last}[last + 1] || email_number || '@' "
        f"|| upper({domains}[domain + 1]) "
        f"WHEN 4 THEN ' ' || {address} || ' ' ELSE {address} END"
    )
    interests = (
        f"NULLIF(array_to_string(list_filter({_texts(data.INTERESTS)}, "
        "lambda x, i: (interests >> (i - 1)) & 1 = 1), ','), '')"
    )
    columns = [
        _padded("c", "pid", width),
        email,
        "consent",
        f"{first}[first + 1]",
        f"CASE WHEN gender >= 0 THEN {_texts(data.GENDERS)}[gender + 1] END",
        "CAST(age AS INTEGER)",
        f"{_texts([c[0] for c in data.CITIES])}[city + 1]",
        f"{_texts([c[1] for c in data.CITIES])}[city + 1]",
        "latitude",
        "longitude",
        f"{_texts([c[4] for c in data.CITIES])}[city + 1]",
        f"{_texts(data.STAGES)}[stage + 1]",
        "signup_at",
        interests,
        "clv",
    ]
    return "SELECT " + ", ".join(columns) + " FROM __demo_chunk"


def _events_sql(width: int) -> str:
    columns = [
        _padded("c", "pid", width),
        f"{_texts(data.EVENT_NAMES)}[kind + 1]",
        "ts",
        f"CASE WHEN category >= 0 THEN {_texts(data.CATEGORIES)}[category + 1] END",
        f"CASE WHEN product >= 0 THEN {_padded('sku-', 'product', 5)} END",
        "amount",
        f"CASE WHEN destination >= 0 THEN {_texts(data.DESTINATIONS)}[destination + 1] END",
    ]
    return "SELECT " + ", ".join(columns) + " FROM __demo_chunk"


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    if "." in table:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(table.split('.')[-2])}")
    body = ", ".join(f"{_ident(name)} {kind}" for name, kind in columns)
    con.execute(f"CREATE OR REPLACE TABLE {_table(table)} ({body})")


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, select: str, arrays: dict[str, np.ndarray]
) -> None:
    con.register("__demo_chunk", arrays)
    try:
        con.execute(f"INSERT INTO {_table(table)} {select}")
    finally:
        con.unregister("__demo_chunk")


def generate(
    con: duckdb.DuckDBPyConnection, spec: DemoSpec, layout: StoreLayout | None = None
) -> tuple[int, int]:
    """Create (or replace) the demo tables in ``con`` and fill them; returns the number of
    profiles and events. Generated chunk by chunk, so memory stays small at any size."""
    lay = layout or StoreLayout()
    width = max(6, len(str(spec.profiles)))
    scale = spec.events_per_profile / data.BASE_EVENTS_PER_PROFILE
    _create(con, lay.profiles_table, _profile_columns(lay))
    _create(con, lay.events_table, _event_columns(lay))
    profiles_sql, events_sql = _profiles_sql(width), _events_sql(width)

    events = 0
    for index, first in enumerate(range(0, spec.profiles, data.CHUNK_PROFILES)):
        size = min(data.CHUNK_PROFILES, spec.profiles - first)
        chunk = data.generate_chunk(spec.seed, index, first + 1, size, spec.as_of, scale)
        _insert(con, lay.profiles_table, profiles_sql, chunk.profiles)
        _insert(con, lay.events_table, events_sql, chunk.events)
        events += len(chunk.events["pid"])
    note = f"{MARK}: seed {spec.seed}, {spec.profiles} profiles, as of {format_instant(spec.as_of)}"
    for table in (lay.profiles_table, lay.events_table):
        con.execute(f"COMMENT ON TABLE {_table(table)} IS {exp.Literal.string(note).sql()}")
    return spec.profiles, events


# -- the store file ---------------------------------------------------------------------
def _foreign_tables(path: Path) -> list[str]:
    """Tables and views in an existing store that the demo did not create."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ConfigError(
            f"'{path}' exists but cannot be opened as a DuckDB store ({reason}); "
            "remove it, or pass --force to replace it",
            file="SEGSYNC_SOURCE_URL",
        ) from None
    try:
        rows = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE NOT internal "
            "UNION ALL "
            "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    finally:
        con.close()
    return [
        f"{schema}.{name}" if schema != "main" else str(name)
        for schema, name, comment in rows
        if not str(comment or "").startswith(MARK) and not str(name).startswith("segsync_rollup")
    ]


def _check_replaceable(path: Path, force: bool) -> None:
    if path.is_dir():
        raise ConfigError(f"'{path}' is a directory, not a store file", file="SEGSYNC_SOURCE_URL")
    if force or not path.exists():
        return
    foreign = _foreign_tables(path)
    if foreign:
        raise ConfigError(
            f"'{path}' holds data that segsync demo did not create ({', '.join(foreign[:5])}); "
            "point SEGSYNC_SOURCE_URL at another file, or pass --force to replace it",
            file="SEGSYNC_SOURCE_URL",
        )


def _remove(*paths: Path) -> None:
    for target in paths:
        target.unlink(missing_ok=True)


def build_demo_store(
    url: str | StoreUrl, spec: DemoSpec, layout: StoreLayout | None = None, *, force: bool = False
) -> DemoStore:
    """Build the demo store at ``url`` (a DuckDB file), replacing an earlier demo."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    if parsed.kind != "duckdb" or parsed.path is None:
        raise ConfigError(
            f"segsync demo builds a DuckDB file, not {parsed.display()}: set "
            "SEGSYNC_SOURCE_URL=duckdb:///data/customers.duckdb (or another file)",
            file="SEGSYNC_SOURCE_URL",
        )
    path = parsed.path
    _check_replaceable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove(staging, Path(f"{staging}.wal"))
    try:
        con = duckdb.connect(str(staging))
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")  # it would print on stdout
            profiles, events = generate(con, spec, layout)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _remove(Path(f"{path}.wal"))  # a stale log would be replayed onto the new file
        os.replace(staging, path)
    finally:
        _remove(staging, Path(f"{staging}.wal"))
    return DemoStore(parsed, spec, profiles, events)


# -- config -----------------------------------------------------------------------------
@dataclass
class WrittenConfig:
    """Config files the demo wrote, and those it left alone because they existed."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def demo_config_files() -> dict[str, str]:
    """The example config shipped with segsync: relative path -> text."""
    files: dict[str, str] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{rel}/")
            elif child.name.endswith(".yaml"):
                files[rel] = child.read_text(encoding="utf-8")

    walk(resources.files("connector") / "demo_config", "")
    return files


def write_demo_config(config_dir: Path) -> WrittenConfig:
    """Copy the example config into ``config_dir``; existing files are never overwritten."""
    result = WrittenConfig()
    for rel, text in demo_config_files().items():
        target = config_dir / rel
        if target.exists():
            result.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as handle:  # "x": never clobber a file
            handle.write(text)
        result.written.append(target)
    return result


# -- another store ------------------------------------------------------------------------
_DEMO_FILE = "segsync-demo-{}.parquet"


def copy_demo_store(
    demo: DemoStore, url: str | StoreUrl, layout: StoreLayout | None = None, *, force: bool
) -> DemoStore:
    """Copy a demo built in a DuckDB file into the store at ``url`` with ``segsync load``
    (Parquet files in between, as a user would). Tables holding rows that an earlier demo
    did not write are replaced only with ``force``."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    lay = layout or StoreLayout()
    assert demo.url.path is not None
    if not force:
        _check_foreign_tables(parsed, lay)
    with tempfile.TemporaryDirectory(prefix="segsync-demo-") as tmp:
        files = {kind: Path(tmp) / _DEMO_FILE.format(kind.value) for kind in Target}
        con = duckdb.connect(str(demo.url.path), read_only=True)
        try:
            for kind, table in (
                (Target.PROFILES, lay.profiles_table),
                (Target.EVENTS, lay.events_table),
            ):
                target = exp.Literal.string(str(files[kind])).sql("duckdb")
                con.execute(f"COPY (SELECT * FROM {_table(table)}) TO {target} (FORMAT parquet)")
        finally:
            con.close()
        profiles = load_file(parsed, lay, Target.PROFILES, files[Target.PROFILES], replace=True)
        events = load_file(parsed, lay, Target.EVENTS, files[Target.EVENTS], replace=True)
    return DemoStore(parsed, demo.spec, profiles.total_rows, events.total_rows)


def _table_comment(store: Store, table: str) -> str | None:
    """The comment of ``table`` ("" without one), or None when there is no such table."""
    if store.dialect == "spark":  # the catalog API: Spark has no information_schema
        from connector.source.spark_store import spark_name  # noqa: PLC0415 (pyarrow)

        catalog = store.spark.catalog  # type: ignore[attr-defined]
        name = spark_name(table)
        if not catalog.tableExists(name):
            return None
        return str(catalog.getTable(name).description or "")
    parts = table.split(".")
    schema = exp.Literal.string(parts[-2]) if len(parts) > 1 else exp.func("current_schema")
    found = store.rows(
        exp.select(exp.func("count", exp.Star()))
        .from_(exp.table_("tables", db="information_schema"))
        .where(exp.column("table_schema").eq(schema))
        .where(exp.column("table_name").eq(exp.Literal.string(parts[-1])))
    )
    if not found[0][0]:
        return None
    if store.dialect != "postgres":
        return ""
    regclass = exp.Literal.string(table_expr(table).sql("postgres"))
    described = exp.func("obj_description", exp.func("to_regclass", regclass))
    return str(store.rows(exp.select(described))[0][0] or "")


def _check_foreign_tables(url: StoreUrl, layout: StoreLayout) -> None:
    """Refuse to replace tables that an earlier ``copy_demo_store`` did not write (their
    comment names the demo's file)."""
    foreign = []
    with open_store(url, layout) as store:
        for table in (layout.profiles_table, layout.events_table):
            comment = _table_comment(store, table)
            if comment is not None and not comment.startswith(
                "loaded by segsync load from segsync-demo-"
            ):
                foreign.append(table)
    if foreign:
        raise ConfigError(
            f"{url.display()} already has {', '.join(foreign)}, not written by segsync demo: "
            "use --force to replace, or point --store elsewhere",
            file="--store",
        )
