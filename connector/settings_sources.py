"""The settings' raw values from the environment, ``.env`` and the secrets directory, read
without pydantic-settings, for the inputs where its reading is plain.

pydantic-settings costs about 40 ms of every command's start (it imports asyncio,
``importlib.metadata`` and its cloud providers), and most runs give it nothing but a few
``SEGSYNC_*`` variables. So ``plain_values`` reads the common shape itself, with the same
rules (prefix and names without regard to case, ``__`` into a section's field, precedence
environment > ``.env`` > secrets files), and says ``None`` for anything beyond it — a
section given as JSON, a duration or schedule (parsed from JSON where it can be), a name
nested deeper than one section, the same name twice in one source, a secrets directory with
sub-directories or links — which ``connector.settings`` then leaves to pydantic-settings
itself. ``tests/test_settings_sources.py`` holds the two readings equal.
"""

from __future__ import annotations

import os
import stat
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

__all__ = ["deep_update", "plain_values"]

#: field types whose value every source passes on as the text it read
_PLAIN = (str, int, float, bool, Path, SecretStr, type(None))
#: pydantic-settings refuses a secrets directory above this size (then: its error)
_SECRETS_MAX_BYTES = 16 * 2**20
_SECRETS_MAX_ENTRIES = 10_000


def _is_plain(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return all(_is_plain(arg) for arg in get_args(annotation))
    return annotation in _PLAIN


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _leaves(model: type[BaseModel], delimiter: str) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """``{name: path}`` of the plain fields, top-level (``source_url``) and in sections
    (``store__events_table``); and every top-level field name (a name that starts with one
    but is no plain leaf is beyond this reader)."""
    leaves: dict[str, tuple[str, ...]] = {}
    for name, field in model.model_fields.items():
        if _is_plain(field.annotation):
            leaves[name] = (name,)
        elif _is_section(field.annotation):
            section: type[BaseModel] = field.annotation  # type: ignore[assignment]
            for sub, sub_field in section.model_fields.items():
                if _is_plain(sub_field.annotation) and sub_field.alias is None:
                    leaves[f"{name}{delimiter}{sub}"] = (name, sub)
    return leaves, set(model.model_fields)


def _source_values(
    items: Iterable[tuple[str, str | None]],
    prefix: str,
    delimiter: str,
    leaves: Mapping[str, tuple[str, ...]],
    fields: set[str],
) -> dict[str, Any] | None:
    """One source's values as nested dicts, ``None`` when one of its names is beyond the
    plain rules."""
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for raw_name, value in items:
        name = raw_name.lower()
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        path = leaves.get(rest)
        if path is None:
            head = rest.split(delimiter, 1)[0]
            if head in fields:  # a section as JSON, a non-plain field, deeper nesting
                return None
            continue  # no field of this name: every source ignores it
        if name in seen or value is None:
            return None
        seen.add(name)
        target = values
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return values


def _dotenv(path: Path) -> list[tuple[str, str | None]] | None:
    """The ``.env`` file's entries (none when there is no such file), ``None`` for a FIFO."""
    if path.is_fifo():
        return None
    if not path.is_file():
        return []
    # python-dotenv, as pydantic-settings reads the file (quotes, ``export``, ``${VAR}``)
    from dotenv import dotenv_values  # noqa: PLC0415  (only when there is a .env file)

    return list(dotenv_values(path, encoding="utf-8").items())


def _secrets(directory: Path) -> list[tuple[str, str | None]] | None:
    """The secrets directory's files as ``(name, stripped text)``; ``None`` unless it is
    missing or a directory of plain files (no sub-directories, no links, within size)."""
    try:
        root = directory.expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    if not root.exists():
        return []
    if not root.is_dir():
        return None
    entries = []
    total = 0
    try:
        with os.scandir(root) as scan:
            for entry in scan:
                if entry.name.startswith("."):
                    continue
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):  # a link, a sub-directory, a device
                    return None
                total += info.st_size
                entries.append(entry.name)
        if total > _SECRETS_MAX_BYTES or len(entries) > _SECRETS_MAX_ENTRIES:
            return None
        return [
            (name, (root / name).read_text(encoding="utf-8").strip()) for name in sorted(entries)
        ]
    except (OSError, UnicodeDecodeError):
        return None


def deep_update(base: dict[str, Any], *updates: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with each of ``updates`` laid over it in turn: nested dicts merge, anything
    else is replaced (as pydantic merges its sources)."""
    merged = dict(base)
    for update in updates:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = deep_update(merged[key], value)
            else:
                merged[key] = value
    return merged


def plain_values(
    model: type[BaseModel],
    *,
    prefix: str,
    delimiter: str,
    environ: Mapping[str, str],
    env_file: Path,
    secrets_dir: Path,
) -> dict[str, Any] | None:
    """The values ``model`` reads from ``environ``, the ``env_file`` and ``secrets_dir``
    (highest first), as keyword arguments for it; ``None`` when an input is beyond the
    plain rules (the caller then reads them with pydantic-settings)."""
    if any(field.alias is not None for field in model.model_fields.values()):
        return None
    leaves, fields = _leaves(model, delimiter)
    prefix = prefix.lower()
    merged: dict[str, Any] = {}
    secrets = _secrets(secrets_dir)
    dotenv = _dotenv(env_file) if secrets is not None else None
    if secrets is None or dotenv is None:
        return None
    for items in (secrets, dotenv, environ.items()):  # lowest precedence first
        values = _source_values(items, prefix, delimiter, leaves, fields)
        if values is None:
            return None
        merged = deep_update(merged, values)
    return merged
