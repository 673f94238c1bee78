"""``held_out_mask`` (the run's holdouts, hashed in one pass) against ``is_held_out`` (the
rule of docs/design.md, one profile at a time) and the oracle."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from connector.evaluate.identity import held_out_mask, is_held_out
from tests.evaluate.oracle import held_out as oracle_held_out

#: 0 to 50 % in hundredths, as definitions hold them (floats such as 0.07 and 1.1, whose
#: products with 100 are not whole in floating point), whole numbers, and any float there
#: (``holdout * 100`` between two buckets)
HOLDOUTS = st.one_of(
    st.integers(0, 5000).map(lambda h: float(Decimal(h) / 100)),
    st.integers(0, 50),
    st.sampled_from([0.07, 1.1, 49.7, 49.71, 18.06, 0.01, 0.075, 12.345]),
    st.floats(0, 50),
)
TEXT_IDS = st.lists(st.text(max_size=12), max_size=60)
NUMBER_IDS = st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60)


def _expected(segment: str, ids: np.ndarray, rows: np.ndarray, holdout: float) -> list[bool]:
    return [bool(r) and is_held_out(segment, i, holdout) for i, r in zip(ids, rows, strict=True)]


@given(
    segment=st.text(max_size=20),
    ids=st.one_of(TEXT_IDS, NUMBER_IDS),
    holdout=HOLDOUTS,
    data=st.data(),
)
def test_mask_is_each_profiles_holdout(
    segment: str, ids: list[object], holdout: float, data: st.DataObject
) -> None:
    profile_ids = np.array(ids, dtype=object)
    rows = np.array(data.draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))))
    rows = rows.astype(bool).reshape(len(ids))
    mask = held_out_mask(segment, profile_ids, rows, holdout)
    assert mask.dtype == np.bool_
    assert mask.tolist() == _expected(segment, profile_ids, rows, holdout)


@given(ids=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=60), holdout=HOLDOUTS)
def test_numeric_ids_as_the_store_returns_them(ids: list[int], holdout: float) -> None:
    """An int64 array (numbers come back from the store so) hashes the ids' digits."""
    profile_ids = np.array(ids, dtype=np.int64)
    rows = np.ones(len(ids), dtype=bool)
    mask = held_out_mask("promo", profile_ids, rows, holdout)
    assert mask.tolist() == _expected("promo", profile_ids, rows, holdout)
    assert mask.tolist() == [oracle_held_out("promo", i, holdout) for i in ids]


def test_many_profiles_at_bucket_edges() -> None:
    """Ten thousand ids: every bucket near a holdout's edge is reached, and only the
    selected rows are held out."""
    profile_ids = np.array([f"p{i:05d}" for i in range(10000)], dtype=object)
    rows = np.arange(10000) % 3 != 0
    for holdout in (0.07, 0.075, 1.1, 10, 12.345, 49.71, 50):
        mask = held_out_mask("promo", profile_ids, rows, holdout)
        assert mask.tolist() == _expected("promo", profile_ids, rows, holdout)
        assert not mask[~rows].any()
    assert not held_out_mask("promo", profile_ids, rows, 0).any()
    assert not held_out_mask("promo", profile_ids, np.zeros(10000, dtype=bool), 50).any()
