"""The Mailchimp emulator's data: audiences, merge fields, members, tags and segments.

Plain objects behind one re-entrant lock: the server thread mutates them inside request
handlers, tests seed and inspect them through the helper methods from another thread.
A tag is a static segment (as in Mailchimp); its members are kept in insertion order so
paging is stable. Emails returned by the membership helpers are lower-cased.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.emulator.common.values import now_iso
from connector.emulator.mailchimp.conditions import segment_member_list

__all__ = [
    "DEFAULT_MERGE_FIELDS",
    "MEMBER_STATUSES",
    "Audience",
    "MailchimpState",
    "Member",
    "MergeField",
    "Segment",
    "subscriber_hash",
]

MEMBER_STATUSES: tuple[str, ...] = (
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
    "archived",
)
DEFAULT_MERGE_FIELDS = ("FNAME", "LNAME", "ADDRESS", "PHONE")


def subscriber_hash(email: str) -> str:
    """MD5 of the lower-cased email: Mailchimp's member id."""
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


@dataclass
class MergeField:
    """An audience field (merge tag)."""

    merge_id: int
    tag: str
    name: str
    type: str = "text"
    required: bool = False
    default_value: str = ""
    choices: tuple[str, ...] = ()


@dataclass
class Member:
    """One contact of one audience."""

    email_address: str
    status: str
    web_id: int
    merge_fields: dict[str, Any] = field(default_factory=dict)
    timestamp_signup: str = ""
    timestamp_opt: str = ""
    last_changed: str = field(default_factory=now_iso)
    language: str = ""
    vip: bool = False
    email_type: str = "html"
    source: str = "API - Generic"
    unsubscribe_reason: str = ""

    @property
    def id(self) -> str:
        """The subscriber hash."""
        return subscriber_hash(self.email_address)

    @property
    def email_key(self) -> str:
        """The lower-cased email, the identity used in comparisons."""
        return self.email_address.lower()


@dataclass
class Segment:
    """A tag (``type == "static"``) or a saved segment (``"saved"``, conditions)."""

    id: int
    name: str
    type: Literal["static", "saved"]
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    match: str = "all"
    conditions: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, None] = field(default_factory=dict)
    """Static only: subscriber hashes, an insertion-ordered set."""


@dataclass
class Audience:
    """A Mailchimp list (audience)."""

    id: str
    name: str
    web_id: int
    date_created: str = field(default_factory=now_iso)
    merge_fields: list[MergeField] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    segments: dict[int, Segment] = field(default_factory=dict)

    def merge_field(self, tag_or_id: str) -> MergeField | None:
        """A merge field by tag (case-insensitive) or by ``mergeN`` id."""
        wanted = tag_or_id.strip().upper()
        for merge in self.merge_fields:
            if merge.tag.upper() == wanted or f"MERGE{merge.merge_id}" == wanted:
                return merge
        return None

    def find_member(self, hash_or_email: str) -> Member | None:
        """A member by subscriber hash or email (the API accepts both)."""
        key = subscriber_hash(hash_or_email) if "@" in hash_or_email else hash_or_email.lower()
        return self.members.get(key)

    def find_segment_by_name(self, name: str) -> Segment | None:
        """Tags and segments compare by name case-insensitively."""
        wanted = name.strip().lower()
        for segment in self.segments.values():
            if segment.name.strip().lower() == wanted:
                return segment
        return None

    def tags_of(self, member: Member) -> list[Segment]:
        """The tags (static segments) a member carries, oldest tag first."""
        return [s for s in self.segments.values() if s.type == "static" and member.id in s.members]


class MailchimpState:
    """Every audience of the emulated account, with helpers to seed and inspect them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.audiences: dict[str, Audience] = {}
        self.automation_triggers = 0
        """Tags added through the member tags endpoint without ``is_syncing`` (which would
        fire tag-triggered automations in Mailchimp)."""
        self.contract_violations: list[str] = []
        """Requests refused because their body breaks the API reference's contract
        (``contract.py``): ``"METHOD /route: field: message"``."""
        self.batches: dict[str, Any] = {}
        """Batch operations by id (``batches.py``), to inspect in tests."""
        self._segment_ids = itertools.count(10001)
        self._web_ids = itertools.count(100001)
        self._merge_ids = itertools.count(1)

    # -- ids ---------------------------------------------------------------------------
    def next_segment_id(self) -> int:
        """A new account-wide segment/tag id."""
        return next(self._segment_ids)

    def next_web_id(self) -> int:
        """A new numeric web id."""
        return next(self._web_ids)

    # -- seeding -----------------------------------------------------------------------
    def add_audience(
        self, list_id: str, name: str | None = None, merge_fields: Iterable[str] = ()
    ) -> Audience:
        """Create an audience with the default merge fields plus ``merge_fields``."""
        with self.lock:
            audience = Audience(id=list_id, name=name or list_id, web_id=self.next_web_id())
            self.audiences[list_id] = audience
            for tag in (*DEFAULT_MERGE_FIELDS, *merge_fields):
                self.add_merge_field(list_id, tag)
            return audience

    def add_merge_field(
        self,
        list_id: str,
        tag: str,
        type: str = "text",
        *,
        name: str | None = None,
        required: bool = False,
        choices: Iterable[str] = (),
    ) -> MergeField:
        """Add a merge field (``type``: text, number, dropdown, radio, date, …)."""
        with self.lock:
            audience = self.audience(list_id)
            existing = audience.merge_field(tag)
            if existing is not None:
                return existing
            merge = MergeField(
                merge_id=next(self._merge_ids),
                tag=tag.upper(),
                name=name or tag.title(),
                type=type,
                required=required,
                choices=tuple(choices),
            )
            audience.merge_fields.append(merge)
            return merge

    def add_member(
        self,
        list_id: str,
        email: str,
        status: str = "subscribed",
        *,
        merge_fields: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
    ) -> Member:
        """Seed a member in any status (even ones the API would refuse to set)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self.lock:
            audience = self.audience(list_id)
            stamp = now_iso()
            member = Member(
                email_address=email,
                status=status,
                web_id=self.next_web_id(),
                merge_fields={k.upper(): v for k, v in (merge_fields or {}).items()},
                timestamp_signup=stamp,
                timestamp_opt=stamp if status == "subscribed" else "",
            )
            audience.members[member.id] = member
            for name in tags:
                self.tag(list_id, name).members[member.id] = None
            return member

    def set_status(self, list_id: str, email: str, status: str) -> Member:
        """Change a member's status directly (e.g. they unsubscribed in an email)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        with self.lock:
            member = self.member(list_id, email)
            if member is None:
                raise KeyError(email)
            member.status = status
            member.last_changed = now_iso()
            return member

    def tag(self, list_id: str, name: str, emails: Iterable[str] = ()) -> Segment:
        """The tag named ``name`` (created if missing), with ``emails`` added to it."""
        with self.lock:
            audience = self.audience(list_id)
            segment = audience.find_segment_by_name(name)
            if segment is None:
                segment = Segment(id=self.next_segment_id(), name=name, type="static")
                audience.segments[segment.id] = segment
            for email in emails:
                member = audience.find_member(email)
                if member is not None:
                    segment.members[member.id] = None
            return segment

    # -- inspection --------------------------------------------------------------------
    def audience(self, list_id: str) -> Audience:
        """An audience by id; KeyError if missing."""
        with self.lock:
            return self.audiences[list_id]

    def member(self, list_id: str, email: str) -> Member | None:
        """A member by email or subscriber hash."""
        with self.lock:
            return self.audience(list_id).find_member(email)

    def emails(self, list_id: str, status: str | None = None) -> set[str]:
        """Lower-cased emails of the audience's members, optionally of one status."""
        with self.lock:
            return {
                m.email_key
                for m in self.audience(list_id).members.values()
                if status is None or m.status == status
            }

    def find_segment(self, list_id: str, name: str) -> Segment | None:
        """A tag or saved segment by name (case-insensitive)."""
        with self.lock:
            return self.audience(list_id).find_segment_by_name(name)

    def tags_of(self, list_id: str, email: str) -> set[str]:
        """Names of the tags a member carries."""
        with self.lock:
            audience = self.audience(list_id)
            member = audience.find_member(email)
            return set() if member is None else {s.name for s in audience.tags_of(member)}

    def tag_members(self, list_id: str, name_or_id: str | int) -> set[str]:
        """Lower-cased emails carrying a tag (any status), by tag name or id."""
        with self.lock:
            audience = self.audience(list_id)
            segment = (
                audience.segments.get(name_or_id)
                if isinstance(name_or_id, int)
                else audience.find_segment_by_name(name_or_id)
            )
            if segment is None:
                raise KeyError(name_or_id)
            return {audience.members[h].email_key for h in segment.members if h in audience.members}

    def segment_members(
        self, list_id: str, name_or_id: str | int, statuses: Iterable[str] | None = None
    ) -> set[str]:
        """Lower-cased emails in a tag or saved segment (saved: computed from its
        conditions), restricted to ``statuses`` (default: subscribed and pending, what
        the segment members endpoint lists without ``include_*`` flags)."""
        wanted = set(statuses) if statuses is not None else {"subscribed", "pending"}
        with self.lock:
            audience = self.audience(list_id)
            segment = (
                audience.segments.get(name_or_id)
                if isinstance(name_or_id, int)
                else audience.find_segment_by_name(name_or_id)
            )
            if segment is None:
                raise KeyError(name_or_id)
            return {m.email_key for m in segment_member_list(audience, segment, wanted)}
