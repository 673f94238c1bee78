"""The split planner: fit a segment rule into one destination's native segment shape.

For modes ``segment`` and ``auto`` the rule is put in negation normal form and cut into
*atoms*: ESP-only conditions (must stay native), native-capable attribute conditions (may
stay native) and maximal ESP-free sub-rules (evaluated locally, materialised as parts).
The top level is read as an AND of clauses (CNF; Klaviyo, and Mailchimp ``match: all``)
or an OR of terms (DNF; Mailchimp ``match: any``); a clause that mixes ESP-only conditions
with others is distributed over atoms. Then:

- every ESP-free clause that is not native goes into one part, ``segsync:<segment>``
  (with the holdout and exclusive-group exclusions);
- in a clause with ESP-only conditions, its local atoms merge into one part;
- identical parts are shared, native attribute clauses move into the first part when the
  condition limit needs room, and a rule no split can express fails with the reason.

Modes ``tag`` / ``list`` (and any segment of an exclusive group) push the whole segment as
one part. In mode ``auto`` a rule with nothing native is pushed as a tag/list only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from connector.definitions.conditions import (
    AttributeCondition,
    Condition,
    EspCondition,
    Op,
)
from connector.definitions.describe import describe_rule
from connector.definitions.loader import Definitions
from connector.definitions.segment import Segment
from connector.definitions.walk import iter_nodes
from connector.definitions.yaml_source import format_path
from connector.errors import ConfigError, Issue, Location
from connector.evaluate.sql import text_key
from connector.plan.capabilities import Capabilities, CapabilitiesFor
from connector.plan.formula import And, Formula, Leaf, Or, clauses, leaves, to_condition, to_nnf
from connector.plan.model import NativeLiteral, NativeSegment, Part, Split
from connector.source.schema import ColumnType, StoreSchema

__all__ = ["PlanError", "native_segment_name", "part_name", "plan_split", "plan_splits"]

Form = Literal["cnf", "dnf"]
#: a clause with ESP-only conditions: its native literals and its merged local atoms
_EspGroup = tuple[list[NativeLiteral], "Formula | None"]


class PlanError(ConfigError):
    """A rule that no split can fit into the destination's native segment."""


def part_name(segment: str, index: int) -> str:
    """``segsync:<segment>`` for the first part, ``segsync:<segment>:<n>`` after it."""
    return f"segsync:{segment}" if index == 1 else f"segsync:{segment}:{index}"


def native_segment_name(segment: str) -> str:
    return f"segsync:{segment}:segment"


def _has_esp(formula: Formula) -> bool:
    return any(isinstance(leaf.condition, EspCondition) for leaf in leaves(formula))


def _key(condition: Condition) -> str:
    return json.dumps(condition.model_dump(mode="json", by_alias=True), sort_keys=True)


@dataclass
class _Attempt:
    """One candidate split (CNF or DNF); ``error`` says why it does not fit."""

    form: Form
    groups: list[list[NativeLiteral]] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    error: str = ""

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)


class _Planner:
    def __init__(
        self,
        defs: Definitions,
        segment: Segment,
        destination: str,
        mode: str,
        schema: StoreSchema | None,
        caps: Capabilities,
    ) -> None:
        self.defs = defs
        self.segment = segment
        self.destination_name = destination
        self.destination = defs.destinations[destination]
        self.caps = caps
        self.mode = mode
        self.schema = schema

    # -- errors -------------------------------------------------------------------------
    def _where(self) -> Location:
        doc = self.defs.docs.get(f"segment:{self.segment.name}")
        if doc is None:
            return Location(field="rule")
        return doc.locate(("rule",))

    def fail(self, message: str, path: tuple[str | int, ...] | None = None) -> PlanError:
        doc = self.defs.docs.get(f"segment:{self.segment.name}")
        location = doc.locate(path) if doc is not None and path else self._where()
        return PlanError([Issue(location, f"destination '{self.destination_name}': {message}")])

    def _esp_path(self, condition: Condition) -> tuple[str | int, ...] | None:
        for node, path in iter_nodes(self.segment.rule):
            if node is condition:
                return path
        return None

    # -- native literals ----------------------------------------------------------------
    def _native_attribute(self, leaf: Leaf) -> list[NativeLiteral] | None:
        """The native literals (an OR of them) equal to ``leaf``, or None if it stays local."""
        cond = leaf.condition
        if not isinstance(cond, AttributeCondition) or self.schema is None:
            return None
        real = self.schema.resolve(cond.attribute, self.schema.attributes)
        mapped = {k.lower(): v for k, v in self.destination.fields.items()}
        if real is None or real.lower() not in mapped:
            return None
        kind = self.schema.attributes[real]
        allowed = self.caps.native_ops.get(kind, frozenset())
        op = cond.op
        if not leaf.positive:
            flipped = {Op.EXISTS: Op.NOT_EXISTS, Op.NOT_EXISTS: Op.EXISTS}.get(op)
            if flipped is None:
                return None
            op = flipped
        if op not in allowed:
            return None
        if kind is ColumnType.TEXT:
            if cond.case_sensitive and self.caps.text_ignores_case:
                return None
            values = cond.value if op is Op.IN else (cond.value,)
            if op not in (Op.EXISTS, Op.NOT_EXISTS) and any(
                not isinstance(v, str | int | float) or not text_key(str(v)) for v in values
            ):
                return None  # an empty needle matches differently in each system
        field_name = mapped[real.lower()]
        attribute = cond.model_copy(update={"op": op}) if op is not cond.op else cond
        if op is Op.IN:
            return [
                NativeLiteral("attribute", attribute=attribute, esp_field=field_name, value=v)
                for v in cond.value
            ]
        return [
            NativeLiteral("attribute", attribute=attribute, esp_field=field_name, value=cond.value)
        ]

    def _esp_literal(self, leaf: Leaf) -> NativeLiteral:
        cond = leaf.condition
        assert isinstance(cond, EspCondition)
        path = self._esp_path(cond)
        if self.caps.esp not in cond.esp:
            raise self.fail(
                f"this esp condition has no '{self.caps.esp}' entry, so {self.caps.esp} "
                "cannot evaluate it (add one, or do not send this segment there)",
                path,
            )
        if not leaf.positive:
            raise self.fail(
                "an esp condition under 'not' cannot be negated natively; write the negative "
                "condition in the ESP's own terms instead",
                path,
            )
        return NativeLiteral("esp", esp=cond)

    # -- splitting ----------------------------------------------------------------------
    def _is_atom(self, formula: Formula) -> bool:
        return not _has_esp(formula)

    def _attempt(self, form: Form) -> _Attempt:
        attempt = _Attempt(form)
        classified = self._classify(form)
        if isinstance(classified, str):
            attempt.error = classified
            return attempt
        local_items, native_groups, esp_groups = classified
        if form == "dnf" and self.segment.holdout > 0:
            attempt.error = (
                "the segment has a holdout, which must be ANDed with the native segment, but "
                "its ESP-only conditions need 'match: any'"
            )
            return attempt
        # make room: native attribute clauses move into the first part
        while True:
            groups, parts = self._assemble(form, local_items, native_groups, esp_groups)
            total = sum(len(g) for g in groups)
            if total <= self.caps.max_conditions or not native_groups:
                break
            local_items.append(self._formula_of(native_groups.pop(), form))
        if total > self.caps.max_conditions:
            attempt.error = (
                f"the native segment needs {total} conditions but {self.destination_name} "
                f"allows {self.caps.max_conditions} (max_conditions in destinations.yaml)"
            )
            return attempt
        attempt.groups, attempt.parts = groups, parts
        return attempt

    def _classify(
        self, form: Form
    ) -> tuple[list[Formula], list[list[NativeLiteral]], list[_EspGroup]] | str:
        """Sort the top-level clauses (CNF) or terms (DNF): local ones (for the first
        part), native attribute ones, and those with ESP-only conditions. A string is
        the reason this form cannot hold the rule."""
        root = to_nnf(self.segment.rule)
        outer = And if form == "cnf" else Or
        top = list(root.items) if isinstance(root, outer) else [root]
        local_items: list[Formula] = []
        native_groups: list[list[NativeLiteral]] = []
        esp_groups: list[_EspGroup] = []
        flat = self.caps.shape == "flat"
        for item in top:
            if not _has_esp(item):
                literals = self._native_clause(item, form)
                if literals is None:
                    local_items.append(item)
                elif form == "dnf":  # an OR of literals is that many terms
                    native_groups.extend([literal] for literal in literals)
                elif not flat or len(literals) == 1:
                    native_groups.append(literals)
                else:
                    local_items.append(item)
                continue
            for clause in clauses(item, form, self._is_atom, self._describe):
                group = self._esp_clause(clause, form)
                if group is None:  # distribution produced an ESP-free clause
                    local_items.append(Or(tuple(clause)) if form == "cnf" else And(tuple(clause)))
                    continue
                literals, merged = group
                if flat and len(literals) + (merged is not None) > 1:
                    first = next(lit for lit in literals if lit.kind == "esp")
                    return self._flat_error(form, first)
                esp_groups.append(group)
        return local_items, native_groups, esp_groups

    def _esp_clause(self, clause: list[Formula], form: Form) -> _EspGroup | None:
        """A clause's native literals and its local atoms merged into one formula
        (None when the clause has no ESP-only condition)."""
        esp_lits: list[NativeLiteral] = []
        other: list[NativeLiteral] = []
        local: list[Formula] = []
        for atom in clause:
            if isinstance(atom, Leaf) and isinstance(atom.condition, EspCondition):
                esp_lits.append(self._esp_literal(atom))
                continue
            native = self._native_atom(atom)
            if native is not None:
                other.append(native)
            else:
                local.append(atom)
        if not esp_lits:
            return None
        merged: Formula | None = None
        if local:
            inner = Or if form == "cnf" else And
            merged = local[0] if len(local) == 1 else inner(tuple(local))
        return esp_lits + other, merged

    def _formula_of(self, literals: list[NativeLiteral], form: Form) -> Formula:
        items: list[Formula] = []
        for literal in literals:
            assert literal.attribute is not None
            cond = literal.attribute
            if cond.op is Op.IN:
                cond = cond.model_copy(update={"op": Op.EQ, "value": literal.value})
            items.append(Leaf(cond))
        if len(items) == 1:
            return items[0]
        return Or(tuple(items)) if form == "cnf" else And(tuple(items))

    def _native_atom(self, atom: Formula) -> NativeLiteral | None:
        if not isinstance(atom, Leaf):
            return None
        literals = self._native_attribute(atom)
        return literals[0] if literals is not None and len(literals) == 1 else None

    def _native_clause(self, item: Formula, form: Form) -> list[NativeLiteral] | None:
        """``item`` as an OR of native literals (one CNF clause, or that many DNF terms)."""
        if isinstance(item, Leaf):
            return self._native_attribute(item)
        if form == "dnf" or not isinstance(item, Or):
            return None
        result: list[NativeLiteral] = []
        for sub in item.items:
            if not isinstance(sub, Leaf):
                return None
            literals = self._native_attribute(sub)
            if literals is None:
                return None
            result.extend(literals)
        return result

    def _assemble(
        self,
        form: Form,
        local_items: Sequence[Formula],
        native_groups: Sequence[list[NativeLiteral]],
        esp_groups: Sequence[_EspGroup],
    ) -> tuple[list[list[NativeLiteral]], list[Part]]:
        parts: list[Part] = []
        keys: dict[str, str] = {}
        holdout = self.segment.holdout > 0

        def add(
            rule: Condition | None,
            *,
            kind: Literal["rule", "holdout"] = "rule",
            first: bool = False,
        ) -> str:
            key = f"{kind}:{_key(rule) if rule is not None else ''}:{first}"
            if key in keys:
                return keys[key]
            name = part_name(self.segment.name, len(parts) + 1)
            parts.append(
                Part(
                    name,
                    kind,
                    rule,
                    apply_holdout=first and holdout,
                    apply_exclusive=first and self.segment.exclusive_group is not None,
                )
            )
            keys[key] = name
            return name

        literal_groups: list[list[NativeLiteral]] = []
        if local_items:
            outer = And if form == "cnf" else Or
            merged = local_items[0] if len(local_items) == 1 else outer(tuple(local_items))
            literal_groups.append(
                [NativeLiteral("part", part=add(to_condition(merged), first=True))]
            )
        literal_groups.extend(native_groups)
        for group, merged_local in esp_groups:
            literals = list(group)
            if merged_local is not None:
                literals.append(NativeLiteral("part", part=add(to_condition(merged_local))))
            literal_groups.append(literals)
        if holdout and not local_items:
            name = add(None, kind="holdout")
            literal_groups.append([NativeLiteral("part", positive=False, part=name)])
        if form == "dnf" and len(literal_groups) > 1:
            literal_groups = [[lit for group in literal_groups for lit in group]]
        return literal_groups, parts

    def _flat_error(self, form: Form, literal: NativeLiteral) -> str:
        assert literal.esp is not None
        where = self._esp_path(literal.esp)
        at = f" (at {format_path(where)})" if where else ""
        if form == "cnf":
            return (
                f"the esp condition{at} sits in an 'any' together with other conditions; "
                f"{self.caps.title or self.caps.esp} segments are one flat list (match all or any) "
                "and cannot nest it"
            )
        return (
            f"the esp condition{at} is ANDed with other conditions inside an 'any'; "
            f"{self.caps.title or self.caps.esp} segments are one flat list (match all or any) "
            "and cannot nest it"
        )

    def _describe(self) -> str:
        return f"segment '{self.segment.name}', destination '{self.destination_name}'"

    # -- entry --------------------------------------------------------------------------
    def whole(self) -> Split:
        """The whole segment as one part (modes tag/list, exclusive groups, auto fallback)."""
        for node, path in iter_nodes(self.segment.rule):
            if isinstance(node, EspCondition):
                raise self.fail(
                    f"mode '{self.mode}' pushes the whole segment as one "
                    f"{self.caps.group_kind}, but the rule has an esp condition only the ESP can "
                    "evaluate; use mode segment or auto",
                    path,
                )
        part = Part(
            part_name(self.segment.name, 1),
            "rule",
            self.segment.rule,
            apply_holdout=self.segment.holdout > 0,
            apply_exclusive=self.segment.exclusive_group is not None,
        )
        native = None
        if self.mode == "segment":
            native = NativeSegment(
                native_segment_name(self.segment.name), ((NativeLiteral("part", part=part.name),),)
            )
        return self._split((part,), native)

    def _split(self, parts: Sequence[Part], native: NativeSegment | None) -> Split:
        return Split(
            segment=self.segment.name,
            destination=self.destination_name,
            esp=self.caps.esp,
            group_kind=self.caps.group_kind,
            mode=self.mode,
            parts=tuple(parts),
            native=native,
            fields=dict(self.destination.fields),
        )

    def plan(self) -> Split:
        if self.mode in ("tag", "list") or self.segment.exclusive_group is not None:
            return self.whole()
        forms: list[Form] = ["cnf", "dnf"] if self.caps.shape == "flat" else ["cnf"]
        attempts = [self._attempt(form) for form in forms]
        good = [a for a in attempts if not a.error]
        if not good:
            if len(attempts) == 1:
                raise self.fail(attempts[0].error)
            raise self.fail(
                f"as 'match: all', {attempts[0].error}; as 'match: any', {attempts[1].error}"
            )
        # fewest parts first, then as much native (live) content as possible, then fewest
        # conditions, then 'match: all'
        best = min(
            good,
            key=lambda a: (
                len(a.parts),
                -sum(lit.kind != "part" for g in a.groups for lit in g),
                a.size,
                a.form != "cnf",
            ),
        )
        has_native_content = any(lit.kind != "part" for g in best.groups for lit in g)
        if self.mode == "auto" and not has_native_content:
            return self.whole()
        groups = tuple(tuple(g) for g in best.groups)
        return self._split(
            best.parts, NativeSegment(native_segment_name(self.segment.name), groups)
        )


def plan_split(
    defs: Definitions,
    name: str,
    destination: str,
    mode: str,
    schema: StoreSchema | None,
    *,
    capabilities: CapabilitiesFor,
) -> Split:
    """Split segment ``name`` for ``destination`` in ``mode`` (``PlanError`` if impossible).

    Without a ``schema`` no attribute is native (everything but ESP-only conditions is
    evaluated locally); whether a split exists never depends on it. ``capabilities`` is
    ``connector.esp.registry.capabilities_for`` (passed in: the planner knows no ESP).
    """
    caps = capabilities(defs.destinations[destination])
    return _Planner(defs, defs.segments[name], destination, mode, schema, caps).plan()


def plan_splits(
    defs: Definitions,
    names: Sequence[str] | None = None,
    schema: StoreSchema | None = None,
    *,
    capabilities: CapabilitiesFor,
) -> list[Split]:
    """Every (segment, destination) split, or a ``ConfigError`` listing each failure."""
    splits: list[Split] = []
    issues: list[Issue] = []
    for name in names if names is not None else list(defs.segments):
        for ref in defs.segments[name].destinations:
            try:
                splits.append(
                    plan_split(defs, name, ref.to, ref.mode, schema, capabilities=capabilities)
                )
            except PlanError as exc:
                issues.extend(exc.issues)
    if issues:
        raise PlanError(issues)
    return splits


def describe_part(part: Part) -> str:
    """One line for plan output."""
    if part.kind == "holdout":
        return "held-out profiles (excluded from the native segment)"
    assert part.rule is not None
    text = describe_rule(part.rule)
    extras = [
        x
        for x, on in (
            ("minus holdout", part.apply_holdout),
            ("minus exclusive group", part.apply_exclusive),
        )
        if on
    ]
    return text + (f" ({', '.join(extras)})" if extras else "")
