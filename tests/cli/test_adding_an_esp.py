"""Adding an ESP is one package and one registry line (docs/adding-an-esp.md): a toy third
ESP (``tests/esp/toy/``: a destination model and an ``EspSpec``), entered in
``connector.esp.registry.ESPS`` and nowhere else, is accepted by ``validate``, ``plan`` and
``schema`` through the real CLI; its errors are located like the others'."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connector.esp.registry import ESPS, destination_models
from tests.cli.conftest import CliRunner
from tests.conftest import make_store, write_config
from tests.esp.toy.factory import SPEC

AS_OF = "2026-11-23T00:00:00Z"
PROFILES = [
    ("p1", "a@x.com", True, "CA", 30, 10.0, True, datetime(2025, 1, 1), 40.0, -70.0),
    ("p2", "b@x.com", True, "NY", 41, 5.0, False, datetime(2026, 11, 1), None, None),
    ("p3", "c@x.com", True, "CA", 52, 1.0, False, datetime(2024, 1, 1), None, None),
]
SEGMENTS = {
    "californians": """\
        name: californians
        rule: {attribute: region, op: eq, value: CA}
        destinations: [{to: toy-main, mode: list}]
        """,
    "ca-or-vip": """\
        name: ca-or-vip
        rule:
          any:
            - {in_segment: californians}
            - {attribute: vip, op: eq, value: true}
        destinations: [{to: toy-main, mode: segment}]
        """,
}
DESTINATIONS = "toy-main: {esp: toy, workspace: w1, fields: {region: region}}\n"


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The one line docs/adding-an-esp.md asks for, in ``connector/esp/registry.py``."""
    monkeypatch.setitem(ESPS, SPEC.name, SPEC)
    yield


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_store(PROFILES, [], path=tmp_path / "customers.duckdb").close()
    write_config(tmp_path / "config", SEGMENTS, destinations=DESTINATIONS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGSYNC_SOURCE_URL", f"duckdb:///{tmp_path / 'customers.duckdb'}")
    monkeypatch.setenv("SEGSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    return tmp_path


def test_without_its_registry_line_the_toy_esp_is_refused(
    workspace: Path, run_cli: CliRunner
) -> None:
    code, _, err = run_cli(["validate"])
    assert code == 1
    assert "destinations.yaml line 1: toy-main: esp must be mailchimp or klaviyo" in err


@pytest.mark.usefixtures("toy_registered")
def test_validate_and_plan_accept_the_toy_esp(workspace: Path, run_cli: CliRunner) -> None:
    code, out, err = run_cli(["validate"])
    assert code == 0, err
    assert "2 segments, 0 metrics, 1 destinations valid" in out

    code, out, err = run_cli(["plan", "--as-of", AS_OF, "--json"])
    assert code == 0, err
    plans = {p["segment"]: p for p in json.loads(out)["segments"]}
    assert {p["esp"] for p in plans.values()} == {"toy"}
    assert plans["californians"]["group_kind"] == "list"
    assert [part["adds"] for part in plans["californians"]["parts"]] == [2]
    # the native segment is the toy's own JSON, rendered by its package (nothing is native
    # in the toy, so the whole rule is one list)
    native = plans["ca-or-vip"]["native"]["definition"]
    assert native == {
        "match": "all",
        "lists": [{"list": "<id of segsync:ca-or-vip>", "member": True}],
    }

    code, out, err = run_cli(["plan", "--as-of", AS_OF])
    assert code == 0, err
    assert "toy segment segsync:ca-or-vip" in out


@pytest.mark.usefixtures("toy_registered")
def test_the_toy_esps_errors_are_located(workspace: Path, run_cli: CliRunner) -> None:
    (workspace / "config/destinations.yaml").write_text(
        "toy-main: {esp: toy, workspace: w1}\nother: {esp: tyo, workspace: w2}\n"
        "third: {esp: toy, workspce: w3}\n"
    )
    (workspace / "config/segments/californians.yaml").write_text(
        "name: californians\nrule: {esp: {toi: {a: 1}}}\n"
        "destinations: [{to: toy-main, mode: tag}]\n"
    )
    code, _, err = run_cli(["validate"])
    assert code == 1
    assert (
        "destinations.yaml line 2: other: esp must be mailchimp or klaviyo or toy"
        " — did you mean 'toy'?" in err
    )
    assert "destinations.yaml line 3: third.workspce: unknown key 'workspce'" in err
    assert "did you mean 'workspace'?" in err
    assert "californians.yaml line 2: rule.esp.toi: unknown ESP 'toi'" in err
    assert "mode 'tag' is not available for toy (use auto, list, segment)" in err


@pytest.mark.usefixtures("toy_registered")
def test_the_schema_describes_the_toy_esp(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["schema", "--kind", "destinations"])
    assert code == 0
    schema = json.loads(out)
    toy = schema["$defs"]["ToyDestination"]
    assert toy["properties"]["esp"]["const"] == "toy"
    assert "workspace" in toy["required"]
    code, out, _ = run_cli(["schema", "--kind", "segment"])
    assert (
        "toy"
        in json.loads(out)["$defs"]["EspCondition"]["properties"]["esp"]["propertyNames"]["enum"]
    )
    assert "toy" in destination_models().names


SETTINGS_PROBE = """
import json, os
from connector.esp.registry import ESPS
from tests.esp.toy.factory import SPEC
ESPS[SPEC.name] = SPEC  # the registry line, before the settings are first imported
from connector.settings import Settings, load_settings
settings = load_settings()
print(json.dumps({
    "fields": sorted(Settings.model_fields),
    "key": settings.esp_section("toy").api_key.get_secret_value(),
    "base_url": settings.esp_section("toy").base_url,
    "keys": [k.get_secret_value() if k else None for k in settings.esp_api_keys()],
}))
"""


def test_the_toy_esps_settings_come_from_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Settings`` takes a section per registered ESP when it is first imported: the toy's
    section reads ``SEGSYNC_TOY__*`` with nothing added to ``connector/settings.py``."""
    monkeypatch.chdir(tmp_path)
    env = {
        **os.environ,
        "SEGSYNC_TOY__API_KEY": "toy-key-123",
        "SEGSYNC_TOY__BASE_URL": "http://127.0.0.1:9/toy",
        "SEGSYNC_SECRETS_DIR": str(tmp_path / "secrets"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE], capture_output=True, text=True, env=env, check=True
    )
    found = json.loads(done.stdout)
    assert {"mailchimp", "klaviyo", "toy"} <= set(found["fields"])
    assert found["key"] == "toy-key-123"
    assert found["base_url"] == "http://127.0.0.1:9/toy"
    assert "toy-key-123" in found["keys"]
