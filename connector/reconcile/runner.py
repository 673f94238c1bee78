"""One sync run: evaluate → split → diff against confirmed state → guards → execute.

``run_sync`` is what ``segsync sync``, ``segsync apply`` and the daemon call. It returns a
``RunSummary``; configuration problems raise ``ConfigError`` before anything is written.

A run that writes holds the state store's run lock from before it reads the confirmed state
until it has recorded its outcome (``StateBusyError`` when another run holds it, unless
``wait``). A tag/list that exists in the ESP under segsync's name but has no record in the
state store (a new, lost or emptied state) is adopted: its actual membership is read back
and becomes the confirmed state the diff starts from, so people who left are removed (the
guards apply to those removals as to any other).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.definitions.checks import raise_for_schema
from connector.definitions.destinations import Destination
from connector.definitions.loader import Definitions, load_definitions
from connector.errors import (
    EXIT_ESP,
    EXIT_GUARD,
    EXIT_OK,
    EXIT_QUARANTINE,
    EspError,
    EspNotFoundError,
    StopRequestedError,
)
from connector.esp.base import EspAdapter, EspObject
from connector.esp.registry import adapter_for, capabilities_for, destination_models
from connector.evaluate.engine import Evaluation, evaluate, has_esp_conditions
from connector.evaluate.traits import TraitField, trait_fields
from connector.plan.membership import EVERYONE, everyone_rule, part_key, part_rules
from connector.plan.model import Split
from connector.plan.split import plan_splits
from connector.reconcile.addresses import Addresses, Rejects
from connector.reconcile.budget_db import budget_for
from connector.reconcile.cohorts import record_cohorts
from connector.reconcile.desired import (
    DestinationState,
    desired_state,
    field_changes,
    fields_hash,
)
from connector.reconcile.diff import PartChanges, diff_part, digest
from connector.reconcile.executor import DestinationExecutor, ExecutionReport, Progress
from connector.reconcile.guards import RemovalCheck, check_guards
from connector.reconcile.hysteresis import hysteretic, previous_qualified, record_qualified
from connector.reconcile.state import KnownContact, StateStore
from connector.reconcile.state_url import state_url_of
from connector.reconcile.summary import PartSummary, RunSummary
from connector.settings import Settings
from connector.source import open_store
from connector.source.schema import StoreSchema
from connector.source.store import Store
from connector.timespec import format_instant, utc_now

__all__ = [
    "AdapterFactory",
    "Prepared",
    "SyncOptions",
    "apply_static",
    "changes_digest",
    "diff_all",
    "guards_for",
    "prepare",
    "run_sync",
]

AdapterFactory = Callable[[Destination, Settings], EspAdapter]


def _default_factory(destination: Destination, settings: Settings) -> EspAdapter:
    # the account's limits are shared with every process on the same budget store
    return adapter_for(destination, settings, budget=budget_for(settings))


@dataclass
class SyncOptions:
    names: Sequence[str] | None = None
    as_of: datetime | None = None
    dry_run: bool = False
    full_resync: bool = False
    force: bool = False
    trigger: str = "cli"
    run_id: str | None = None  # default: a fresh random id
    wait: bool = False  # wait for another run's lock instead of StateBusyError
    #: (destination, part) → ``changes_digest`` of a reviewed plan (``apply``): any other
    #: diff stops the run as a guard (exit 3) before it writes
    expect: Mapping[tuple[str, str], str] | None = None


@dataclass
class Prepared:
    """Everything computed before the first write."""

    as_of: datetime
    schema: StoreSchema
    splits: list[Split]
    evaluation: Evaluation
    targets: dict[str, DestinationState]
    rejects: Rejects = field(default_factory=Rejects)
    changes: dict[str, dict[str, PartChanges]] = field(default_factory=dict)
    confirmed: dict[str, dict[str, int]] = field(default_factory=dict)
    #: destination → part → fingerprint of the confirmed and pending sets the diff used
    confirmed_digests: dict[str, dict[str, str]] = field(default_factory=dict)
    #: destination → part → where the confirmed membership came from: ``state`` (the state
    #: store records the tag/list), ``esp`` (read from the ESP: a full resync, or a tag/list
    #: under segsync's name the state store does not record), ``none`` (neither: a new
    #: part, or one only the ESP could tell about and that was not asked, as in ``plan``)
    confirmed_from: dict[str, dict[str, str]] = field(default_factory=dict)
    #: per destination: contacts whose pushed field values changed (see ``field_updates``)
    field_updates: dict[str, int] = field(default_factory=dict)
    #: per destination: those contacts' emails (``field_changes``), for the executor
    field_changes: dict[str, list[str]] = field(default_factory=dict)
    #: per destination: the state store's contacts as the diff read them (read once; the
    #: executor of the same run uses them instead of reading 100,000 rows again)
    known: dict[str, dict[str, KnownContact]] = field(default_factory=dict)


def prepare(
    settings: Settings,
    defs: Definitions,
    *,
    names: Sequence[str] | None,
    as_of: datetime,
    state: StateStore | None = None,
) -> Prepared:
    """Evaluate the segments (with destinations) and their parts in one query.

    Segments with ``hysteresis`` (and those reached through ``in_segment``) keep the
    members of their last run recorded in ``state`` (none: plain percentiles)."""
    wanted = [n for n in (names or defs.segments) if defs.segments[n].destinations]
    with open_store(settings.source_url, settings.store) as store:
        schema = store.discover()
        raise_for_schema(defs, schema, wanted)
        splits = plan_splits(defs, wanted, schema, capabilities=capabilities_for)
        traits = trait_fields(defs, schema, sorted({s.destination for s in splits}))
        result = evaluate_for_sync(store, defs, schema, wanted, splits, traits, as_of, state)
        no_consent = store.emails_without_shared_consent() if splits else set()
    addresses = Addresses(result)
    targets = desired_state(
        defs, result, splits, no_consent=no_consent, addresses=addresses, traits=traits
    )
    return Prepared(as_of, schema, splits, result, targets, addresses.rejects())


def evaluate_for_sync(
    store: Store,
    defs: Definitions,
    schema: StoreSchema,
    wanted: Sequence[str],
    splits: Sequence[Split],
    traits: Mapping[str, Sequence[TraitField]],
    as_of: datetime,
    state: StateStore | None,
) -> Evaluation:
    """The one evaluation a sync of ``wanted`` runs: its local segments (and those whose
    previous members hysteresis keeps), the parts of its splits, the fields its
    destinations map and their ``traits`` (``trait_fields`` of the splits'
    destinations)."""
    local = [n for n in wanted if not has_esp_conditions(defs.segments[n].rule)]
    sticky = hysteretic(defs, wanted)
    rules = part_rules(splits, schema.layout.profile_id)
    if traits:  # every contact segsync manages takes them, members or not
        rules[EVERYONE] = everyone_rule(schema.layout.profile_id)
    return evaluate(
        store,
        defs,
        as_of=as_of,
        names=sorted({*local, *sticky}),
        extra_rules=rules,
        attributes=sorted({a for s in splits for a in s.fields}),
        previous=previous_qualified(state, sticky) if state is not None else None,
        owners={part_key(s, p): s.segment for s in splits for p in s.parts},
        traits={t.key: t.trait for fields in traits.values() for t in fields},
    )


def apply_static(prepared: Prepared, defs: Definitions, state: StateStore, dry_run: bool) -> None:
    """Static segments keep the membership of their first sync."""
    for target in prepared.targets.values():
        for split in target.splits:
            if defs.segments[split.segment].type != "static":
                continue
            parts = [p for p in target.parts if p.split is split]
            frozen = state.frozen(split.segment, target.destination)
            if frozen is None:
                if not dry_run:
                    state.freeze(
                        split.segment,
                        target.destination,
                        {p.part.name: set(p.emails) for p in parts},
                    )
                continue
            for desired in parts:
                desired.emails = set(frozen.get(desired.part.name, set()))


def _same_name(name: str, owned: dict[str, EspObject]) -> EspObject | None:
    """The owned object of that name: exactly, else ignoring case (Mailchimp tags)."""
    found = owned.get(name)
    if found is None:
        matches = [o for key, o in owned.items() if key.lower() == name.lower()]
        found = matches[0] if len(matches) == 1 else None
    return found


def _read_actual(
    adapter: EspAdapter,
    state: StateStore,
    target: DestinationState,
    *,
    full_resync: bool,
    dry_run: bool,
    stop: threading.Event,
) -> dict[str, set[str]]:
    """The parts whose confirmed membership must come from the ESP, read in pages: all of
    them on a full resync; otherwise those whose tag/list the ESP has under segsync's name
    but the state store does not know (adopted, and recorded unless ``dry_run``)."""
    records = {d.part.name: state.object(target.destination, d.part.name) for d in target.parts}
    natives = [s.native.name for s in target.splits if s.native is not None]
    unknown_groups = [n for n, r in records.items() if r is None]
    unknown_natives = [n for n in natives if state.object(target.destination, n) is None]
    groups: dict[str, EspObject] = {}
    segments: dict[str, EspObject] = {}
    if unknown_groups or unknown_natives:
        # only the kinds the state store does not know (no segment read without natives)
        owned = adapter.list_owned(groups=bool(unknown_groups), segments=bool(unknown_natives))
        for found in owned:
            (segments if found.kind == "segment" else groups)[found.name] = found
    actual: dict[str, set[str]] = {}
    for desired in target.parts:
        if stop.is_set():
            raise StopRequestedError("stopped before reading the ESP's membership")
        name = desired.part.name
        record = records[name]
        if record is not None:
            if not full_resync:
                continue
            group = EspObject(record.esp_id, name, record.kind)  # type: ignore[arg-type]
        else:
            adopted = _same_name(name, groups)
            if adopted is None:
                continue  # not in the ESP: created empty when the run executes
            group = adopted
        try:
            emails = {e.strip().lower() for e in adapter.iter_members(group)}
        except EspNotFoundError:
            # deleted in the ESP: it has no members; a real run creates it again
            emails = set()
            if not dry_run:
                group = adapter.ensure_group(name)
                state.record_object(
                    target.destination, name, group.kind, group.id, desired.split.segment,
                    created=group.created,
                )  # fmt: skip
        actual[name] = emails
        if dry_run:
            continue
        if record is None:
            # the object and its members in one transaction: a run killed while reading
            # leaves the object unknown, so the next run reads it again
            state.adopt(target.destination, name, group, desired.split.segment, emails)
        else:
            state.replace_confirmed(target.destination, name, emails)
    for split in target.splits:
        native = split.native
        if native is None or dry_run or state.object(target.destination, native.name):
            continue
        adopted = _same_name(native.name, segments)
        if adopted is not None:  # no definition recorded: the run rewrites it
            state.record_object(
                target.destination, native.name, "segment", adopted.id, split.segment,
                created=False,
            )  # fmt: skip
    return actual


def _api_calls(adapter: EspAdapter, before: Counter[tuple[str, str, int]]) -> dict[str, Any]:
    delta = adapter.calls.copy()
    delta.subtract(before)
    by_status: Counter[str] = Counter()
    for (_, _, status), count in delta.items():
        if count > 0:
            by_status[str(status)] += count
    return {"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))}


def run_sync(
    settings: Settings,
    defs: Definitions | None = None,
    *,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    adapter_factory: AdapterFactory = _default_factory,
    state: StateStore | None = None,
    prepared: Prepared | None = None,
) -> RunSummary:
    """Run one sync; never raises for ESP failures (they are in the summary, exit 2).

    ``prepared``: an evaluation made already (``apply`` executes the plan it checked,
    without evaluating again)."""
    options = options or SyncOptions()
    progress = progress or Progress()
    stop = stop or threading.Event()
    started = time.monotonic()
    run_id = options.run_id or uuid.uuid4().hex[:12]
    as_of = options.as_of or utc_now()
    defs = defs or load_definitions(settings.config_dir, destination_models())
    own_state = state is None
    state = state or StateStore(state_url_of(settings))
    prepared = prepared or _prepare_closing(settings, defs, options, as_of, state, own_state)
    summary = _new_summary(run_id, as_of, options.trigger, prepared)
    adapters: dict[str, EspAdapter] = {}
    locked = False
    try:
        if own_state:
            state.check()  # a damaged store is reported before any ESP call
        if not options.dry_run:
            locked = state.acquire_run_lock(wait=options.wait, stop=stop)
            if not locked:  # stopped while waiting for another run
                summary.status = "stopped"
                summary.duration_seconds = round(time.monotonic() - started, 3)
                return summary
            # recorded from here on: a run killed from now on shows as interrupted
            state.start_run(run_id, summary.trigger, summary.as_of)
        _open_adapters(adapters, prepared, defs, settings, adapter_factory, state, stop)
        before = {name: adapter.calls.copy() for name, adapter in adapters.items()}
        try:
            apply_static(prepared, defs, state, options.dry_run)
            diff_all(
                prepared,
                state,
                settings,
                adapters=adapters,
                full_resync=options.full_resync,
                dry_run=options.dry_run,
                stop=stop,
            )
        except StopRequestedError:
            summary.status = "stopped"
        except EspError as exc:
            summary.errors.append(str(exc))
            summary.status, summary.exit_code = "failed", EXIT_ESP
        else:
            _decide(prepared, defs, settings, state, adapters, summary, options, stop, progress)
        _verify_access(adapters, summary)
        for name, adapter in adapters.items():
            summary.api_calls[name] = _api_calls(adapter, before[name])
        summary.duration_seconds = round(time.monotonic() - started, 3)
        if summary.status != "dry_run":
            _record(state, summary, adapters)
    finally:
        for adapter in adapters.values():
            adapter.close()
        if locked:
            state.release_run_lock()
        if own_state:
            state.close()
    return summary


def _open_adapters(
    adapters: dict[str, EspAdapter],
    prepared: Prepared,
    defs: Definitions,
    settings: Settings,
    factory: AdapterFactory,
    state: StateStore,
    stop: threading.Event,
) -> None:
    """An adapter for each destination with something to sync, into ``adapters`` (the
    caller closes them), seeded with the processing times earlier runs kept, so its first
    poll of a job or batch is timed by them."""
    for name, target in prepared.targets.items():
        if target.splits:
            adapter = adapters[name] = factory(defs.destinations[name], settings)
            adapter.stop_on(stop)
            adapter.remember_processing_times(state.processing_times(name))


def _prepare_closing(
    settings: Settings,
    defs: Definitions,
    options: SyncOptions,
    as_of: datetime,
    state: StateStore,
    own_state: bool,
) -> Prepared:
    """``prepare`` with ``state``, closing it on failure when this run opened it."""
    try:
        return prepare(settings, defs, names=options.names, as_of=as_of, state=state)
    except BaseException:
        if own_state:
            state.close()
        raise


def _new_summary(run_id: str, as_of: datetime, trigger: str, prepared: Prepared) -> RunSummary:
    summary = RunSummary(
        run_id=run_id,
        status="ok",
        exit_code=EXIT_OK,
        as_of=format_instant(as_of),
        started_at=format_instant(utc_now()),
        trigger=trigger,
    )
    for target in prepared.targets.values():
        summary.skipped_segments.update(target.skipped_segments)
    summary.rejected = prepared.rejects.to_json()
    return summary


def _decide(
    prepared: Prepared,
    defs: Definitions,
    settings: Settings,
    state: StateStore,
    adapters: dict[str, EspAdapter],
    summary: RunSummary,
    options: SyncOptions,
    stop: threading.Event,
    progress: Progress,
) -> None:
    """Guards first; then a dry run only reports, a real run executes."""
    summary.field_updates = dict(prepared.field_updates)
    summary.guards = guards_for(prepared, settings)
    moved = _moved(prepared, options.expect)
    if moved:
        summary.guards = moved
        summary.status, summary.exit_code = "guard", EXIT_GUARD
        summary.parts = _planned_parts(prepared)
    elif summary.guards and not options.force:
        summary.status, summary.exit_code = "guard", EXIT_GUARD
        summary.parts = _planned_parts(prepared)
    elif options.dry_run:
        summary.status = "dry_run"
        summary.parts = _planned_parts(prepared)
    else:
        _execute(prepared, defs, state, adapters, summary, summary.run_id, stop, progress)


def _unsure(
    known: Mapping[str, KnownContact], target: DestinationState
) -> tuple[set[str], set[str]]:
    """Wanted contacts the sync may not create and does not know (``known``: the state
    store's contacts) present in the ESP:

    - ``absent``: known missing, with the consent and field values recorded then: the
      executor pushes them no more, so they cannot be added (``PartChanges.unaddable``);
    - ``unknown``: never seen (no state store, or no record of it), or missing before but
      changed since: the executor looks each one up and adds it only if the ESP has it
      (``PartChanges.lookups``).

    Contacts it may create (consent, ``new_contacts: consent_only``) and contacts known
    present are plain adds."""
    absent: set[str] = set()
    unknown: set[str] = set()
    for email, contact in target.contacts.items():
        record = known.get(email)
        if record is not None and record.present:
            continue
        if (
            record is not None
            and record.consent == contact.consent
            and record.fields_hash == fields_hash(contact.fields)
        ):
            absent.add(email)
        elif not target.creatable(contact):
            unknown.add(email)
    return absent, unknown


def diff_all(
    prepared: Prepared,
    state: StateStore | None,
    settings: Settings,
    *,
    adapters: Mapping[str, EspAdapter] | None = None,
    full_resync: bool = False,
    dry_run: bool = True,
    stop: threading.Event | None = None,
) -> None:
    """Every part's changes (``prepared.changes``) against the confirmed state: the one diff
    ``plan``, ``sync`` (dry or not) and ``apply`` use, with consent, quarantine and pending
    batches. Without ``adapters`` (``plan``) nothing is read from the ESP; without ``state``
    (no state store yet) nothing is confirmed."""
    adapters = adapters or {}
    stop = stop or threading.Event()
    limit = settings.retry.quarantine_max_attempts
    for dest, target in prepared.targets.items():
        actual: dict[str, set[str]] = {}
        if dest in adapters and state is not None:
            actual = _read_actual(
                adapters[dest],
                state,
                target,
                full_resync=full_resync,
                dry_run=dry_run,
                stop=stop,
            )
        quarantine: dict[str, dict[str, tuple[str, int]]] = {}
        for record in state.quarantined(dest) if state is not None else []:
            quarantine.setdefault(record.part, {})[record.email] = (
                record.operation,
                record.attempts,
            )
        known = state.contacts(dest) if state is not None else {}
        prepared.known[dest] = known
        absent, unknown = _unsure(known, target)
        prepared.changes[dest] = {}
        prepared.confirmed[dest] = {}
        prepared.confirmed_digests[dest] = {}
        prepared.confirmed_from[dest] = {}
        if target.splits and state is not None:
            changed = prepared.field_changes[dest] = field_changes(target, known)
            prepared.field_updates[dest] = len(changed)
        for desired in target.parts:
            name = desired.part.name
            pending: set[str] = set()
            source = "none"
            if name in actual:
                confirmed, source = actual[name], "esp"
            elif state is not None:
                confirmed = state.confirmed(dest, name)
                pending = state.pending(dest, name)  # unacknowledged: may be in the ESP
                if state.object(dest, name) is not None:
                    source = "state"
            else:
                confirmed = set()
            prepared.confirmed_from[dest][name] = source
            prepared.confirmed[dest][name] = len(confirmed)
            prepared.confirmed_digests[dest][name] = digest(confirmed) + digest(pending)[:4]
            prepared.changes[dest][name] = diff_part(
                desired.emails,
                confirmed,
                quarantine.get(name),
                max_attempts=limit,
                pending=pending,
                absent=absent,
                unknown=unknown,
            )


def guards_for(prepared: Prepared, settings: Settings) -> list[str]:
    """The guards that trip for the diffed changes (``plan`` shows them, ``sync`` stops)."""
    return check_guards(
        prepared.schema,
        prepared.as_of,
        settings.guards,
        [
            RemovalCheck(dest, part, prepared.confirmed[dest][part], len(ch.removes))
            for dest, parts in prepared.changes.items()
            for part, ch in parts.items()
        ],
    )


def changes_digest(changes: PartChanges) -> str:
    """A fingerprint of one part's adds, removes and look-ups (``apply`` sends exactly a
    plan's); without look-ups it is that of the adds and removes alone."""
    text = digest(changes.adds) + digest(changes.removes)
    return text + digest(changes.lookups)[:8] if changes.lookups else text


def _moved(prepared: Prepared, expect: Mapping[tuple[str, str], str] | None) -> list[str]:
    """Why the diff is not the one a reviewed plan showed (``apply``); empty when it is."""
    if expect is None:
        return []
    now = {
        (dest, part): changes_digest(change)
        for dest, parts in prepared.changes.items()
        for part, change in parts.items()
    }
    moved = []
    for dest, part in sorted(expect.keys() | now.keys()):
        if expect.get((dest, part)) == now.get((dest, part)):
            continue
        if prepared.confirmed_from.get(dest, {}).get(part) == "esp":
            # the state store knew nothing of this group: the plan (which reads no ESP)
            # counted from empty, and the ESP turned out to hold members
            moved.append(
                f"{dest} {part}: the state store holds no record of it, so the plan could not "
                "know the members the ESP already has, and they differ from the plan's "
                "count; `segsync sync --dry-run` shows the changes against the ESP, then "
                "`segsync sync` makes them"
            )
        else:
            moved.append(
                f"{dest} {part}: the changes differ from the plan's "
                "(the ESP's confirmed state moved)"
            )
    return moved


def _verify_access(adapters: dict[str, EspAdapter], summary: RunSummary) -> None:
    """Every destination this run made no call to is checked once (key, audience), so a
    revoked key fails the run (exit 2) even when nothing needed writing."""
    for name, adapter in adapters.items():
        if any(adapter.calls.values()):
            continue  # its calls already proved (or disproved) the key
        try:
            adapter.check()
        except EspError as exc:
            summary.errors.append(f"{name}: {exc}")
            summary.status, summary.exit_code = "failed", EXIT_ESP


def _planned_parts(prepared: Prepared) -> list[PartSummary]:
    parts = []
    for dest, target in prepared.targets.items():
        for desired in target.parts:
            change = prepared.changes[dest][desired.part.name]
            parts.append(
                PartSummary(
                    segment=desired.split.segment,
                    destination=dest,
                    part=desired.part.name,
                    desired=len(desired.emails),
                    adds=len(change.adds),
                    removes=len(change.removes),
                    held_back=len(change.held_back),
                    skipped_no_consent=len(change.unaddable),
                    adds_if_present=len(change.lookups),
                    confirmed_from=prepared.confirmed_from[dest][desired.part.name],
                )
            )
    return parts


def _execute(
    prepared: Prepared,
    defs: Definitions,
    state: StateStore,
    adapters: dict[str, EspAdapter],
    summary: RunSummary,
    run_id: str,
    stop: threading.Event,
    progress: Progress,
) -> None:
    record_cohorts(state, run_id, prepared.evaluation, {s.segment for s in prepared.splits})
    record_qualified(
        state, run_id, prepared.evaluation, hysteretic(defs, [s.segment for s in prepared.splits])
    )
    reports: list[ExecutionReport] = []
    held_back: dict[tuple[str, str], int] = {}
    for dest, target in prepared.targets.items():
        for desired in target.parts:
            state.start_part(
                run_id, desired.split.segment, dest, desired.part.name, len(desired.emails)
            )
            held_back[(dest, desired.part.name)] = len(
                prepared.changes[dest][desired.part.name].held_back
            )
        if dest not in adapters or stop.is_set():
            continue
        executor = DestinationExecutor(
            run_id=run_id,
            state=state,
            adapter=adapters[dest],
            target=target,
            destination=defs.destinations[dest],
            changes=prepared.changes[dest],
            stop=stop,
            progress=progress,
            known=prepared.known.get(dest),
            field_changes=prepared.field_changes.get(dest),
        )
        reports.append(executor.report)
        try:
            executor.ensure_objects()
            present = executor.ensure_contacts()
            executor.run_batches(executor.batches(present))
            if not executor.report.stopped and not stop.is_set():
                executor.write_segments()
        except StopRequestedError:
            pass  # stop is set: the summary says "stopped"
        except EspError as exc:
            summary.errors.append(f"{dest}: {exc}")
    for report in reports:
        summary.objects_created += report.created_objects
        summary.segments_written += report.segments_written
        summary.contacts_created += report.contacts_created
    summary.parts = [
        PartSummary(
            segment=row["segment"],
            destination=row["destination"],
            part=row["part"],
            desired=row["desired"],
            adds=row["adds"],
            removes=row["removes"],
            held_back=held_back.get((row["destination"], row["part"]), 0),
            skipped_no_consent=row["skipped_no_consent"],
            quarantined=row["quarantined"],
            api_calls=row["api_calls"],
        )
        for row in state.part_counts(run_id)
    ]
    if summary.errors:
        summary.status, summary.exit_code = "failed", EXIT_ESP
    elif stop.is_set():
        summary.status = "stopped"
    elif any(p.quarantined or p.held_back for p in summary.parts):
        summary.status, summary.exit_code = "quarantined", EXIT_QUARANTINE


def _record(state: StateStore, summary: RunSummary, adapters: dict[str, EspAdapter]) -> None:
    """The run's outcome, and the processing times its adapters know now (the next
    process times its first poll of a job or batch from them)."""
    for name, adapter in adapters.items():
        state.record_processing_times(name, adapter.processing_times())
    state.finish_run(summary.run_id, summary.status, summary.exit_code, summary.to_json())
