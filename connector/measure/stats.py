"""The report's statistics: KPIs of one group, lifts with 95 % intervals and p-values, MDE.

Intervals and tests come from statsmodels and scipy, not hand-written formulas:
- rates: Newcombe's hybrid score interval for a difference of proportions
  (``confint_proportions_2indep(method="newcomb")``) and the two-sided two-proportion z-test
  with the pooled variance (``proportions_ztest``);
- revenue per profile: Welch's t-test and its interval (``scipy.stats.ttest_ind``).

A value that is undefined (no profiles, a zero denominator, no variance) is ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

__all__ = [
    "CONFIDENCE",
    "GroupKpis",
    "Lift",
    "group_kpis",
    "mde",
    "mde_at",
    "mean_lift",
    "proportion_lift",
]

CONFIDENCE = 0.95
POWER = 0.8


@dataclass(frozen=True)
class GroupKpis:
    """One group's counts; the four KPIs are derived from them."""

    n: int
    converted: int  # profiles with at least one conversion
    repeated: int  # profiles with at least two
    conversions: int  # Σc
    revenue: float  # Σr

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.n if self.n else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeated / self.n if self.n else None

    @property
    def revenue_per_profile(self) -> float | None:
        return self.revenue / self.n if self.n else None

    @property
    def aov(self) -> float | None:
        return self.revenue / self.conversions if self.conversions else None


@dataclass(frozen=True)
class Lift:
    """Members minus held out: absolute, relative, a 95 % interval of the absolute
    difference and a two-sided p-value."""

    abs: float | None = None
    rel: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None


def group_kpis(conversions: np.ndarray, revenue: np.ndarray) -> GroupKpis:
    """KPIs of a group from its per-profile conversions ``c`` and revenue ``r``."""
    return GroupKpis(
        n=len(conversions),
        converted=int(np.count_nonzero(conversions >= 1)),
        repeated=int(np.count_nonzero(conversions >= 2)),
        conversions=int(conversions.sum()),
        revenue=float(revenue.sum()),
    )


def _relative(treated: float, control: float) -> float | None:
    return treated / control - 1 if control else None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def proportion_lift(x1: int, n1: int, x0: int, n0: int) -> Lift:
    """Lift of a rate: ``x1/n1`` (members) against ``x0/n0`` (held out)."""
    if not n1 or not n0:
        return Lift()
    p1, p0 = x1 / n1, x0 / n0
    low, high = confint_proportions_2indep(
        x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1 - CONFIDENCE
    )
    pooled = (x1 + x0) / (n1 + n0)
    p: float | None = None
    if 0 < pooled < 1:  # otherwise both groups are all 0 (or all 1): z is 0/0
        _, pvalue = proportions_ztest([x1, x0], [n1, n0], value=0, alternative="two-sided")
        p = _finite(float(pvalue))
    return Lift(p1 - p0, _relative(p1, p0), (float(low), float(high)), p)


def mean_lift(treated: np.ndarray, control: np.ndarray) -> Lift:
    """Lift of a per-profile mean (revenue per profile): Welch's t interval and p-value."""
    if not len(treated) or not len(control):
        return Lift()
    m1, m0 = float(treated.mean()), float(control.mean())
    lift = Lift(m1 - m0, _relative(m1, m0))
    if len(treated) < 2 or len(control) < 2:
        return lift
    if float(treated.var(ddof=1)) + float(control.var(ddof=1)) == 0:
        return lift  # no variance: the t statistic is undefined
    result = sps.ttest_ind(treated, control, equal_var=False)
    interval = result.confidence_interval(CONFIDENCE)
    low, high = _finite(interval.low), _finite(interval.high)
    ci = (low, high) if low is not None and high is not None else None
    return Lift(lift.abs, lift.rel, ci, _finite(result.pvalue))


def mde(x1: int, n1: int, x0: int, n0: int) -> float | None:
    """Minimum detectable effect of the conversion rate at 95 % confidence and 80 % power:
    ``(z₀.₉₇₅ + z₀.₈) · √(p(1 − p)(1/n₁ + 1/n₀))`` with ``p`` the held-out rate (the pooled
    rate when that is 0 or 1). ``None`` when a group is empty or the pooled rate is 0 or 1
    too (nobody, or everybody, converted: there is no variance to measure against)."""
    if not n1 or not n0:
        return None
    p = x0 / n0
    if p in (0.0, 1.0):
        p = (x1 + x0) / (n1 + n0)
    return mde_at(p, n1, n0)


def mde_at(p: float, n1: int, n0: int) -> float | None:
    """The MDE of two groups of ``n1`` and ``n0`` at a baseline conversion rate ``p``."""
    if not n1 or not n0 or p <= 0.0 or p >= 1.0:
        return None
    z = float(sps.norm.ppf(1 - (1 - CONFIDENCE) / 2) + sps.norm.ppf(POWER))
    return z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
