"""``segsync init`` scaffolds a project ``validate --offline`` accepts; ``segsync schema
--kind`` gives JSON Schemas that accept every example file and reject broken ones; the
examples' modelines point at schema files that exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from connector import __version__
from connector.definitions.jsonschema import SCHEMA_KINDS, json_schema
from connector.esp.registry import destination_models
from tests.cli.conftest import CliRunner
from tests.lockfile import ROOT

DEMO_CONFIG = ROOT / "connector" / "demo_config"
MODELINE = "# yaml-language-server: $schema="


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _kind_of(path: Path) -> str:
    return "segment" if path.parent.name == "segments" else path.stem


def _config_files(config: Path) -> list[Path]:
    return [*sorted((config / "segments").glob("*.yaml")), config / "metrics.yaml",
            config / "destinations.yaml"]  # fmt: skip


def test_init_scaffolds_a_project_validate_accepts(tmp_path: Path, run_cli: CliRunner) -> None:
    project = tmp_path / "shop"
    code, out, _ = run_cli(["init", str(project)])
    assert code == 0
    for name in ("config/segments/recent-buyers.yaml", "config/metrics.yaml",
                 "config/destinations.yaml", "config/schemas/segment.schema.json",
                 ".env.example", ".gitignore", ".github/workflows/segments.yml"):  # fmt: skip
        assert (project / name).is_file(), name
        assert f"wrote {project / name}" in out
    assert f"SEGSYNC_CONFIG_DIR={project / 'config'}" in out.splitlines()[-1]
    # exactly what the issue asks: a fresh process, the scaffold's config, offline
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSYNC_")}
    check = subprocess.run(
        [sys.executable, "-m", "connector", "validate", "--offline"],
        cwd=tmp_path,
        env={**env, "SEGSYNC_CONFIG_DIR": str(project / "config")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "ok: 1 segments, 2 metrics, 1 destinations valid (YAML only)" in check.stdout
    workflow = _yaml(project / ".github/workflows/segments.yml")
    assert set(workflow["jobs"]) == {"check", "sync"}
    steps = [s.get("run", "") for s in workflow["jobs"]["sync"]["steps"]]
    assert f'pip install "segsync=={__version__}"' in steps
    assert any("segsync sync --json" in s for s in steps)
    env_example = (project / ".env.example").read_text()
    assert "SEGSYNC_MAILCHIMP__API_KEY=\n" in env_example and "SEGSYNC_LOG_LEVEL" in env_example
    assert ".env" in (project / ".gitignore").read_text().split()


def test_init_keeps_existing_files(tmp_path: Path, run_cli: CliRunner) -> None:
    mine = tmp_path / "config" / "metrics.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine: {attribute: clv}\n")
    code, out, _ = run_cli(["init", str(tmp_path)])
    assert code == 0 and f"kept {mine} (exists)" in out
    assert mine.read_text() == "mine: {attribute: clv}\n"
    (tmp_path / "file").write_text("")
    code, _, err = run_cli(["init", str(tmp_path / "file")])
    assert code == 1 and "exists and is not a directory" in err


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_schema_command_prints_each_kind(run_cli: CliRunner, kind: str) -> None:
    code, out, _ = run_cli(["schema", "--kind", kind])
    assert code == 0
    schema = json.loads(out)
    Draft202012Validator.check_schema(schema)
    assert schema == json_schema(kind, destination_models())  # type: ignore[arg-type]


def test_schema_without_kind_is_the_segment_and_a_bad_kind_is_an_input_error(
    run_cli: CliRunner,
) -> None:
    assert json.loads(run_cli(["schema"])[1])["title"] == "segsync segment"
    code, _, err = run_cli(["schema", "--kind", "segments.yaml"])
    assert code == 1 and "--kind must be one of segment, metrics, destinations" in err


@pytest.mark.parametrize(
    "config", [DEMO_CONFIG, ROOT / "connector" / "scaffold" / "config"], ids=["demo", "init"]
)
def test_every_example_file_fits_its_schema_and_names_it(config: Path) -> None:
    for path in _config_files(config):
        kind = _kind_of(path)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"{MODELINE}{'../' if kind == 'segment' else ''}schemas/{kind}.schema.json"
        errors = list(
            Draft202012Validator(json_schema(kind, destination_models())).iter_errors(_yaml(path))
        )  # type: ignore[arg-type]
        assert not errors, f"{path}: {[e.message for e in errors]}"


@pytest.mark.parametrize(
    ("kind", "document", "complaint"),
    [
        ("segment", {"name": "x", "rule": {"attribute": "a", "op": "eq", "value": 1}, "colour": 1},
         "Additional properties"),
        ("metrics", {"m": {"event": "e", "aggregate": "median"}}, "is not valid"),
        ("metrics", {"Bad Name": {"attribute": "clv"}}, "does not match"),
        ("destinations", {"d": {"esp": "sendgrid"}}, "is not valid"),
        ("destinations", {"d": {"esp": "mailchimp"}}, "is not valid"),  # no audience
    ],
)  # fmt: skip
def test_schemas_reject_what_validate_rejects(kind: str, document: Any, complaint: str) -> None:
    errors = [
        e.message
        for e in Draft202012Validator(json_schema(kind, destination_models())).iter_errors(document)
    ]  # type: ignore[arg-type]
    assert any(complaint in e for e in errors), errors


def test_modelines_of_written_files_point_at_written_schemas(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    assert run_cli(["init", str(tmp_path)])[0] == 0
    for path in _config_files(tmp_path / "config"):
        target = path.read_text().splitlines()[0].removeprefix(MODELINE)
        schema = json.loads((path.parent / target).read_text())
        assert schema == json_schema(_kind_of(path), destination_models())  # type: ignore[arg-type]
