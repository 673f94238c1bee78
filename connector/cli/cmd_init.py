"""``segsync init DIR``: scaffold a project that ``segsync validate --offline`` accepts.

Writes ``DIR/config/`` (an example segment, ``metrics.yaml``, a ``destinations.yaml``
template, the JSON Schemas their modelines point at), ``DIR/.env.example``,
``DIR/.gitignore`` and the GitHub Actions workflow. Existing files are never overwritten.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from connector import __version__
from connector.cli.app import app
from connector.cli.common import segsync_command
from connector.cli.output import out
from connector.definitions.jsonschema import write_schemas
from connector.errors import ConfigError
from connector.esp.registry import destination_models

#: template in connector/scaffold -> where it goes in the project
TEMPLATES = {
    "config/segments/recent-buyers.yaml": "config/segments/recent-buyers.yaml",
    "config/metrics.yaml": "config/metrics.yaml",
    "config/destinations.yaml": "config/destinations.yaml",
    "env.example": ".env.example",
    "gitignore": ".gitignore",
    "segments.yml": ".github/workflows/segments.yml",
}


def scaffold(root: Path) -> tuple[list[Path], list[Path]]:
    """Write the project's files under ``root``; returns (written, kept as they were)."""
    if root.exists() and not root.is_dir():
        raise ConfigError("exists and is not a directory", file=str(root))
    written: list[Path] = []
    kept: list[Path] = []
    source = files("connector") / "scaffold"
    for template, target in TEMPLATES.items():
        path = root / target
        if path.exists():
            kept.append(path)
            continue
        text = (source / template).read_text(encoding="utf-8").replace("@VERSION@", __version__)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never clobber a file
            handle.write(text)
        written.append(path)
    written.extend(write_schemas(root / "config", destination_models()))
    return written, kept


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Project directory (created if missing).", show_default=False)
    ],
) -> None:
    """Scaffold a project: config/ (a segment, metrics, destinations), .env.example and the
    GitHub Actions workflow. Existing files are kept."""
    written, kept = scaffold(directory)
    for path in written:
        out.print(f"wrote {path}", markup=False)
    for path in kept:
        out.print(f"kept {path} (exists)", markup=False)
    cmd = segsync_command()
    out.print(
        f"next: edit {directory / 'config' / 'destinations.yaml'} (your audience id), copy "
        f"{directory / '.env.example'} to .env and fill it in, then "
        f"SEGSYNC_CONFIG_DIR={directory / 'config'} {cmd} validate --offline",
        markup=False,
    )
