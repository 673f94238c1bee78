"""Schedules: a plain cron expression is accepted without importing croniter, and only
where croniter accepts it; anything else is croniter's to judge, as before."""

from __future__ import annotations

import subprocess
import sys

import pytest
from croniter import croniter
from hypothesis import event, given
from hypothesis import strategies as st

from connector.timespec import parse_schedule, plain_cron

NUMBER = st.integers(0, 6).map(str) | st.integers(0, 99).map(str) | st.sampled_from(["00", "06"])
ITEM = st.one_of(
    st.just("*"),
    NUMBER,
    st.tuples(NUMBER, NUMBER).map("-".join),
    st.tuples(st.sampled_from(["*", "1", "0-30", "5"]), NUMBER).map("/".join),
    st.sampled_from(["mon", "JAN", "L", "?", "1#2", "", "-1", "*/", "1-"]),
)
SMALL = st.integers(0, 13).map(str)
#: mostly within every field's bounds
NEAR_PLAIN = st.one_of(
    st.just("*"),
    SMALL,
    st.tuples(SMALL, SMALL).map("-".join),
    st.tuples(st.sampled_from(["*", "1-5", "0-12"]), SMALL).map("/".join),
)
FIELD = st.lists(ITEM, min_size=1, max_size=3).map(",".join) | st.lists(
    NEAR_PLAIN, min_size=1, max_size=2
).map(",".join)
EXPRESSION = st.lists(FIELD, min_size=5, max_size=5).map(" ".join) | st.lists(
    FIELD, min_size=4, max_size=6
).map(" ".join)


@given(EXPRESSION)
def test_a_plain_cron_is_one_croniter_accepts(text: str) -> None:
    event("plain" if plain_cron(text) else "croniter's to judge")
    if plain_cron(text):
        assert croniter.is_valid(text)
    try:
        accepted = parse_schedule(text).cron == text
    except ValueError:
        accepted = False
    assert accepted == (len(text.split()) == 5 and croniter.is_valid(text))


@pytest.mark.parametrize("text", ["0 6 * * *", "*/15 * * * *", "0 9-17 * * 1-5", "0 0 1,15 * *"])
def test_common_schedules_are_plain(text: str) -> None:
    assert plain_cron(text)
    assert parse_schedule(text).cron == text


def test_a_plain_cron_imports_no_croniter() -> None:
    code = (
        "import sys\n"
        "from connector.timespec import parse_schedule\n"
        "parse_schedule('0 6 * * *')\n"
        "assert 'croniter' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
