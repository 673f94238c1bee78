"""The rules' booleans read back from the packed BIGINT columns of a run (``packed`` in
SQL, ``engine._unpacked`` in numpy), over more rules than one column holds."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from connector.evaluate.engine import _unpacked
from connector.evaluate.packing import BITS


def _packed_as_sql(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """What ``packed`` computes per row: rule ``i`` is bit ``i % 62`` of ``__m<i // 62>``."""
    rows, rules = matrix.shape
    columns: dict[str, np.ndarray] = {}
    for start in range(0, rules, BITS):
        total = [0] * rows
        for bit in range(min(BITS, rules - start)):
            for row in range(rows):
                total[row] += int(matrix[row, start + bit]) << bit
        columns[f"__m{start // BITS}"] = np.array(total, dtype=np.int64)
    return columns


@given(
    shape=st.tuples(st.integers(0, 20), st.integers(1, 3 * BITS + 5)),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_rule_read_back(shape: tuple[int, int], seed: int) -> None:
    matrix = np.random.default_rng(seed).random(shape) < 0.5
    masks = _unpacked(_packed_as_sql(matrix), shape[1], shape[0])
    assert len(masks) == shape[1]
    for rule, mask in enumerate(masks):
        assert mask.dtype == np.bool_
        assert not mask.flags.writeable
        assert mask.tolist() == matrix[:, rule].tolist()


def test_top_bit_of_a_full_column() -> None:
    """Bit 61 (the last of a column) and a column holding every bit set."""
    full = (1 << BITS) - 1
    data = {"__m0": np.array([full, 1 << (BITS - 1), 0], dtype=np.int64)}
    masks = _unpacked(data, BITS, 3)
    assert [m.tolist() for m in masks[:-1]] == [[True, False, False]] * (BITS - 1)
    assert masks[-1].tolist() == [True, True, False]


def test_no_rules_no_columns() -> None:
    assert _unpacked({}, 0, 0) == []
