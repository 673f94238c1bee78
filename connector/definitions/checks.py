"""Definitions checked against the customer store's schema, before anything runs.

Every attribute, property, event and metric a rule uses must exist in the store with a
type its operator fits ("unknown attribute 'regoin' — did you mean 'region'?").
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.definitions.conditions import (
    AttributeCondition,
    EventCondition,
    FollowUp,
    NearCondition,
    PropertyCondition,
)
from connector.definitions.loader import Definitions
from connector.definitions.metrics import AttributeMetric, EventMetric
from connector.definitions.trait_checks import fit_issue, iter_traits, value_kind
from connector.definitions.traits import AttributeTrait, BucketTrait, MapTrait, TopValueTrait
from connector.definitions.values import coerce_value
from connector.definitions.walk import Path, iter_nodes
from connector.definitions.yaml_source import YamlDoc
from connector.errors import ConfigError, Issue, Location
from connector.source.schema import ColumnType, StoreSchema
from connector.suggest import suggest

__all__ = ["check_against_schema", "check_kpis", "raise_for_schema"]


class _Checker:
    def __init__(self, defs: Definitions, schema: StoreSchema) -> None:
        self.defs = defs
        self.schema = schema
        self.issues: list[Issue] = []
        self.empty_events = False

    def add(self, location: Location, message: str) -> None:
        self.issues.append(Issue(location, message))

    # -- names ------------------------------------------------------------------------
    def column(
        self, doc: YamlDoc, path: Path, name: str, columns: dict[str, ColumnType], what: str
    ) -> ColumnType | None:
        real = StoreSchema.resolve(name, columns)
        if real is None:
            table = (
                self.schema.layout.profiles_table
                if what == "attribute"
                else self.schema.layout.events_table
            )
            self.add(
                doc.locate(path),
                f"unknown {what} '{name}' (not a column of '{table}'){suggest(name, columns)}",
            )
            return None
        return columns[real]

    def event(self, doc: YamlDoc, path: Path, name: str) -> None:
        key = name.strip().lower()
        if not self.schema.event_count:
            self.empty_events = True  # one issue for the empty table, not one per event
            return
        if key not in self.schema.event_names:
            known = sorted(self.schema.event_names)
            listing = f" (events in the store: {', '.join(known[:12])})" if known else ""
            hint = suggest(key, known)
            self.add(doc.locate(path), f"unknown event '{name}'{hint or listing}")

    # -- conditions -------------------------------------------------------------------
    def comparison(
        self,
        doc: YamlDoc,
        path: Path,
        cond: AttributeCondition | PropertyCondition,
        columns: dict[str, ColumnType],
        what: str,
    ) -> None:
        name = cond.attribute if isinstance(cond, AttributeCondition) else cond.property
        kind = self.column(doc, (*path, what), name, columns, what)
        if kind is None:
            return
        try:
            coerce_value(cond.op, cond.value, kind)
        except ValueError as exc:
            field = "op" if "does not apply" in str(exc) else "value"
            self.add(doc.locate((*path, field)), f"{what} '{name}' is {kind.value}: {exc}")

    def where(self, doc: YamlDoc, path: Path, conds: Iterable[PropertyCondition]) -> None:
        for index, cond in enumerate(conds):
            self.comparison(doc, (*path, "where", index), cond, self.schema.properties, "property")

    def numeric_property(self, doc: YamlDoc, path: Path, name: str, purpose: str) -> None:
        kind = self.column(doc, path, name, self.schema.properties, "property")
        if kind is not None and kind is not ColumnType.NUMBER:
            self.add(
                doc.locate(path), f"{purpose} needs a number property; '{name}' is {kind.value}"
            )

    def event_condition(self, doc: YamlDoc, path: Path, cond: EventCondition | FollowUp) -> None:
        self.event(doc, (*path, "event"), cond.event)
        self.where(doc, path, cond.where)
        if isinstance(cond, FollowUp):
            return
        name, spec = cond.aggregate()
        if spec.property is not None:
            self.numeric_property(doc, (*path, name, "property"), spec.property, name)
        if cond.per is not None:
            kind = self.column(doc, (*path, "per"), cond.per, self.schema.properties, "property")
            if kind is ColumnType.OTHER:
                self.add(doc.locate((*path, "per")), f"cannot group by '{cond.per}' ({kind.value})")
        if cond.not_followed_by is not None:
            self.event_condition(doc, (*path, "not_followed_by"), cond.not_followed_by)

    def near(self, doc: YamlDoc, path: Path) -> None:
        lay = self.schema.layout
        for column in (lay.latitude, lay.longitude):
            kind = self.column(doc, (*path, "near"), column, self.schema.attributes, "attribute")
            if kind is not None and kind is not ColumnType.NUMBER:
                self.add(doc.locate((*path, "near")), f"'{column}' must be a number column")

    def segment(self, name: str) -> None:
        doc = self.defs.segment_doc(name)
        for node, path in iter_nodes(self.defs.segments[name].rule):
            if isinstance(node, AttributeCondition):
                self.comparison(doc, path, node, self.schema.attributes, "attribute")
            elif isinstance(node, EventCondition):
                self.event_condition(doc, path, node)
            elif isinstance(node, NearCondition):
                self.near(doc, path)

    def metrics(self) -> None:
        doc = self.defs.docs.get("metrics")
        if doc is None:
            return
        for name, metric in self.defs.metrics.items():
            if isinstance(metric, AttributeMetric):
                kind = self.column(
                    doc, (name, "attribute"), metric.attribute, self.schema.attributes, "attribute"
                )
                if kind is not None and kind is not ColumnType.NUMBER:
                    self.add(
                        doc.locate((name, "attribute")),
                        f"a metric needs a number attribute; '{metric.attribute}' is {kind.value}",
                    )
                continue
            assert isinstance(metric, EventMetric)
            self.event(doc, (name, "event"), metric.event)
            self.where(doc, (name,), metric.where)
            if metric.property is None:
                continue
            if metric.aggregate == "distinct_count":
                self.column(
                    doc, (name, "property"), metric.property, self.schema.properties, "property"
                )
            else:
                self.numeric_property(doc, (name, "property"), metric.property, metric.aggregate)

    def traits(self) -> None:
        """Every trait's columns exist with a fitting type, and its values fit the field."""
        doc = self.defs.docs.get("destinations")
        if doc is None:
            return
        for name, destination, esp_field, trait in iter_traits(self.defs):
            base = (name, "traits", esp_field)
            attrs = self.schema.attributes
            before = len(self.issues)
            if isinstance(trait, AttributeTrait):
                self.column(doc, (*base, "attribute"), trait.attribute, attrs, "attribute")
            elif isinstance(trait, TopValueTrait):
                spec = trait.top_value
                path: tuple[str, ...] = (*base, "top_value")
                self.event(doc, (*path, "event"), spec.event)
                self.where(doc, path, spec.where)
                props = self.schema.properties
                self.column(doc, (*path, "property"), spec.property, props, "property")
            elif isinstance(trait, BucketTrait) and trait.bucket.attribute is not None:
                path = (*base, "bucket", "attribute")
                kind = self.column(doc, path, trait.bucket.attribute, attrs, "attribute")
                if kind is not None and kind is not ColumnType.NUMBER:
                    self.add(
                        doc.locate(path),
                        f"bucket needs a number attribute; '{trait.bucket.attribute}' is "
                        f"{kind.value}",
                    )
            elif isinstance(trait, MapTrait):
                path = (*base, "map", "attribute")
                kind = self.column(doc, path, trait.map.attribute, attrs, "attribute")
                if kind is not None and kind is not ColumnType.TEXT:
                    self.add(
                        doc.locate(path),
                        f"map needs a text attribute; '{trait.map.attribute}' is {kind.value}",
                    )
            if len(self.issues) > before or not isinstance(trait, AttributeTrait | TopValueTrait):
                continue  # the others' fit was checked without the store
            found = value_kind(trait, self.schema)
            issue = None
            if found is not None:
                issue = fit_issue(self.defs, name, destination, esp_field, trait, found)
            if issue is not None:
                self.issues.append(issue)


def check_against_schema(
    defs: Definitions, schema: StoreSchema, names: Iterable[str] | None = None
) -> list[Issue]:
    """Every problem of ``names`` (default: all segments) and of the metrics vs the store."""
    checker = _Checker(defs, schema)
    checker.metrics()
    checker.traits()
    if defs.kpis_declared:
        checker.issues.extend(check_kpis(defs, schema))
    for name in defs.dependencies(names if names is not None else defs.segments):
        checker.segment(name)
    if checker.empty_events:
        layout = schema.layout
        checker.add(
            Location(file="SEGSYNC_SOURCE_URL"),
            f"the customer store is empty: '{layout.events_table}' has no rows "
            f"('{layout.profiles_table}' has {schema.profile_count}), so the events the rules "
            "use cannot be checked; load data with `segsync load events FILE` (and "
            "`segsync load profiles FILE`), or build the demo store with `segsync demo`",
        )
    return sorted(set(checker.issues))


def raise_for_schema(
    defs: Definitions, schema: StoreSchema, names: Iterable[str] | None = None
) -> None:
    issues = check_against_schema(defs, schema, names)
    if issues:
        raise ConfigError(issues)


def check_kpis(defs: Definitions, schema: StoreSchema) -> list[Issue]:
    """Problems of the ``kpis:`` block (or of its defaults) against the store: the
    conversion event must exist and the revenue property must be a number column."""
    checker = _Checker(defs, schema)
    kpis = defs.kpis
    doc = defs.docs.get("metrics")
    if defs.kpis_declared and doc is not None:
        checker.event(doc, ("kpis", "conversion_event"), kpis.conversion_event)
        checker.numeric_property(
            doc, ("kpis", "revenue_property"), kpis.revenue_property, "revenue_property"
        )
        return sorted(set(checker.issues))
    default = YamlDoc(f"{defs.config_dir / 'metrics.yaml'} (no kpis: block, so the default)", {})
    checker.event(default, ("kpis", "conversion_event"), kpis.conversion_event)
    checker.numeric_property(
        default, ("kpis", "revenue_property"), kpis.revenue_property, "revenue_property"
    )
    return sorted(set(checker.issues))
