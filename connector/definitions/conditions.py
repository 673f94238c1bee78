"""The segment language: one pydantic model per kind of condition node.

A node is exactly one of: ``all``/``any``/``not``, an attribute condition, an event
condition, a metric condition, ``near``, ``in_segment`` or ``esp``. The kind is decided by
which of those keys the mapping holds (see ``condition_kind``), so a YAML error points at
the right model instead of a wall of union alternatives.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    field_serializer,
    model_validator,
)

from connector.timespec import Duration, format_instant, parse_duration, parse_instant

__all__ = [
    "AGGREGATES",
    "KINDS",
    "AggregateSpec",
    "AllOf",
    "AnyOf",
    "AttributeCondition",
    "Condition",
    "EspCondition",
    "EventCondition",
    "FollowUp",
    "GeoPoint",
    "InSegmentCondition",
    "MetricCondition",
    "NearCondition",
    "NotOf",
    "Op",
    "PropertyCondition",
    "condition_kind",
]

DurationField = Annotated[
    Duration,
    BeforeValidator(lambda v: v if isinstance(v, Duration) else parse_duration(v)),
    PlainSerializer(str, return_type=str),
]


class Op(StrEnum):
    """Operators of attribute and event-property conditions."""

    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    WITHIN_LAST = "within_last"
    NOT_WITHIN_LAST = "not_within_last"
    BEFORE = "before"
    AFTER = "after"


#: each negative operator is exactly ``not`` of its positive twin (so true on NULL)
NEGATIONS: dict[Op, Op] = {
    Op.NEQ: Op.EQ,
    Op.NOT_IN: Op.IN,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.NOT_EXISTS: Op.EXISTS,
    Op.NOT_WITHIN_LAST: Op.WITHIN_LAST,
}
TEXT_OPS = {Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH}
LIST_OPS = {Op.IN, Op.NOT_IN}
NO_VALUE_OPS = {Op.EXISTS, Op.NOT_EXISTS}


AGGREGATES = ("count", "sum", "avg", "min", "max")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_scalar(op: Op, value: object) -> object:
    if isinstance(value, list | dict | tuple) or value is None:
        raise ValueError(f"op {op.value} takes one value (text, number, boolean or date)")
    return value


def _check_op_value(op: Op, value: object) -> object:
    """Validate the shape of ``value`` for ``op``; returns the normalised value.

    Idempotent: an already normalised value (a tuple, a ``Duration``) passes unchanged,
    because pydantic re-runs this when a parsed node is nested into a new one.
    """
    if op in NO_VALUE_OPS:
        if value is not None:
            raise ValueError(f"op {op.value} takes no value")
        return None
    if value is None:
        raise ValueError(f"op {op.value} needs a value")
    if op in LIST_OPS:
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"op {op.value} needs a non-empty list of values")
        return tuple(_check_scalar(op, v) for v in value)
    if op is Op.BETWEEN:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("op between needs a list of two values [low, high]")
        return tuple(_check_scalar(op, v) for v in value)
    if op in (Op.WITHIN_LAST, Op.NOT_WITHIN_LAST):
        return value if isinstance(value, Duration) else parse_duration(value)
    if op in (Op.BEFORE, Op.AFTER):
        return parse_instant(value)
    if op in TEXT_OPS and not isinstance(value, str):
        raise ValueError(f"op {op.value} needs a text value")
    return _check_scalar(op, value)


def _serialise_value(value: object) -> object:
    if isinstance(value, tuple):
        return [_serialise_value(v) for v in value]
    if isinstance(value, Duration):
        return value.text
    if isinstance(value, datetime):
        return format_instant(value)
    return value


class _Comparison(_Node):
    """Shared shape of attribute and property conditions."""

    op: Op
    value: Any = None
    case_sensitive: bool = Field(
        default=False,
        description="Compare text with its case as stored (still trimmed). Default: ignore case.",
    )

    @model_validator(mode="after")
    def _value_fits_op(self) -> _Comparison:
        object.__setattr__(self, "value", _check_op_value(self.op, self.value))
        return self

    @field_serializer("value")
    def _dump_value(self, value: Any) -> Any:
        return _serialise_value(value)


class AttributeCondition(_Comparison):
    """``{attribute: region, op: eq, value: CA}`` over a profile column."""

    attribute: str = Field(min_length=1)


class PropertyCondition(_Comparison):
    """``{property: category, op: eq, value: electronics}`` inside an event's ``where``."""

    property: str = Field(min_length=1)


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Number: TypeAlias = Annotated[
    float,
    BeforeValidator(_number),
    PlainSerializer(lambda v: int(v) if float(v).is_integer() else v),
]
COMPARATORS = ("eq", "neq", "gt", "gte", "lt", "lte")


class _ComparisonFields(_Node):
    eq: Number | None = None
    neq: Number | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None

    def comparisons(self) -> list[tuple[str, float]]:
        """The given comparisons as ``(operator, number)`` pairs; all must hold."""
        return [(name, value) for name in COMPARATORS if (value := getattr(self, name)) is not None]


class AggregateSpec(_ComparisonFields):
    """``count: {gte: 4}`` or ``sum: {property: amount, gte: 100}``: all comparisons hold."""

    property: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> AggregateSpec:
        if not self.comparisons():
            raise ValueError("give at least one comparison: eq, neq, gt, gte, lt or lte")
        return self


class FollowUp(_Node):
    """The ``not_followed_by`` event: ``{event, where?, within?}``."""

    event: str = Field(min_length=1)
    where: tuple[PropertyCondition, ...] = ()
    within: DurationField | None = None


class EventCondition(_Node):
    """Behaviour: an aggregate over the profile's matching events.

    ``{event: order_completed, where: [...], within: 30d, count: {gte: 4}, per: category}``.
    Without an aggregate it means ``count: {gte: 1}``.
    """

    event: str = Field(min_length=1)
    where: tuple[PropertyCondition, ...] = ()
    within: DurationField | None = None
    count: AggregateSpec | None = None
    sum: AggregateSpec | None = None
    avg: AggregateSpec | None = None
    min: AggregateSpec | None = None
    max: AggregateSpec | None = None
    per: str | None = Field(default=None, min_length=1)
    not_followed_by: FollowUp | None = None

    @model_validator(mode="after")
    def _one_aggregate(self) -> EventCondition:
        given = [name for name in AGGREGATES if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"use one aggregate per condition, not {' and '.join(given)}")
        if self.count is not None and self.count.property is not None:
            raise ValueError("count takes no property (it counts events)")
        for name in AGGREGATES[1:]:
            spec = getattr(self, name)
            if spec is not None and spec.property is None:
                raise ValueError(f"{name} needs a property, e.g. {name}: {{property: amount, ...}}")
        if self.not_followed_by is not None and given:
            raise ValueError("not_followed_by cannot be combined with an aggregate")
        if self.not_followed_by is not None and self.per is not None:
            raise ValueError("not_followed_by cannot be combined with per")
        return self

    def aggregate(self) -> tuple[str, AggregateSpec]:
        """The aggregate and its comparisons (``count >= 1`` when none is given)."""
        for name in AGGREGATES:
            spec = getattr(self, name)
            if spec is not None:
                return name, spec
        return "count", _AT_LEAST_ONE


_AT_LEAST_ONE = AggregateSpec(gte=1)


class MetricCondition(_ComparisonFields):
    """``{metric: orders_90d, gte: 3}`` or ``{metric: clv, top_percent: 10}``."""

    metric: str = Field(min_length=1)
    top_percent: float | None = Field(default=None, gt=0, le=100)
    bottom_percent: float | None = Field(default=None, gt=0, le=100)
    hysteresis: Number | None = Field(
        default=None,
        description=(
            "Percentage points of slack for members of the segment's last sync run: they stay "
            "while within top (or bottom) P + hysteresis %; others enter at P %."
        ),
    )

    @model_validator(mode="after")
    def _one_form(self) -> MetricCondition:
        forms = sum(x is not None for x in (self.top_percent, self.bottom_percent))
        if forms > 1 or (forms and self.comparisons()):
            raise ValueError("use either comparisons or one of top_percent / bottom_percent")
        if not forms and not self.comparisons():
            raise ValueError(
                "give comparisons (eq, neq, gt, gte, lt, lte) or top_percent / bottom_percent"
            )
        if self.hysteresis is not None:
            if not forms:
                raise ValueError(
                    "hysteresis applies only to top_percent / bottom_percent conditions"
                )
            if self.hysteresis < 0:
                raise ValueError(
                    f"hysteresis must be 0 or more percentage points, not {self.hysteresis:g}"
                )
        return self

    def percent(self) -> tuple[str, float] | None:
        """``("top" | "bottom", P)`` for a percentile condition, else ``None``."""
        if self.top_percent is not None:
            return "top", self.top_percent
        if self.bottom_percent is not None:
            return "bottom", self.bottom_percent
        return None

    def loose_percent(self) -> float | None:
        """The cut-off for members of the previous run: P + hysteresis, at most 100."""
        form = self.percent()
        if form is None or not self.hysteresis:
            return None
        return min(100.0, form[1] + self.hysteresis)


class GeoPoint(_Node):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0)


class NearCondition(_Node):
    """``{near: {lat, lon, radius_km}}``: great-circle distance from the profile's location."""

    near: GeoPoint


class InSegmentCondition(_Node):
    """``{in_segment: churn-risk}``: who qualifies for another segment's rule."""

    in_segment: str = Field(min_length=1)


class EspCondition(_Node):
    """``{esp: {mailchimp: {...}}}``: a raw native condition only the ESP can evaluate."""

    #: keyed by ``esp:`` name; the loader checks the names against the ESP registry's
    esp: dict[str, dict[str, Any]] = Field(min_length=1)


def _non_empty(value: Any) -> Any:
    if isinstance(value, list | tuple) and not value:
        raise ValueError("needs at least one condition")
    return value


class AllOf(_Node):
    all: Annotated[tuple[Condition, ...], BeforeValidator(_non_empty)]


class AnyOf(_Node):
    any: Annotated[tuple[Condition, ...], BeforeValidator(_non_empty)]


class NotOf(_Node):
    not_: Condition = Field(alias="not")


#: the key that identifies each kind of node, in the order they are tried
KINDS: dict[str, type[_Node]] = {
    "all": AllOf,
    "any": AnyOf,
    "not": NotOf,
    "attribute": AttributeCondition,
    "event": EventCondition,
    "metric": MetricCondition,
    "near": NearCondition,
    "in_segment": InSegmentCondition,
    "esp": EspCondition,
}
_CLASS_KIND = {cls: kind for kind, cls in KINDS.items()}


def condition_kind(value: Any) -> str | None:
    """The union tag (``kind:<key>``) of a raw mapping or a model instance, ``None`` when the
    value is not exactly one node. Error paths carry the tag; loaders strip ``kind:`` parts."""
    if isinstance(value, _Node):
        kind = _CLASS_KIND.get(type(value))
    elif isinstance(value, dict):
        keys = [k for k in KINDS if k in value]
        kind = keys[0] if len(keys) == 1 else None
    else:
        kind = None
    return None if kind is None else f"kind:{kind}"


Condition = Annotated[
    Annotated[AllOf, Tag("kind:all")]
    | Annotated[AnyOf, Tag("kind:any")]
    | Annotated[NotOf, Tag("kind:not")]
    | Annotated[AttributeCondition, Tag("kind:attribute")]
    | Annotated[EventCondition, Tag("kind:event")]
    | Annotated[MetricCondition, Tag("kind:metric")]
    | Annotated[NearCondition, Tag("kind:near")]
    | Annotated[InSegmentCondition, Tag("kind:in_segment")]
    | Annotated[EspCondition, Tag("kind:esp")],
    Discriminator(
        condition_kind,
        custom_error_type="condition_kind",
        custom_error_message=(
            "a condition needs exactly one of the keys all, any, not, attribute, event, "
            "metric, near, in_segment, esp"
        ),
    ),
]

for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()
