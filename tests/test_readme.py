"""The README's commands work as written.

Every ```sh block either runs here — the quick start (``make demo``), the commands to try
after it, the emulator walkthrough, the load examples — or starts with the visible line
``# not run by the README test: <why>`` (a daemon that runs until stopped, Docker, a
remote host). ``make test`` is the one command left out of the quick start: it is this
suite, and CI runs it. The YAML and JSON examples must parse, and the sample ``plan``
output must be what ``segsync plan`` prints for the shipped config (counts aside).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML

from tests.lockfile import ROOT

README = ROOT / "README.md"
NOT_RUN = "# not run by the README test: "
#: a phrase that identifies each block this test runs
RUN = {
    "quick start": "make demo",
    "try": "segsync audit",
    "emulators": "segsync emulator mailchimp",
    "load": "segsync load profiles",
    "init": "segsync init my-segments",
}


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the opening fence
    text: str


def blocks() -> list[Block]:
    """Every fenced block (fences start at column 0; indented ``` inside a block is text)."""
    found: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    lang = ""
    for number, line in enumerate(lines, 1):
        if not line.startswith("```"):
            continue
        if start is None:
            start, lang = number, line[3:].strip()
        else:
            found.append(Block(lang, start, "\n".join(lines[start : number - 1]) + "\n"))
            start = None
    assert start is None, f"README line {start}: unclosed code block"
    return found


def sh_block(name: str) -> Block:
    (block,) = [b for b in blocks() if b.lang == "sh" and RUN[name] in b.text]
    return block


def test_every_shell_block_runs_or_says_why_not() -> None:
    for block in blocks():
        assert block.lang, f"README line {block.line}: say the block's language (sh, yaml, text)"
        if block.lang != "sh" or block.text.startswith(NOT_RUN):
            continue
        runners = [name for name, phrase in RUN.items() if phrase in block.text]
        assert len(runners) == 1, (
            f"README line {block.line}: a shell block this test does not run; run it in "
            f"tests/test_readme.py or start it with '{NOT_RUN}<why>'"
        )
    assert all(len(b.text) > len(NOT_RUN) + 5 for b in blocks() if b.text.startswith(NOT_RUN))


def test_yaml_and_json_examples_parse() -> None:
    for block in blocks():
        if block.lang == "yaml":
            documents = list(YAML(typ="safe").load_all(block.text))
            assert documents and all(d is not None for d in documents), block.line
        elif block.lang == "json":
            json.loads(block.text)


# -- running them ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the work tree as a fresh clone has it, sharing the installed .venv."""
    venv = ROOT / ".venv"
    if not (venv / "bin" / "segsync").exists():
        pytest.skip("no .venv: run `make install` first (make test does)")
    root = tmp_path_factory.mktemp("readme") / "segsync"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(venv)
    fresh = subprocess.run(["make", "-q", "install"], cwd=root, check=False)
    if fresh.returncode != 0:  # make would reinstall into the shared venv from the copy
        pytest.fail(".venv is older than pyproject.toml or requirements.lock: run make install")
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGSYNC_", "PYTEST_"))}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(script: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with bash as a user would paste it (stopping at the first failure);
    anything it leaves running is stopped with it."""
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert result.returncode == 0, f"{script}\nexit {result.returncode}\n{out}\n{err}"
    return result


def _numbers(text: str) -> str:
    return re.sub(r"\d+", "N", text)


@pytest.mark.slow
def test_quick_start_and_what_follows_it(clone: Path) -> None:
    """One test, so the demo store is built once (xdist would split a module's tests)."""
    quick_start = sh_block("quick start").text
    assert "make test" in quick_start
    lines = quick_start.splitlines()
    result = _run("\n".join(line for line in lines if not line.startswith("make test")), clone)
    assert "synced into the built-in emulators" in result.stdout

    result = _run(sh_block("try").text, clone)
    assert "ok: 10 segments" in result.stdout
    assert "vip-electronics-ca for profile c000042" in result.stdout
    assert "coverage:" in result.stdout

    (sample,) = [b for b in blocks() if b.lang == "text" and "-> mailchimp-main" in b.text]
    segment = sample.text.split(" ", 1)[0]
    printed = _run(f".venv/bin/segsync plan {segment}", clone).stdout
    sections = [s.strip() + "\n" for s in printed.split("\n\n")]
    assert _numbers(sample.text) in [_numbers(s) for s in sections], printed

    result = _run(sh_block("emulators").text, clone)
    finals = [line for line in result.stdout.splitlines() if line.startswith("done.")]
    assert len(finals) == 2, result.stdout
    # nothing to write: only each ESP's once-per-run key check
    assert finals[1].endswith("API calls mailchimp-main: 1, klaviyo-main: 1")
    assert "klaviyo-main: 1" not in finals[0]


def test_the_init_example(tmp_path: Path) -> None:
    result = _run(sh_block("init").text, tmp_path)
    assert "ok: 1 segments, 2 metrics, 1 destinations valid (YAML only)" in result.stdout


@pytest.mark.slow
def test_the_load_examples(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'c' || i AS profile_id, 'm' || i || '@example.com' AS email, "
        "i % 2 = 0 AS email_consent FROM range(5) t(i)) TO 'customers.csv' (HEADER)".replace(
            "'customers.csv'", f"'{tmp_path / 'customers.csv'}'"
        )
    )
    con.execute(
        "COPY (SELECT 'c' || i AS profile_id, 'order_completed' AS event, "
        "TIMESTAMP '2026-11-01' + INTERVAL (i) DAY AS ts FROM range(5) t(i)) "
        f"TO '{tmp_path / 'events.parquet'}' (FORMAT parquet)"
    )
    con.close()
    result = _run(sh_block("load").text, tmp_path)
    assert "loaded 5 rows into profiles (new table)" in result.stdout
    assert "loaded 5 rows into events (new table)" in result.stdout
    assert "would replace profiles: 5 rows before, 5 after" in result.stdout
