"""The Klaviyo emulator's data: profiles, lists, segments and bulk import jobs.

Plain objects behind one re-entrant lock, like the Mailchimp state. Import jobs run on
the emulator's clock: ``tick()`` (called before every request and by the inspection
helpers) moves each job from queued to processing to complete and applies its profiles
when it completes, so a client must poll, and nothing needs a background task.

Consent is one of SUBSCRIBED, UNSUBSCRIBED, NEVER_SUBSCRIBED; a suppressed profile keeps
its consent but cannot receive email. List membership never changes either.
"""

from __future__ import annotations

import itertools
import json
import re
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from connector.emulator.common.values import is_valid_email, now_iso
from connector.emulator.klaviyo.definitions import segment_members

__all__ = [
    "CONSENTS",
    "ImportJob",
    "KList",
    "KSegment",
    "KlaviyoState",
    "Profile",
]

CONSENTS = ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED")
PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
MAX_PROFILE_BYTES = 100 * 1024

_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_ALPHABET = string.digits + string.ascii_letters


def _short_id(prefix: str, n: int) -> str:
    digits = ""
    while True:
        n, rest = divmod(n, len(_ALPHABET))
        digits = _ALPHABET[rest] + digits
        if n == 0:
            break
    return prefix + digits.rjust(6 - len(prefix), "0")


@dataclass
class Profile:
    """One Klaviyo profile."""

    id: str
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    locale: str | None = None
    title: str | None = None
    image: str | None = None
    location: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    consent: str = "NEVER_SUBSCRIBED"
    consent_timestamp: str | None = None
    suppression: str | None = None
    """Suppression reason (HARD_BOUNCE, SPAM_COMPLAINT, UNSUBSCRIBE, USER_SUPPRESSED, …)."""
    suppressed_at: str | None = None

    @property
    def can_receive_email(self) -> bool:
        """Not suppressed and not unsubscribed (never-subscribed profiles can be emailed)."""
        return self.suppression is None and self.consent != "UNSUBSCRIBED" and bool(self.email)


@dataclass
class KList:
    """A static list; ``members`` maps profile id to joined_group_at, in join order."""

    id: str
    name: str
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    opt_in_process: str = "single_opt_in"
    members: dict[str, str] = field(default_factory=dict)


@dataclass
class KSegment:
    """A segment with a definition (condition groups ANDed, conditions ORed)."""

    id: str
    name: str
    definition: dict[str, Any]
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    is_active: bool = True
    is_starred: bool = False


@dataclass
class ImportJob:
    """A bulk profile import: queued → processing → complete on the emulator's clock."""

    id: str
    started: float
    """Emulator clock reading at creation."""
    delay_s: float
    entries: list[dict[str, Any]]
    list_ids: list[str]
    check_sizes: bool = True
    """False when the whole request was under 100 KB, so no profile can be over it."""
    created_wall: float = field(default_factory=time.time)
    """Wall-clock creation time: the job's stamps are this plus its model's times."""
    created_at: str = ""
    status: Literal["queued", "processing", "complete", "cancelled"] = "queued"
    started_at: str | None = None
    completed_at: str | None = None
    expires_at: str = field(default_factory=lambda: now_iso(7 * 86400))
    profile_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.created_at = self.created_at or job_stamp(self.created_wall)

    @property
    def total_count(self) -> int:
        return len(self.entries)


def job_stamp(wall: float) -> str:
    """A job's timestamp as the API reference gives it, with microseconds
    (``YYYY-MM-DDTHH:MM:SS.mmmmmm+00:00``)."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")


class KlaviyoState:
    """Every object of the emulated account, with helpers to seed and inspect them."""

    def __init__(self, clock: Callable[[], float], import_delay_s: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self.profiles: dict[str, Profile] = {}
        self.lists: dict[str, KList] = {}
        self.segments: dict[str, KSegment] = {}
        self.jobs: dict[str, ImportJob] = {}
        self.account_id = "EMU001"
        #: bodies refused for breaking Klaviyo's OpenAPI contract ("OP: pointer: message")
        self.contract_violations: list[str] = []
        self._clock = clock
        self._import_delay_s = import_delay_s
        self._profile_ids = itertools.count(1)
        self._list_ids = itertools.count(1)
        self._segment_ids = itertools.count(1)
        self._job_ids = itertools.count(1)
        self._by_email: dict[str, str] = {}
        self._by_external: dict[str, str] = {}
        self._by_phone: dict[str, str] = {}

    # -- ids -----------------------------------------------------------------------------
    def _new_profile_id(self) -> str:
        # ULID-shaped (26 Crockford characters); a counter keeps runs reproducible.
        return f"01JEMU{next(self._profile_ids):020d}"

    # -- profiles ------------------------------------------------------------------------
    def find_profile(
        self,
        *,
        id: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
        phone_number: str | None = None,
    ) -> Profile | None:
        """The profile an identifier names (id, then email, external id, phone)."""
        with self.lock:
            if id is not None and id in self.profiles:
                return self.profiles[id]
            for value, index in (
                (email.lower() if email else None, self._by_email),
                (external_id, self._by_external),
                (phone_number, self._by_phone),
            ):
                if value and value in index:
                    return self.profiles[index[value]]
            return None

    def profiles_with_emails(self, emails: Iterable[Any]) -> list[Profile]:
        """Profiles with any of these emails (case-insensitive), in creation order."""
        with self.lock:
            ids = {
                self._by_email[e.lower()]
                for e in emails
                if isinstance(e, str) and e.lower() in self._by_email
            }
            return [self.profiles[i] for i in sorted(ids)]

    def index(self, profile: Profile) -> None:
        """Make ``profile`` findable by its identifiers (after they changed)."""
        if profile.email:
            self._by_email[profile.email.lower()] = profile.id
        if profile.external_id:
            self._by_external[profile.external_id] = profile.id
        if profile.phone_number:
            self._by_phone[profile.phone_number] = profile.id

    def upsert(
        self, attributes: dict[str, Any], profile_id: str | None = None, *, stamp: str | None = None
    ) -> Profile:
        """Create or update a profile from API attributes. Null never clears a field and
        the upsert never touches consent (like the bulk import). ``stamp``: the time to
        record (one per job, so big imports do not format 10,000 timestamps)."""
        stamp = stamp or now_iso()
        with self.lock:
            profile = self.find_profile(
                id=profile_id,
                email=attributes.get("email"),
                external_id=attributes.get("external_id"),
                phone_number=attributes.get("phone_number"),
            )
            if profile is None:
                profile = Profile(id=self._new_profile_id(), created=stamp, updated=stamp)
                self.profiles[profile.id] = profile
            for name in PROFILE_FIELDS:
                value = attributes.get(name)
                if value is not None:
                    setattr(profile, name, value)
            for name in ("location", "properties"):
                values = attributes.get(name)
                if isinstance(values, dict):
                    target = getattr(profile, name)
                    target.update({k: v for k, v in values.items() if v is not None})
            profile.updated = stamp
            self.index(profile)
            return profile

    def add_profile(
        self,
        email: str | None = None,
        *,
        consent: str = "NEVER_SUBSCRIBED",
        suppressed: str | None = None,
        properties: dict[str, Any] | None = None,
        **attributes: Any,
    ) -> Profile:
        """Seed a profile in any consent state; ``suppressed`` is a suppression reason."""
        if consent not in CONSENTS:
            raise ValueError(f"unknown consent {consent!r}")
        with self.lock:
            profile = self.upsert({"email": email, "properties": properties or {}, **attributes})
            profile.consent = consent
            profile.consent_timestamp = now_iso() if consent != "NEVER_SUBSCRIBED" else None
            if suppressed:
                self.suppress(profile, suppressed)
            return profile

    def suppress(self, profile: Profile, reason: str = "USER_SUPPRESSED") -> None:
        """Suppress a profile (it stays on its lists; it just cannot be emailed)."""
        with self.lock:
            profile.suppression = reason
            profile.suppressed_at = now_iso()

    def set_consent(self, profile: Profile, consent: str) -> None:
        """Change a profile's email marketing consent."""
        if consent not in CONSENTS:
            raise ValueError(f"unknown consent {consent!r}")
        with self.lock:
            profile.consent = consent
            profile.consent_timestamp = now_iso()

    def profile(self, email: str) -> Profile | None:
        """A profile by email (case-insensitive)."""
        self.tick()
        return self.find_profile(email=email)

    # -- lists ---------------------------------------------------------------------------
    def add_list(self, name: str) -> KList:
        """Create a list."""
        with self.lock:
            created = KList(id=_short_id("L", next(self._list_ids)), name=name)
            self.lists[created.id] = created
            return created

    def find_list(self, name: str) -> KList | None:
        """The first list with this exact name."""
        with self.lock:
            return next((li for li in self.lists.values() if li.name == name), None)

    def add_to_list(self, list_id: str, profile_ids: Iterable[str]) -> int:
        """Add profiles to a list; the number actually added."""
        with self.lock:
            target = self.lists[list_id]
            added = 0
            stamp = now_iso()
            for profile_id in profile_ids:
                if profile_id not in target.members:
                    target.members[profile_id] = stamp
                    added += 1
            if added:
                target.updated = now_iso()
            return added

    def list_emails(self, list_id: str) -> set[str]:
        """Lower-cased emails of a list's members."""
        self.tick()
        with self.lock:
            return {
                (self.profiles[p].email or "").lower()
                for p in self.lists[list_id].members
                if self.profiles[p].email
            }

    # -- segments ------------------------------------------------------------------------
    def add_segment(self, name: str, definition: dict[str, Any]) -> KSegment:
        """Create a segment (no validation: seed anything)."""
        with self.lock:
            created = KSegment(
                id=_short_id("S", next(self._segment_ids)), name=name, definition=definition
            )
            self.segments[created.id] = created
            return created

    def segment_profile_ids(self, segment_id: str) -> list[str]:
        """Profiles a segment holds now, computed from its definition."""
        self.tick()
        with self.lock:
            return segment_members(self, self.segments[segment_id])

    def segment_emails(self, segment_id: str) -> set[str]:
        """Lower-cased emails of a segment's members."""
        with self.lock:
            return {
                (self.profiles[p].email or "").lower()
                for p in self.segment_profile_ids(segment_id)
                if self.profiles[p].email
            }

    # -- import jobs ---------------------------------------------------------------------
    def create_job(
        self, entries: list[dict[str, Any]], list_ids: list[str], *, body_bytes: int | None = None
    ) -> ImportJob:
        """Queue a bulk import; it completes ``import_delay_s`` later on the clock."""
        with self.lock:
            job_id = f"ZXhwb3J0LWpvYi{next(self._job_ids):08d}"
            job = ImportJob(
                id=job_id,
                started=self._clock(),
                delay_s=self._import_delay_s(),
                entries=entries,
                list_ids=list_ids,
                check_sizes=body_bytes is None or body_bytes > MAX_PROFILE_BYTES,
            )
            self.jobs[job.id] = job
            return job

    def tick(self) -> None:
        """Advance every job on the clock; apply the ones that completed, oldest first."""
        now = self._clock()
        with self.lock:
            for job in self.jobs.values():
                if job.status in ("complete", "cancelled"):
                    continue
                elapsed = now - job.started
                if elapsed >= job.delay_s:
                    self._complete(job)
                elif elapsed >= job.delay_s / 2 and job.status == "queued":
                    job.status = "processing"
                    job.started_at = job_stamp(job.created_wall + job.delay_s / 2)

    def _complete(self, job: ImportJob) -> None:
        """Apply a job that is due (lazily, at the next request that ticks): its stamps
        are the model's times — processing from half its delay, done at its delay — not
        when a request happened to look."""
        job.started_at = job.started_at or job_stamp(job.created_wall + job.delay_s / 2)
        touched: dict[str, None] = {}  # ordered set: one entry per profile, in job order
        stamp = now_iso()
        for index, entry in enumerate(job.entries):
            problem = _entry_problem(entry, check_size=job.check_sizes)
            if problem is not None:
                job.errors.append(
                    {
                        "code": "invalid",
                        "title": "Invalid input.",
                        "detail": problem[1],
                        "source": {
                            "pointer": f"/data/attributes/profiles/data/{index}/{problem[0]}"
                        },
                        "original_payload": entry.get("attributes", {}),
                    }
                )
                continue
            profile = self.upsert(entry.get("attributes") or {}, entry.get("id"), stamp=stamp)
            touched[profile.id] = None
        job.profile_ids = list(touched)
        for list_id in job.list_ids:
            if list_id in self.lists:
                self.add_to_list(list_id, job.profile_ids)
        job.status = "complete"
        job.completed_at = job_stamp(job.created_wall + job.delay_s)


def _entry_problem(entry: dict[str, Any], *, check_size: bool = True) -> tuple[str, str] | None:
    """(pointer suffix, detail) of what makes one import entry fail, if anything."""
    if check_size and len(json.dumps(entry)) > MAX_PROFILE_BYTES:
        return "attributes", "The profile exceeds the maximum size of 100KB."
    attributes = entry.get("attributes") or {}
    email = attributes.get("email")
    phone = attributes.get("phone_number")
    if email is not None and not is_valid_email(email):
        return "attributes/email", f"Invalid email address: {email}"
    if phone is not None and not (isinstance(phone, str) and _PHONE.match(phone)):
        return "attributes/phone_number", f"Invalid phone number format: {phone}"
    if not (email or phone or attributes.get("external_id") or entry.get("id")):
        return "attributes", "One of email, phone_number, external_id or id is required."
    return None
