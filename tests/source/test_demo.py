"""The demo store: deterministic, shaped like a retail store, and every demo segment (except
the ESP-only one) validates and has a sensible size."""

from __future__ import annotations

import filecmp
import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import load_definitions
from connector.errors import ConfigError
from connector.esp.registry import destination_models
from connector.evaluate.engine import evaluate, has_esp_conditions
from connector.source import open_store
from connector.source.demo import (
    DemoSpec,
    build_demo_store,
    default_as_of,
    demo_config_files,
    generate,
    write_demo_config,
)

REPO = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 23, 8)
SMALL = 2000


def dump_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of both tables, fully ordered."""
    digest = hashlib.sha256()
    for table in ("profiles", "events"):
        for row in con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def generated(spec: DemoSpec) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    generate(con, spec)
    return con


@pytest.fixture(scope="module")
def small() -> duckdb.DuckDBPyConnection:
    return generated(DemoSpec(as_of=AS_OF, profiles=SMALL))


def test_same_seed_and_as_of_give_identical_tables(small: duckdb.DuckDBPyConnection) -> None:
    again = generated(DemoSpec(as_of=AS_OF, profiles=SMALL))
    assert dump_digest(again) == dump_digest(small)
    other = generated(DemoSpec(as_of=AS_OF, profiles=SMALL, seed=8))
    assert dump_digest(other) != dump_digest(small)


def test_a_later_as_of_shifts_every_timestamp(small: duckdb.DuckDBPyConnection) -> None:
    later = generated(DemoSpec(as_of=AS_OF + timedelta(hours=5), profiles=SMALL))
    query = "SELECT ts FROM events ORDER BY profile_id, ts, event"
    before = [row[0] for row in small.execute(query).fetchall()]
    after = [row[0] for row in later.execute(query).fetchall()]
    assert after == [ts + timedelta(hours=5) for ts in before]


def test_schema_and_shape(small: duckdb.DuckDBPyConnection) -> None:
    columns = dict(small.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                 "WHERE table_name = 'profiles'").fetchall())  # fmt: skip
    assert columns == {
        "profile_id": "VARCHAR",
        "email": "VARCHAR",
        "email_consent": "BOOLEAN",
        "first_name": "VARCHAR",
        "gender": "VARCHAR",
        "age": "INTEGER",
        "region": "VARCHAR",
        "city": "VARCHAR",
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
        "home_airport": "VARCHAR",
        "lifecycle_stage": "VARCHAR",
        "signup_at": "TIMESTAMP",
        "interests": "VARCHAR",
        "predicted_clv": "DOUBLE",
    }
    ids = small.execute("SELECT min(profile_id), max(profile_id), count(DISTINCT profile_id), "
                        "count(*) FROM profiles").fetchone()  # fmt: skip
    assert ids == ("c000001", "c002000", SMALL, SMALL)
    first, last, names = small.execute(
        "SELECT min(ts), max(ts), list(DISTINCT event ORDER BY event) FROM events"
    ).fetchone() or (None, None, None)
    assert AS_OF - timedelta(days=401) < first and last <= AS_OF
    assert names == [
        "added_to_cart",
        "email_open",
        "flight_booked",
        "order_completed",
        "page_view",
        "product_view",
    ]
    per_profile = small.execute("SELECT count(*) / 2000 FROM events").fetchone()
    assert per_profile is not None and 10 < per_profile[0] < 18
    orphans = small.execute(
        "SELECT count(*) FROM events WHERE profile_id NOT IN (SELECT profile_id FROM profiles)"
    ).fetchone()
    assert orphans == (0,)


def test_emails_are_realistically_messy(small: duckdb.DuckDBPyConnection) -> None:
    missing, invalid, messy, shared, consent = (
        small.execute(
            """
        SELECT count(*) FILTER (WHERE email IS NULL),
               count(*) FILTER (WHERE NOT regexp_full_match(trim(email), '[^@ ]+@[^@ ]+\\.[^@ ]+')),
               count(*) FILTER (WHERE email <> lower(trim(email))),
               (SELECT count(*) FROM (SELECT lower(trim(email)) FROM profiles
                                      WHERE email IS NOT NULL GROUP BY 1 HAVING count(*) > 1)),
               avg(email_consent::INTEGER)
        FROM profiles
        """
        ).fetchone()
        or ()
    )
    assert 0.01 * SMALL < missing < 0.05 * SMALL
    assert 0.005 * SMALL < invalid < 0.05 * SMALL
    assert 0.01 * SMALL < messy < 0.08 * SMALL
    assert 2 <= shared < 0.03 * SMALL
    assert 0.6 < consent < 0.8


def test_default_as_of_is_floored_to_the_hour() -> None:
    assert default_as_of(datetime(2026, 5, 1, 12, 34, 56, 789)) == datetime(2026, 5, 1, 12)


def test_the_repo_config_is_the_packaged_demo_config() -> None:
    packaged = demo_config_files()
    assert "segments/vip-electronics-ca.yaml" in packaged and "metrics.yaml" in packaged
    repo_files = {
        str(p.relative_to(REPO / "config")): p.read_text(encoding="utf-8")
        for p in (REPO / "config").rglob("*.yaml")
    }
    assert repo_files == packaged
    # config/schemas/ is generated by `segsync demo` (what the modelines point at)
    comparison = filecmp.dircmp(
        REPO / "config", REPO / "connector" / "demo_config", ignore=["schemas"]
    )
    assert not comparison.diff_files and not comparison.left_only


def test_write_demo_config_never_overwrites(tmp_path: Path) -> None:
    mine = tmp_path / "segments" / "expats.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("name: expats\nrule: {attribute: region, op: eq, value: CA}\n")
    result = write_demo_config(tmp_path)
    assert result.kept == [mine]
    assert mine.read_text().startswith("name: expats\nrule: {attribute: region")
    assert len(result.written) == len(demo_config_files()) - 1
    assert write_demo_config(tmp_path).written == []


# -- the demo segments ------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "customers.duckdb"
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF))
    return path


def test_every_demo_segment_is_at_least_its_min_size(default_store: Path) -> None:
    defs = load_definitions(REPO / "config", destination_models())
    local = [n for n, s in defs.segments.items() if not has_esp_conditions(s.rule)]
    assert [n for n in defs.segments if n not in local] == ["engaged-no-order-90d"]
    with open_store(f"duckdb:///{default_store}") as store:
        raise_for_schema(defs, store.discover())
        result = evaluate(store, defs, as_of=AS_OF)
    for name in local:
        pushed = int(result.pushed(name).sum())
        assert pushed >= max(defs.segments[name].min_size, 10), (name, pushed)
        assert result.size(name) < 0.3 * 25_000, name
    assert result.held_out["vip-electronics-ca"].any()
    # the exclusive group takes the electronics VIPs out of the frequency segment
    both = result.qualified["vip-electronics-ca"] & result.qualified["top-frequency-10"]
    assert both.any() and not (both & result.members["top-frequency-10"]).any()


def test_demo_segments_are_non_empty_at_a_small_scale(tmp_path: Path) -> None:
    path = tmp_path / "small.duckdb"
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=SMALL))
    defs = load_definitions(REPO / "config", destination_models())
    with open_store(f"duckdb:///{path}") as store:
        result = evaluate(store, defs, as_of=AS_OF)
    assert {name: result.size(name) > 0 for name in result.segments} == dict.fromkeys(
        result.segments, True
    )


# -- the store file ---------------------------------------------------------------------
def test_rebuilding_replaces_an_earlier_demo(tmp_path: Path) -> None:
    path = tmp_path / "data" / "customers.duckdb"
    first = build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=300))
    second = build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=200))
    assert (first.profiles, second.profiles) == (300, 200)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM profiles").fetchone() == (200,)
    con.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["customers.duckdb"]


def test_a_store_with_other_data_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "customers.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE profiles AS SELECT 'mine' AS profile_id")
    con.close()
    with pytest.raises(ConfigError) as info:
        build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=100))
    assert "holds data that segsync demo did not create (profiles)" in str(info.value)
    assert "--force" in str(info.value)
    build_demo_store(f"duckdb:///{path}", DemoSpec(as_of=AS_OF, profiles=100), force=True)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM profiles").fetchone() == (100,)
    con.close()


def test_the_demo_needs_a_duckdb_file() -> None:
    with pytest.raises(ConfigError, match="segsync demo builds a DuckDB file"):
        build_demo_store("postgresql://me@localhost/shop", DemoSpec(as_of=AS_OF))
