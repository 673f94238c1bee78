"""Helpers shared by commands: options, loading config and store, parsing ``--as-of``."""

from __future__ import annotations

import fnmatch
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.context import state
from connector.definitions.loader import Definitions, load_definitions
from connector.errors import ConfigError, Issue, Location
from connector.esp.registry import destination_models
from connector.source import Store, open_store
from connector.suggest import suggest
from connector.timespec import parse_instant, utc_now

__all__ = [
    "AsOf",
    "JsonFlag",
    "SegmentNames",
    "WaitFlag",
    "complete_segment",
    "load_config",
    "one_segment",
    "open_source",
    "resolve_as_of",
    "segment_names",
    "segsync_command",
]

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Evaluate as of this instant (ISO date or timestamp, UTC). Default: now.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WaitFlag = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="If another run holds the state store's lock, wait for it (default: exit 5).",
    ),
]


def segsync_command(argv0: str | None = None) -> str:
    """How to run segsync again from this shell, for "next:" hints: ``segsync`` when that is
    what PATH finds, otherwise the path this process was started with (``.venv/bin/segsync``,
    or ``python -m connector``)."""
    started = Path(argv0 if argv0 is not None else sys.argv[0])
    if started.name == "__main__.py":
        python = Path(sys.executable)
        return f"{_shown(python)} -m connector"
    on_path = shutil.which("segsync")
    if on_path is not None and Path(on_path).resolve() == started.resolve():
        return "segsync"
    return _shown(started) if started.name == "segsync" else "segsync"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    absolute, here = path.absolute(), Path.cwd()
    if here != Path(here.anchor) and here in absolute.parents:
        return str(absolute.relative_to(here))
    return str(absolute)


def resolve_as_of(text: str | None) -> datetime:
    if text is None:
        return utc_now()
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise ConfigError(str(exc), file="--as-of") from None


def load_config() -> Definitions:
    return load_definitions(state.settings().config_dir, destination_models())


def open_source() -> Store:
    settings = state.settings()
    return open_store(settings.source_url, settings.store)


def segment_names(defs: Definitions, names: list[str] | None) -> list[str]:
    """The segments named on the command line (all when none), in the order given; a name
    may be a shell-style glob (``'vip-*'``, ``'*-90d'``, ``'churn-?isk'``) matching several.
    A name that is unknown, or a glob that matches nothing, is an error."""
    if not names:
        return list(defs.segments)
    selected: list[str] = []
    issues: list[Issue] = []
    for name in names:
        if any(c in name for c in "*?["):
            matched = sorted(fnmatch.filter(defs.segments, name))
            if not matched:
                known = ", ".join(sorted(defs.segments)) or "none"
                issues.append(Issue(Location(), f"no segment matches '{name}' (segments: {known})"))
        elif name in defs.segments:
            matched = [name]
        else:
            matched = []
            issues.append(
                Issue(Location(), f"unknown segment '{name}'{suggest(name, defs.segments)}")
            )
        selected.extend(m for m in matched if m not in selected)
    if issues:
        raise ConfigError(issues)
    return selected


def one_segment(defs: Definitions, name: str) -> str:
    """The one segment ``name`` (or a glob matching exactly one) selects."""
    selected = segment_names(defs, [name])
    if len(selected) > 1:
        raise ConfigError(
            f"'{name}' matches {len(selected)} segments ({', '.join(selected)}): this command "
            "shows one at a time",
            file="command line",
        )
    return selected[0]


def complete_segment(incomplete: str) -> list[str]:
    """Shell completion for segment names: the files in the config's ``segments/``.
    Completion runs without the app's callback (which resets the CLI's state), so the
    settings are read afresh from the environment, never kept from an earlier invocation
    in the same process."""
    try:
        from connector.settings import load_settings  # noqa: PLC0415 (not for --help)

        folder = load_settings().config_dir / "segments"
        names = sorted(path.stem for path in folder.glob("*.yaml"))
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [name for name in names if name.startswith(incomplete)]


SegmentNames = Annotated[
    list[str] | None,
    typer.Argument(
        help="Segments or globs such as 'vip-*' (default: all).",
        autocompletion=complete_segment,
    ),
]
