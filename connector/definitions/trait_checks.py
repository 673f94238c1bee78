"""Checks of every destination's ``traits:``, each located in ``destinations.yaml``.

Without the store (``check_traits``): metric names, ``type:`` names, fields written twice,
and the type fit of traits whose kind of value is known from the YAML alone. With the
store (``check_traits_against_schema``): attributes, events and properties exist with a
fitting column type, and the fit of the rest (attributes, top values). With the ESP's own
field types (``check_traits_against_esp``, read as ``doctor`` reads the fields): each value
fits the field as it really is, whatever the YAML declares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from connector.definitions.destinations import Destination
from connector.definitions.traits import (
    AttributeTrait,
    BucketTrait,
    MapTrait,
    MetricTrait,
    TopValueTrait,
    Trait,
    ValueKind,
)
from connector.definitions.walk import Path
from connector.errors import Issue
from connector.source.schema import ColumnType, StoreSchema
from connector.suggest import suggest

if TYPE_CHECKING:  # the loader calls check_traits
    from connector.definitions.loader import Definitions

__all__ = [
    "check_traits",
    "check_traits_against_esp",
    "column_kind",
    "field_type",
    "iter_traits",
    "static_kind",
    "value_kind",
]

_COLUMN_KINDS = {
    ColumnType.TEXT: ValueKind.TEXT,
    ColumnType.NUMBER: ValueKind.NUMBER,
    ColumnType.BOOLEAN: ValueKind.BOOLEAN,
    ColumnType.TIMESTAMP: ValueKind.DATE,
    ColumnType.DATE: ValueKind.DATE,
    ColumnType.OTHER: ValueKind.OTHER,
}


def column_kind(kind: ColumnType) -> ValueKind:
    return _COLUMN_KINDS[kind]


def iter_traits(defs: Definitions) -> Iterator[tuple[str, Destination, str, Trait]]:
    """Every (destination name, destination, ESP field, trait)."""
    for name, destination in defs.destinations.items():
        for esp_field, trait in destination.traits.items():
            yield name, destination, esp_field, trait


def static_kind(trait: Trait) -> ValueKind | None:
    """The kind of the trait's values when the YAML alone tells (None: the store's
    column types decide)."""
    if isinstance(trait, MetricTrait):
        return ValueKind.NUMBER
    if isinstance(trait, BucketTrait | MapTrait):
        return ValueKind.TEXT
    return None


def value_kind(trait: Trait, schema: StoreSchema) -> ValueKind | None:
    """The kind of the trait's values over this store (None: a column it names is missing)."""
    known = static_kind(trait)
    if known is not None:
        return known
    if isinstance(trait, AttributeTrait):
        real = schema.resolve(trait.attribute, schema.attributes)
        return None if real is None else column_kind(schema.attributes[real])
    assert isinstance(trait, TopValueTrait)
    real = schema.resolve(trait.top_value.property, schema.properties)
    return None if real is None else column_kind(schema.properties[real])


def field_type(destination: Destination, esp_field: str, trait: Trait, kind: ValueKind) -> str:
    """The ESP field type the trait's values are pushed as."""
    fixed = destination.fixed_types.get(esp_field)
    return trait.type or fixed or destination.default_types[kind]


def fit_issue(
    defs: Definitions, name: str, destination: Destination, esp_field: str, trait: Trait,
    kind: ValueKind,
) -> Issue | None:  # fmt: skip
    """A located issue when values of ``kind`` do not fit the ESP field's type."""
    wanted = field_type(destination, esp_field, trait, kind)
    accepted = destination.field_types.get(wanted)
    if accepted is None or kind in accepted:
        return None
    what = destination.field_noun
    where = (name, "traits", esp_field, "type" if trait.type else _kind_key(trait))
    return Issue(
        defs.docs["destinations"].locate(where),
        f"trait {esp_field}: its values are {kind.value}, which a {wanted} {what} cannot "
        f"hold ({wanted} takes {', '.join(sorted(k.value for k in accepted))})",
    )


def _kind_key(trait: Trait) -> str:
    for key in ("metric", "attribute", "top_value", "bucket", "map"):
        if key in type(trait).model_fields:
            return key
    raise AssertionError(trait)  # pragma: no cover


def check_traits(defs: Definitions) -> list[Issue]:
    """Problems found without the store (see the module docstring)."""
    issues: list[Issue] = []
    doc = defs.docs.get("destinations")
    if doc is None:
        return issues
    metrics_broken = "file:metrics.yaml" in defs.broken
    for name, destination, esp_field, trait in iter_traits(defs):
        base: Path = (name, "traits", esp_field)
        fold = destination.field_names_ignore_case
        mapped = {v.upper() if fold else v: k for k, v in destination.fields.items()}
        twin = mapped.get(esp_field.upper() if fold else esp_field)
        if twin is not None:
            issues.append(
                Issue(
                    doc.locate(base, key=True),
                    f"field {esp_field} is written by `fields` (from {twin}) and by a trait; "
                    "keep one",
                )
            )
        fixed = destination.fixed_types.get(esp_field)
        if trait.type is not None and trait.type not in destination.field_types:
            hint = suggest(trait.type, destination.field_types)
            issues.append(
                Issue(
                    doc.locate((*base, "type")),
                    f"unknown {destination.esp} field type '{trait.type}' (use "
                    f"{', '.join(destination.field_types)}){hint}",
                )
            )
            continue
        if fixed is not None and trait.type not in (None, fixed):
            issues.append(
                Issue(
                    doc.locate((*base, "type")),
                    f"{esp_field} is a {destination.esp} profile attribute of type {fixed}",
                )
            )
            continue
        metric, path = _metric_of(trait)
        if metric is not None and metric not in defs.metrics and not metrics_broken:
            issues.append(
                Issue(
                    doc.locate((*base, *path)),
                    f"unknown metric '{metric}'{suggest(metric, defs.metrics)}"
                    + ("" if defs.metrics else " (config/metrics.yaml defines none)"),
                )
            )
            continue
        kind = static_kind(trait)
        if kind is not None:
            issue = fit_issue(defs, name, destination, esp_field, trait, kind)
            if issue is not None:
                issues.append(issue)
    return issues


def _metric_of(trait: Trait) -> tuple[str | None, Path]:
    if isinstance(trait, MetricTrait):
        return trait.metric, ("metric",)
    if isinstance(trait, BucketTrait) and trait.bucket.metric is not None:
        return trait.bucket.metric, ("bucket", "metric")
    return None, ()


def check_traits_against_esp(
    defs: Definitions,
    name: str,
    actual: Mapping[str, str],
    schema: StoreSchema | None,
) -> list[Issue]:
    """Problems of destination ``name``'s traits against the ESP's field types (``actual``:
    ESP field → its type there, for the fields that exist and have one; a missing field is
    ``doctor``'s finding). Without ``schema``, traits whose kind the store decides are
    skipped."""
    destination = defs.destinations[name]
    doc = defs.docs.get("destinations")
    issues: list[Issue] = []
    what = destination.field_noun
    for esp_field, trait in destination.traits.items():
        real = actual.get(esp_field)
        if real is None or doc is None:
            continue
        kind = static_kind(trait) if schema is None else value_kind(trait, schema)
        where = (name, "traits", esp_field, "type" if trait.type else _kind_key(trait))
        accepted = destination.field_types.get(real, frozenset())
        if kind is not None and kind not in accepted:
            takes = ", ".join(sorted(k.value for k in accepted)) or "no value segsync pushes"
            issues.append(
                Issue(
                    doc.locate(where),
                    f"trait {esp_field}: its values are {kind.value}, but {esp_field} is a "
                    f"{real} {what} in {destination.esp} (it takes {takes}): change the "
                    f"{what}'s type there, or push the trait to another field",
                )
            )
        elif trait.type is not None and trait.type != real:
            issues.append(
                Issue(
                    doc.locate(where),
                    f"trait {esp_field} declares type {trait.type}, but {esp_field} is a "
                    f"{real} {what} in {destination.esp}: declare {real}, or change the field",
                )
            )
    return issues
