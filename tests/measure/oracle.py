"""An independent plain-Python computation of ``segsync report`` (docs/design.md): cohorts
by hand, outcomes by looping over the events, formulas written out (Wilson / Newcombe,
pooled z, Welch), the normal quantiles from the standard library."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any

from scipy.stats import t as student_t

Z = NormalDist().inv_cdf(0.975)
Z_POWER = NormalDist().inv_cdf(0.8)


def held_out(segment: str, profile_id: str, holdout: int) -> bool:
    digest = hashlib.sha256(f"{segment}:{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10000 < holdout * 100


def _wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def _rate_lift(x1: int, n1: int, x0: int, n0: int) -> dict[str, Any]:
    if not n1 or not n0:
        return {"abs": None, "rel": None, "ci": None, "p": None}
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = _wilson(x1, n1)
    l0, u0 = _wilson(x0, n0)
    d = p1 - p0
    ci = [d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
          d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)]  # fmt: skip
    pooled = (x1 + x0) / (n1 + n0)
    p = None
    if 0 < pooled < 1:
        z = d / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        p = math.erfc(abs(z) / math.sqrt(2))
    return {"abs": d, "rel": p1 / p0 - 1 if p0 else None, "ci": ci, "p": p}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _var(values: Sequence[float]) -> float:
    m = _mean(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def _mean_lift(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    if not a or not b:
        return {"abs": None, "rel": None, "ci": None, "p": None}
    d = _mean(a) - _mean(b)
    out: dict[str, Any] = {"abs": d, "rel": _mean(a) / _mean(b) - 1 if _mean(b) else None,
                           "ci": None, "p": None}  # fmt: skip
    if len(a) < 2 or len(b) < 2:
        return out
    va, vb = _var(a) / len(a), _var(b) / len(b)
    if va + vb == 0:
        return out
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    q = student_t.ppf(0.975, df)
    out["ci"] = [d - q * se, d + q * se]
    out["p"] = 2 * student_t.sf(abs(d / se), df)
    return out


def _group(c: list[int], r: list[float]) -> dict[str, Any]:
    n = len(c)
    return {
        "n": n,
        "conversion_rate": sum(1 for x in c if x >= 1) / n if n else None,
        "repeat_rate": sum(1 for x in c if x >= 2) / n if n else None,
        "revenue_per_profile": sum(r) / n if n else None,
        "aov": sum(r) / sum(c) if sum(c) else None,
    }


def report(
    profiles: list[dict[str, Any]],
    events: list[dict[str, Any]],
    segments: dict[str, tuple[Callable[[dict[str, Any]], bool], int]],
    as_of: datetime,
    window: timedelta,
    max_mde: float = 0.05,
) -> list[dict[str, Any]]:
    """``segments``: name → (who qualifies, holdout percent)."""
    c: dict[str, int] = {}
    r: dict[str, float] = {}
    for e in events:
        if e["event"].strip().lower() != "order_completed":
            continue
        if not as_of < e["ts"] <= as_of + window:
            continue
        c[e["profile_id"]] = c.get(e["profile_id"], 0) + 1
        r[e["profile_id"]] = r.get(e["profile_id"], 0.0) + (e["amount"] or 0.0)
    rows = []
    for name, (rule, holdout) in sorted(segments.items()):
        cohort = [p["profile_id"] for p in profiles if rule(p)]
        control = [p for p in cohort if held_out(name, p, holdout)]
        treated = [p for p in cohort if not held_out(name, p, holdout)]
        c1, r1 = [c.get(p, 0) for p in treated], [r.get(p, 0.0) for p in treated]
        c0, r0 = [c.get(p, 0) for p in control], [r.get(p, 0.0) for p in control]
        x1, x0 = sum(1 for x in c1 if x), sum(1 for x in c0 if x)
        y1, y0 = sum(1 for x in c1 if x >= 2), sum(1 for x in c0 if x >= 2)
        n1, n0 = len(c1), len(c0)
        effect = None
        if n1 and n0:
            p = x0 / n0
            if p in (0, 1):
                p = (x1 + x0) / (n1 + n0)
            if p not in (0, 1):
                effect = (Z + Z_POWER) * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
        rows.append({
            "name": name,
            "members": _group(c1, r1),
            "held_out": _group(c0, r0),
            "lift": {
                "conversion_rate": _rate_lift(x1, n1, x0, n0),
                "repeat_rate": _rate_lift(y1, n1, y0, n0),
                "revenue_per_profile": _mean_lift(r1, r0),
            },
            "mde": effect,
            "too_small": n0 == 0 or effect is None or effect > max_mde,
        })  # fmt: skip
    return rows
