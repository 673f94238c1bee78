"""BigQuery and Snowflake stores without an account: their URLs and settings, the message
without their extra, and the SQL they would send (rendered and parsed back in their
dialects). The evaluation query itself is compared with reviewed fixtures in
``test_dialect.py``; nothing here opens a network connection."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlglot
from sqlglot import exp

from connector.errors import ConfigError, DependencyError
from connector.settings import StoreLayout
from connector.source import load_file, open_store
from connector.source.bigquery_store import columns_query as bigquery_columns
from connector.source.demo import DemoSpec, build_demo_store
from connector.source.dialect import render
from connector.source.duckdb_loader import Target
from connector.source.row_arrays import as_arrays, plain_value
from connector.source.schema import ColumnType, column_type
from connector.source.snowflake_store import columns_query as snowflake_columns
from connector.source.snowflake_store import our_names, stored_name
from connector.source.store import Store
from connector.source.url import parse_store_url
from connector.source.warehouse_url import bigquery_target, snowflake_target

BQ = "bigquery://acme-analytics/crm"
SF = "snowflake://segsync:p%40ss@xy12345.eu-west-1/SHOP/CRM?warehouse=REPORTING&role=ANALYST"


def test_bigquery_urls() -> None:
    target = bigquery_target(BQ)
    assert (target.project, target.dataset, target.location) == ("acme-analytics", "crm", None)
    assert bigquery_target(f"{BQ}?location=EU").location == "EU"
    parsed = parse_store_url(f"{BQ}?location=EU")
    assert (parsed.kind, parsed.dialect, parsed.display()) == (
        "bigquery",
        "bigquery",
        f"{BQ}?location=EU",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("bigquery://acme-analytics", "use bigquery://PROJECT/DATASET"),
        ("bigquery:///crm", "use bigquery://PROJECT/DATASET"),
        ("bigquery://Acme/crm", "'Acme' is not a BigQuery project id"),
        ("bigquery://acme-analytics/crm-eu", "'crm-eu' is not a BigQuery dataset name"),
        ("bigquery://me:secret@acme-analytics/crm", "application default credentials"),
        ("bigquery://acme-analytics/crm?key=secret", "unknown parameter key (it takes location)"),
        ("bigquery://acme-analytics/crm?location=", "parameter location is empty"),
    ],
)
def test_bad_bigquery_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(url)
    assert message in str(info.value)
    assert info.value.issues[0].location.file == "SEGSYNC_SOURCE_URL"
    assert "secret" not in str(info.value)


def test_snowflake_urls_keep_the_password_out_of_sight() -> None:
    target = snowflake_target(SF)
    assert (target.account, target.user, target.database, target.schema) == (
        "xy12345.eu-west-1", "segsync", "SHOP", "CRM",
    )  # fmt: skip
    assert target.password == "p@ss"  # percent-decoded
    shown = "snowflake://segsync@xy12345.eu-west-1/SHOP/CRM?warehouse=REPORTING&role=ANALYST"
    assert target.display() == parse_store_url(SF).display() == shown
    assert parse_store_url(SF).dialect == "snowflake"
    arguments = target.connect_arguments()
    assert arguments["password"] == "p@ss"
    assert arguments["warehouse"] == "REPORTING" and arguments["role"] == "ANALYST"
    assert arguments["session_parameters"] == {"TIMEZONE": "UTC", "QUERY_TAG": "segsync"}
    assert "authenticator" not in arguments
    keyed = snowflake_target(
        "snowflake://svc@acct/DB/S?authenticator=SNOWFLAKE_JWT&private_key_file=/run/key.p8"
    ).connect_arguments()
    assert "password" not in keyed
    assert (keyed["authenticator"], keyed["private_key_file"]) == ("SNOWFLAKE_JWT", "/run/key.p8")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("snowflake://acct/DB/S", "use snowflake://USER@ACCOUNT/DATABASE/SCHEMA"),
        ("snowflake://me@acct/DB", "use snowflake://USER@ACCOUNT/DATABASE/SCHEMA"),
        ("snowflake://me@acct/DB/S/X", "use snowflake://USER@ACCOUNT/DATABASE/SCHEMA"),
        ("snowflake://me@acct:443/DB/S", "is not a Snowflake account"),
        ("snowflake://me:pw@acct/DB/S?password=secret", "unknown parameter password"),
        ("snowflake://me:pw@acct/DB/S?warehouse=", "parameter warehouse is empty"),
    ],
)
def test_bad_snowflake_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(url)
    assert message in str(info.value)
    assert "secret" not in str(info.value) and ":pw@" not in str(info.value)


@pytest.fixture
def no_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import google.cloud.bigquery`` / ``snowflake.connector`` fail, as without the
    extras (whether or not this environment has them)."""
    real = builtins.__import__
    blocked = ("google.cloud.bigquery", "snowflake")

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if any(name == b or name.startswith(f"{b}.") for b in blocked):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real(name, *args, **kwargs)

    for module in [m for m in sys.modules if any(m.startswith(b) for b in blocked)]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.usefixtures("no_sdks")
@pytest.mark.parametrize(("url", "extra"), [(BQ, "bigquery"), (SF, "snowflake")])
def test_without_the_extra_the_message_names_it(url: str, extra: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_store(url)
    assert f"pip install 'segsync[{extra}]'" in str(info.value)
    assert info.value.issues[0].location.file == "SEGSYNC_SOURCE_URL"


@pytest.mark.parametrize("url", [BQ, SF])
def test_load_points_to_the_warehouse_loader(url: str, tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    data.write_text("profile_id,email\n1,a@example.com\n")
    with pytest.raises(ConfigError) as info:
        load_file(url, StoreLayout(), Target.PROFILES, data)
    assert "segsync load writes DuckDB, PostgreSQL and Spark stores, not " in str(info.value)
    assert "with its own loader" in str(info.value)
    assert "p%40ss" not in str(info.value) and "p@ss" not in str(info.value)


def test_bigquery_reads_columns_from_the_datasets_information_schema() -> None:
    target = bigquery_target(BQ)
    assert render(bigquery_columns(target, "profiles"), "bigquery") == (
        "SELECT column_name, data_type FROM `crm`.INFORMATION_SCHEMA.COLUMNS "
        "WHERE table_name = 'profiles' ORDER BY ordinal_position"
    )
    other = render(bigquery_columns(target, "raw.events"), "bigquery")
    assert "FROM `raw`.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'events'" in other
    sqlglot.parse_one(other, read="bigquery")


def test_snowflake_reads_columns_under_their_stored_names() -> None:
    assert render(snowflake_columns("profiles"), "snowflake") == (
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'PROFILES' AND table_schema = CURRENT_SCHEMA() "
        "ORDER BY ordinal_position NULLS FIRST"
    )
    other = render(snowflake_columns("raw.EventLog"), "snowflake")
    assert "table_name = 'EventLog' AND table_schema = 'RAW'" in other  # quoted name: as is
    assert [stored_name(n) for n in ("profile_id", "signupAt", "order")] == [
        "PROFILE_ID", "signupAt", "order",
    ]  # fmt: skip


def test_snowflake_result_columns_get_segsyncs_names_back() -> None:
    query = exp.select(
        exp.column("profile_id", quoted=True),
        exp.column("x", quoted=True).as_("attr:region", quoted=True),
        exp.column("y", quoted=True).as_("__m0", quoted=True),
    ).from_("t")
    returned = ["PROFILE_ID", "attr:region", "__M0"]
    assert our_names(query, returned) == ["profile_id", "attr:region", "__m0"]


@pytest.fixture(scope="module")
def discovery_queries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[exp.Expr]]:
    """The queries ``discover`` and the consent check send (recorded on DuckDB)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=datetime(2026, 11, 23), profiles=50))
    seen: list[exp.Expr] = []
    with open_store(f"duckdb:///{path}") as store:
        original = store.rows

        def record(query: exp.Expr) -> list[tuple[Any, ...]]:
            seen.append(query.copy())
            return original(query)

        store.rows = record  # type: ignore[method-assign]
        # as a store without rollups describes itself (the warehouses keep none)
        store.event_stats = partial(Store.event_stats, store)  # type: ignore[method-assign]
        store.discover()
        store.emails_without_shared_consent()
    yield seen[2:]  # the first two read DuckDB's information_schema (each store has its own)


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake"])
def test_discovery_sql_is_valid_in_the_warehouse(
    discovery_queries: list[exp.Expr], dialect: str
) -> None:
    texts = [render(query, dialect) for query in discovery_queries]
    for text in texts:
        sqlglot.parse_one(text, read=dialect)
    stats, count, consent = texts
    if dialect == "bigquery":
        assert "FROM `events` GROUP BY LOWER(TRIM(`event`))" in stats
        assert "LOGICAL_OR(" in consent and "LOGICAL_AND(" in consent
    else:
        assert "FROM events GROUP BY LOWER(TRIM(event))" in stats
        assert "BOOLOR_AGG(" in consent and "BOOLAND_AGG(" in consent
    assert "COUNT(*)" in count


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [
        ("INT64", ColumnType.NUMBER),
        ("FLOAT64", ColumnType.NUMBER),
        ("NUMERIC", ColumnType.NUMBER),
        ("BIGNUMERIC", ColumnType.NUMBER),
        ("NUMBER", ColumnType.NUMBER),
        ("STRING", ColumnType.TEXT),
        ("TEXT", ColumnType.TEXT),
        ("BOOL", ColumnType.BOOLEAN),
        ("TIMESTAMP", ColumnType.TIMESTAMP),
        ("TIMESTAMP_NTZ", ColumnType.TIMESTAMP),
        ("TIMESTAMP_TZ", ColumnType.TIMESTAMP),
        ("DATE", ColumnType.DATE),
        ("BIGQUERY DATETIME", ColumnType.OTHER),  # a BigQuery DATETIME attribute
    ],
)
def test_warehouse_types(spelling: str, kind: ColumnType) -> None:
    assert column_type(spelling) is kind


def test_values_come_back_like_the_other_stores() -> None:
    aware = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert plain_value(aware) == datetime(2026, 11, 23, 8, 30)
    assert plain_value(datetime(2026, 1, 1, tzinfo=UTC)).tzinfo is None
    assert plain_value(Decimal("3")) == 3 and isinstance(plain_value(Decimal("3")), int)
    assert plain_value(Decimal("2.5")) == 2.5
    arrays = as_arrays(["ok", "maybe", "n"], [(True, None, Decimal("1.5")), (False, True, 2)])
    assert arrays["ok"].dtype == np.bool_ and arrays["ok"].tolist() == [True, False]
    assert arrays["maybe"].dtype == object and arrays["maybe"].tolist() == [None, True]
    assert arrays["n"].tolist() == [1.5, 2]


def test_with_the_sdk_a_missing_login_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only where the bigquery extra is installed (not in CI): no credentials anywhere."""
    pytest.importorskip("google.cloud.bigquery", reason="the bigquery extra is not installed")
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default login
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server either
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    with pytest.raises(DependencyError) as info:
        open_store(BQ)
    assert "cannot open the customer store bigquery://acme-analytics/crm" in str(info.value)
