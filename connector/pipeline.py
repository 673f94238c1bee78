"""The pipeline: evaluate → desired → diff → plan, and the plan document it produces.

One pass (``plan_run``) is what ``segsync plan`` prints, ``plan --out`` saves and
``segsync apply`` executes (``run_sync(prepared=…)``, after checking the digests, without
evaluating again); ``sync --dry-run`` shows the same diff, computed by the same
``diff_all``. Per segment and destination: the split, the sizes and the changes.

``segsync plan --json`` prints it and ``--out plan.json`` saves it (format version 1):

    {"version": 1, "as_of": "...Z", "store": "duckdb:///...", "guards": ["..."],
     "segments": [{"segment", "destination", "esp", "mode",
                   "target": {"kind": "segment"|"tag"|"list", "name"},
                   "native": {"name", "definition"} | null,
                   "parts": [{"name", "kind", "rule", "description", "apply_holdout",
                              "apply_exclusive", "members", "contacts", "confirmed",
                              "adds", "removes", "held_back", "skipped_no_consent",
                              "adds_if_present", "confirmed_from",
                              "desired_digest", "confirmed_digest", "changes_digest"}],
                   "fields": {attribute: esp_field}, "members": int | null,
                   "new_contacts": int, "skipped_no_consent": int, "adds_if_present": int,
                   "skipped": str | null, "group_kind": "tag"|"list"}]}

``definition`` is the exact JSON the ESP API takes, with ``<id of segsync:…>`` standing in
for part ids that do not exist yet. ``members`` counts profiles, ``contacts`` distinct
valid emails. ``adds`` are sent (created first where missing: they have consent);
``skipped_no_consent`` members are known missing from the ESP and may not be created (no
consent, or ``new_contacts: never``), so no run sends them; ``adds_if_present`` members may
not be created either but segsync has not seen them in the ESP: the sync looks them up and
adds those the ESP has (after it, each is an add or known missing); ``held_back`` members
were refused too often (quarantined). At segment level the same counts are of distinct
contacts, ``new_contacts`` being the adds not known present in the ESP.

``confirmed_from`` says what the adds and removes were diffed against: ``state`` (the
membership the state store confirmed) or ``none`` (the state store records no tag/list for
the part: a new part, or a lost state store). ``plan`` reads nothing from the ESP; for a
``none`` part, ``sync`` (and ``sync --dry-run``, whose parts say ``esp`` then) first looks
for a tag/list of that name in the ESP and diffs against its members, so its changes can
differ from the plan's (``apply`` then refuses the plan, exit 3). The digests fingerprint the
desired and confirmed email sets and the changes, so ``segsync apply`` can refuse a plan
whose data or ESP state moved and sends exactly the changes reviewed (no email is stored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connector.definitions.loader import Definitions
from connector.esp.registry import render_native
from connector.plan.model import Split
from connector.plan.split import describe_part
from connector.reconcile.diff import digest
from connector.reconcile.runner import (
    Prepared,
    apply_static,
    changes_digest,
    diff_all,
    guards_for,
    prepare,
)
from connector.reconcile.state import KnownContact, StateStore
from connector.reconcile.state_url import state_url_of
from connector.settings import Settings
from connector.source.url import parse_store_url
from connector.timespec import format_instant

__all__ = [
    "PLAN_VERSION",
    "PartPlan",
    "PlanDocument",
    "Planned",
    "SegmentPlan",
    "build_plan",
    "plan_run",
]

PLAN_VERSION = 1


@dataclass
class PartPlan:
    name: str
    kind: str
    rule: Any
    description: str
    apply_holdout: bool
    apply_exclusive: bool
    members: int
    contacts: int
    confirmed: int = 0
    adds: int = 0
    removes: int = 0
    held_back: int = 0
    skipped_no_consent: int = 0
    adds_if_present: int = 0
    confirmed_from: str = "none"
    desired_digest: str = ""
    confirmed_digest: str = ""
    changes_digest: str = ""


@dataclass
class SegmentPlan:
    segment: str
    destination: str
    esp: str
    mode: str
    target: dict[str, str]
    native: dict[str, Any] | None
    parts: list[PartPlan]
    fields: dict[str, str]
    members: int | None
    new_contacts: int = 0
    skipped_no_consent: int = 0
    adds_if_present: int = 0
    skipped: str | None = None
    #: what each part becomes in the ESP ("tag" or "list")
    group_kind: str = ""


@dataclass
class PlanDocument:
    as_of: datetime
    store: str
    segments: list[SegmentPlan] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    #: per destination: contacts whose pushed field values (traits, mapped fields) changed,
    #: the sync's ``field_updates``
    field_updates: dict[str, int] = field(default_factory=dict)
    #: per destination: the ESP fields its traits fill
    traits: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "as_of": format_instant(self.as_of),
            "store": self.store,
            "guards": list(self.guards),
            "field_updates": dict(sorted(self.field_updates.items())),
            "traits": dict(sorted(self.traits.items())),
            "segments": [asdict(s) for s in self.segments],
        }


@dataclass
class Planned:
    """One pass of the pipeline: the evaluation and diff, and the document showing them."""

    document: PlanDocument
    prepared: Prepared

    def expected_changes(self) -> dict[tuple[str, str], str]:
        """(destination, part) → ``changes_digest``: what ``apply`` must send exactly."""
        return {
            (dest, part): changes_digest(change)
            for dest, parts in self.prepared.changes.items()
            for part, change in parts.items()
        }


def plan_run(
    settings: Settings, defs: Definitions, *, as_of: datetime, names: Sequence[str] | None = None
) -> Planned:
    """Evaluate → desired → diff → plan, reading the state store and writing nothing.

    The diff is the sync's own (``connector.reconcile.runner.diff_all``: consent,
    quarantine, pending batches, static segments, guards), so ``plan`` shows what
    ``sync --dry-run`` shows and what ``sync`` sends; the ESP itself is not read.
    """
    location = state_url_of(settings)
    exists = location.path is None or location.path.exists()
    state = StateStore(location) if exists else None
    document = PlanDocument(as_of=as_of, store=parse_store_url(settings.source_url).display())
    try:
        # the state's previous qualified sets: percentile hysteresis as the sync applies it
        prepared = prepare(settings, defs, names=names, as_of=as_of, state=state)
        if state is not None:
            apply_static(prepared, defs, state, dry_run=True)
        diff_all(prepared, state, settings)
        known = state.contacts if state is not None else None
        for split in prepared.splits:
            document.segments.append(
                _segment_plan(prepared, split, known(split.destination) if known else {})
            )
    finally:
        if state is not None:
            state.close()
    document.guards = guards_for(prepared, settings)
    document.field_updates = dict(prepared.field_updates)
    document.traits = {
        name: sorted(defs.destinations[name].traits)
        for name in prepared.targets
        if defs.destinations[name].traits
    }
    return Planned(document, prepared)


def build_plan(
    settings: Settings, defs: Definitions, *, as_of: datetime, names: Sequence[str] | None = None
) -> PlanDocument:
    """The plan document of ``plan_run``."""
    return plan_run(settings, defs, as_of=as_of, names=names).document


def _segment_plan(
    prepared: Prepared, split: Split, known: Mapping[str, KnownContact]
) -> SegmentPlan:
    target = prepared.targets[split.destination]
    result = prepared.evaluation
    local = split.segment in result.members
    plan = SegmentPlan(
        segment=split.segment,
        destination=split.destination,
        esp=split.esp,
        mode=split.mode,
        target=dict(zip(("kind", "name"), split.target, strict=True)),
        native=None
        if split.native is None
        else {"name": split.native.name, "definition": render_native(split.esp, split.native)},
        parts=[],
        fields=dict(split.fields),
        members=int(result.pushed(split.segment).sum()) if local else None,
        skipped=target.skipped_segments.get(split.segment),
        group_kind=split.group_kind,
    )
    changes = prepared.changes.get(split.destination, {})
    new: set[str] = set()
    lookups: set[str] = set()
    unaddable: set[str] = set()
    for desired in (d for d in target.parts if d.split is split):
        part = desired.part
        change = changes[part.name]
        new |= {e for e in change.adds if e not in known or not known[e].present}
        lookups.update(change.lookups)
        unaddable.update(change.unaddable)
        plan.parts.append(
            PartPlan(
                name=part.name,
                kind=part.kind,
                rule=part.rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                if part.rule is not None
                else None,
                description=describe_part(part),
                apply_holdout=part.apply_holdout,
                apply_exclusive=part.apply_exclusive,
                members=desired.profiles,
                contacts=len(desired.emails),
                confirmed=prepared.confirmed[split.destination][part.name],
                adds=len(change.adds),
                removes=len(change.removes),
                held_back=len(change.held_back),
                skipped_no_consent=len(change.unaddable),
                adds_if_present=len(change.lookups),
                confirmed_from=prepared.confirmed_from[split.destination][part.name],
                desired_digest=digest(desired.emails),
                confirmed_digest=prepared.confirmed_digests[split.destination][part.name],
                changes_digest=changes_digest(change),
            )
        )
    plan.new_contacts = len(new)
    plan.adds_if_present = len(lookups)
    plan.skipped_no_consent = len(unaddable)
    return plan
