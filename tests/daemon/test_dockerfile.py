"""The Dockerfile, tested without a docker engine.

The image's install steps are replayed in a clean virtualenv (the files its COPY lines
bring in, then its ``pip install``), the result must run ``segsync run``, and the exact
HEALTHCHECK command must pass against that running daemon and fail without it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import venv
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.daemon.conftest import CA, ROOT, World, wait_for
from tests.lockfile import pins

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def healthcheck_command() -> list[str]:
    (args,) = [a for i, a in instructions() if i == "HEALTHCHECK"]
    command: list[str] = json.loads(args[args.index("CMD") + 3 :].strip())
    return command


def test_the_image_is_slim_non_root_and_runs_the_daemon() -> None:
    found = instructions()
    kinds = [i for i, _ in found]
    assert dict(found)["FROM"] == "python:3.11-slim"
    users = [a for i, a in found if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert json.loads(dict(found)["ENTRYPOINT"]) == ["segsync"]
    assert json.loads(dict(found)["CMD"]) == ["run"]
    assert {"/app/config", "/app/state"} <= set(json.loads(dict(found)["VOLUME"]))
    assert "SEGSYNC_HTTP__BIND=0.0.0.0:8080" in " ".join(a for i, a in found if i == "ENV")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    command = healthcheck_command()
    assert command[0] == "python" and "/healthz" in command[-1]
    text = DOCKERFILE.read_text()
    assert "curl" not in text.replace("no curl", "") and "wget" not in text
    assert "[dev]" not in text and "-e ." not in text  # only what runs
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"*", "!pyproject.toml", "!README.md", "!requirements.lock", "!connector/"} <= set(
        ignored
    )
    (install,) = [a for i, a in found if i == "RUN" and "pip install" in a]
    assert "-c requirements.lock" in install  # the pinned versions, not whatever is newest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _replay_install(build: Path) -> Path:
    """COPY the image's files into ``build/src`` and run its pip install in a clean venv."""
    source = build / "src"
    source.mkdir(parents=True)
    for instruction, args in instructions():
        if instruction == "COPY" and "--from" not in args:
            *sources, _target = args.split()
            for name in sources:
                origin = ROOT / name
                if origin.is_dir():
                    shutil.copytree(
                        origin, source / name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(origin, source / name)
    environment = build / "venv"
    venv.create(environment, with_pip=True, clear=True)
    (install,) = [a for i, a in instructions() if i == "RUN" and "pip install" in a]
    step = install.split("&&")[0].strip()
    assert shlex.split(step)[:2] == ["pip", "install"], step
    # --no-compile: pip's byte-compiling of every installed module (the ESP clients' generated
    # code, scipy, statsmodels) is much of the install's time, and pip only warns when it
    # fails, so it has nothing to tell this test; the daemon compiles what it imports
    subprocess.run(
        [str(environment / "bin" / "pip"), *shlex.split(step)[1:], "--quiet", "--no-compile"],
        cwd=source,
        check=True,
        timeout=900,
    )
    return environment


@pytest.mark.slow
def test_install_steps_reproduce_and_the_healthcheck_works(
    world_factory: Callable[..., World], tmp_path: Path
) -> None:
    environment = _replay_install(tmp_path / "image")
    python = environment / "bin" / "python"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    versions = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed)}
    installed = set(versions)
    assert "segsync" in installed
    assert not installed & {"pytest", "mypy", "ruff", "hypothesis", "respx"}  # no dev extras
    locked = pins()
    off_lock = {n: v for n, v in versions.items() if n in locked and locked[n] != v}
    assert not off_lock, f"installed versions differ from requirements.lock: {off_lock}"
    assert installed - {"segsync", "pip", "setuptools"} <= locked.keys()

    world = world_factory({"ca": CA})
    port = _free_port()
    env = {**world.env, "SEGSYNC_HTTP__BIND": f"127.0.0.1:{port}"}
    env.pop("PYTHONPATH")  # the clean venv's own install, not the work tree
    check = [str(python), *healthcheck_command()[1:]]

    def healthy() -> bool:
        answer = subprocess.run(check, check=False, env=env, capture_output=True, timeout=30)
        return answer.returncode == 0

    assert not healthy()  # nothing listens yet
    daemon = subprocess.Popen(
        [str(environment / "bin" / "segsync"), "run"],
        cwd=world.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for("the healthcheck to pass", healthy, timeout=90)
        wait_for("a sync", lambda: world.members("ca"), timeout=60)
    finally:
        daemon.terminate()
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert re.search(r'"event": "stopped cleanly"', output)
    assert not healthy()


def test_healthcheck_reads_the_port_from_the_bind() -> None:
    command = healthcheck_command()
    code = command[-1]
    assert "SEGSYNC_HTTP__BIND" in code and "127.0.0.1" in code
    # the one-liner is valid Python (compiles) and uses only the standard library
    compile(code, "HEALTHCHECK", "exec")
    assert re.findall(r"import ([\w., ]+?)(?: as \w+)?;", code) == ["os, urllib.request"]
