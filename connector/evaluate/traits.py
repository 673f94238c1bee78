"""Traits compiled to per-profile value expressions of the run's one query, and their
values converted to what the ESP field takes (docs/design.md, Traits).

A trait reads the same ``__ranked`` columns as the rules: attributes, metrics (their
aggregates join the shared event scan) and top values (one more CTE over the scan's
events). ``bucket`` and ``map`` are CASE expressions over those.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlglot import exp

from connector.definitions.loader import Definitions
from connector.definitions.trait_checks import field_type, value_kind
from connector.definitions.traits import (
    AttributeTrait,
    BucketTrait,
    MapTrait,
    MetricTrait,
    TopValueTrait,
    Trait,
    ValueKind,
)
from connector.evaluate.compile import RuleCompiler
from connector.evaluate.sql import col, lit, norm_text, text_key
from connector.source.schema import StoreSchema

__all__ = ["TraitField", "compile_trait", "trait_fields", "trait_value"]


def _attribute(compiler: RuleCompiler, name: str) -> exp.Expr:
    real = StoreSchema.resolve(name, compiler.schema.attributes)
    assert real is not None, name  # checked against the schema before compiling
    compiler.attributes.add(real)
    return col(real)


def compile_trait(compiler: RuleCompiler, trait: Trait) -> exp.Expr:
    """The trait's value per profile, over the ``__ranked`` columns (NULL when none)."""
    if isinstance(trait, MetricTrait):
        return compiler.metric_value(trait.metric)
    if isinstance(trait, AttributeTrait):
        return _attribute(compiler, trait.attribute)
    if isinstance(trait, TopValueTrait):
        spec = trait.top_value
        flt = compiler.event_filter(spec.event, spec.where, spec.within)
        return compiler.scan.top_value(flt, spec.property)
    if isinstance(trait, BucketTrait):
        bucket = trait.bucket
        if bucket.metric is not None:
            value = compiler.metric_value(bucket.metric)
        else:
            assert bucket.attribute is not None
            value = exp.cast(_attribute(compiler, bucket.attribute), exp.DataType.build("DOUBLE"))
        ifs = [exp.If(this=exp.Is(this=value.copy(), expression=exp.null()), true=exp.null())]
        for edge, label in zip(bucket.edges, bucket.labels, strict=False):
            ifs.append(
                exp.If(
                    this=exp.LT(this=value.copy(), expression=lit(float(edge))),
                    true=lit(label.strip()),
                )
            )
        return exp.Case(ifs=ifs, default=lit(bucket.labels[-1].strip()))
    if isinstance(trait, MapTrait):
        spec_map = trait.map
        key = norm_text(_attribute(compiler, spec_map.attribute))
        ifs = [
            exp.If(this=exp.EQ(this=key.copy(), expression=lit(text_key(k))), true=lit(v.strip()))
            for k, v in spec_map.values.items()
        ]
        default = lit(spec_map.default.strip()) if spec_map.default is not None else exp.null()
        return exp.Case(ifs=ifs, default=default)
    raise AssertionError(f"unhandled trait {trait!r}")  # pragma: no cover


def trait_value(value: Any, field_type: str) -> Any:
    """A store value as the ESP field of ``field_type`` takes it; None for NULL (never
    sent). Whole numbers become integers (a count is 3, not 3.0); instants and dates are
    ISO text; text is trimmed; a ``text`` field takes any value as text."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        value = item()  # NumPy scalars
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            value = int(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if isinstance(value, str):
        value = value.strip(" ")
    if field_type != "text" or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class TraitField:
    """One trait of one destination: the ESP field it fills, the key of its values in the
    evaluation, and the field type they are pushed as."""

    destination: str
    esp_field: str
    trait: Trait
    field_type: str

    @property
    def key(self) -> str:
        return f"{self.destination}\x1f{self.esp_field}"


def trait_fields(
    defs: Definitions, schema: StoreSchema, destinations: Iterable[str]
) -> dict[str, list[TraitField]]:
    """The traits of ``destinations``, by destination (only those that have some)."""
    out: dict[str, list[TraitField]] = {}
    for name in destinations:
        destination = defs.destinations[name]
        for esp_field, trait in destination.traits.items():
            kind = value_kind(trait, schema) or ValueKind.OTHER
            out.setdefault(name, []).append(
                TraitField(name, esp_field, trait, field_type(destination, esp_field, trait, kind))
            )
    return out
