"""The plan document: per segment and destination, the split, the sizes and the changes.

``segsync plan --json`` prints it and ``--out plan.json`` saves it (format version 1):

    {"version": 1, "as_of": "...Z", "store": "duckdb:///...", "guards": ["..."],
     "segments": [{"segment", "destination", "esp", "mode",
                   "target": {"kind": "segment"|"tag"|"list", "name"},
                   "native": {"name", "definition"} | null,
                   "parts": [{"name", "kind", "rule", "description", "apply_holdout",
                              "apply_exclusive", "members", "contacts", "confirmed",
                              "adds", "removes", "desired_digest", "confirmed_digest"}],
                   "fields": {attribute: esp_field}, "members": int | null,
                   "new_contacts": int, "skipped_no_consent": int,
                   "skipped": str | null, "group_kind": "tag"|"list"}]}

``definition`` is the exact JSON the ESP API takes, with ``<id of segsync:…>`` standing in
for part ids that do not exist yet. ``members`` counts profiles, ``contacts`` distinct
valid emails. The digests fingerprint the desired and confirmed email sets, so
``segsync apply`` can refuse a plan whose data or ESP state moved (no email is stored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connector.definitions.loader import Definitions
from connector.esp.registry import render_native
from connector.plan.split import describe_part
from connector.settings import Settings
from connector.timespec import format_instant

__all__ = ["PLAN_VERSION", "PartPlan", "PlanDocument", "SegmentPlan", "build_plan", "digest"]

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
    desired_digest: str = ""
    confirmed_digest: str = ""


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
    skipped: str | None = None
    #: what each part becomes in the ESP ("tag" or "list")
    group_kind: str = ""


@dataclass
class PlanDocument:
    as_of: datetime
    store: str
    segments: list[SegmentPlan] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "as_of": format_instant(self.as_of),
            "store": self.store,
            "guards": list(self.guards),
            "segments": [asdict(s) for s in self.segments],
        }


def digest(emails: Iterable[str]) -> str:
    """A short fingerprint of a set of emails (order-independent)."""
    return hashlib.sha256("\n".join(sorted(emails)).encode()).hexdigest()[:16]


def build_plan(
    settings: Settings, defs: Definitions, *, as_of: datetime, names: Sequence[str] | None = None
) -> PlanDocument:
    """Evaluate, split and diff against the confirmed state — without writing anything."""
    from connector.reconcile.guards import RemovalCheck, check_guards
    from connector.reconcile.runner import prepare
    from connector.reconcile.state import StateStore
    from connector.reconcile.state_url import state_url_of
    from connector.source.url import parse_store_url

    prepared = prepare(settings, defs, names=names, as_of=as_of)
    location = state_url_of(settings)
    exists = location.path is None or location.path.exists()
    state = StateStore(location) if exists else None
    document = PlanDocument(as_of=as_of, store=parse_store_url(settings.source_url).display())
    removals = []
    try:
        for split in prepared.splits:
            target = prepared.targets[split.destination]
            known = state.contacts(split.destination) if state else {}
            wanted = [d for d in target.parts if d.split is split]
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
                else {
                    "name": split.native.name,
                    "definition": render_native(split.esp, split.native),
                },
                parts=[],
                fields=dict(split.fields),
                members=int(result.pushed(split.segment).sum()) if local else None,
                skipped=target.skipped_segments.get(split.segment),
                group_kind=split.group_kind,
            )
            new: set[str] = set()
            for desired in wanted:
                confirmed = (
                    state.confirmed(split.destination, desired.part.name) if state else set()
                )
                pending = state.pending(split.destination, desired.part.name) if state else set()
                adds = desired.emails - confirmed
                removes = (confirmed | pending) - desired.emails
                removals.append(
                    RemovalCheck(split.destination, desired.part.name, len(confirmed), len(removes))
                )
                new |= {e for e in adds if e not in known or not known[e][0]}
                part = desired.part
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
                        confirmed=len(confirmed),
                        adds=len(adds),
                        removes=len(removes),
                        desired_digest=digest(desired.emails),
                        confirmed_digest=digest(confirmed) + digest(pending)[:4],
                    )
                )
            plan.skipped_no_consent = sum(1 for e in new if not target.contacts[e].consent)
            plan.new_contacts = len(new) - plan.skipped_no_consent
            document.segments.append(plan)
    finally:
        if state is not None:
            state.close()
    document.guards = check_guards(prepared.schema, as_of, settings.guards, removals)
    return document
