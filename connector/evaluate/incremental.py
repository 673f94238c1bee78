"""Which features a run reads from the store's rollup, and keeping that rollup current.

A run with ``incremental`` (the default) on a DuckDB store:

- uses the rollup when it is valid (``connector.source.rollups``) and not newer than the
  run's ``as_of``: decomposable aggregates whose parts it holds come from it plus the
  events added since and gone from windows (``FeatureScan.advance_parts``);
- on a writable store, (re)builds it at the run's ``as_of`` first when it is missing,
  invalid, newer than ``as_of`` or lacks parts the run needs (definitions changed);
- otherwise computes every feature from raw events, as ``incremental=False`` does.

``advance`` moves a valid rollup to a later instant (after ``segsync load events
--append``), so later runs read fewer events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import Definitions
from connector.definitions.walk import has_esp_conditions
from connector.errors import ConfigError
from connector.evaluate.compile import RuleCompiler
from connector.evaluate.features import FeatureScan, RollupUse
from connector.evaluate.rollup import Part
from connector.source import open_store, rollups
from connector.source.layout import StoreLayout
from connector.source.schema import StoreSchema
from connector.source.store import Store
from connector.timespec import format_instant

__all__ = ["advance", "after_load", "attach", "features_of", "segment_features"]


def _use(state: rollups.RollupState) -> RollupUse:
    return RollupUse(state.as_of, state.watermark, frozenset(state.parts))


def attach(store: Store, scan: FeatureScan) -> str:
    """Point ``scan`` at the store's rollup where it can; returns how the run evaluates:
    ``full``, ``rollup`` or ``rebuilt``."""
    if not rollups.supports(store):
        return "full"
    needed = scan.parts()
    if not needed or not rollups.has_events_table(store):
        return "full"
    state = rollups.read_state(store)
    usable = state is not None and state.as_of <= scan.as_of
    complete = usable and state is not None and set(needed) <= set(state.parts)
    how = "rollup"
    if not complete and rollups.writable(store):
        parts = dict(needed)
        if usable and state is not None:  # keep what other runs use
            parts.update({c: Part.from_spec(s) for c, s in state.parts.items()})
        builder = FeatureScan(scan.schema, scan.as_of)
        select, tables = builder.build_parts(list(parts.values()))
        specs = {c: p.spec() for c, p in parts.items()}
        rollups.write(store, select, as_of=scan.as_of, parts=specs, tables=tables)
        state = rollups.read_state(store)
        usable, how = state is not None, "rebuilt"
    if not usable or state is None:
        return "full"
    scan.rollup = _use(state)
    return how if scan.served() or scan.served_pers() else "full"


def advance(store: Store, as_of: datetime) -> bool:
    """Move the store's rollup to ``as_of`` (no earlier than it is); ``False`` when there
    is no valid rollup to move."""
    state = rollups.read_state(store)
    if state is None or state.as_of > as_of or not rollups.writable(store):
        return False
    scan = FeatureScan(store.discover(refresh=True), as_of)
    scan.rollup = _use(state)
    parts = [Part.from_spec(s) for s in state.parts.values()]
    tables = scan.advance_tables(parts)
    select = scan.advance_parts(parts)
    rollups.write(store, select, as_of=as_of, parts=state.parts, tables=tables)
    return True


def _window(scan: FeatureScan, since: datetime | None) -> str:
    if since is None:
        return "all time"
    seconds = int((scan.as_of - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def features_of(scan: FeatureScan) -> list[str]:
    """What the rules compiled into ``scan`` read from events, one line per feature, and
    whether it comes from the rollup (``rollup``) or is computed from events (``events``)."""
    lines = []
    for agg in scan.aggregates:
        what = agg.kind if agg.prop is None else f"{agg.kind}({agg.prop})"
        where = " where " + ", ".join(c.property for c in agg.filter.where)
        how = "rollup" if scan.decompose(agg) else "events"
        lines.append(
            f"{what} of {agg.filter.event}{where if agg.filter.where else ''}, "
            f"{_window(scan, agg.filter.since)} [{how}]"
        )
    for per in scan.pers:
        agg = per.aggregate
        # the rollup keeps the groups and, per test, each profile's verdict
        how = "rollup" if scan.verdict_part(per) is not None else "events"
        what = agg.kind if agg.prop is None else f"{agg.kind}({agg.prop})"
        test = " ".join(f"{op} {value:g}" for op, value in per.comparisons)
        lines.append(
            f"{what} {test} of {agg.filter.event} per {per.group}, "
            f"{_window(scan, agg.filter.since)} [{how}]"
        )
    for fol in scan.follows:
        lines.append(
            f"{fol.latest.filter.event} not followed by {fol.follow.event} within "
            f"{int(fol.within.total_seconds())}s [events]"
        )
    return lines


def segment_features(
    defs: Definitions, schema: StoreSchema, name: str, as_of: datetime
) -> list[str]:
    """``features_of`` one segment's rule (with the segments it refers to)."""
    compiler = RuleCompiler(defs, schema, as_of)
    compiler.segment(name)
    return features_of(compiler.scan)


def after_load(
    url: str, layout: StoreLayout, *, appended: bool, defs: Definitions | None
) -> str | None:
    """Rollup upkeep after ``segsync load events``: a valid rollup is advanced to the
    latest event (no later than now); a missing, invalid or incomplete one is rebuilt for
    ``defs`` (every segment evaluated locally). A note for the user, if any."""
    with open_store(url, layout, read_only=False) as store:
        if not rollups.supports(store) or not rollups.has_events_table(store):
            return None
        try:
            schema = store.discover(refresh=True)
        except ConfigError:  # e.g. no profiles table yet: nothing to keep rollups for
            return None
        now = datetime.now(UTC).replace(tzinfo=None)
        moment = min(schema.latest_event, now) if schema.latest_event is not None else now
        if not appended:  # the events were replaced: whatever was kept is of other rows
            rollups.drop(store)
        state = rollups.read_state(store)
        if appended and state is not None and state.as_of <= moment:
            advance(store, moment)
            state = rollups.read_state(store)
        if defs is None:
            return None if state is not None else "rollups: none (the config did not load)"
        compiler = RuleCompiler(defs, schema, moment)
        try:
            raise_for_schema(defs, schema)
            for name, segment in defs.segments.items():
                if not has_esp_conditions(segment.rule):
                    compiler.segment(name)
        except ConfigError:
            return "rollups: not built (the segments do not fit the store: see segsync validate)"
        how = attach(store, compiler.scan)
    if how == "full":
        return None
    return f"rollups {'rebuilt' if how == 'rebuilt' else 'advanced'} as of {format_instant(moment)}"
