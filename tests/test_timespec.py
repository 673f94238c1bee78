"""Cron schedules: the plain lines checked without croniter are lines croniter accepts."""

from __future__ import annotations

import itertools

import pytest
from croniter import croniter

from connector.timespec import _PLAIN_CRON, Schedule, _plain_cron, parse_schedule

#: every value each field's pattern may match, and values around its edges it must not
RANGES = [range(60), range(24), range(1, 29), range(1, 13), range(7)]
OUTSIDE = [["60", "05", "-1", "1.0"], ["24", "00", "07"], ["0", "29", "31", "01"],
           ["0", "13", "01"], ["7", "00"]]  # fmt: skip


def _line(position: int, value: str) -> str:
    return " ".join(value if i == position else "*" for i in range(len(_PLAIN_CRON)))


@pytest.mark.parametrize("position", range(len(_PLAIN_CRON)))
def test_each_plain_field_is_one_croniter_accepts(position: int) -> None:
    for value in ["*", *map(str, RANGES[position])]:
        line = _line(position, value)
        assert _plain_cron(line) and croniter.is_valid(line), line
    for value in OUTSIDE[position]:
        assert not _plain_cron(_line(position, value)), value


def test_plain_lines_at_the_fields_edges_are_valid() -> None:
    edges = [["*", str(r[0]), str(r[-1])] for r in RANGES]
    for fields in itertools.product(*edges):
        line = " ".join(fields)
        assert _plain_cron(line) and croniter.is_valid(line), line


@pytest.mark.parametrize("text", ["0 6 * * *", " 30  4\t1 * 0 ", "*/15 * * * *", "0 9 * * 1-5"])
def test_a_cron_line_is_the_same_schedule_either_way(text: str) -> None:
    assert parse_schedule(text) == Schedule(text.strip(), cron=text.strip())


@pytest.mark.parametrize("text", ["0 6 * *", "0 6 * * * *", "61 6 * * *", "0 6 32 * *", "x"])
def test_an_invalid_cron_line_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid schedule"):
        parse_schedule(text)
