"""The call log: counts by (method, route, status), totals, records, reset."""

from __future__ import annotations

from connector.emulator.calls import CallLog, CallRecord


def test_counts_totals_records_and_reset() -> None:
    calls = CallLog()
    calls.record("GET", "/a/{id}", "/a/1", 200)
    calls.record("GET", "/a/{id}", "/a/2", 200)
    calls.record("POST", "/a/{id}", "/a/2", 0)
    assert calls[("GET", "/a/{id}", 200)] == 2
    assert calls[("DELETE", "/a/{id}", 200)] == 0
    assert ("DELETE", "/a/{id}", 200) not in calls
    assert ("POST", "/a/{id}", 0) in calls
    assert len(calls) == 2 and set(calls) == {("GET", "/a/{id}", 200), ("POST", "/a/{id}", 0)}
    assert calls.total() == 3
    assert calls.total(route="/a/{id}", status=200) == 2
    assert calls.total(method="POST") == 1
    assert calls.records[-1] == CallRecord("POST", "/a/{id}", "/a/2", 0)
    assert "CallLog" in repr(calls)
    calls.reset()
    assert calls.total() == 0 and calls.records == []
