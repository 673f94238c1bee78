"""Load ``config/``: segments, metrics and destinations, with every error located.

Checks here need no data: YAML shape, names equal file names, references between files
(metrics, segments, destinations), ``in_segment`` cycles, modes per ESP, exclusive-group
rules. Checks against the customer store's schema live in ``checks.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from connector.definitions import conditions as c
from connector.definitions.conditions import KINDS, EspCondition
from connector.definitions.destinations import Destination, DestinationModels
from connector.definitions.kpis import KPIS_KEY, Kpis
from connector.definitions.metrics import AttributeMetric, EventMetric, Metric
from connector.definitions.segment import NAME_RE, Segment
from connector.definitions.trait_checks import check_traits
from connector.definitions.traits import BucketSpec, MapSpec, TopValueSpec
from connector.definitions.walk import (
    has_esp_conditions,
    hysteresis_nodes,
    iter_nodes,
    segment_refs,
)
from connector.definitions.yaml_source import YamlDoc, load_yaml, validation_issues
from connector.errors import ConfigError, Issue, Location
from connector.suggest import suggest

__all__ = ["Definitions", "load_definitions"]


def _vocabulary(*models: type[BaseModel]) -> set[str]:
    words = set(KINDS)
    for model in models:
        words.update(model.model_fields)
        words.update(f.alias for f in model.model_fields.values() if f.alias)
    return words


def _language_vocabulary(destinations: DestinationModels) -> set[str]:
    return _vocabulary(
        Segment,
        c.AttributeCondition,
        c.PropertyCondition,
        c.EventCondition,
        c.AggregateSpec,
        c.FollowUp,
        c.MetricCondition,
        c.GeoPoint,
        EventMetric,
        AttributeMetric,
        Kpis,
        TopValueSpec,
        BucketSpec,
        MapSpec,
    ) | {"to", "mode", "type", *destinations.field_names()}


@dataclass
class Definitions:
    """Everything in the config directory, validated (without the store)."""

    config_dir: Path
    segments: dict[str, Segment] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    destinations: dict[str, Destination] = field(default_factory=dict)
    docs: dict[str, YamlDoc] = field(default_factory=dict)
    #: names whose definitions failed to load (references to them are not reported again)
    broken: set[str] = field(default_factory=set)
    #: the report's outcome definition (``kpis:`` in metrics.yaml, else the defaults)
    kpis: Kpis = field(default_factory=Kpis)
    #: whether metrics.yaml declares a ``kpis:`` block (its names are then checked)
    kpis_declared: bool = False

    def segment_doc(self, name: str) -> YamlDoc:
        return self.docs[f"segment:{name}"]

    def locate(self, name: str, path: Iterable[str | int]) -> Location:
        """Location of ``path`` inside segment ``name``'s file."""
        return self.segment_doc(name).locate(tuple(path))

    def dependencies(self, names: Iterable[str]) -> list[str]:
        """``names`` plus every segment they reach through ``in_segment``, sorted."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.segments:
                continue
            seen.add(name)
            stack.extend(ref for ref, _ in segment_refs(self.segments[name].rule))
        return sorted(seen)


def _read_mapping(doc: YamlDoc) -> dict[str, Any] | None:
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        return None
    return doc.data


def _load_segments(defs: Definitions, issues: list[Issue], vocabulary: set[str]) -> None:
    folder = defs.config_dir / "segments"
    if not folder.is_dir():
        issues.append(Issue(Location(str(folder)), "segments directory not found"))
        return
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    stems: dict[str, Path] = {}
    for path in files:
        display = str(path)
        if path.stem in stems:
            issues.append(
                Issue(Location(display), f"segment defined twice: also {stems[path.stem]}")
            )
            continue
        stems[path.stem] = path
        defs.broken.add(path.stem)
        try:
            doc = load_yaml(path, display)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        if not isinstance(doc.data, dict):
            issues.append(Issue(Location(display, 1, 1), "a segment file must be a mapping"))
            continue
        try:
            segment = Segment.model_validate(doc.data)
        except ValidationError as exc:
            issues.extend(validation_issues(exc, doc, vocabulary=vocabulary))
            continue
        if segment.name != path.stem:
            issues.append(
                Issue(
                    doc.locate(("name",)),
                    f"name '{segment.name}' must equal the file name '{path.stem}'",
                )
            )
            continue
        defs.broken.discard(path.stem)
        defs.segments[segment.name] = segment
        defs.docs[f"segment:{segment.name}"] = doc


def _load_named_file(
    defs: Definitions,
    issues: list[Issue],
    filename: str,
    validate: Any,
    vocabulary: set[str],
    reserved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate each ``name: definition`` of the file; keys in ``reserved`` (key →
    validator) are validated by their own validator and stored under ``reserved``."""
    path = defs.config_dir / filename
    if not path.exists():
        return {}
    try:
        doc = load_yaml(path, str(path))
    except ConfigError as exc:
        issues.extend(exc.issues)
        defs.broken.add(f"file:{filename}")
        return {}
    defs.docs[filename.removesuffix(".yaml")] = doc
    data = _read_mapping(doc)
    if data is None:
        issues.append(Issue(Location(str(path), 1, 1), "must be a mapping of name: definition"))
        return {}
    result: dict[str, Any] = {}
    for name, raw in data.items():
        if reserved is not None and name in reserved:
            try:
                reserved[name] = reserved[name](raw)
            except ValidationError as exc:
                issues.extend(validation_issues(exc, doc, prefix=(name,), vocabulary=vocabulary))
                reserved[name] = None
            continue
        if not isinstance(name, str) or not NAME_RE.match(name.replace("_", "-")):
            issues.append(Issue(doc.locate((str(name),), key=True), f"invalid name '{name}'"))
            continue
        try:
            result[name] = validate(raw)
        except ValidationError as exc:
            issues.extend(validation_issues(exc, doc, prefix=(name,), vocabulary=vocabulary))
            defs.broken.add(name)
    return result


def _validate_metric(raw: Any) -> Metric:
    if isinstance(raw, dict) and "attribute" in raw and "event" not in raw:
        return AttributeMetric.model_validate(raw)
    return EventMetric.model_validate(raw)


def _check_references(defs: Definitions, issues: list[Issue]) -> None:
    names = list(defs.segments)
    for name, segment in defs.segments.items():
        for node, path in iter_nodes(segment.rule):
            metric = getattr(node, "metric", None)
            if (
                isinstance(metric, str)
                and metric not in defs.metrics
                and not (metric in defs.broken or "file:metrics.yaml" in defs.broken)
            ):
                where = "" if defs.metrics else " (config/metrics.yaml defines none)"
                issues.append(
                    Issue(
                        defs.locate(name, (*path, "metric")),
                        f"unknown metric '{metric}'{where}{suggest(metric, defs.metrics)}",
                    )
                )
        for ref, path in segment_refs(segment.rule):
            if ref in defs.broken:
                continue
            if ref not in defs.segments:
                issues.append(
                    Issue(defs.locate(name, path), f"unknown segment '{ref}'{suggest(ref, names)}")
                )
            elif has_esp_conditions(defs.segments[ref].rule):
                issues.append(
                    Issue(
                        defs.locate(name, path),
                        f"segment '{ref}' has esp conditions, which only the ESP can evaluate, "
                        "so in_segment cannot use it",
                    )
                )
        seen_targets: set[str] = set()
        for index, dest in enumerate(segment.destinations):
            loc = defs.locate(name, ("destinations", index, "to"))
            target = defs.destinations.get(dest.to)
            if target is None and (
                dest.to in defs.broken or "file:destinations.yaml" in defs.broken
            ):
                continue
            if target is None:
                issues.append(
                    Issue(
                        loc,
                        f"unknown destination '{dest.to}'{suggest(dest.to, defs.destinations)}"
                        + ("" if defs.destinations else " (config/destinations.yaml defines none)"),
                    )
                )
                continue
            if dest.to in seen_targets:
                issues.append(Issue(loc, f"destination '{dest.to}' listed twice"))
            seen_targets.add(dest.to)
            allowed = target.modes()
            if dest.mode not in allowed:
                issues.append(
                    Issue(
                        defs.locate(name, ("destinations", index, "mode")),
                        f"mode '{dest.mode}' is not available for {target.esp} "
                        f"(use {', '.join(allowed)})",
                    )
                )
    _check_cycles(defs, issues)
    _check_exclusive_groups(defs, issues)
    issues.extend(check_traits(defs))
    _check_hysteresis(defs, issues)


def _check_hysteresis(defs: Definitions, issues: list[Issue]) -> None:
    """``hysteresis`` keeps members in: it needs the segment's qualified set (not known
    locally with esp conditions) and a condition that holds for members (not under ``not``)."""
    for name, segment in defs.segments.items():
        esp = has_esp_conditions(segment.rule)
        for _, path, negated in hysteresis_nodes(segment.rule):
            where = defs.locate(name, (*path, "hysteresis"))
            if esp:
                issues.append(
                    Issue(
                        where,
                        "hysteresis needs the segment's members of the last run, which segsync "
                        "cannot know for a segment with esp conditions",
                    )
                )
            elif negated:
                issues.append(
                    Issue(
                        where,
                        "hysteresis cannot be used under 'not': it keeps the segment's members "
                        "in, and under 'not' it would push them out",
                    )
                )


def _check_cycles(defs: Definitions, issues: list[Issue]) -> None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for ref, path in segment_refs(defs.segments[name].rule):
            if ref not in defs.segments:
                continue
            if state.get(ref) == 1:
                cycle = [*trail[trail.index(ref) :], ref] if ref in trail else [name, ref]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    issues.append(
                        Issue(
                            defs.locate(name, path),
                            f"in_segment cycle: {' -> '.join(cycle)}",
                        )
                    )
            elif ref not in state:
                visit(ref, [*trail, ref])
        state[name] = 2

    for name in sorted(defs.segments):
        if name not in state:
            visit(name, [name])


def _check_exclusive_groups(defs: Definitions, issues: list[Issue]) -> None:
    for name, segment in defs.segments.items():
        if segment.exclusive_group is None:
            continue
        for node, path in iter_nodes(segment.rule):
            if isinstance(node, EspCondition):
                issues.append(
                    Issue(
                        defs.locate(name, path),
                        f"segment is in exclusive group '{segment.exclusive_group}', so its rule "
                        "must be evaluable locally: esp conditions are not allowed",
                    )
                )


def _check_esp_names(defs: Definitions, issues: list[Issue], names: tuple[str, ...]) -> None:
    """Every raw ``esp:`` condition is keyed by ESPs segsync knows."""
    for name, segment in defs.segments.items():
        for node, path in iter_nodes(segment.rule):
            if not isinstance(node, EspCondition):
                continue
            for esp in node.esp:
                if esp not in names:
                    issues.append(
                        Issue(
                            defs.locate(name, (*path, "esp", esp)),
                            f"unknown ESP '{esp}' (use {' or '.join(names)}){suggest(esp, names)}",
                        )
                    )


def load_definitions(config_dir: Path, destinations: DestinationModels) -> Definitions:
    """Load and cross-check the config directory; raise ``ConfigError`` with all issues.

    ``destinations`` are the ESPs' destination models (``connector.esp.registry.
    destination_models()``): the ``esp:`` values destinations and conditions may name.
    """
    if not config_dir.is_dir():
        raise ConfigError(f"config directory '{config_dir}' not found", file=str(config_dir))
    defs = Definitions(config_dir)
    issues: list[Issue] = []
    vocabulary = _language_vocabulary(destinations)
    reserved: dict[str, Any] = {KPIS_KEY: lambda raw: Kpis.model_validate(raw or {})}
    defs.metrics = _load_named_file(
        defs, issues, "metrics.yaml", _validate_metric, vocabulary, reserved
    )
    if isinstance(reserved[KPIS_KEY], Kpis):
        defs.kpis, defs.kpis_declared = reserved[KPIS_KEY], True
    defs.destinations = _load_named_file(
        defs, issues, "destinations.yaml", destinations.validate, vocabulary
    )
    _load_segments(defs, issues, vocabulary)
    _check_esp_names(defs, issues, destinations.names)
    _check_references(defs, issues)
    if issues:
        raise ConfigError(issues)
    defs.segments = dict(sorted(defs.segments.items()))
    return defs
