"""Percentile hysteresis (docs/design.md): entry at P %, exit beyond P + N %, at the edges.

Every case also checks the evaluator against the oracle, which models hysteresis on its own
(``both`` fixture): a profile of the segment's previous qualified set is tested against
P + N %, any other against P %.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.evaluate.conftest import Both
from tests.evaluate.test_membership import CLV, DISTINCT, TIE_AT_TOP, ids, scores

TOP10 = {"metric": "clv", "top_percent": 10, "hysteresis": 20}  # enter at 10 %, stay to 30 %
BOTTOM10 = {"metric": "clv", "bottom_percent": 10, "hysteresis": 20}


@pytest.mark.parametrize(
    ("rule", "previous", "expected"),
    [
        pytest.param(TOP10, None, ids(9), id="first-run-plain"),
        pytest.param(TOP10, [], ids(9), id="empty-previous-plain"),
        # t7 has share 3/10 = 30 %: exactly at P + N, it stays; t6 (40 %) leaves
        pytest.param(TOP10, ["t6", "t7", "t8", "t9"], ids(7, 8, 9), id="stay-at-edge-exit-beyond"),
        # t8 (20 %) was not a member: it does not enter before reaching 10 %
        pytest.param(TOP10, ["t9"], ids(9), id="non-member-enters-only-at-P"),
        pytest.param(TOP10, ["t7"], ids(7, 9), id="member-kept-non-member-above-out"),
        pytest.param(
            {**TOP10, "hysteresis": 19.9}, ["t7"], ids(9), id="just-beyond-P-plus-N-leaves"
        ),
        pytest.param({**TOP10, "hysteresis": 0}, ["t8"], ids(9), id="zero-is-plain"),
        pytest.param({**TOP10, "hysteresis": 95}, ["t0"], ids(0, 9), id="capped-at-100"),
        pytest.param(BOTTOM10, ["t1", "t2", "t3"], ids(0, 1, 2), id="bottom-mirrors"),
        pytest.param(BOTTOM10, ["t1"], ids(0, 1), id="bottom-non-member-out"),
    ],
)
def test_entry_and_exit_at_the_edges(
    both: Both, rule: dict[str, Any], previous: list[str] | None, expected: set[str]
) -> None:
    assert both.qualifying(rule, DISTINCT, metrics=CLV, previous=previous) == expected


def test_ties_at_the_wider_cut_off_all_leave(both: Both) -> None:
    """Ties are all out at P + N % as at P %: the result never exceeds P + N %."""
    profiles = scores(100, 90, 80, 80, 80, 50, 40, 30, 20, 10)  # t2..t4 share 50 %
    rule = {"metric": "clv", "top_percent": 10, "hysteresis": 30}  # keep to 40 %
    assert both.qualifying(rule, profiles, metrics=CLV, previous=["t2", "t3"]) == ids(0)
    rule = {**rule, "hysteresis": 40}  # keep to 50 %: the tie fits
    assert both.qualifying(rule, profiles, metrics=CLV, previous=["t2", "t3"]) == ids(0, 2, 3)
    # a tie at P itself: nobody new enters, previous members inside P + N stay
    rule = {"metric": "clv", "top_percent": 10, "hysteresis": 10}
    assert both.qualifying(rule, TIE_AT_TOP, metrics=CLV, previous=["t1"]) == ids(1)


def test_null_values_never_stay(both: Both) -> None:
    profiles = scores(10, 20, 30, 40, 50, 60, 70, 80, 90, 100, None)
    assert both.qualifying(TOP10, profiles, metrics=CLV, previous=["t10", "t8"]) == ids(8, 9)


def test_hysteresis_inside_all_and_any(both: Both) -> None:
    """Only the percent condition is widened; the rest of the rule still applies."""
    profiles = [{**p, "region": "CA" if i % 2 else "NY"} for i, p in enumerate(DISTINCT)]
    rule = {"all": [{"attribute": "region", "op": "eq", "value": "CA"}, TOP10]}
    assert both.qualifying(rule, profiles, metrics=CLV, previous=["t8", "t7"]) == ids(7, 9)
    rule = {"any": [{"attribute": "clv", "op": "lt", "value": 15}, TOP10]}
    assert both.qualifying(rule, profiles, metrics=CLV, previous=["t7"]) == ids(0, 7, 9)


def test_in_segment_follows_the_referenced_segments_own_members(duck: Both) -> None:
    """``in_segment: top`` is who qualifies for ``top`` with ``top``'s hysteresis, kept by
    ``top``'s previous members — not by those of the segment that refers to it."""
    segments = {
        "top": {"name": "top", "rule": TOP10},
        "fans": {"name": "fans", "rule": {"in_segment": "top"}},
        "plain": {"name": "plain", "rule": {"metric": "clv", "top_percent": 10}},
    }
    evaluation, _ = duck.run(
        segments, DISTINCT, metrics=CLV, previous={"top": ["t7"], "fans": ["t6"], "plain": ["t8"]}
    )

    def who(name: str) -> set[str]:
        rows = zip(evaluation.profile_ids, evaluation.qualified[name], strict=True)
        return {str(pid) for pid, ok in rows if ok}

    assert who("top") == who("fans") == ids(7, 9)
    assert who("plain") == ids(9)  # no hysteresis: previous members change nothing


def test_exclusive_groups_and_holdout_come_after(duck: Both) -> None:
    """Hysteresis decides who qualifies; exclusive groups and holdout apply to that set as
    to any other (the oracle checks members and held-out too)."""
    segments = {
        "top": {
            "name": "top",
            "rule": TOP10,
            "exclusive_group": "g",
            "priority": 1,
            "holdout": 50,
        },
        "sevens": {
            "name": "sevens",
            "rule": {"attribute": "clv", "op": "eq", "value": 80},
            "exclusive_group": "g",
            "priority": 5,
        },
    }
    _, expected = duck.run(segments, DISTINCT, metrics=CLV, previous={"top": ["t7"]})
    assert expected.qualified["top"]["t7"] and not expected.members["top"]["t7"]
    assert expected.members["sevens"]["t7"]
