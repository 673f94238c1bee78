"""The contract between the reconciler and the ESP adapters: one base class, its data, limits.

The reconciler never asks "which ESP is this?": everything it needs to plan batches is in
``EspLimits`` (plain data), and everything it does goes through ``EspAdapter``, whose hooks
are all declared here (optional ones with defaults), so it never probes an adapter.

    reconciler ──► EspAdapter ──► <name>/adapter.py, one package per ESP (see registry.py)
                                    └─ one httpx.Client each (http_client.py), one retry policy
                                       (retry.py), shared per-account gates (ratelimit.py)

Emails crossing this boundary are normalised (trimmed, lower-cased) by the caller; adapters
lower-case again wherever they compare, because ESPs echo addresses in their own case.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from connector.definitions.destinations import GroupKind
from connector.errors import MemberError
from connector.esp.processing_times import ProcessingTime

__all__ = [
    "Contact",
    "ContactsResult",
    "EspAdapter",
    "EspLimits",
    "EspObject",
    "MembershipChange",
    "MembershipResult",
    "ObjectKind",
    "dedupe_contacts",
]

ObjectKind = Literal["tag", "list", "segment"]


@dataclass(frozen=True)
class EspLimits:
    """What one ESP accepts per call, as data for the batch planner."""

    esp: str
    #: what a materialised part becomes (the destination model's ``group_kind``)
    group_kind: GroupKind
    #: emails per add_members / remove_members call
    max_members_per_call: int
    #: contacts per ensure_contacts call that map to one upsert request
    max_contacts_per_upsert: int
    #: members per page when reading a tag/list back
    member_page_size: int
    #: requests in flight at once for one account (all threads of the process)
    max_concurrency: int
    #: one call carries a tag's adds and removes together (Mailchimp's segment batch)
    adds_and_removes_per_call: bool = False
    #: contacts join a list in the call that pushes them (Klaviyo's bulk import carries
    #: ``relationships.lists``): ``ensure_contacts(join=group)``
    joins_on_import: bool = False
    #: the push of contacts that may not be created has the longest chain (Mailchimp: one
    #: ``POST /batches``, processed in the background, polled, its results downloaded):
    #: the reconciler starts it first and the other contacts' push once its first call is
    #: being sent (``ensure_contacts(journal=…)`` is called just before)
    aside_first: bool = False

    def with_concurrency(self, value: int) -> EspLimits:
        """The same limits with the account's configured concurrency."""
        return replace(self, max_concurrency=value)


@dataclass(frozen=True)
class EspObject:
    """A tag, list or native segment in the ESP.

    ``created`` is true when this call created it, so the caller records ownership.
    """

    id: str
    name: str
    kind: ObjectKind
    created: bool = False


@dataclass(frozen=True)
class Contact:
    """One contact to make present in the ESP.

    ``email`` is normalised; ``fields`` maps ESP field names (Mailchimp merge tags, Klaviyo
    profile properties) to values, never None (NULL is never sent as a value); ``consent``
    is the store's email consent (true only if every profile with this email has it);
    ``cleared`` names mapped fields whose store value is NULL and that segsync pushed a value
    to before: the adapter empties them (Mailchimp: ``""``; Klaviyo: the property is unset).
    """

    email: str
    consent: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    cleared: frozenset[str] = frozenset()


def dedupe_contacts(contacts: Sequence[Contact]) -> list[Contact]:
    """One contact per normalised email: consent only if every copy has it, later fields
    win (docs/design.md, Semantics: two profiles with one email are one contact, and an explicit or
    unknown "no" wins)."""
    if _distinct_and_normalised(contacts):
        return list(contacts)  # nothing to merge: the reconciler's contacts are like this
    merged: dict[str, Contact] = {}
    for contact in contacts:
        email = contact.email.strip().lower()
        previous = merged.get(email)
        if (
            previous is None
            and email == contact.email
            and not any(v is None for v in contact.fields.values())
        ):
            merged[email] = contact  # already one normalised contact: kept as it is
            continue
        fields = {k: v for k, v in contact.fields.items() if v is not None}
        if previous is None:
            merged[email] = Contact(email, contact.consent, fields, contact.cleared)
        else:
            fields = {**previous.fields, **fields}
            cleared = (previous.cleared | contact.cleared) - fields.keys()
            merged[email] = Contact(
                email, previous.consent and contact.consent, fields, frozenset(cleared)
            )
    return list(merged.values())


def _distinct_and_normalised(contacts: Sequence[Contact]) -> bool:
    """Every email normalised and given once, no field None: ``dedupe_contacts`` would
    keep each contact as it is (checked column by column, not contact by contact)."""
    emails = [c.email for c in contacts]
    if len(set(emails)) != len(emails) or [e.strip().lower() for e in emails] != emails:
        return False
    return not any(c.fields and any(v is None for v in c.fields.values()) for c in contacts)


@dataclass
class ContactsResult:
    """What ``ensure_contacts`` did.

    - ``present``: emails that exist in the ESP now (including ``created``), whatever their
      subscription status; these can be added to tags/lists.
    - ``created``: emails created by this call (only consenting contacts, when allowed).
    - ``skipped_no_consent``: missing contacts not created because consent is false.
    - ``skipped_creation_disabled``: missing, consenting contacts not created because the
      destination says ``new_contacts: never``.
    - ``errors``: contacts the ESP refused (not created, or fields not updated). An email
      can be both ``present`` and in ``errors`` (it exists, but its update was refused).
    - ``joined``: emails now members of the ``join`` group (``limits.joins_on_import``).
    - ``missing_fields``: contact fields sent that the ESP's answers show it does not have
      (their values were not stored); the caller stops the run and records nothing of
      this push. An ESP that takes any field name never reports one.
    """

    present: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    skipped_no_consent: list[str] = field(default_factory=list)
    skipped_creation_disabled: list[str] = field(default_factory=list)
    errors: list[MemberError] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)

    def merge(self, other: ContactsResult) -> None:
        """Add another batch's result to this one."""
        self.present.extend(other.present)
        self.created.extend(other.created)
        self.skipped_no_consent.extend(other.skipped_no_consent)
        self.skipped_creation_disabled.extend(other.skipped_creation_disabled)
        self.errors.extend(other.errors)
        self.joined.extend(other.joined)
        self.missing_fields.extend(f for f in other.missing_fields if f not in self.missing_fields)


@dataclass
class MembershipResult:
    """What ``add_members`` / ``remove_members`` did.

    ``applied`` holds every email the ESP acknowledged, including no-ops (already a member,
    already removed); the others are in ``errors`` with the ESP's reason.
    """

    applied: list[str] = field(default_factory=list)
    errors: list[MemberError] = field(default_factory=list)


@dataclass
class MembershipChange:
    """What ``change_members`` did: the adds' and the removes' results."""

    added: MembershipResult
    removed: MembershipResult


class EspAdapter(ABC):
    """What the reconciler calls: the base class of every ESP's adapter.

    As the Singer SDK's sink base classes do, it names every hook the reconciler uses:

    - must be overridden (abstract): ``check``, ``doctor``, ``list_owned``, ``ensure_group``,
      ``ensure_contacts``, ``change_members``, ``iter_members``, ``upsert_segment``,
      ``stop_on``, ``close``;
    - may be overridden (defaults that fit an ESP without the feature): ``missing_fields``
      (an ESP that takes any field name has none missing), ``field_types`` (free-form
      fields have no type of their own), ``remember_ids`` / ``known_ids``
      (an ESP addressed by email keeps no ids), ``processing_times`` /
      ``remember_processing_times`` (an ESP with no background work polls nothing),
      ``add_members`` / ``remove_members`` (one
      direction of ``change_members``), and how to create a missing field (``field_hint``).

    Implementations are safe to call from several threads.
    """

    esp: str
    limits: EspLimits
    #: (method, route template, HTTP status) → count; status 0 = no response (timeout, reset)
    calls: Counter[tuple[str, str, int]]
    #: how to create a missing contact field, for messages
    field_hint: ClassVar[str] = "create it in the ESP"

    # -- must be overridden ---------------------------------------------------------------
    @abstractmethod
    def check(self) -> None:
        """Verify the API key and that the audience/account is reachable (a run that made
        no other call checks it once, so a revoked key fails the run).

        Raises ``EspAuthError`` or ``EspNotFoundError``.
        """

    @abstractmethod
    def doctor(self, fields: Sequence[str]) -> list[str]:
        """Check the destination for real (key, audience/account, the mapped ``fields``,
        permissions, rate-limit headroom); one line per problem, none when all is well.
        Read-only: it never writes to the ESP."""

    @abstractmethod
    def list_owned(
        self, prefix: str = "segsync:", *, groups: bool = True, segments: bool = True
    ) -> list[EspObject]:
        """Tags/lists (``groups``) and native segments (``segments``) whose name starts
        with ``prefix`` (ignoring case): what a run adopts when the state store does not
        record them. An ESP that keeps them apart reads only the kinds asked for."""

    @abstractmethod
    def ensure_group(self, name: str) -> EspObject:
        """Find the tag/list of that name (as the ESP compares names), or create it."""

    @abstractmethod
    def ensure_contacts(
        self,
        contacts: Sequence[Contact],
        *,
        create_new: bool,
        join: EspObject | None = None,
        journal: Callable[[list[str]], None] | None = None,
    ) -> ContactsResult:
        """Push field values to existing contacts; create missing ones only when
        ``create_new`` and ``contact.consent``. Never changes a subscription status.
        ``join`` (only when ``limits.joins_on_import``): add them to that group too;
        ``journal`` (with ``join``) is called with the emails of each call that may add
        them to it, before that call is sent (the reconciler journals them there); without
        ``join`` (``limits.aside_first``), with the emails of the first call, just before it
        is sent.
        Fields the ESP turned out not to have are reported (``missing_fields``), found from
        its answers: the reconciler reads no field list before pushing."""

    @abstractmethod
    def change_members(
        self, group: EspObject, adds: Sequence[str], removes: Sequence[str]
    ) -> MembershipChange:
        """Add and remove up to ``limits.max_members_per_call`` emails each (one call when
        ``limits.adds_and_removes_per_call``)."""

    @abstractmethod
    def iter_members(self, group: EspObject) -> Iterator[str]:
        """Every member email of a tag/list, whatever its subscription status."""

    @abstractmethod
    def upsert_segment(
        self, name: str, definition: Mapping[str, Any], segment_id: str | None
    ) -> EspObject:
        """Create (``segment_id`` None) or update a native segment.

        ``definition`` is the ESP's own JSON, as its package renders it (``native.py``).
        """

    @abstractmethod
    def stop_on(self, event: threading.Event) -> None:
        """Once ``event`` is set, send no further request (raise ``StopRequestedError``) and cut
        retry waits short."""

    @abstractmethod
    def close(self) -> None:
        """Close the HTTP connections."""

    # -- may be overridden ----------------------------------------------------------------
    def missing_fields(self, names: Iterable[str]) -> list[str]:
        """Which of these contact fields the ESP lacks (it would refuse or drop values for
        them), read from the ESP: what ``doctor`` checks (a sync learns it
        from the push's answers: ``ContactsResult.missing_fields``). Default: none (any
        name is accepted)."""
        return []

    def field_types(self, fields: Sequence[str]) -> dict[str, str]:
        """The ESP's own type of each of these contact fields that exists and has one: what
        ``validate`` and ``doctor`` check trait values against. Read-only. Default: none
        (free-form fields, each value keeping its own type)."""
        del fields
        return {}

    def remember_ids(self, mapping: Mapping[str, str]) -> None:
        """Seed the adapter with email → ESP contact id learned by earlier runs (the state
        store keeps them). Default: nothing to remember."""
        return None

    def known_ids(self) -> Mapping[str, str]:
        """Every email → ESP contact id the adapter knows now, for the state store to keep.
        Default: none."""
        return {}

    def remember_processing_times(self, times: Sequence[ProcessingTime]) -> None:
        """Seed the adapter with the processing times of the account's background work
        (import jobs, batches) seen by earlier runs (the state store keeps them), so its
        first poll of new work is timed from them. Default: nothing polled, nothing kept."""
        return None

    def processing_times(self) -> list[ProcessingTime]:
        """The account's newest processing times the adapter knows now, for the state
        store to keep. Default: none."""
        return []

    def add_members(self, group: EspObject, emails: Sequence[str]) -> MembershipResult:
        """Add up to ``limits.max_members_per_call`` emails to a tag/list."""
        return self.change_members(group, emails, ()).added

    def remove_members(self, group: EspObject, emails: Sequence[str]) -> MembershipResult:
        """Remove up to ``limits.max_members_per_call`` emails from a tag/list."""
        return self.change_members(group, (), emails).removed
