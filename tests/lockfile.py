"""Reading requirements.lock (the pins `make lock` writes) and pyproject.toml's requirements."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["LOCK", "ROOT", "declared", "pins"]

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def pins(path: Path = LOCK) -> dict[str, str]:
    """Canonical package name -> pinned version, for every line of the lock that applies to
    this interpreter and platform (a universal lock pins some packages per marker)."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{path.name}: '{line}' is not an exact pin"
        found[canonicalize_name(requirement.name)] = spec.version
    return found


def declared() -> list[Requirement]:
    """The project's runtime, dev and spark requirements, as pyproject.toml states them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    texts = [*project["dependencies"], *extras["dev"], *extras["spark"]]
    return [Requirement(text) for text in texts]
