"""``spark://HOST:PORT`` on a real standalone Spark cluster (a master and one worker) and
``sc://HOST:PORT`` on a real Spark Connect server, both started from PySpark's own
distribution, with ``segsync load`` and ``segsync preview`` run in separate processes: the
tables one process writes are in the catalog for the next, and the members are DuckDB's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.conftest import CliRunner
from tests.cli.test_store_parity import AS_OF, demo_files, previews

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["demo_files"]  # the fixture, imported for this module's tests

#: attributes, metrics over event windows and a holdout
SEGMENTS = ("churn-risk",)
TABLES = ("profiles", "events")

#: runs each segsync command given as a JSON list of argument lists, in order, in this one
#: process (one Spark driver for all of them), and exits with the first failure's code
_COMMANDS = """
import json, sys
from connector.cli import main
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit as exc:
        if exc.code:
            raise
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"Spark did not log {text!r}:\n{log.read_text(errors='replace')[-2000:]}")


def _spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")
    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").exists():
        pytest.skip("this PySpark has no bin/spark-class")
    return home


@contextmanager
def _serve(home: Path, root: Path, steps: list[tuple[str, list[str], str]]) -> Iterator[None]:
    """Start each ``(role, command, line it logs when ready)`` in turn; stop them after."""
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_WORKER_DIR": str(root / "w")}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for role, command, ready in steps:
            log = root / f"{role}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            started.append(proc)
            _wait_for(log, ready, proc, 180)
        yield
    finally:
        for proc in reversed(started):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with one worker (1 core, 1 GiB)."""
    home = _spark_home()
    spark_class = str(home / "bin" / "spark-class")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    with _serve(home, tmp_path_factory.mktemp("spark-cluster"), [
        ("master", [spark_class, "org.apache.spark.deploy.master.Master", "--host",
                    "127.0.0.1", "--port", str(port), "--webui-port", str(_free_port())],
         "I have been elected leader"),
        ("worker", [spark_class, "org.apache.spark.deploy.worker.Worker", "--cores", "1",
                    "--memory", "1g", "--webui-port", str(_free_port()), url],
         "Successfully registered with master"),
    ]):  # fmt: skip
        yield url


@pytest.fixture(scope="module")
def connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server (local mode, Hive catalog)."""
    home = _spark_home()
    submit = str(home / "bin" / "spark-submit")
    port = _free_port()
    with _serve(home, tmp_path_factory.mktemp("connect"), [
        ("connect", [submit, "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                     "--master", "local[1]", "--conf", f"spark.connect.grpc.binding.port={port}",
                     "--conf", "spark.sql.catalogImplementation=hive",
                     "--conf", "spark.ui.enabled=false", "spark-internal"],
         "Spark Connect server started"),
    ]):  # fmt: skip
        yield f"sc://127.0.0.1:{port}"


def _segsync(
    commands: list[list[str]], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``segsync`` with each of ``commands``, one after another in one new process."""
    return subprocess.run(
        [sys.executable, "-c", _COMMANDS, json.dumps(commands)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("server", ["cluster", "connect"])
def test_a_spark_server_keeps_loaded_tables_between_commands(
    server: str,
    demo_files: Path,
    tmp_path: Path,
    run_cli: CliRunner,
    request: pytest.FixtureRequest,
) -> None:
    url: str = request.getfixturevalue(server)
    on_duckdb = previews(run_cli, SEGMENTS)
    work = tmp_path / "on-cluster"
    work.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout's segsync, not whichever the venv installed
        "SEGSYNC_SOURCE_URL": url,
        "SEGSYNC_CONFIG_DIR": str(demo_files / "conf"),
        "SEGSYNC_SECRETS_DIR": str(demo_files / "secrets"),
    }
    # two processes (on a cluster, a Spark driver each, the most of this test's time): one
    # loads both tables, the next finds them in the catalog and previews from them
    loads = [["load", table, str(demo_files / f"{table}.parquet")] for table in TABLES]
    done = _segsync(loads, work, env)
    assert done.returncode == 0, done.stderr
    loaded = [line.split()[4] for line in done.stdout.splitlines() if line.startswith("loaded ")]
    assert loaded == list(TABLES), done.stdout  # "loaded N rows into TABLE ..."
    for name in SEGMENTS:
        done = _segsync([["preview", name, "--as-of", AS_OF]], work, env)
        assert done.returncode == 0, done.stderr
        header, *rows = done.stdout.splitlines()
        assert header == "profile_id,email,holdout"
        assert sorted(rows) == on_duckdb[name], name
