"""The plan document: per segment and destination, the split and the sizes it implies.

``segsync plan --json`` prints it and ``--out plan.json`` saves it (format version 1):

    {"version": 1, "as_of": "...Z", "store": "duckdb:///...",
     "segments": [{"segment", "destination", "esp", "mode",
                   "target": {"kind": "segment"|"tag"|"list", "name"},
                   "native": {"name", "definition"} | null,
                   "parts": [{"name", "kind", "rule", "description", "apply_holdout",
                              "apply_exclusive", "members", "contacts"}],
                   "fields": {attribute: esp_field},
                   "members": int | null, "skipped": str | null}]}

``definition`` is the exact JSON the ESP API takes, with ``<id of segsync:…>`` standing in
for part ids until the parts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from connector.definitions.checks import raise_for_schema
from connector.definitions.loader import Definitions
from connector.evaluate.engine import Evaluation, evaluate, has_esp_conditions
from connector.plan.membership import part_members, part_rules
from connector.plan.model import Split
from connector.plan.native import render_native
from connector.plan.split import describe_part, plan_splits
from connector.source.store import Store
from connector.timespec import format_instant

__all__ = ["PartPlan", "PlanDocument", "SegmentPlan", "build_plan"]

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
    skipped: str | None = None


@dataclass
class PlanDocument:
    as_of: datetime
    store: str
    segments: list[SegmentPlan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "as_of": format_instant(self.as_of),
            "store": self.store,
            "segments": [asdict(s) for s in self.segments],
        }


def _contacts(result: Evaluation, rows: np.ndarray) -> int:
    return len({result.emails[r] for r in np.flatnonzero(rows) if result.emails[r] is not None})


def _segment_plan(
    defs: Definitions, result: Evaluation, split: Split, holdouts: dict[str, float]
) -> SegmentPlan:
    parts = []
    for part in split.parts:
        rows = part_members(result, split, part, holdouts)
        parts.append(
            PartPlan(
                name=part.name,
                kind=part.kind,
                rule=part.rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                if part.rule is not None
                else None,
                description=describe_part(part),
                apply_holdout=part.apply_holdout,
                apply_exclusive=part.apply_exclusive,
                members=int(rows.sum()),
                contacts=_contacts(result, rows),
            )
        )
    segment = defs.segments[split.segment]
    local = split.segment in result.members
    members = int(result.pushed(split.segment).sum()) if local else None
    skipped = None
    if local and result.below_min_size(split.segment):
        skipped = f"below min_size {segment.min_size} ({members} members to push)"
    kind, name = split.target
    native = None
    if split.native is not None:
        native = {
            "name": split.native.name,
            "definition": render_native(split.esp, split.native),
        }
    return SegmentPlan(
        segment=split.segment,
        destination=split.destination,
        esp=split.esp,
        mode=split.mode,
        target={"kind": kind, "name": name},
        native=native,
        parts=parts,
        fields=dict(split.fields),
        members=members,
        skipped=skipped,
    )


def build_plan(
    store: Store, defs: Definitions, *, as_of: datetime, names: Sequence[str] | None = None
) -> tuple[PlanDocument, list[Split], Evaluation]:
    """Split every (segment, destination) of ``names`` and evaluate every part once."""
    wanted = [n for n in (names or defs.segments) if defs.segments[n].destinations]
    schema = store.discover()
    raise_for_schema(defs, schema, wanted)
    splits = plan_splits(defs, wanted, schema)
    local = [n for n in wanted if not has_esp_conditions(defs.segments[n].rule)]
    result = evaluate(
        store,
        defs,
        as_of=as_of,
        names=local,
        extra_rules=part_rules(splits, schema.layout.profile_id),
        attributes=sorted({a for s in splits for a in s.fields}),
    )
    holdouts = {n: defs.segments[n].holdout for n in wanted}
    document = PlanDocument(as_of=as_of, store=store.url.display())
    document.segments = [_segment_plan(defs, result, split, holdouts) for split in splits]
    return document, splits, result
