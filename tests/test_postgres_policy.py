"""Without a PostgreSQL server, the tests that need one skip with one reason — or fail when
CI=true (the suite's own policy, in tests/conftest.py, run on a real test of the suite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.lockfile import ROOT

TARGET = "tests/source/test_store.py::test_postgres_discovery"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def _pytest(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI"))}
    env["SEGSYNC_TEST_POSTGRES_URL"] = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", TARGET],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_server_postgres_tests_skip_with_the_reason() -> None:
    run = _pytest(ci=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and "error" not in run.stdout.lower()
    assert "1 PostgreSQL tests skipped: no PostgreSQL server reachable at" in run.stdout
    assert "SEGSYNC_TEST_POSTGRES_URL" in run.stdout


def test_in_ci_postgres_tests_fail_without_a_server() -> None:
    run = _pytest(ci="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "skipped" not in run.stdout
    assert "CI=true and no PostgreSQL server reachable" in run.stdout
