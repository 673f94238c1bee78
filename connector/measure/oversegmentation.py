"""Over-segmentation for ``segsync audit``: segments too small to measure, pairs of
segments that overlap above a threshold, and profiles in no segment.

"Too small" is the report's flag (docs/design.md) applied to today's cohort: the MDE of its
members/held-out split at the conversion rates of the window just before ``as_of`` (the
whole store's rate when nobody in the segment converted then, e.g. a lapsed segment).
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.definitions.checks import check_kpis
from connector.definitions.loader import Definitions
from connector.evaluate.audit import Audit, Overlap
from connector.evaluate.engine import Evaluation
from connector.measure.cohort import cohorts_from_evaluation
from connector.measure.outcomes import scan_outcomes
from connector.measure.stats import mde, mde_at
from connector.source.store import Store

__all__ = ["OverSegmentation", "SizeCheck", "over_segmentation"]


@dataclass(frozen=True)
class SizeCheck:
    name: str
    members: int
    held_out: int
    mde: float | None
    too_small: bool


@dataclass(frozen=True)
class OverSegmentation:
    sizes: list[SizeCheck]
    overlapping: list[Overlap]
    in_no_segment: int
    max_overlap: float
    max_mde: float
    #: why the MDE could not be computed (the kpis do not fit the store), else None
    problem: str | None = None

    @property
    def too_small(self) -> list[SizeCheck]:
        return [s for s in self.sizes if s.too_small]


def over_segmentation(
    store: Store, defs: Definitions, result: Evaluation, audit: Audit, max_overlap: float
) -> OverSegmentation:
    kpis = defs.kpis
    overlapping = [o for o in audit.overlaps if o.jaccard > max_overlap]
    uncovered = audit.profiles_total - audit.profiles_covered
    issues = check_kpis(defs, store.discover())
    if issues:
        problem = "; ".join(str(i) for i in issues)
        return OverSegmentation([], overlapping, uncovered, max_overlap, kpis.max_mde, problem)
    outcomes = scan_outcomes(store, kpis, result.as_of - kpis.window.delta)
    total = audit.profiles_total
    base = len(outcomes.profile_ids) / total if total else 0.0
    sizes = []
    for name, cohort in cohorts_from_evaluation(result, sorted(result.members)).items():
        c1, _ = outcomes.lookup(cohort.treated)
        c0, _ = outcomes.lookup(cohort.control)
        x1, x0 = int((c1 >= 1).sum()), int((c0 >= 1).sum())
        effect = mde(x1, len(c1), x0, len(c0)) or mde_at(base, len(c1), len(c0))
        small = not len(c0) or effect is None or effect > kpis.max_mde
        sizes.append(SizeCheck(name, len(c1), len(c0), effect, small))
    return OverSegmentation(sizes, overlapping, uncovered, max_overlap, kpis.max_mde)
