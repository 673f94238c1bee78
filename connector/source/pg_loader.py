"""``segsync load`` into PostgreSQL: the DuckDB loader's staging and checks, then COPY.

The file is staged and checked exactly as for DuckDB (``duckdb_loader._Load``: required columns,
timestamps, ids, consent, the casts an append needs); the store's side (does the table
exist, how many rows, its column types, ids already there) is read from PostgreSQL. The
converted rows are then written as CSV by DuckDB and streamed into PostgreSQL with
``COPY … FROM STDIN`` inside one transaction: a failure anywhere rolls everything back.

A new (or replaced) table gets the indexes that matter for evaluation: the profiles'
primary key on the id, and a BRIN index on the events' timestamp (events arrive in time
order, so a window reads only the blocks it needs at a tiny fraction of a B-tree's size).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from connector.errors import ConfigError
from connector.source.duckdb_loader import LoadReport, Target, _Load, _reason
from connector.source.layout import StoreLayout
from connector.source.postgres_store import PostgresStore
from connector.source.url import StoreUrl

__all__ = ["load_postgres", "postgres_type"]

_STAGE = "__segsync_load"
_CHUNK = 1 << 20

#: DuckDB type -> PostgreSQL type for new tables
_TO_PG = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "UTINYINT": "smallint",
    "SMALLINT": "smallint",
    "USMALLINT": "integer",
    "INTEGER": "integer",
    "UINTEGER": "bigint",
    "BIGINT": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(39,0)",
    "UHUGEINT": "numeric(39,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time",
    "UUID": "uuid",
}
#: PostgreSQL ``information_schema`` type -> DuckDB type (for the loader's checks)
_FROM_PG = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "character": "VARCHAR",
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double precision": "DOUBLE",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "time without time zone": "TIME",
    "uuid": "UUID",
}


def postgres_type(duck_type: str) -> str | None:
    """The PostgreSQL column type for a DuckDB one (``None``: not a scalar we write)."""
    name = duck_type.upper()
    if name.startswith("DECIMAL"):
        return "numeric" + name.removeprefix("DECIMAL")
    return _TO_PG.get(name)


def _duck_type(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        if precision is not None and precision <= 38:
            return f"DECIMAL({precision},{scale or 0})"
        return "DOUBLE"
    return _FROM_PG.get(data_type, data_type.upper())


class _PgLoad(_Load):
    """A load whose store is a PostgreSQL database (``con``, autocommit)."""

    def __init__(
        self, file: Path, target: Target, layout: StoreLayout, con: psycopg.Connection
    ) -> None:
        super().__init__(file, target, layout)
        self.pg = con
        found = con.execute("SELECT current_schema()").fetchone()
        self.default_schema = str(found[0]) if found and found[0] else "public"
        self.pg_types: dict[str, str] = {}  # the store table's columns, PostgreSQL spelling

    def _name(self, table: str) -> tuple[str, str]:
        parts = table.split(".")
        return (parts[-2] if len(parts) > 1 else self.default_schema), parts[-1]

    def _pg_table(self, table: str) -> sql.Identifier:
        return sql.Identifier(*self._name(table))

    def store_table(self, table: str) -> tuple[str, dict[str, str]] | None:
        schema, name = self._name(table)
        found = self.pg.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (schema, name),
        ).fetchone()
        if not found:
            return None
        rows = self.pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            (schema, name),
        ).fetchall()
        if table == self.table:
            self.pg_types = {str(r[0]): str(r[1]) for r in rows}
        kind = "VIEW" if str(found[0]) == "VIEW" else "BASE TABLE"
        return kind, {str(c): _duck_type(str(t), p, s) for c, t, p, s in rows}

    def store_rows(self) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(self._pg_table(self.table))
        found = self.pg.execute(query).fetchone()
        return int(found[0]) if found else 0

    def check_new_ids(self) -> None:
        """Checked in PostgreSQL once the rows are staged there (``write``)."""

    # -- writing ----------------------------------------------------------------------
    def ddl(self) -> sql.Composed:
        parts = []
        for column, kind in self.final_types().items():
            pg = postgres_type(kind)
            if pg is None:
                raise self.fail(
                    f"column '{column}' is {kind}: segsync load writes text, numbers, "
                    "booleans, dates and timestamps to PostgreSQL"
                )
            parts.append(sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(pg)))
        return sql.SQL(", ").join(parts)

    def copy_into(self, table: sql.Composable, with_row: bool, folder: Path) -> None:
        """Stream the converted rows (in file order) into ``table`` with COPY."""
        csv = folder / "rows.csv"
        columns = [f"{self.expr(c)} AS {_q(c)}" for c in self.types]
        if with_row:
            columns.insert(0, "__row")
        path = str(csv).replace("'", "''")
        self.con.execute(
            f"COPY (SELECT {', '.join(columns)} FROM __load ORDER BY __row) "
            f"TO '{path}' (FORMAT csv, HEADER false)"
        )
        names = [sql.Identifier(c) for c in self.types]
        if with_row:
            names.insert(0, sql.Identifier("__row"))
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            table, sql.SQL(", ").join(names)
        )
        with self.pg.cursor() as cur, cur.copy(query) as copy, csv.open("rb") as source:
            while chunk := source.read(_CHUNK):
                copy.write(chunk)

    def check_ids_against(self, staged: sql.Composable) -> None:
        pid = sql.Identifier(self.layout.profile_id)
        query = sql.SQL(
            "SELECT s.__row, s.{pid}::text, count(*) OVER () FROM {staged} s "
            "WHERE s.{pid} IN (SELECT t.{pid} FROM {target} t) ORDER BY s.__row LIMIT 1"
        ).format(pid=pid, staged=staged, target=self._pg_table(self.table))
        found = self.pg.execute(query).fetchone()
        if found:
            others = int(found[2]) - 1
            more = f" (and {others} more row{'s' if others > 1 else ''})" if others else ""
            raise self.fail(
                f"{self.layout.profile_id} '{found[1]}' is already in the store's "
                f"'{self.table}' table{more}: profile ids must be unique (load without --append "
                "to replace the table)",
                int(found[0]),
            )

    def create(self, target: sql.Identifier) -> None:
        self.pg.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        self.pg.execute(sql.SQL("CREATE TABLE {} ({})").format(target, self.ddl()))

    def indexes(self, target: sql.Identifier) -> None:
        lay = self.layout
        if self.target is Target.PROFILES:
            self.pg.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    target, sql.Identifier(lay.profile_id)
                )
            )
        else:
            self.pg.execute(
                sql.SQL("CREATE INDEX ON {} USING brin ({})").format(target, sql.Identifier(lay.ts))
            )

    def run(self, append: bool, existing: dict[str, str] | None, dry_run: bool) -> LoadReport:
        """Write (or, in a dry run, check and roll back) in one PostgreSQL transaction."""
        target = self._pg_table(self.table)
        appending = append and existing is not None
        staged = sql.Identifier(_STAGE)
        rows = self.count("__load")
        with tempfile.TemporaryDirectory(prefix="segsync-load-") as tmp:
            try:
                with self.pg.transaction(force_rollback=dry_run):
                    if appending and self.target is Target.PROFILES:
                        self.pg.execute(
                            sql.SQL(
                                "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT 0::bigint AS "
                                "__row, * FROM {} WITH NO DATA"
                            ).format(staged, target)
                        )
                        self.copy_into(staged, True, Path(tmp))
                        self.check_ids_against(staged)
                        if not dry_run:
                            names = sql.SQL(", ").join(sql.Identifier(c) for c in self.types)
                            self.pg.execute(
                                sql.SQL(
                                    "INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY __row"
                                ).format(target, names, names, staged)
                            )
                    elif not dry_run:
                        if not appending:
                            self.create(target)
                        self.copy_into(target, False, Path(tmp))
                        if not appending:
                            self.indexes(target)
                    if not dry_run:
                        note = f"loaded by segsync load from {self.file.name}"
                        self.pg.execute(
                            sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(note))
                        )
                        self.pg.execute(sql.SQL("ANALYZE {}").format(target))
                        self.store_table(self.table)  # the columns as written
            except psycopg.Error as exc:
                raise ConfigError(f"cannot load it: {_pg_reason(exc)}", file=self.where) from None
        if dry_run:
            columns = (
                list(self.pg_types.items())
                if existing is not None
                else [(c, postgres_type(t) or t) for c, t in self.final_types().items()]
            )
            total = rows + (self.rows_before if appending else 0)
        else:
            columns = list(self.pg_types.items())
            total = self.store_rows()
        return LoadReport(
            table=self.table,
            store="",
            rows=rows,
            total_rows=total,
            columns=columns,
            appended=appending,
            created=not self.existed,
            warnings=self.warnings,
            rows_before=self.rows_before,
            dry_run=dry_run,
        )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_reason(exc: psycopg.Error) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_postgres(
    url: StoreUrl,
    layout: StoreLayout,
    target: Target,
    file: Path,
    *,
    append: bool,
    replace: bool,
    dry_run: bool,
) -> LoadReport:
    """``load_file`` for a PostgreSQL store (same checks, same flags, same report)."""
    job: _PgLoad | None = None
    store = PostgresStore(url, layout)  # DependencyError (exit 2) when it does not answer
    try:
        job = _PgLoad(file, target, layout, store.con)
        job.stage()
        job.check()
        job.prepare()
        existing = job.check_store(append, replace)
        report = job.run(append, existing, dry_run)
    except duckdb.Error as exc:
        raise ConfigError(f"cannot load it: {_reason(exc)}", file=str(file)) from None
    except psycopg.Error as exc:
        raise ConfigError(f"cannot load it: {_pg_reason(exc)}", file=str(file)) from None
    finally:
        if job is not None:
            job.con.close()
        store.close()
    return dataclasses.replace(report, store=url.display())
