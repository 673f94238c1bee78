"""Evaluate segments: one query for every rule of the run, then the order of operations
of docs/design.md (Semantics) — qualify → exclusive groups → holdout → min_size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlglot import exp

from connector.definitions.checks import raise_for_schema
from connector.definitions.conditions import Condition
from connector.definitions.loader import Definitions
from connector.definitions.segment import Segment
from connector.definitions.traits import Trait
from connector.definitions.walk import has_esp_conditions
from connector.evaluate import snapshot
from connector.evaluate.compile import EMAIL_FORM, EmailForm, RuleCompiler
from connector.evaluate.identity import held_out_mask, normalise_email
from connector.evaluate.incremental import attach
from connector.evaluate.packing import BITS, packed
from connector.evaluate.sql import col, or_all
from connector.evaluate.traits import compile_trait
from connector.source.schema import ColumnType
from connector.source.store import Store

__all__ = ["Evaluation", "evaluate", "has_esp_conditions"]


@dataclass
class Evaluation:
    """The outcome of one run, row-aligned arrays over the profiles that matter.

    Rows are the profiles that qualify for at least one evaluated rule, sorted by profile id.
    """

    as_of: datetime
    segments: dict[str, Segment]
    profile_ids: np.ndarray
    raw_emails: np.ndarray
    emails: np.ndarray  # normalised; None where missing or invalid
    consent: np.ndarray
    qualified: dict[str, np.ndarray] = field(default_factory=dict)  # by rule (and extra rules)
    members: dict[str, np.ndarray] = field(default_factory=dict)  # after exclusive groups
    held_out: dict[str, np.ndarray] = field(default_factory=dict)  # members held out
    #: qualifying profiles a higher-priority segment of the exclusive group took
    excluded: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    #: trait values by the caller's key (raw store values; None where NULL)
    traits: dict[str, np.ndarray] = field(default_factory=dict)
    #: how features were computed: full (from raw events), rollup, rebuilt (rollup
    #: rebuilt by this run first), or snapshot (the rollup's verdict snapshot for every
    #: profile but those whose results can have changed since: ``snapshot``)
    mode: str = "full"

    def pushed(self, name: str) -> np.ndarray:
        """Members that would go to the ESP (not held out)."""
        pushed: np.ndarray = self.members[name] & ~self.held_out[name]
        return pushed

    def size(self, name: str) -> int:
        return int(self.members[name].sum())

    def below_min_size(self, name: str) -> bool:
        return int(self.pushed(name).sum()) < self.segments[name].min_size

    def rows(self, name: str) -> np.ndarray:
        """Row indices of the segment's members, in profile-id order."""
        return np.flatnonzero(self.members[name])


def _order(segments: Mapping[str, Segment], group: str) -> list[str]:
    """A group's segments, highest priority first, ties by name."""
    names = [n for n, s in segments.items() if s.exclusive_group == group]
    return sorted(names, key=lambda n: (-segments[n].priority, n))


def _with_group_siblings(defs: Definitions, names: Iterable[str]) -> list[str]:
    wanted = set(names)
    groups = {defs.segments[n].exclusive_group for n in wanted} - {None}
    wanted |= {n for n, s in defs.segments.items() if s.exclusive_group in groups}
    return sorted(wanted)


def evaluate(
    store: Store,
    defs: Definitions,
    *,
    as_of: datetime,
    names: Sequence[str] | None = None,
    extra_rules: Mapping[str, Condition] | None = None,
    attributes: Sequence[str] = (),
    traits: Mapping[str, Trait] | None = None,
    incremental: bool = True,
    previous: Mapping[str, Sequence[Any]] | None = None,
    owners: Mapping[str, str] | None = None,
) -> Evaluation:
    """Evaluate segments ``names`` (default: every segment without ESP-only conditions)
    and any ``extra_rules`` (named sub-rules, e.g. materialised parts) in one query.

    ``previous``: per segment, the profile ids it qualified at its last sync run; its
    ``hysteresis`` conditions keep them while within P + N % (none given: plain P %).
    ``owners`` names the segment an extra rule belongs to (for its hysteresis).

    ``attributes`` are extra profile columns to return per row (mapped ESP fields);
    ``traits`` (key → trait) values computed per row in the same query.
    ``incremental=False`` computes every feature from raw events even where the store
    keeps rollups (same results).
    Raises ``ConfigError`` when a rule does not fit the store's schema.
    """
    if names is None:
        names = [n for n, s in defs.segments.items() if not has_esp_conditions(s.rule)]
    selected = _with_group_siblings(defs, names)
    schema = store.discover()
    raise_for_schema(defs, schema, selected)
    compiler = RuleCompiler(defs, schema, as_of, previous)
    outputs: list[tuple[str, exp.Expr]] = []
    rules: list[snapshot.Output] = []
    keys: list[str] = []
    for index, name in enumerate(selected):
        outputs.append((f"__s{index}", compiler.segment(name)))
        rules.append(snapshot.Output(f"__s{index}", defs.segments[name].rule, segment=name))
        keys.append(name)
    for index, (name, rule) in enumerate((extra_rules or {}).items()):
        owner = (owners or {}).get(name)
        compiled = compiler.compile(rule) if owner is None else compiler.owned(owner, rule)
        outputs.append((f"__x{index}", compiled))
        rules.append(snapshot.Output(f"__x{index}", rule, owner=owner))
        keys.append(name)
    trait_keys = list(traits or {})
    values = [
        (f"__trait{i}", compile_trait(compiler, (traits or {})[k]))
        for i, k in enumerate(trait_keys)
    ]
    mode = attach(store, compiler.scan) if incremental else "full"
    real_attributes = []
    for attribute in attributes:
        real = schema.resolve(attribute, schema.attributes)
        if real is not None:
            real_attributes.append(real)
    numeric_ids = schema.profile_id_type is ColumnType.NUMBER
    data = None
    if mode != "full":
        plan = snapshot.plan(
            defs,
            schema,
            compiler,
            rules,
            hysteresis=any(len(ids) for ids in (previous or {}).values()),
            traits=[(traits or {})[k] for k in trait_keys],
        )
        written = plan is not None and snapshot.due(store, compiler, plan)
        if plan is not None and written:
            snapshot.write(store, compiler, plan, values, real_attributes)
        if plan is not None:
            # just written: this run's rows are the snapshot's (a second evaluation of
            # every rule would repeat the one that wrote it)
            data = snapshot.run(
                store, compiler, plan, real_attributes, order=not numeric_ids, traits=values
            )
            mode = "snapshot" if data is not None and not written else mode
    if data is None:
        data = store.columns(_query(compiler, outputs, real_attributes, values, numeric_ids))
    if numeric_ids:
        data = _by_profile_id(data)
    ids = data["profile_id"]
    raw = data["email"]
    result = Evaluation(
        as_of=as_of,
        mode=mode,
        segments={n: defs.segments[n] for n in selected},
        profile_ids=ids,
        raw_emails=raw,
        emails=_emails(raw, data["email_key"], data.get(EMAIL_FORM)),
        consent=np.asarray(data["consent"], dtype=bool),
        attributes={a: data[f"attr:{a}"] for a in real_attributes},
        traits={key: data[alias] for key, (alias, _) in zip(trait_keys, values, strict=True)},
    )
    for key, qualified in zip(keys, _unpacked(data, len(keys), len(ids)), strict=True):
        result.qualified[key] = qualified
    _apply_membership(result, selected)
    return result


def _query(
    compiler: RuleCompiler,
    outputs: list[tuple[str, exp.Expr]],
    real_attributes: list[str],
    values: list[tuple[str, exp.Expr]],
    numeric_ids: bool,
) -> exp.Select:
    """The run's query: per profile that qualifies for some rule, its identity columns,
    ``values`` and the rules packed (``packed``)."""
    aliases = [alias for alias, _ in outputs]
    query = compiler.query(outputs, extra_columns=real_attributes, values=values)
    if aliases:
        # MATERIALIZED: else the filter is pushed below the projection and every rule is
        # evaluated twice (once to filter, once to return)
        rows = exp.to_identifier("__all", quoted=True)
        fixed = [f"attr:{a}" for a in real_attributes]
        fixed += [alias for alias, _ in values]
        query = (
            exp.select(
                col("profile_id"),
                col("email"),
                *compiler.fetched_key(col("email_key"), col("email")),
                col("consent"),
                *[col(c) for c in fixed],
                *packed(aliases),
            )
            .from_(rows)
            .where(or_all([col(alias) for alias in aliases]))
            .with_(rows, as_=query, materialized=True, copy=False)
        )
    if not numeric_ids:  # text sorts as the store collates it
        query = query.order_by(col("profile_id"), copy=False)
    return query


def _by_profile_id(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows in profile-id order, sorted here rather than by the store: numbers sort
    the same everywhere, and sorting a million ids costs numpy far less than the store
    sorting a million wide rows. NULL ids (an object array) go last, as SQL puts them."""
    ids = data["profile_id"]
    if len(ids) < 2:
        return data
    if ids.dtype.kind in "iuf":
        if bool(np.all(ids[1:] >= ids[:-1])):
            return data
        order = np.argsort(ids, kind="stable")
    else:
        order = np.array(
            sorted(range(len(ids)), key=lambda i: (ids[i] is None, ids[i] or 0)), dtype=np.intp
        )
    return {name: column[order] for name, column in data.items()}


def _unpacked(data: Mapping[str, np.ndarray], count: int, rows: int) -> list[np.ndarray]:
    """The ``count`` rules' booleans from the packed columns, in rule order (read-only:
    shared below). Each column is split into its 8 bytes first (one row of ``rows`` bytes
    per byte of the BIGINT): a rule's bit is then read from one byte per profile, not
    from the whole integer."""
    masks: list[np.ndarray] = []
    for start in range(0, count, BITS):
        column = data.get(f"__m{start // BITS}")
        if column is None:  # no rules at all: no rows either
            masks += [_false(rows)] * min(BITS, count - start)
            continue
        bits = np.ascontiguousarray(column, dtype="<i8")  # little-endian: byte i is bits 8i..
        planes = np.ascontiguousarray(bits.view(np.uint8).reshape(-1, 8).T)
        for bit in range(min(BITS, count - start)):
            qualified = (planes[bit // 8] & (1 << (bit % 8))).astype(bool)
            qualified.setflags(write=False)
            masks.append(qualified)
    return masks


def _false(rows: int) -> np.ndarray:
    """A read-only all-false mask (shared by the segments it describes)."""
    mask = np.zeros(rows, dtype=bool)
    mask.setflags(write=False)
    return mask


def _emails(raw: np.ndarray, keys: np.ndarray, form: np.ndarray | None) -> np.ndarray:
    """Normalised emails from the raw ones, the store's ``email_key`` and ``email_form``
    (``EmailForm``: the raw email itself, the key, invalid, or ``normalise_email`` for
    values beyond printable ASCII); without ``form`` (the query of a run of no rule
    returns the key as the compiler gives it), from the key alone ('' = invalid, NULL =
    undecided)."""
    keys = np.asarray(keys, dtype=object)
    if form is None:
        form = np.full(len(keys), int(EmailForm.KEY), dtype=np.int8)
        form[keys == None] = EmailForm.UNKNOWN  # noqa: E711 (elementwise)
        form[keys == ""] = EmailForm.INVALID
    form = np.asarray(form, dtype=np.int8)
    emails = np.where(form == EmailForm.RAW, raw, keys)
    emails[form == EmailForm.INVALID] = None
    for row in np.flatnonzero(form == EmailForm.UNKNOWN):
        emails[row] = normalise_email(raw[row])
    return emails


def _apply_membership(result: Evaluation, selected: Sequence[str]) -> None:
    """Members, exclusions and holdouts per segment. Masks that equal another (members
    outside exclusive groups are the qualified rows) or are all false (no exclusion, no
    holdout) are shared read-only arrays, not copies: a run over a million profiles and
    50 segments keeps one mask per segment, not four."""
    segments = result.segments
    rows = len(result.profile_ids)
    nothing = _false(rows)
    for name in selected:
        result.members[name] = result.qualified[name]
        result.excluded[name] = nothing
    for group in sorted({s.exclusive_group for s in segments.values() if s.exclusive_group}):
        taken = np.zeros(rows, dtype=bool)
        for name in _order(segments, group):
            qualified = result.qualified[name]
            result.excluded[name] = qualified & taken
            result.members[name] = qualified & ~taken
            taken |= result.members[name]
    for name in selected:
        holdout = segments[name].holdout
        result.held_out[name] = (
            held_out_mask(name, result.profile_ids, result.members[name], holdout)
            if holdout > 0
            else nothing
        )
