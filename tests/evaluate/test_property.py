"""The evaluator equals the oracle on random stores x random rules x random ``as_of``.

For every profile: ``qualified`` (the rule), ``members`` (after exclusive groups), ``held_out``
and the normalised email. A failure prints the rule YAML and the disagreeing profiles' rows.
What is generated is described in ``strategies.py``.

Run longer with ``SEGSYNC_PROPERTY_PROFILE=evaluate-thorough`` (a few thousand examples).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from connector.source import Store
from tests.evaluate.harness import compare, load_duckdb, load_postgres, load_spark
from tests.evaluate.strategies import Example, examples

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("evaluate", max_examples=120, deadline=None, suppress_health_check=_QUIET)
settings.register_profile(
    "evaluate-thorough", max_examples=3000, deadline=None, suppress_health_check=_QUIET
)
PROFILE = settings.get_profile(os.environ.get("SEGSYNC_PROPERTY_PROFILE", "evaluate"))


def check(db: Store, example: Example, names: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as root:
        _, _, report = compare(
            db,
            example.store,
            Path(root),
            example.segments,
            example.metrics,
            example.as_of,
            names,
            example.previous,
        )
    if report:
        pytest.fail(f"{db.dialect} and oracle disagree\n" + "\n".join(report), pytrace=False)


@pytest.mark.slow
@settings(PROFILE)
@given(example=examples())
def test_evaluator_equals_oracle(duckdb_db: Store, example: Example) -> None:
    check(load_duckdb(example.store, duckdb_db), example)


@pytest.mark.slow
@settings(PROFILE, max_examples=PROFILE.max_examples // 2)
@given(example=examples(max_segments=2, depth=0))
def test_single_conditions_equal_oracle(duckdb_db: Store, example: Example) -> None:
    """Leaves alone: a wrong operator is not hidden by the logic around it."""
    check(load_duckdb(example.store, duckdb_db), example)


@pytest.mark.slow
@settings(PROFILE, max_examples=PROFILE.max_examples // 4)
@given(example=examples())
def test_some_segments_equal_oracle(duckdb_db: Store, example: Example) -> None:
    """Evaluating only the last segment (its in_segment targets and group siblings are pulled
    in) changes nobody's answer: percentiles still rank the whole store."""
    check(load_duckdb(example.store, duckdb_db), example, names=[list(example.segments)[-1]])


@pytest.mark.slow
@pytest.mark.postgres
@settings(PROFILE, max_examples=max(10, PROFILE.max_examples // 5))
@given(example=examples(max_segments=3, depth=1))
def test_postgres_equals_oracle(pg_db: Store, example: Example) -> None:
    """The same SQL, transpiled for PostgreSQL, gives the same answers."""
    check(load_postgres(pg_db, example.store), example)


@pytest.mark.slow
@pytest.mark.spark
@settings(PROFILE, max_examples=max(6, PROFILE.max_examples // 20))
@given(example=examples(max_segments=3, depth=1))
def test_spark_equals_oracle(spark_db: Store, example: Example) -> None:
    """The same SQL in the spark dialect, run by Spark SQL in local mode (fewer examples:
    each query costs Spark a second or more of planning and scheduling)."""
    check(load_spark(spark_db, example.store), example)
