"""requirements.lock pins every dependency pyproject.toml declares, within its range, and
`make install` and the Dockerfile install through it."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.lockfile import LOCK, ROOT, declared, pins


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    problems = []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in locked:
            problems.append(f"{requirement.name} is not in {LOCK.name}")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{requirement.name}=={locked[name]} is outside '{requirement}'")
    assert not problems, "run `make lock` and commit requirements.lock:\n" + "\n".join(problems)


def test_the_lock_includes_what_the_dependencies_pull_in() -> None:
    locked = pins()
    # transitive dependencies are pinned too, not only the direct ones
    assert {"pydantic-core", "httpcore", "click", "anyio"} <= locked.keys()
    assert canonicalize_name("segsync") not in locked  # the project itself is not pinned


def test_installs_go_through_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = re.search(r"^\$\(BIN\)/\.installed: (.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert install is not None
    assert "$(LOCK)" in install.group(1)  # a new lock reinstalls
    assert "pip install --quiet -c $(LOCK) -e '.[dev,spark]'" in install.group(2)
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    assert re.search(r"^lock: .*\n\t\$\(COMPILE\)$", makefile, re.M)
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install -c requirements.lock ." in dockerfile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_warehouse_extras_have_a_lock_of_their_own() -> None:
    """bigquery and snowflake (not installed by `make install` or CI) are pinned in
    requirements-warehouse.lock, which `make lock` writes too."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    locked = pins(ROOT / "requirements-warehouse.lock")
    for text in [*extras["bigquery"], *extras["snowflake"], *project["dependencies"]]:
        requirement = Requirement(text)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements-warehouse.lock"
        assert requirement.specifier.contains(version, prereleases=True), text
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^lock: .*\n\t\$\(COMPILE\)\n\t\$\(COMPILE_WAREHOUSE\)$", makefile, re.M)
    assert canonicalize_name("google-cloud-bigquery") not in pins()  # not in CI's install
