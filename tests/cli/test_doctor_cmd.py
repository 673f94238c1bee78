"""``segsync doctor`` against both emulators: real, read-only checks, exit 0 or 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.emulator import EmulatorOptions, run_emulator
from tests.cli.conftest import CliRunner
from tests.conftest import write_config

SEGMENT = {"vip": "name: vip\nrule: {attribute: region, op: eq, value: CA}\n"}


@pytest.fixture
def both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "no-secrets"))
    options = EmulatorOptions(audiences=("aud1",), merge_fields=("STATE",))
    with run_emulator("mailchimp", options) as mc, run_emulator("klaviyo", EmulatorOptions()) as kl:
        monkeypatch.setenv("SEGSYNC_MAILCHIMP__API_KEY", mc.api_key)
        monkeypatch.setenv("SEGSYNC_MAILCHIMP__BASE_URL", mc.base_url)
        monkeypatch.setenv("SEGSYNC_KLAVIYO__API_KEY", kl.api_key)
        monkeypatch.setenv("SEGSYNC_KLAVIYO__BASE_URL", kl.base_url)
        yield mc, kl


def _config(root: Path, mc_fields: str = "{region: STATE}", audience: str = "aud1") -> None:
    write_config(
        root / "config",
        SEGMENT,
        destinations=f"mc: {{esp: mailchimp, audience: {audience}, fields: {mc_fields}}}\n"
        "kl: {esp: klaviyo, fields: {region: region}}\n",
    )


def test_all_well_exits_0_and_writes_nothing(
    both: tuple[Any, Any], run_cli: CliRunner, tmp_path: Path
) -> None:
    _config(tmp_path)
    code, out, _ = run_cli(["doctor"])
    assert code == 0, out
    assert out.splitlines() == ["kl (klaviyo): ok", "mc (mailchimp): ok"]
    for emu in both:
        assert {method for (method, _, _) in emu.calls} == {"GET"}  # read-only


def test_each_problem_is_one_line_and_exit_2(
    both: tuple[Any, Any], run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, mc_fields="{region: STATE, stage: STAGE, tier: TIER}")
    monkeypatch.setenv("SEGSYNC_KLAVIYO__API_KEY", "pk_wrong")
    code, out, _ = run_cli(["doctor"])
    assert code == 2
    lines = out.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("kl (klaviyo): the API key is not valid")
    assert "merge field STAGE" in lines[1] and "merge field TIER" in lines[2]
    assert "pk_wrong" not in out

    _config(tmp_path, audience="nope")
    code, out, _ = run_cli(["doctor", "--json"])
    assert code == 2
    payload = json.loads(out)
    assert payload["ok"] is False and payload["exit_code"] == 2
    mc = next(d for d in payload["destinations"] if d["name"] == "mc")
    assert mc["problems"][0].startswith("audience nope not found")
