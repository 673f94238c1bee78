"""Audit numbers for all segments of one evaluation: sizes, overlaps, coverage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from connector.evaluate.engine import Evaluation

__all__ = ["Audit", "Overlap", "SegmentStats", "audit"]


@dataclass(frozen=True)
class SegmentStats:
    name: str
    qualified: int
    members: int
    held_out: int
    to_push: int
    no_valid_email: int
    contacts: int  # distinct valid emails among members to push
    without_consent: int  # of those contacts, how many have no consent (not creatable)
    min_size: int
    below_min_size: bool


@dataclass(frozen=True)
class Overlap:
    first: str
    second: str
    shared: int
    jaccard: float


@dataclass(frozen=True)
class Audit:
    segments: list[SegmentStats]
    overlaps: list[Overlap]
    profiles_total: int
    profiles_covered: int


def _stats(result: Evaluation, name: str, emails: np.ndarray) -> SegmentStats:
    members = result.members[name]
    pushed = result.pushed(name)
    rows = np.flatnonzero(members)
    contact_consent: dict[str, bool] = {}
    for row in np.flatnonzero(pushed):
        email = emails[row]
        if email is not None:
            contact_consent[email] = contact_consent.get(email, False) or bool(result.consent[row])
    segment = result.segments[name]
    return SegmentStats(
        name=name,
        qualified=int(result.qualified[name].sum()),
        members=len(rows),
        held_out=int(result.held_out[name].sum()),
        to_push=int(pushed.sum()),
        no_valid_email=sum(1 for r in rows if emails[r] is None),
        contacts=len(contact_consent),
        without_consent=sum(1 for ok in contact_consent.values() if not ok),
        min_size=segment.min_size,
        below_min_size=result.below_min_size(name),
    )


def audit(result: Evaluation, profiles_total: int, emails: np.ndarray | None = None) -> Audit:
    """Sizes per segment, pairwise overlaps (most similar first) and coverage."""
    names = sorted(result.members)
    # ``emails``: the address pushed per row (None where none would be); default the
    # evaluator's normalised ones
    stats = [_stats(result, n, result.emails if emails is None else emails) for n in names]
    overlaps: list[Overlap] = []
    if names:
        matrix = np.column_stack([result.members[n] for n in names]).astype(np.int64)
        shared = matrix.T @ matrix
        sizes = np.diag(shared)
        for i, first in enumerate(names):
            for j in range(i + 1, len(names)):
                both = int(shared[i, j])
                if both:
                    union = int(sizes[i] + sizes[j] - both)
                    overlaps.append(Overlap(first, names[j], both, both / union))
        covered = int(matrix.any(axis=1).sum())
    else:
        covered = 0
    overlaps.sort(key=lambda o: (-o.jaccard, o.first, o.second))
    return Audit(stats, overlaps, profiles_total, covered)
