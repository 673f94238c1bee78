"""Trait types against the ESP's real fields: ``validate`` reads the Mailchimp merge fields
as ``doctor`` does and refuses, located in destinations.yaml, a trait whose values the field
cannot hold — whatever the YAML declares; Klaviyo's free-form properties need no check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, point_at_emulator, write_config

NOW = datetime(2026, 11, 23, 12)
SEGMENT = {"vip": "name: vip\nrule: {attribute: region, op: eq, value: CA}\n"}


@pytest.fixture
def mailchimp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    people = [(f"p{i}", f"m{i}@example.com", True, "CA", 30, 1.0, False, NOW, None, None)
              for i in range(5)]  # fmt: skip
    make_store(people, path=tmp_path / "c.duckdb").close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'c.duckdb'}")
    with run_emulator("mailchimp", EmulatorOptions(audiences=("aud1",))) as emu:
        emu.state.add_merge_field("aud1", "SINCE", "date")
        emu.state.add_merge_field("aud1", "CLV", "number")
        emu.state.add_merge_field("aud1", "TIER", "text")
        point_at_emulator(monkeypatch, emu, tmp_path)
        yield emu


def _destinations(root: Path, traits: str) -> None:
    write_config(
        root / "config",
        SEGMENT,
        destinations=f"mc:\n  esp: mailchimp\n  audience: aud1\n  traits:\n{traits}",
    )


def test_fitting_traits_validate_against_the_real_fields(
    mailchimp: Any, run_cli: CliRunner, tmp_path: Path
) -> None:
    _destinations(
        tmp_path,
        "    CLV: {attribute: clv}\n"
        "    TIER: {map: {attribute: region, values: {CA: premium}, default: standard}}\n",
    )
    code, _, err = run_cli(["validate"])
    assert code == 0, err
    assert ("GET", "/3.0/lists/{list_id}/merge-fields", 200) in mailchimp.calls
    assert {method for (method, _, _) in mailchimp.calls} == {"GET"}  # read-only


def test_a_trait_the_merge_field_cannot_hold_is_a_located_error(
    mailchimp: Any, run_cli: CliRunner, tmp_path: Path
) -> None:
    # clv is a number column: YAML alone cannot tell, the store and the ESP together can;
    # SINCE is a date merge field in the audience
    _destinations(
        tmp_path,
        "    SINCE: {attribute: clv}\n"
        "    TIER: {map: {attribute: region, values: {CA: premium}}, type: dropdown}\n",
    )
    code, _, err = run_cli(["validate"])
    assert code == 1
    lines = err.strip().splitlines()
    assert any(
        "destinations.yaml" in line
        and "line 5" in line
        and "trait SINCE: its values are number, but SINCE is a date merge field" in line
        for line in lines
    ), lines
    assert any(
        "line 6" in line
        and "trait TIER declares type dropdown, but TIER is a text merge field" in line
        for line in lines
    ), lines
    assert "Traceback" not in err

    code, out, _ = run_cli(["validate", "--json"])
    assert code == 1
    problems = json.loads(out)["problems"]
    assert any(p.get("line") == 5 for p in problems), problems

    # doctor reads the same fields and says the same, located
    code, out, _ = run_cli(["doctor"])
    assert code == 2
    assert "destinations.yaml" in out and "SINCE is a date merge field" in out

    # offline, nothing reads the ESP: the YAML alone cannot see it
    before = mailchimp.calls.total()
    assert run_cli(["validate", "--offline"])[0] == 0
    assert mailchimp.calls.total() == before


def test_without_a_key_validate_passes_and_says_what_it_could_not_check(
    mailchimp: Any, run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEGSYNC_MAILCHIMP__API_KEY")
    _destinations(tmp_path, "    SINCE: {attribute: clv}\n")
    code, out, _ = run_cli(["validate"])
    assert code == 0
    assert "trait fields not checked against the ESP: mc: " in out


def test_an_unreachable_esp_is_listed_as_unchecked(
    mailchimp: Any, run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGSYNC_MAILCHIMP__BASE_URL", "http://127.0.0.1:9/3.0")  # discard port
    _destinations(tmp_path, "    SINCE: {attribute: clv}\n")
    code, out, _ = run_cli(["validate", "--json"])
    assert code == 0
    (note,) = json.loads(out)["esp_fields_unchecked"]
    assert note.startswith("mc: ") and "connection failed" in note
    assert mailchimp.api_key not in out
