"""An evaluation's rows come in profile-id order: numeric ids are sorted after the fetch
(not by the store), text ids by the store."""

from __future__ import annotations

import random
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from connector.evaluate.engine import _by_profile_id, evaluate
from connector.source import open_store
from tests.evaluate.harness import write_config

AS_OF = datetime(2026, 11, 23)
SEGMENTS = {
    "adults": {"name": "adults", "rule": {"attribute": "age", "op": "gte", "value": 18}},
    "seniors": {"name": "seniors", "rule": {"attribute": "age", "op": "gte", "value": 65}},
}


@pytest.mark.parametrize("id_type", ["BIGINT", "DOUBLE", "VARCHAR"])
def test_rows_come_in_profile_id_order(id_type: str) -> None:
    ids = list(range(1, 400))
    random.Random(7).shuffle(ids)
    rows = ", ".join(f"({i}, 'p{i}@example.com', {i % 90})" for i in ids)
    with (
        tempfile.TemporaryDirectory() as root,
        open_store("duckdb:///:memory:", read_only=False) as db,
    ):
        con = db.con  # type: ignore[attr-defined]
        con.execute(f"CREATE TABLE profiles (profile_id {id_type}, email VARCHAR, age INTEGER)")
        con.execute(f"INSERT INTO profiles VALUES {rows}")
        con.execute(f"CREATE TABLE events (profile_id {id_type}, event VARCHAR, ts TIMESTAMP)")
        result = evaluate(db, write_config(Path(root), SEGMENTS, {}), as_of=AS_OF)
    got = list(result.profile_ids)
    assert got == sorted(got)
    adults = {i for i in ids if i % 90 >= 18}
    expected = sorted(adults, key=str if id_type == "VARCHAR" else float)
    assert [str(v) for v in got] == [str(type(got[0])(v)) for v in expected]
    # every column moved with its row: each row's email and age-derived membership
    for pid, email, senior in zip(got, result.raw_emails, result.members["seniors"], strict=True):
        number = int(float(pid))
        assert email == f"p{number}@example.com"
        assert senior == (number % 90 >= 65)


def test_ids_the_store_gave_with_nulls_sort_last() -> None:
    data = {
        "profile_id": np.array([3, None, 1, 2], dtype=object),
        "email": np.array(["c", "n", "a", "b"], dtype=object),
    }
    ordered = _by_profile_id(data)
    assert list(ordered["profile_id"]) == [1, 2, 3, None]
    assert list(ordered["email"]) == ["a", "b", "c", "n"]
