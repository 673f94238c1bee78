"""The demo's campaign: after ``segsync demo``, ``segsync report`` finds a significant lift
on the two campaign segments and none on the others (the README shows this output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.demo_campaign import CAMPAIGNS
from tests.cli.conftest import CliRunner


@pytest.mark.slow
def test_report_finds_the_demo_campaigns_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", "duckdb:///data/customers.duckdb")
    monkeypatch.setenv("SEGSYNC_CONFIG_DIR", str(tmp_path / "conf"))
    monkeypatch.setenv("SEGSYNC_STATE_PATH", str(tmp_path / "state" / "s.db"))
    code, _, err = run_cli(["demo", "--no-sync", "--as-of", "2026-11-23T08:00:00Z"])
    assert code == 0, err
    code, out, err = run_cli(["report", "--json"])
    assert code == 0, err
    payload = json.loads(out)
    assert payload["provisional"] is False
    # the default cohort instant is the campaign's send, 14 days before the demo's as_of
    assert payload["as_of"].startswith("2026-11-09T0")
    significant = set()
    for segment in payload["segments"]:
        lift = segment["lift"]["conversion_rate"]
        if lift["p"] is not None and lift["p"] < 0.05:
            significant.add(segment["name"])
            assert lift["abs"] > 0 and lift["ci"][0] > 0
    assert significant == set(CAMPAIGNS)
    measurable = {s["name"] for s in payload["segments"] if not s["too_small"]}
    assert set(CAMPAIGNS) <= measurable
