"""The report's statistics against published worked examples and textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from connector.measure.stats import group_kpis, mde, mean_lift, proportion_lift

# Newcombe (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17:873-890, Table II, method 10
# (hybrid score): (x1, n1, x0, n0) -> (lower, upper), to 4 decimals.
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_1998)
def test_rate_interval_is_newcombes_hybrid_score(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    lift = proportion_lift(*counts)
    assert lift.ci is not None
    assert lift.ci[0] == pytest.approx(expected[0], abs=5e-5)
    assert lift.ci[1] == pytest.approx(expected[1], abs=5e-5)
    x1, n1, x0, n0 = counts
    assert lift.abs == pytest.approx(x1 / n1 - x0 / n0)


def test_rate_p_value_is_the_pooled_two_proportion_z_test() -> None:
    # 56/70 vs 48/80: pooled p = 104/150, z = 0.2 / sqrt(p(1-p)(1/70 + 1/80)) = 2.6502
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert z == pytest.approx(2.6502, abs=1e-4)
    lift = proportion_lift(56, 70, 48, 80)
    assert lift.p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert lift.rel == pytest.approx(0.8 / 0.6 - 1)


def test_rate_edge_cases() -> None:
    nobody = proportion_lift(0, 50, 0, 20)
    assert nobody.abs == 0 and nobody.rel is None and nobody.p is None  # z is 0/0
    assert nobody.ci is not None and nobody.ci[0] < 0 < nobody.ci[1]
    empty = proportion_lift(3, 10, 0, 0)
    assert empty.abs is None and empty.ci is None and empty.p is None
    assert proportion_lift(3, 10, 0, 5).rel is None  # the control rate is 0


def test_revenue_is_welchs_t_test() -> None:
    # Welch's t-test, Wikipedia example 1: t = -2.46, df ≈ 25.0, p = 0.021
    a1 = np.array([27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6,
                   19.0, 21.7, 21.4])  # fmt: skip
    a2 = np.array([27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1,
                   22.9, 20.5, 24.4])  # fmt: skip
    lift = mean_lift(a1, a2)
    assert lift.p == pytest.approx(0.021, abs=5e-4)
    diff = a1.mean() - a2.mean()
    se = math.sqrt(a1.var(ddof=1) / 15 + a2.var(ddof=1) / 15)
    assert diff / se == pytest.approx(-2.46, abs=5e-3)
    assert lift.abs == pytest.approx(diff)
    assert lift.ci is not None
    # the interval is centred on the difference with half-width t(0.975, df≈24.99) * se
    assert (lift.ci[0] + lift.ci[1]) / 2 == pytest.approx(diff)
    assert (lift.ci[1] - lift.ci[0]) / 2 / se == pytest.approx(2.0596, abs=1e-3)


def test_revenue_edge_cases() -> None:
    assert mean_lift(np.zeros(3), np.zeros(0)).abs is None
    flat = mean_lift(np.zeros(5), np.zeros(4))  # no variance: no interval, no p-value
    assert flat.abs == 0 and flat.ci is None and flat.p is None
    single = mean_lift(np.array([5.0]), np.array([1.0, 2.0]))
    assert single.abs == pytest.approx(3.5) and single.ci is None


def test_mde_formula() -> None:
    # (z_0.975 + z_0.8) = 1.95996 + 0.84162 = 2.80159
    assert mde(0, 1000, 100, 1000) == pytest.approx(2.80159 * math.sqrt(0.09 * 0.002), rel=1e-5)
    # held-out rate 0: the pooled rate is used
    pooled = 30 / 1200
    expected = 2.80159 * math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 200))
    assert mde(30, 1000, 0, 200) == pytest.approx(expected, rel=1e-5)
    assert mde(0, 1000, 0, 200) is None  # nobody converted at all
    assert mde(5, 10, 0, 0) is None


def test_group_kpis() -> None:
    c = np.array([0, 1, 2, 3, 0])
    r = np.array([0.0, 10.0, 30.0, 0.0, 0.0])
    kpis = group_kpis(c, r)
    assert (kpis.conversion_rate, kpis.repeat_rate) == (0.6, 0.4)
    assert kpis.revenue_per_profile == 8.0 and kpis.aov == pytest.approx(40 / 6)
    none = group_kpis(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert none.conversion_rate is None and none.aov is None
    assert group_kpis(np.zeros(2, dtype=np.int64), np.zeros(2)).aov is None
