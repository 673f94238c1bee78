"""Desired state per destination: each part's member emails and the contacts behind them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np

from connector.definitions.loader import Definitions
from connector.esp.base import Contact
from connector.evaluate.engine import Evaluation
from connector.evaluate.traits import TraitField, trait_value
from connector.plan.membership import EVERYONE, carrier_key, part_members
from connector.plan.model import Part, Split
from connector.reconcile.addresses import Addresses

__all__ = [
    "DesiredPart",
    "DestinationState",
    "changed_fields",
    "desired_state",
    "field_changes",
    "field_updates",
    "fields_hash",
    "has_changes",
    "push_value",
]


def push_value(value: Any) -> Any:
    """How an attribute value is sent to an ESP field: text trimmed of spaces (the native
    comparisons rely on it), instants as ISO text, NULL as None (not sent)."""
    if isinstance(value, str):
        return value.strip(" ")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _value_hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fields_hash(fields: Mapping[str, Any]) -> str:
    """A fingerprint of the field values pushed for a contact, field by field (compact
    JSON ``{"FIELD": hash}``), so a later run sends only the fields whose value changed."""
    if not fields:
        return "{}"  # what the JSON below gives for no fields, without encoding it
    return json.dumps(
        {name: _value_hash(fields[name]) for name in sorted(fields)}, separators=(",", ":")
    )


def changed_fields(contact: Contact, old: str) -> Contact | None:
    """The contact reduced to what changed since the fingerprint ``old``: fields whose value
    differs, and cleared fields that had a value then. None when ``old`` does not tell field
    by field (recorded by an earlier version): then everything is sent."""
    try:
        before = json.loads(old)
    except ValueError:
        return None
    if not isinstance(before, dict):
        return None
    fields = {
        name: value
        for name, value in contact.fields.items()
        if before.get(name) != _value_hash(value)
    }
    cleared = frozenset(name for name in contact.cleared if name in before)
    return Contact(contact.email, contact.consent, fields, cleared)


@dataclass
class DesiredPart:
    split: Split
    part: Part
    emails: set[str]
    profiles: int  # profiles behind those emails (and without a valid email)
    no_email: int


@dataclass
class DestinationState:
    destination: str
    esp: str
    splits: list[Split] = field(default_factory=list)
    parts: list[DesiredPart] = field(default_factory=list)
    contacts: dict[str, Contact] = field(default_factory=dict)
    skipped_segments: dict[str, str] = field(default_factory=dict)  # segment -> why
    #: contacts that must exist with current field values (native attribute conditions)
    carriers: set[str] = field(default_factory=set)
    #: every profile's contact (when evaluated), to refresh fields segsync pushed before
    everyone: dict[str, Contact] = field(default_factory=dict)
    #: missing contacts with consent are created (``new_contacts: consent_only``)
    create_new: bool = True

    def creatable(self, contact: Contact) -> bool:
        """Whether the sync creates this contact when the ESP does not have it."""
        return self.create_new and contact.consent


class _Mapped(NamedTuple):
    """A destination's field mapping resolved against the evaluation once (not per row)."""

    #: (the attribute's values by row, the ESP field) for each mapped attribute evaluated
    columns: list[tuple[Any, str]]
    #: every ESP field of the mapping
    fields: frozenset[str]


def _mapped(result: Evaluation, mapping: Mapping[str, str]) -> _Mapped:
    by_name = {c.lower(): c for c in reversed(list(result.attributes))}  # the first wins
    columns = [
        (result.attributes[by_name[attribute.lower()]], esp_field)
        for attribute, esp_field in mapping.items()
        if attribute.lower() in by_name
    ]
    return _Mapped(columns, frozenset(mapping.values()))


def _contact_fields(mapped: _Mapped, row: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for values, esp_field in mapped.columns:
        value = push_value(values[row])
        if value is not None:
            fields[esp_field] = value
    return fields


def desired_state(
    defs: Definitions,
    result: Evaluation,
    splits: Sequence[Split],
    *,
    no_consent: Set[str] = frozenset(),
    addresses: Addresses | None = None,
    traits: Mapping[str, Sequence[TraitField]] | None = None,
) -> dict[str, DestinationState]:
    """Group splits by destination and compute every part's desired emails and contacts.

    Segments below ``min_size`` are left out (their ESP objects are left as they are).
    ``no_consent``: emails a profile without consent shares (``Store.
    emails_without_shared_consent``), which have no consent whatever their rows say.
    ``addresses`` checks each member's address once (and counts what it leaves out).
    ``traits``: each destination's traits, whose values (evaluated over every profile)
    join its contacts' fields.
    """
    addresses = addresses or Addresses(result)
    holdouts = {name: seg.holdout for name, seg in defs.segments.items()}
    states: dict[str, DestinationState] = {}
    for split in splits:
        state = states.get(split.destination)
        if state is None:
            create_new = defs.destinations[split.destination].new_contacts == "consent_only"
            state = states[split.destination] = DestinationState(
                split.destination, split.esp, create_new=create_new
            )
        if split.segment in result.members and result.below_min_size(split.segment):
            size = int(result.pushed(split.segment).sum())
            state.skipped_segments[split.segment] = (
                f"below min_size {defs.segments[split.segment].min_size} ({size} to push)"
            )
            continue
        state.splits.append(split)
        mapped = _mapped(result, split.fields)
        for part in split.parts:
            rows = part_members(result, split, part, holdouts)
            emails: set[str] = set()
            no_email = 0
            for row in np.flatnonzero(rows):
                email = addresses.email(int(row))
                if email is None:
                    no_email += 1
                    continue
                emails.add(email)
                _add_contact(state.contacts, email, result, int(row), mapped, no_consent)
            state.parts.append(DesiredPart(split, part, emails, int(rows.sum()), no_email))
        key = carrier_key(split)
        if key in result.qualified:
            for row in np.flatnonzero(result.qualified[key]):
                email = addresses.email(int(row))
                if email is not None:
                    _add_contact(state.contacts, email, result, int(row), mapped, no_consent)
                    state.carriers.add(email)
    traits = traits or {}
    if EVERYONE in result.qualified:
        mappings = {s.destination: s.fields for s in splits}
        for name, state in states.items():
            if not mappings.get(name) and not traits.get(name):
                continue
            mapped = _mapped(result, mappings.get(name) or {})
            for row in np.flatnonzero(result.qualified[EVERYONE]):
                email = addresses.email(int(row), count=False)
                if email is not None:
                    _add_contact(state.everyone, email, result, int(row), mapped, no_consent)
    for name, state in states.items():
        if traits.get(name):
            _apply_traits(state, result, traits[name], addresses)
    return states


def field_changes(
    target: DestinationState, known: Mapping[str, tuple[bool, bool, str | None, str | None]]
) -> list[str]:
    """Contacts present in the ESP with field values (mapped attributes, traits) other than
    those segsync pushed last: what a sync sends as field updates (``known``: the state
    store's contacts, email → (present, consent, fields hash, id)). Members first, then
    the other contacts segsync pushed fields to, each in the evaluation's order."""
    changed: list[str] = []
    for contacts in (target.contacts, target.everyone):
        for email, contact in contacts.items():
            if contacts is target.everyone and email in target.contacts:
                continue
            record = known.get(email)
            if record is None or not record[0]:
                continue
            old = record[2]
            if contacts is target.everyone and old is None:
                continue  # never pushed fields there: left alone
            if old is None or (old != fields_hash(contact.fields) and has_changes(contact, old)):
                changed.append(email)
    return changed


def field_updates(
    target: DestinationState, known: Mapping[str, tuple[bool, bool, str | None, str | None]]
) -> int:
    """How many field updates a sync sends (``field_changes``)."""
    return len(field_changes(target, known))


def has_changes(contact: Contact, old: str) -> bool:
    """Whether a contact whose fingerprint differs from ``old`` has anything to send."""
    reduced = changed_fields(contact, old)
    return reduced is None or bool(reduced.fields or reduced.cleared)


def _apply_traits(
    state: DestinationState,
    result: Evaluation,
    traits: Sequence[TraitField],
    addresses: Addresses,
) -> None:
    """Every contact's trait values join its fields: those of the smallest profile id with
    its email (rows are in profile-id order); a NULL value is ``cleared`` (never sent)."""
    first: dict[str, int] = {}
    for row in range(len(result.profile_ids)):
        email = addresses.email(row, count=False)
        if email is not None and email not in first:
            first[email] = row
    names = frozenset(t.esp_field for t in traits)
    for contacts in (state.contacts, state.everyone):
        for email, contact in contacts.items():
            found = first.get(email)
            values: dict[str, Any] = {}
            if found is not None:
                for t in traits:
                    value = trait_value(result.traits[t.key][found], t.field_type)
                    if value is not None:
                        values[t.esp_field] = value
            fields = {**contact.fields, **values}
            cleared = (contact.cleared | (names - values.keys())) - fields.keys()
            contacts[email] = Contact(email, contact.consent, fields, frozenset(cleared))


def _add_contact(
    contacts: dict[str, Contact],
    email: str,
    result: Evaluation,
    row: int,
    mapped: _Mapped,
    no_consent: Set[str],
) -> None:
    """One contact per email: consent only if every one of its profiles has it
    (docs/design.md, Semantics), fields merged; mapped fields whose value is NULL are
    ``cleared`` (never sent as a value; the executor empties them only where segsync pushed
    a value before)."""
    known = contacts.get(email)
    consent = bool(result.consent[row]) and email not in no_consent
    if known is not None:
        consent = consent and known.consent
    fields = _contact_fields(mapped, row)
    if known is not None:
        fields = {**known.fields, **fields}
    cleared = mapped.fields - fields.keys()
    if known is not None:
        cleared = (cleared | known.cleared) - fields.keys()
    contacts[email] = Contact(email, consent, fields, frozenset(cleared))
