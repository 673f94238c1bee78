"""``segsync load``: import a CSV, Parquet or JSONL file into the store, all or nothing.

(This module writes DuckDB stores; ``pg_loader`` and ``spark_loader`` reuse its staging
and checks for PostgreSQL and Spark.)

The file is first staged and checked in an in-memory DuckDB connection: required columns,
timestamps, ids, consent. Only when everything holds is the store file attached (created,
with its directory, if missing) and the table replaced or appended to inside one
transaction. Any problem is one located ``ConfigError`` and nothing is written.

A table that already holds rows is replaced only when asked to (``replace``): loading a
small file over a large table by mistake would silently drop its customers. A dry run
makes every check, the store's included, and writes nothing (not even a new store file).

Conversions, so every store that ``load`` writes reads the same way:

- timezone-aware timestamps become naive UTC; ``ts`` given as text is parsed (ISO 8601,
  with or without an offset; without one it is UTC);
- a CSV's ``profile_id`` is read as text, so ids such as ``007`` keep their zeros; events'
  ids take the type of the profiles' ids when that table exists;
- the consent column may hold booleans, ``0``/``1`` or ``true``/``false``/``yes``/``no``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from connector.errors import ConfigError
from connector.source.layout import StoreLayout
from connector.source.url import StoreUrl, parse_store_url
from connector.suggest import suggest

__all__ = ["FORMATS", "LoadReport", "Target", "load_duckdb"]

#: file name endings and the DuckDB reader for each
FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".jsonl.gz": "json",
    ".ndjson.gz": "json",
}
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT")  # fmt: skip
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_STORE = "__store"
_TS_HINT = "write timestamps in ISO 8601, e.g. 2026-05-01T12:00:00Z or 2026-05-01 12:00:00"


class Target(StrEnum):
    """Which table of the store a file is loaded into."""

    PROFILES = "profiles"
    EVENTS = "events"


@dataclass(frozen=True)
class LoadReport:
    """What ``load_file`` did."""

    table: str
    store: str
    rows: int
    total_rows: int
    columns: list[tuple[str, str]]
    appended: bool
    created: bool = False  # the table did not exist before
    warnings: list[str] = field(default_factory=list)
    rows_before: int = 0  # rows the table held before (0 when it did not exist)
    dry_run: bool = False  # nothing was written: the counts are what a load would do


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _text(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")


def _show(value: Any) -> str:
    text = str(value)
    return f"'{text[:57]}…'" if len(text) > 60 else f"'{text}'"


def _reason(exc: duckdb.Error) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    for ending, kind in FORMATS.items():
        if name.endswith(ending):
            return kind
    return None


def _is_integer(sql_type: str) -> bool:
    return sql_type.upper() in _INTEGER


class _Load:
    """One load: the staged file in an in-memory connection, checked, then written."""

    def __init__(self, file: Path, target: Target, layout: StoreLayout) -> None:
        self.file = file
        self.where = str(file)
        self.target = target
        self.layout = layout
        self.table = layout.profiles_table if target is Target.PROFILES else layout.events_table
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # it would print on stdout
        self.warnings: list[str] = []
        self.types: dict[str, str] = {}
        self.select: dict[str, str] = {}  # output column -> SQL over __stage
        self.existed = False  # the table was in the store before
        self.rows_before = 0

    def fail(self, message: str, row: int | None = None) -> ConfigError:
        where = f"row {row}: " if row is not None else ""
        return ConfigError(f"{where}{message}", file=self.where)

    # -- reading ----------------------------------------------------------------------
    def _reader(self, kind: str, full_sample: bool, text_columns: list[str]) -> str:
        path = _text(str(self.file))
        if kind == "parquet":
            return f"read_parquet({path})"
        sample = ", sample_size = -1" if full_sample else ""
        if kind == "json":
            return f"read_json({path}, format = 'newline_delimited'{sample})"
        types = ""
        if text_columns:
            pairs = ", ".join(f"{_text(c)}: 'VARCHAR'" for c in text_columns)
            types = f", types = {{{pairs}}}"
        # rows that do not parse are set aside (store_rejects) so we can name their line
        return (
            f"read_csv({path}, header = true, delim = ',', skip = 0{sample}{types}, "
            "store_rejects = true, rejects_table = '__rejects', rejects_scan = '__scans')"
        )

    def _stage(self, kind: str, full_sample: bool) -> tuple[int, str, str] | None:
        """Stage the file; for CSV, the first line that did not parse (line, error, text)."""
        reader = self._reader(kind, full_sample, [])
        described = self.con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        found = {str(r[0]) for r in described}
        if kind == "csv" and self.layout.profile_id in found:
            reader = self._reader(kind, full_sample, [self.layout.profile_id])
        self.con.execute(f"CREATE OR REPLACE TABLE __stage AS SELECT * FROM {reader}")
        if kind != "csv":
            return None
        rejected = self.con.execute(
            "SELECT line, error_message, csv_line FROM __rejects ORDER BY line LIMIT 1"
        ).fetchone()
        self.con.execute("DELETE FROM __rejects")
        return (int(rejected[0]), str(rejected[1]), str(rejected[2])) if rejected else None

    def stage(self) -> None:
        """Read the file into the in-memory table ``__stage`` (in file order)."""
        kind = _format_of(self.file)
        if not self.file.exists():
            raise self.fail("file not found")
        if self.file.is_dir():
            raise self.fail("is a directory, not a file")
        if kind is None:
            known = ", ".join(sorted(set(FORMATS)))
            raise self.fail(f"unknown file format (use one of {known})")
        label = {"csv": "CSV", "json": "JSONL", "parquet": "Parquet"}[kind]
        try:
            rejected = self._stage(kind, full_sample=False)
            if rejected is not None:  # maybe a type guessed from too few rows: look at all
                rejected = self._stage(kind, full_sample=True)
        except duckdb.Error as exc:
            if kind == "parquet":
                raise self.fail(f"cannot read it as {label}: {_reason(exc)}") from None
            try:  # the type sniffer saw too few rows: look at all of them
                rejected = self._stage(kind, full_sample=True)
            except duckdb.Error as again:
                raise self.fail(f"cannot read it as {label}: {_reason(again)}") from None
        if rejected is not None:
            line, message, text = rejected
            raise ConfigError(
                f"line {line}: cannot read it as CSV: {message.rstrip('.')} ({_show(text)})",
                file=self.where,
            )
        rows = self.con.execute("DESCRIBE __stage").fetchall()
        self.types = {str(r[0]): str(r[1]) for r in rows}

    def first(self, condition: str, value: str) -> tuple[int, Any] | None:
        """The first staged row (1-based) where ``condition`` holds, with ``value``."""
        found = self.con.execute(
            f"SELECT rowid + 1, {value} FROM __stage WHERE {condition} ORDER BY rowid LIMIT 1"
        ).fetchone()
        return (int(found[0]), found[1]) if found else None

    # -- checks -----------------------------------------------------------------------
    def required(self) -> list[str]:
        lay = self.layout
        if self.target is Target.PROFILES:
            return [lay.profile_id, lay.email]
        return [lay.profile_id, lay.event, lay.ts]

    def check_columns(self) -> None:
        missing = [c for c in self.required() if c not in self.types]
        if not missing:
            return
        found = list(self.types)
        listing = ", ".join(found[:10]) + (", …" if len(found) > 10 else "")
        names = ", ".join(f"'{c}'" for c in missing)
        hint = suggest(missing[0], found)
        plural = "s" if len(missing) > 1 else ""
        if len(found) == 1 and any(sep in found[0] for sep in ";\t|"):
            hint = " — segsync reads comma-separated files"
        raise self.fail(f"missing column{plural} {names} (columns found: {listing}){hint}")

    def check_rows(self) -> None:
        count = self.con.execute("SELECT count(*) FROM __stage").fetchone()
        if not count or not count[0]:
            raise self.fail("the file has no rows")

    def _not_blank(self, column: str) -> None:
        col = _ident(column)
        blank = f"{col} IS NULL"
        if self.types[column] == "VARCHAR":
            blank += f" OR trim({col}) = ''"
        bad = self.first(blank, col)
        if bad:
            raise self.fail(f"{column} is empty", bad[0])

    def convert_id(self) -> None:
        column = self.layout.profile_id
        kind = self.types[column]
        if kind != "VARCHAR" and not _is_integer(kind):
            raise self.fail(f"{column} must be text or a whole number, not {kind}")
        self._not_blank(column)

    def convert_ts(self) -> None:
        column = self.layout.ts
        col = _ident(column)
        kind = self.types[column].upper()
        if kind == "VARCHAR":
            parsed = f"timezone('UTC', TRY_CAST({col} AS TIMESTAMPTZ))"
            self._not_blank(column)
            bad = self.first(f"{parsed} IS NULL", col)
            if bad:
                raise self.fail(f"{column} {_show(bad[1])} is not a timestamp: {_TS_HINT}", bad[0])
            self.select[column] = parsed
        elif kind.startswith("TIMESTAMP") or kind == "DATE":
            self._not_blank(column)
        else:
            raise self.fail(f"{column} must be a timestamp, not {kind}: {_TS_HINT}")

    def convert_times(self) -> None:
        for column, kind in self.types.items():
            if column in self.select:
                continue
            col = _ident(column)
            if kind.upper() == "TIMESTAMP WITH TIME ZONE":
                self.select[column] = f"timezone('UTC', {col})"
            elif kind.upper() in ("TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
                self.select[column] = f"CAST({col} AS TIMESTAMP)"
        if self.target is Target.EVENTS and self.types[self.layout.ts].upper() == "DATE":
            self.select[self.layout.ts] = f"CAST({_ident(self.layout.ts)} AS TIMESTAMP)"

    def convert_consent(self) -> None:
        column = self.layout.consent
        if column not in self.types:
            self.warnings.append(
                f"{self.where}: no '{column}' column, so nobody has email consent: segsync "
                "will not create new ESP contacts for these profiles (existing contacts are "
                "still updated)"
            )
            return
        col = _ident(column)
        kind = self.types[column].upper()
        if kind == "BOOLEAN":
            return
        if _is_integer(kind):
            value = f"CASE {col} WHEN 1 THEN TRUE WHEN 0 THEN FALSE END"
        elif kind == "VARCHAR":
            norm = f"lower(trim({col}))"
            yes = ", ".join(_text(v) for v in _TRUE)
            no = ", ".join(_text(v) for v in _FALSE)
            value = f"CASE WHEN {norm} IN ({yes}) THEN TRUE WHEN {norm} IN ({no}) THEN FALSE END"
        else:
            raise self.fail(f"{column} must be true/false, not {kind}")
        present = f"{col} IS NOT NULL" + (f" AND trim({col}) <> ''" if kind == "VARCHAR" else "")
        bad = self.first(f"{present} AND ({value}) IS NULL", col)
        if bad:
            raise self.fail(
                f"{column} {_show(bad[1])} is not true or false (use true/false, yes/no or 1/0)",
                bad[0],
            )
        self.select[column] = value

    def expr(self, column: str) -> str:
        return self.select.get(column, _ident(column))

    def final_types(self) -> dict[str, str]:
        """The DuckDB type of each written column (after the casts an append needs), for
        loaders that write to another database (PostgreSQL, Spark)."""
        columns = ", ".join(f"{self.expr(c)} AS {_ident(c)}" for c in self.types)
        rows = self.con.execute(f"DESCRIBE SELECT {columns} FROM __load").fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def check_unique(self) -> None:
        pid = self.expr(self.layout.profile_id)
        found = self.con.execute(
            f"SELECT id, count(*), list(rowid + 1 ORDER BY rowid)[1:2], count(*) OVER () "
            f"FROM (SELECT rowid, {pid} AS id FROM __stage) GROUP BY id HAVING count(*) > 1 "
            "ORDER BY min(rowid) LIMIT 1"
        ).fetchone()
        if found:
            ident, times, rows, ids = found
            more = f"; {ids - 1} more ids repeat too" if ids > 1 else ""
            raise self.fail(
                f"{self.layout.profile_id} {_show(ident)} appears {times} times (rows "
                f"{rows[0]} and {rows[1]}): profile ids must be unique{more}"
            )

    def check(self) -> None:
        """Everything that needs only the file."""
        self.check_columns()
        self.check_rows()
        self.convert_id()
        if self.target is Target.EVENTS:
            self.convert_ts()
            self._not_blank(self.layout.event)
        else:
            self.convert_consent()
        self.convert_times()
        if self.target is Target.PROFILES:
            self.check_unique()

    # -- the store --------------------------------------------------------------------
    def _name(self, table: str) -> tuple[str, str]:
        parts = table.split(".")
        return (parts[-2] if len(parts) > 1 else "main"), parts[-1]

    def _target_sql(self, table: str) -> str:
        schema, name = self._name(table)
        return f"{_ident(_STORE)}.{_ident(schema)}.{_ident(name)}"

    def store_table(self, table: str) -> tuple[str, dict[str, str]] | None:
        """``(table type, {column: type})`` of a table or view in the store, if present."""
        schema, name = self._name(table)
        found = self.con.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
            [_STORE, schema, name],
        ).fetchone()
        if not found:
            return None
        columns = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [_STORE, schema, name],
        ).fetchall()
        return str(found[0]), {str(c): str(t) for c, t in columns}

    def prepare(self) -> None:
        """The converted rows as view ``__load`` (with ``__row``, the 1-based file row)."""
        columns = [f"{self.expr(c)} AS {_ident(c)}" for c in self.types]
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW __load AS SELECT rowid + 1 AS __row, "
            + ", ".join(columns)
            + " FROM __stage"
        )
        rows = self.con.execute("DESCRIBE __load").fetchall()
        self.types = {str(r[0]): str(r[1]) for r in rows if r[0] != "__row"}
        self.select = {}

    def cast(self, column: str, sql_type: str, why: str) -> None:
        """Cast ``column`` of ``__load`` to ``sql_type``; the first value that fails is an error."""
        col = _ident(column)
        target = exp.DataType.build(sql_type, dialect="duckdb").sql("duckdb")
        found = self.con.execute(
            f"SELECT __row, {col} FROM __load WHERE {col} IS NOT NULL "
            f"AND TRY_CAST({col} AS {target}) IS NULL ORDER BY __row LIMIT 1"
        ).fetchone()
        if found:
            raise self.fail(f"{column} {_show(found[1])} cannot be converted to {why}", found[0])
        self.select[column] = f"CAST({col} AS {target})"

    def store_rows(self) -> int:
        """Rows the target table holds in the store."""
        return self.count(self._target_sql(self.table))

    def count(self, table_sql: str) -> int:
        found = self.con.execute(f"SELECT count(*) FROM {table_sql}").fetchone()
        return int(found[0]) if found else 0

    def check_store(self, append: bool, replace: bool = False) -> dict[str, str] | None:
        """Checks against the store's current tables; the existing table's columns when
        appending to it. A table holding rows is replaced only with ``replace``."""
        lay = self.layout
        existing = self.store_table(self.table)
        self.existed = existing is not None
        if existing is not None and existing[0] == "VIEW":
            raise ConfigError(
                f"'{self.table}' in the customer store is a view: segsync load writes tables "
                f"(point SEGSYNC_STORE__{self.target.value.upper()}_TABLE at another name)",
                file=self.where,
            )
        if existing is not None:
            self.rows_before = self.store_rows()
        if self.rows_before and not append and not replace:
            raise ConfigError(
                f"the store's '{self.table}' table already holds {self.rows_before:,} rows and "
                f"this file has {self.count('__load'):,}: nothing was written. Add --replace "
                "to replace the table with the file, or --append to add the file's rows "
                "(--dry-run shows either without writing)",
                file=self.where,
            )
        if self.target is Target.EVENTS:
            profiles = self.store_table(lay.profiles_table)
            pid_type = profiles[1].get(lay.profile_id) if profiles else None
            if pid_type is not None and pid_type != self.types[lay.profile_id]:
                self.cast(
                    lay.profile_id,
                    pid_type,
                    f"{pid_type}, the type of {lay.profiles_table}.{lay.profile_id}",
                )
        else:
            events = self.store_table(lay.events_table)
            ev_type = events[1].get(lay.profile_id) if events else None
            if ev_type is not None and ev_type != self.types[lay.profile_id]:
                self.warnings.append(
                    f"{lay.events_table}.{lay.profile_id} is {ev_type} but "
                    f"{lay.profiles_table}.{lay.profile_id} is now {self.types[lay.profile_id]}: "
                    "load the events again so the two match"
                )
        if not append or existing is None:
            return None
        columns = existing[1]
        extra = [c for c in self.types if c not in columns]
        if extra:
            raise self.fail(
                "columns not in the existing table: "
                + ", ".join(f"'{c}'" for c in extra)
                + " (load without --append to replace the table)"
            )
        for column, kind in self.types.items():
            if column not in self.select and columns[column] != kind:
                wanted = columns[column]
                self.cast(column, wanted, f"{wanted} like '{column}' in the table")
        if self.target is Target.PROFILES:
            self.check_new_ids()
        return columns

    def check_new_ids(self) -> None:
        pid = _ident(self.layout.profile_id)
        value = self.select.get(self.layout.profile_id, pid)
        found = self.con.execute(
            f"SELECT __row, id, count(*) OVER () FROM (SELECT __row, {value} AS id FROM __load) "
            f"WHERE id IN (SELECT {pid} FROM {self._target_sql(self.table)}) "
            "ORDER BY __row LIMIT 1"
        ).fetchone()
        if found:
            others = found[2] - 1
            more = f" (and {others} more row{'s' if others > 1 else ''})" if others else ""
            raise self.fail(
                f"{self.layout.profile_id} {_show(found[1])} is already in the store's "
                f"'{self.table}' table{more}: profile ids must be unique (load without --append "
                "to replace the table)",
                found[0],
            )

    def write(self, append: bool, existing: dict[str, str] | None) -> None:
        target = self._target_sql(self.table)
        columns = [f"{self.select.get(c, _ident(c))} AS {_ident(c)}" for c in self.types]
        rows = "SELECT " + ", ".join(columns) + " FROM __load"
        schema, _ = self._name(self.table)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(_STORE)}.{_ident(schema)}")
        if append and existing is not None:
            self.con.execute(f"INSERT INTO {target} BY NAME {rows}")
        else:
            self.con.execute(f"CREATE OR REPLACE TABLE {target} AS {rows}")
        note = f"loaded by segsync load from {self.file.name}"
        self.con.execute(f"COMMENT ON TABLE {target} IS {_text(note)}")

    def summary(self, appended: bool) -> LoadReport:
        found = self.store_table(self.table)
        assert found is not None
        return LoadReport(
            table=self.table,
            store="",
            rows=self.count("__load"),
            total_rows=self.count(self._target_sql(self.table)),
            columns=list(found[1].items()),
            appended=appended,
            created=not self.existed,
            warnings=self.warnings,
            rows_before=self.rows_before,
        )

    def preview(self, existing: dict[str, str] | None) -> LoadReport:
        """What ``write`` would do, computed without writing."""
        rows = self.count("__load")
        appended = existing is not None
        columns = existing if existing is not None else self.types
        return LoadReport(
            table=self.table,
            store="",
            rows=rows,
            total_rows=rows + (self.rows_before if appended else 0),
            columns=list(columns.items()),
            appended=appended,
            created=not self.existed,
            warnings=self.warnings,
            rows_before=self.rows_before,
            dry_run=True,
        )


def _store_path(url: str | StoreUrl) -> tuple[StoreUrl, Path]:
    parsed = parse_store_url(url) if isinstance(url, str) else url
    if parsed.kind != "duckdb":
        raise ConfigError(
            f"load writes DuckDB, PostgreSQL and Spark stores, not {parsed.display()}",
            file="SEGSYNC_SOURCE_URL",
        )
    if parsed.path is None:
        raise ConfigError(
            "load needs a DuckDB file to write to, not an in-memory store: set "
            "SEGSYNC_SOURCE_URL=duckdb:///data/customers.duckdb",
            file="SEGSYNC_SOURCE_URL",
        )
    return parsed, parsed.path


def load_duckdb(
    url: StoreUrl,
    layout: StoreLayout,
    target: Target,
    file: Path,
    *,
    append: bool,
    replace: bool,
    dry_run: bool,
) -> LoadReport:
    """``load_file`` for a DuckDB store: stage and check in memory, then write the store
    file in one transaction."""
    parsed, path = _store_path(url)
    job = _Load(file, target, layout)
    try:
        job.stage()
        job.check()
        job.prepare()
        created = not path.exists()
        if created and not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
        source = ":memory:" if created and dry_run else str(path)
        mode = " (READ_ONLY)" if dry_run and not created else ""
        try:
            job.con.execute(f"ATTACH {_text(source)} AS {_ident(_STORE)}{mode}")
        except duckdb.Error as exc:
            raise ConfigError(
                f"cannot open the customer store '{path}' for writing: {_reason(exc)}",
                file="SEGSYNC_SOURCE_URL",
            ) from None
        try:
            existing = job.check_store(append, replace)
            if dry_run:
                report = job.preview(existing)
            else:
                job.con.execute("BEGIN TRANSACTION")
                try:
                    job.write(append, existing)
                    job.con.execute("COMMIT")
                except BaseException:
                    job.con.execute("ROLLBACK")
                    raise
                report = job.summary(existing is not None)
        except BaseException:
            job.con.execute(f"DETACH {_ident(_STORE)}")
            if created and not dry_run:
                path.unlink(missing_ok=True)
                Path(f"{path}.wal").unlink(missing_ok=True)
            raise
        job.con.execute(f"DETACH {_ident(_STORE)}")
    except duckdb.Error as exc:
        raise ConfigError(f"cannot load it: {_reason(exc)}", file=str(file)) from None
    finally:
        job.con.close()
    return dataclasses.replace(report, store=parsed.display())
