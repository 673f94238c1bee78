"""The diff: applying its adds and removes to the confirmed set always yields the desired
set, minus members held back by quarantine; batches are full but the last."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.reconcile.diff import chunks, diff_part

emails = st.sets(st.sampled_from([f"u{i}@x.com" for i in range(40)]), max_size=40)


@given(desired=emails, confirmed=emails)
def test_applying_the_diff_reaches_the_desired_set(desired: set[str], confirmed: set[str]) -> None:
    change = diff_part(desired, confirmed)
    assert (confirmed | set(change.adds)) - set(change.removes) == desired
    assert set(change.adds).isdisjoint(confirmed)
    assert set(change.removes) <= confirmed
    assert change.adds == sorted(change.adds) and change.removes == sorted(change.removes)
    assert change.empty == (desired == confirmed)


@given(
    desired=emails,
    confirmed=emails,
    attempts=st.dictionaries(
        st.sampled_from([f"u{i}@x.com" for i in range(40)]),
        st.tuples(st.sampled_from(["add", "remove"]), st.integers(1, 8)),
    ),
)
def test_quarantine_holds_back_only_exhausted_members_of_that_operation(
    desired: set[str], confirmed: set[str], attempts: dict[str, tuple[str, int]]
) -> None:
    change = diff_part(desired, confirmed, attempts, max_attempts=5)
    full = diff_part(desired, confirmed)
    for email in change.held_back:
        operation, count = attempts[email]
        assert count >= 5
        assert email in (full.adds if operation == "add" else full.removes)
    assert sorted(change.adds + change.removes + change.held_back) == sorted(
        full.adds + full.removes
    )


@given(items=st.lists(st.integers(), max_size=60), size=st.integers(1, 17))
def test_every_batch_is_full_but_the_last(items: list[int], size: int) -> None:
    batches = list(chunks(items, size))
    assert [x for b in batches for x in b] == items
    assert all(len(b) == size for b in batches[:-1])
    assert not batches or 0 < len(batches[-1]) <= size


@given(desired=emails, confirmed=emails, pending=emails)
def test_unacknowledged_batches_are_resent_or_undone(
    desired: set[str], confirmed: set[str], pending: set[str]
) -> None:
    change = diff_part(desired, confirmed, pending=pending)
    # whatever the ESP did with the unacknowledged batches, applying the diff reaches desired
    for landed in (set(), pending):
        assert ((confirmed | landed) | set(change.adds)) - set(change.removes) == desired


def test_known_absent_members_are_unaddable_not_adds() -> None:
    # a contact known missing from the ESP that may not be created is never sent: plan,
    # sync --dry-run and sync count it as skipped, so a settled plan shows no adds
    change = diff_part({"a@x.io", "b@x.io", "c@x.io"}, {"c@x.io"}, absent={"b@x.io", "c@x.io"})
    assert change.adds == ["a@x.io"]
    assert change.unaddable == ["b@x.io"]
    assert change.removes == []


def test_quarantine_wins_over_absence() -> None:
    change = diff_part({"a@x.io"}, set(), {"a@x.io": ("add", 5)}, absent={"a@x.io"})
    assert change.held_back == ["a@x.io"]
    assert change.adds == change.unaddable == []


def test_unknown_contacts_that_may_not_be_created_are_look_ups_not_adds() -> None:
    # never seen in the ESP and not creatable (no consent): the sync looks them up and adds
    # only those the ESP has, so plan and dry run show them apart from the adds
    change = diff_part(
        {"a@x.io", "b@x.io", "c@x.io", "d@x.io"},
        {"d@x.io"},
        {"c@x.io": ("add", 5)},
        absent={"a@x.io"},
        unknown={"b@x.io", "c@x.io", "d@x.io"},
    )
    assert (change.adds, change.unaddable, change.lookups) == ([], ["a@x.io"], ["b@x.io"])
    assert change.held_back == ["c@x.io"]  # quarantine wins; a confirmed member is no change
