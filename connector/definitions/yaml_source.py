"""YAML files read with their positions, so every error can name a file, line and field.

YAML 1.2 (ruamel.yaml): ``NO``, ``on`` and ``yes`` stay text — a Norway region code is not
``False``. Duplicate keys are errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from connector.errors import ConfigError, Issue, Location
from connector.suggest import suggest

__all__ = ["YamlDoc", "format_path", "load_yaml", "validation_issues"]

PathKey = tuple[str | int, ...]


class _Constructor(RoundTripConstructor):
    """Dates and timestamps stay text: our own parser validates them with a location."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


@dataclass
class YamlDoc:
    """A parsed YAML file: plain Python data plus 1-based (line, column) of every node."""

    file: str
    data: Any
    value_pos: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """Location of ``path`` (or of its deepest existing ancestor) in this file."""
        parts = tuple(path)
        for end in range(len(parts), -1, -1):
            prefix = parts[:end]
            table = self.key_pos if key and end == len(parts) else self.value_pos
            pos = table.get(prefix) or self.key_pos.get(prefix) or self.value_pos.get(prefix)
            if pos is not None:
                return Location(self.file, pos[0], pos[1], format_path(parts))
        return Location(self.file, None, None, format_path(parts))


def format_path(path: Iterable[str | int]) -> str:
    """``rule.all[1].where[0].op`` from ``("rule", "all", 1, "where", 0, "op")``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _plain(node: Any, path: PathKey, doc: YamlDoc) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key in node:
            line, col = node.lc.key(key)
            vline, vcol = node.lc.value(key)
            child = (*path, str(key))
            doc.key_pos[child] = (line + 1, col + 1)
            doc.value_pos[child] = (vline + 1, vcol + 1)
            result[str(key) if not isinstance(key, int | bool) else key] = _plain(
                node[key], child, doc
            )
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            line, col = node.lc.item(index)
            doc.value_pos[(*path, index)] = (line + 1, col + 1)
            items.append(_plain(item, (*path, index), doc))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, datetime):
        return datetime(*node.timetuple()[:6], node.microsecond, tzinfo=node.tzinfo)
    if isinstance(node, date):
        return date(node.year, node.month, node.day)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def load_yaml(path: Path, display: str | None = None) -> YamlDoc:
    """Parse ``path``; a syntax error raises ``ConfigError`` at its line and column."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=name) from None
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        loc = Location(name, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
        raise ConfigError([Issue(loc, f"invalid YAML: {problem}")]) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=name) from None
    doc = YamlDoc(name, None)
    doc.data = _plain(raw, (), doc)
    if isinstance(raw, CommentedMap | CommentedSeq):
        doc.value_pos[()] = (raw.lc.line + 1, raw.lc.col + 1)
    return doc


def _strip_tags(loc: Sequence[str | int]) -> PathKey:
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("kind:")))


def _message(err: ErrorDetails, path: PathKey, data: Any, vocabulary: Iterable[str]) -> str:
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    last = path[-1] if path else ""
    if kind == "extra_forbidden":
        return f"unknown key '{last}'{suggest(str(last), vocabulary)}"
    if kind == "missing":
        return f"missing required key '{last}'"
    if kind == "condition_kind" and isinstance(err.get("input"), dict):
        keys = list(err["input"])
        hint = ""
        for key in keys:
            hint = hint or suggest(str(key), _KIND_KEYS)
        found = ", ".join(repr(k) for k in keys) or "nothing"
        return f"{msg} (found {found}){hint}"
    if kind in ("string_pattern_mismatch",) and last in ("name", "exclusive_group"):
        return "use lower-case letters, digits and dashes, starting with a letter or digit"
    given = err.get("input")
    if kind != "value_error" and isinstance(given, str | int | float | bool) and given != "":
        return f"{msg} (got {given!r})"
    return msg


_KIND_KEYS = ("all", "any", "not", "attribute", "event", "metric", "near", "in_segment", "esp")


def validation_issues(
    exc: ValidationError,
    doc: YamlDoc,
    *,
    prefix: PathKey = (),
    vocabulary: Iterable[str] = (),
) -> list[Issue]:
    """Turn pydantic errors into located issues (``prefix`` is where the model sits)."""
    words = list(vocabulary)
    issues = []
    for err in exc.errors(include_url=False):
        path = (*prefix, *_strip_tags(err["loc"]))
        is_key = err["type"] in ("extra_forbidden", "missing")
        location = doc.locate(path, key=is_key)
        issues.append(Issue(location, _message(err, path, doc.data, words)))
    return issues
