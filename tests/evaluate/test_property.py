"""The evaluator equals the oracle on random stores x random rules x random ``as_of``.

For every profile: ``qualified`` (the rule), ``members`` (after exclusive groups), ``held_out``
and the normalised email. A failure prints the rule YAML and the disagreeing profiles' rows.
What is generated is described in ``strategies.py``.

Run longer with ``SEGSYNC_PROPERTY_PROFILE=evaluate-thorough`` (a few thousand examples).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from connector.source import Store, open_store
from tests.evaluate.harness import compare, load_duckdb
from tests.evaluate.strategies import Example, examples

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("evaluate", max_examples=120, deadline=None, suppress_health_check=_QUIET)
settings.register_profile(
    "evaluate-thorough", max_examples=3000, deadline=None, suppress_health_check=_QUIET
)
PROFILE = settings.get_profile(os.environ.get("SEGSYNC_PROPERTY_PROFILE", "evaluate"))


@pytest.fixture(scope="module")
def duckdb_store() -> Iterator[Store]:
    """One in-memory DuckDB for the module; each example replaces its tables."""
    db = open_store("duckdb:///:memory:", read_only=False)
    yield db
    db.close()


def check(db: Store, example: Example) -> None:
    load_duckdb(example.store, db)
    with tempfile.TemporaryDirectory() as root:
        _, _, report = compare(
            db, example.store, Path(root), example.segments, example.metrics, example.as_of
        )
    if report:
        pytest.fail("evaluator and oracle disagree\n" + "\n".join(report), pytrace=False)


@settings(PROFILE)
@given(example=examples())
def test_evaluator_equals_oracle(duckdb_store: Store, example: Example) -> None:
    check(duckdb_store, example)


@settings(PROFILE, max_examples=PROFILE.max_examples // 2)
@given(example=examples(max_segments=2, depth=0))
def test_single_conditions_equal_oracle(duckdb_store: Store, example: Example) -> None:
    """Leaves alone: a wrong operator is not hidden by the logic around it."""
    check(duckdb_store, example)
