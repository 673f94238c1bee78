"""Run the evaluator and the oracle on the same store and rules, and say where they differ.

The store's rows live in an ``OracleStore``; ``load_duckdb`` / ``load_postgres`` copy them
into a real store, ``write_config`` writes the rules as YAML files that the real loader
reads, and ``disagreements`` lists every profile on which the two evaluations differ.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st
from ruamel.yaml import YAML

from connector.definitions.loader import Definitions, load_definitions
from connector.esp.registry import destination_models
from connector.evaluate.engine import Evaluation, evaluate
from connector.settings import StoreLayout
from connector.source import Store, open_store, rollups
from tests.evaluate.oracle import Oracle, OracleResult, OracleStore

__all__ = [
    "EVENT_SQL",
    "PROFILE_SQL",
    "append_events",
    "compare",
    "disagreements",
    "dump_yaml",
    "load_duckdb",
    "load_postgres",
    "load_spark",
    "make_oracle_store",
    "postgres_layout",
    "replace_profiles",
    "spark_layout",
    "write_config",
]

#: the columns of the test store and their SQL types (the same spelling works on both backends)
PROFILE_SQL: dict[str, str] = {
    "profile_id": "VARCHAR",
    "email": "VARCHAR",
    "email_consent": "BOOLEAN",
    "region": "VARCHAR",
    "city": "VARCHAR",
    "age": "INTEGER",
    "clv": "DOUBLE PRECISION",
    "vip": "BOOLEAN",
    "signup_at": "TIMESTAMP",
    "seen_at": "TIMESTAMPTZ",
    "birthday": "DATE",
    "latitude": "DOUBLE PRECISION",
    "longitude": "DOUBLE PRECISION",
}
EVENT_SQL: dict[str, str] = {
    "profile_id": "VARCHAR",
    "event": "VARCHAR",
    "ts": "TIMESTAMP",
    "category": "VARCHAR",
    "destination": "VARCHAR",
    "amount": "DOUBLE PRECISION",
    "qty": "INTEGER",
    "gift": "BOOLEAN",
}
_KINDS = {
    "VARCHAR": "text",
    "INTEGER": "number",
    "DOUBLE PRECISION": "number",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "DATE": "date",
}


def make_oracle_store(
    profiles: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]] = ()
) -> OracleStore:
    """Rows completed with NULL for every column they do not name."""
    return OracleStore(
        profiles=[{c: p.get(c) for c in PROFILE_SQL} for p in profiles],
        events=[{c: e.get(c) for c in EVENT_SQL} for e in events],
        profile_types={c: _KINDS[t] for c, t in PROFILE_SQL.items()},
        event_types={c: _KINDS[t] for c, t in EVENT_SQL.items()},
    )


def _create(con: Any, table: str, columns: Mapping[str, str], rows: list[dict[str, Any]]) -> None:
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    if rows:  # one statement: executemany is slow on DuckDB
        mark = "%s" if "psycopg" in type(con).__module__ else "?"
        tuples = ", ".join(f"({', '.join([mark] * len(columns))})" for _ in rows)
        params = [r[c] for r in rows for c in columns]
        con.execute(f"INSERT INTO {table} VALUES {tuples}", params)


def append_events(db: Store, events: Sequence[Mapping[str, Any]]) -> None:
    """Append rows to the store's events table (another tool appending, or a load)."""
    rows = [{c: e.get(c) for c in EVENT_SQL} for e in events]
    if rows:
        con = db.con  # type: ignore[attr-defined]
        mark = "%s" if "psycopg" in type(con).__module__ else "?"
        tuples = ", ".join(f"({', '.join([mark] * len(EVENT_SQL))})" for _ in rows)
        params = [r[c] for r in rows for c in EVENT_SQL]
        con.execute(f"INSERT INTO {db.layout.events_table} VALUES {tuples}", params)
    db.discover(refresh=True)


def replace_profiles(db: Store, profiles: Sequence[Mapping[str, Any]]) -> None:
    """Replace the store's profiles table (rows updated, added, removed), events kept."""
    rows = [{c: p.get(c) for c in PROFILE_SQL} for p in profiles]
    _create(db.con, "profiles", PROFILE_SQL, rows)  # type: ignore[attr-defined]
    db.discover(refresh=True)


def load_duckdb(store: OracleStore, db: Store | None = None) -> Store:
    """The rows in an in-memory DuckDB store: a new one, or ``db`` with its tables replaced
    (opening DuckDB costs more than a whole evaluation of these tiny stores)."""
    db = db or open_store("duckdb:///:memory:", read_only=False)
    con = db.con  # type: ignore[attr-defined]
    rollups.drop(db)  # the tables are replaced, as `segsync load` without --append does
    _create(con, "profiles", PROFILE_SQL, store.profiles)
    _create(con, "events", EVENT_SQL, store.events)
    db.discover(refresh=True)
    return db


def postgres_layout(schema: str) -> StoreLayout:
    return StoreLayout(profiles_table=f"{schema}.profiles", events_table=f"{schema}.events")


def load_postgres(db: Store, store: OracleStore) -> Store:
    """The rows in ``db``'s PostgreSQL tables (``<schema>.profiles`` / ``.events``), replaced."""
    con = db.con  # type: ignore[attr-defined]
    _create(con, db.layout.profiles_table, PROFILE_SQL, store.profiles)
    _create(con, db.layout.events_table, EVENT_SQL, store.events)
    db.discover(refresh=True)
    return db


#: the test store's SQL types as Arrow types (Spark reads Arrow timestamps with a time zone
#: as its TIMESTAMP, an instant; naive values are UTC)
_ARROW = {
    "VARCHAR": "string",
    "INTEGER": "int32",
    "DOUBLE PRECISION": "float64",
    "BOOLEAN": "bool_",
    "TIMESTAMP": "timestamp_utc",
    "TIMESTAMPTZ": "timestamp_utc",
    "DATE": "date32",
}


def spark_layout() -> StoreLayout:
    return StoreLayout(profiles_table="oracle_profiles", events_table="oracle_events")


def load_spark(db: Store, store: OracleStore) -> Store:
    """The rows as the Spark session's temporary views ``oracle_profiles`` and
    ``oracle_events`` (replaced; writing managed tables would cost seconds per example)."""
    import pyarrow as pa  # noqa: PLC0415 (the spark extra; only Spark cases need it)

    def arrow_type(sql: str) -> Any:
        name = _ARROW[sql]
        return pa.timestamp("us", tz="UTC") if name == "timestamp_utc" else getattr(pa, name)()

    spark = db.spark  # type: ignore[attr-defined]
    for table, columns, rows in (
        (db.layout.profiles_table, PROFILE_SQL, store.profiles),
        (db.layout.events_table, EVENT_SQL, store.events),
    ):
        schema = pa.schema([(c, arrow_type(t)) for c, t in columns.items()])
        data = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
        spark.createDataFrame(data).createOrReplaceTempView(table)
    db.discover(refresh=True)
    return db


def dump_yaml(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_config(
    root: Path, segments: Mapping[str, Mapping[str, Any]], metrics: Mapping[str, Any]
) -> Definitions:
    """Write ``segments/<name>.yaml`` and ``metrics.yaml`` under ``root``; load them."""
    folder = root / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, segment in segments.items():
        (folder / f"{name}.yaml").write_text(dump_yaml(dict(segment)), encoding="utf-8")
    (root / "metrics.yaml").write_text(dump_yaml(dict(metrics)) if metrics else "", "utf-8")
    return load_definitions(root, destination_models())


def arrival_chunks(
    events: Sequence[Mapping[str, Any]], data: st.DataObject
) -> list[list[Mapping[str, Any]]]:
    """``events`` in a drawn order, cut into drawn chunks (``data``: hypothesis's
    ``st.data()``). The orphans' events name every event a rule uses: they come first, in
    the first chunk (else the schema check refuses the rules); the others in any order."""
    others = [e for e in events if e["profile_id"] != "zz-orphan"]
    orphans = [e for e in events if e["profile_id"] == "zz-orphan"]
    order = data.draw(st.permutations(range(len(others))), label="arrival order")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(others)), max_size=4), label="cuts"))
    bounds = zip([0, *cuts], [*cuts, len(others)], strict=True)
    chunks = [[others[i] for i in order[a:b]] for a, b in bounds]
    chunks[0] = orphans + chunks[0]
    return chunks


def _values(array: np.ndarray) -> list[Any]:
    """The values, NaN as None (so that two missing values compare equal)."""
    return [None if isinstance(v, float) and math.isnan(v) else v for v in array.tolist()]


def same_rows(a: Evaluation, b: Evaluation, *, what: str) -> list[str]:
    """Where two evaluations of one store differ (their rows, each rule's booleans);
    ``what`` names ``a`` in the lines (``b`` is the full run)."""
    if list(a.profile_ids) != list(b.profile_ids):
        return [f"rows {list(a.profile_ids)} != {list(b.profile_ids)}"]
    columns = {
        "raw email": (a.raw_emails, b.raw_emails),
        "email": (a.emails, b.emails),
        "consent": (a.consent, b.consent),
        **{f"attribute {n}": (a.attributes[n], b.attributes.get(n)) for n in a.attributes},
    }
    problems = [
        f"{column}: {what} {_values(ours)} full {theirs if theirs is None else _values(theirs)}"
        for column, (ours, theirs) in columns.items()
        if theirs is None or _values(ours) != _values(theirs)
    ]
    return problems + [
        f"{name}: {what} {a.qualified[name]} full {b.qualified[name]}"
        for name in a.qualified
        if not np.array_equal(a.qualified[name], b.qualified[name])
    ]


def disagreements(evaluation: Evaluation, expected: OracleResult) -> list[str]:
    """One line per (segment, profile, what) where the evaluator differs from the oracle."""
    problems: list[str] = []
    ids = [str(p) for p in evaluation.profile_ids]
    if ids != sorted(ids):
        problems.append(f"rows not sorted by profile id: {ids}")
    rows = {pid: i for i, pid in enumerate(ids)}
    everyone = sorted({str(p) for name in expected.qualified for p in expected.qualified[name]})
    wanted_rows = {
        pid for pid in everyone if any(q[pid] for q in expected.qualified.values() if pid in q)
    }
    if set(rows) != wanted_rows:
        problems.append(f"rows {sorted(rows)} != profiles qualifying somewhere {wanted_rows}")
    for what, theirs, ours in (
        ("qualified", evaluation.qualified, expected.qualified),
        ("member", evaluation.members, expected.members),
        ("held out", evaluation.held_out, expected.held_out),
    ):
        for name, per_profile in ours.items():
            for pid, want in per_profile.items():
                row = rows.get(str(pid))
                got = False if row is None else bool(theirs[name][row])
                if got != want:
                    problems.append(f"{name} / {pid}: {what} evaluator={got} oracle={want}")
    for pid, row in rows.items():
        want_email = expected.emails.get(pid)
        if evaluation.emails[row] != want_email:
            got_email = evaluation.emails[row]
            problems.append(f"email of {pid}: evaluator={got_email!r} oracle={want_email!r}")
        if bool(evaluation.consent[row]) != expected.consent.get(pid):
            problems.append(f"consent of {pid}: evaluator={evaluation.consent[row]}")
    return problems


def compare(
    db: Store,
    store: OracleStore,
    root: Path,
    segments: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Any],
    as_of: datetime,
    names: Sequence[str] | None = None,
    previous: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[Evaluation, OracleResult, list[str]]:
    """Evaluate with both; return both results and a readable report of the differences.

    With ``names``, segsync evaluates only those segments (and their exclusive-group
    siblings); the oracle's answers for the same segments must not change. ``previous``:
    per segment, the profile ids of its last run (for ``hysteresis``).
    """
    defs = write_config(root, segments, metrics)
    evaluation = evaluate(db, defs, as_of=as_of, names=names, previous=previous)
    expected = Oracle(store, segments, metrics, as_of, previous).run()
    if names is not None:
        expected = OracleResult(
            *({n: by_name[n] for n in evaluation.qualified} for by_name in expected.parts()),
            emails=expected.emails,
            consent=expected.consent,
        )
    problems = disagreements(evaluation, expected)
    if not problems:
        return evaluation, expected, []
    involved = {line.split(" / ")[1].split(":")[0] for line in problems if " / " in line}
    report = [
        f"as_of: {as_of.isoformat()}",
        f"previous: {dict(previous or {})}",
        "--- metrics.yaml",
        dump_yaml(dict(metrics)) if metrics else "{}",
    ]
    for name, segment in segments.items():
        report += [f"--- segments/{name}.yaml", dump_yaml(dict(segment))]
    report.append("--- disagreements")
    report += problems
    report.append("--- rows of the profiles involved")
    for profile in store.profiles:
        if str(profile["profile_id"]) in involved:
            report.append(f"profile {profile}")
            own = [e for e in store.events if e["profile_id"] == profile["profile_id"]]
            report += [f"    event {e}" for e in own]
    return evaluation, expected, report
