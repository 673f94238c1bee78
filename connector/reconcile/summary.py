"""What a sync did: one object, printed by ``sync --json`` and kept in run history.

    {"run_id", "status": ok|quarantined|guard|failed|dry_run|stopped, "exit_code",
     "as_of", "started_at", "duration_seconds", "trigger",
     "parts": [{"segment", "destination", "part", "desired", "adds", "removes",
                "held_back", "skipped_no_consent", "quarantined", "api_calls",
                "adds_if_present", "confirmed_from"}],
     "skipped_segments": {"<segment>": "<why>"}, "guards": ["..."], "errors": ["..."],
     "api_calls": {"<destination>": {"total", "by_status": {"200": n, ...}}},
     "objects_created": [...], "segments_written": [...], "contacts_created": n,
     "field_updates": {"<destination>": n},
     "rejected": {"counts": {"<reason>": n}, "examples": ["profile <id>: <reason>"]}}

``rejected`` counts the member profiles left out before anything was sent: an address an
ESP would refuse, a NULL or duplicate ``profile_id`` (and, apart, those with no email).

In a dry run, ``adds``/``removes`` are what would be sent, as ``segsync plan`` shows them;
``adds_if_present`` members are sent only if the ESP has the contact (they may not be
created and segsync has not seen them there): a real run counts each of them as an add or
as ``skipped_no_consent``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PartSummary", "RunSummary"]


@dataclass
class PartSummary:
    segment: str
    destination: str
    part: str
    desired: int
    adds: int = 0
    removes: int = 0
    held_back: int = 0
    skipped_no_consent: int = 0
    quarantined: int = 0
    api_calls: int = 0
    #: planned only (dry run, guard): members segsync may not create and has not seen in
    #: the ESP, added only if it has them (a real run counts each as an add or as skipped)
    adds_if_present: int = 0
    #: planned only: where the confirmed membership came from (``state``, ``esp``: read
    #: from the ESP, ``none``: a tag/list neither records)
    confirmed_from: str | None = None


@dataclass
class RunSummary:
    run_id: str
    status: str
    exit_code: int
    as_of: str
    started_at: str
    trigger: str
    duration_seconds: float = 0.0
    parts: list[PartSummary] = field(default_factory=list)
    skipped_segments: dict[str, str] = field(default_factory=dict)
    guards: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects_created: list[str] = field(default_factory=list)
    segments_written: list[str] = field(default_factory=list)
    contacts_created: int = 0
    #: per destination: contacts whose field values (mapped attributes, traits) are sent
    #: because they changed since segsync pushed them last
    field_updates: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total_api_calls(self) -> int:
        return sum(int(v.get("total", 0)) for v in self.api_calls.values())
