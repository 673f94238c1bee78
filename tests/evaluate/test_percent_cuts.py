"""``band_threshold`` (a percent threshold read from a value range) against ``thresholds``
(the whole distribution), in DuckDB: whenever it says it is sure, it is the same value."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from connector.evaluate.percent_cuts import band_threshold, thresholds
from connector.evaluate.sql import col

VALUES = st.lists(st.one_of(st.none(), st.integers(0, 12).map(float)), max_size=40)
BOUND = st.one_of(st.none(), st.integers(-1, 13).map(float))
CON = duckdb.connect()
PERCENTS = st.sampled_from([1.0, 5.0, 10.0, 20.0, 25.0, 30.0, 50.0, 75.0, 100.0])


def _one_row(
    con: duckdb.DuckDBPyConnection, values: list[float | None], query: exp.Select
) -> tuple[object, ...]:
    con.execute("CREATE OR REPLACE TEMP TABLE __mv AS SELECT unnest(?::DOUBLE[]) AS v", [values])
    row = con.execute(query.sql(dialect="duckdb")).fetchone()
    assert row is not None
    return row


@settings(max_examples=200, deadline=None)
@given(VALUES, BOUND, BOUND, PERCENTS, st.booleans())
def test_a_sure_band_threshold_is_the_threshold(
    values: list[float | None],
    low: float | None,
    high: float | None,
    percent: float,
    descending: bool,
) -> None:
    con = CON
    whole = thresholds(col("v"), descending=descending, cuts=[(percent, "t")], source="__mv")
    (expected,) = _one_row(con, values, whole)
    banded = band_threshold(
        col("v"),
        descending=descending,
        percent=percent,
        band=(low, high),
        alias="t",
        source="__mv",
    )
    found, certain = _one_row(con, values, banded)
    if certain:
        assert found == expected
    inside = [
        v
        for v in values
        if v is not None and (low is None or v >= low) and (high is None or v <= high)
    ]
    after = low if descending else high
    if low is None and high is None:  # the band is everything
        assert certain
    elif expected is not None and expected in inside:
        # the threshold in the band with a value ranked after it there: found, and sure
        later = [v for v in inside if (v < expected if descending else v > expected)]
        if after is None or later:
            assert certain
