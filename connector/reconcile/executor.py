"""Apply one destination's changes through its adapter, confirming batch by batch.

Order: make sure every part's tag/list exists (recorded as owned), push contacts that
need it (new ones only with consent; existing ones only when their mapped field values
changed), add/remove members in full batches — in parallel up to the ESP's concurrency —
then create or update native segments. Confirmed state moves only when the ESP
acknowledged a batch, in the same transaction as the run's counters, so a crash at any
point loses nothing: the next run re-diffs and re-sends only what is not confirmed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial

from connector.definitions.destinations import Destination
from connector.errors import EspNotFoundError, EspValidationError, MemberError
from connector.esp.base import (
    Contact,
    ContactsResult,
    EspAdapter,
    EspObject,
    MembershipChange,
)
from connector.esp.registry import render_native
from connector.reconcile.desired import (
    DesiredPart,
    DestinationState,
    changed_fields,
    field_changes,
    fields_hash,
)
from connector.reconcile.diff import PartChanges, chunks
from connector.reconcile.state import KnownContact, StateStore

__all__ = ["Batch", "DestinationExecutor", "Progress"]


class Progress:
    """Progress callbacks (the CLI draws bars, the daemon logs); this one does nothing."""

    def start(self, destination: str, batches: int) -> None:
        pass

    def advance(self, destination: str, batches: int = 1) -> None:
        pass


@dataclass(frozen=True)
class Batch:
    """One membership call: a part's adds and/or removes (≤ the ESP's batch size each)."""

    part: DesiredPart
    group: EspObject
    adds: list[str]
    removes: list[str]


@dataclass
class ExecutionReport:
    created_objects: list[str] = field(default_factory=list)
    #: owned tags/lists found deleted in the ESP and created again
    recreated_objects: list[str] = field(default_factory=list)
    segments_written: list[str] = field(default_factory=list)
    contacts_created: int = 0
    contacts_updated: int = 0
    skipped_no_consent: dict[str, int] = field(default_factory=dict)  # part -> count
    member_errors: int = 0
    stopped: bool = False


def _first_push(contact: Contact) -> Contact:
    """A contact segsync never pushed fields to: NULL fields are left out, not emptied
    (segsync does not blank a value someone else put there)."""
    if not contact.cleared:
        return contact
    # built directly: dataclasses.replace introspects the fields on every call, several
    # times slower, and a first sync makes one of these per contact with a NULL field
    return Contact(contact.email, contact.consent, contact.fields)


def _delta(contact: Contact, old_digest: str | None) -> Contact:
    """What to send for a contact segsync pushed fields to before: only the values that
    changed since (and the fields to empty that had a value); everything when unknown."""
    if old_digest is None:
        return _first_push(contact)
    reduced = changed_fields(contact, old_digest)
    return contact if reduced is None else reduced


def _then_set(
    journal: Callable[[list[str]], None], event: threading.Event, emails: list[str]
) -> None:
    """``journal``, then ``event`` set: a call's emails are journalled and it is being sent."""
    journal(emails)
    event.set()


def _set(event: threading.Event) -> Callable[[list[str]], None]:
    """A ``journal`` that only marks a call as being sent (nothing to journal)."""

    def sending(emails: list[str]) -> None:
        event.set()

    return sending


def _errors(errors: list[MemberError]) -> list[tuple[str, str, str, bool]]:
    return [(e.email.strip().lower(), e.reason, e.code, e.permanent) for e in errors]


class DestinationExecutor:
    def __init__(
        self,
        *,
        run_id: str,
        state: StateStore,
        adapter: EspAdapter,
        target: DestinationState,
        destination: Destination,
        changes: dict[str, PartChanges],
        stop: threading.Event,
        progress: Progress,
        clock: Callable[[], float] = time.monotonic,
        known: dict[str, KnownContact] | None = None,
        field_changes: list[str] | None = None,
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.adapter = adapter
        self.target = target
        self.destination = destination
        self.changes = changes
        self.stop = stop
        self.progress = progress
        self.clock = clock
        self.name = target.destination
        # look-ups are sent like adds: a contact the ESP turns out not to have is counted as
        # skipped when its batch is built (``batches``, ``_join_on_import``)
        for part, change in changes.items():
            if change.lookups:
                adds = sorted([*change.adds, *change.lookups])
                changes[part] = replace(change, adds=adds, lookups=[])
        self.report = ExecutionReport()
        self.groups: dict[str, EspObject] = {}
        self._digests: dict[str, str] = {}
        self._present: set[str] = set()
        #: contacts the ESP refused in this run (quarantined, so not skipped as well)
        self._refused: set[str] = set()
        self._recovered: dict[str, bool] = {}
        #: the state store's contacts as this run's diff read them (None: read them here)
        self._known = known
        #: contacts whose pushed field values changed, as this run's diff found them (None:
        #: find them here)
        self._field_changes = field_changes
        #: parts whose removals were sent while the contacts were pushed (``_early_removals``)
        self._removed_early: set[str] = set()
        #: the push of the contacts that may not be created, still running while the
        #: membership batches go (``_push_aside``), and the emails it will decide on
        self._aside: Future[ContactsResult] | None = None
        self._deferred: set[str] = set()
        #: per part, the adds and removes of batches that wait for that push
        self._held: dict[str, tuple[list[str], list[str]]] = {}
        self._report_lock = threading.Lock()
        #: set once the first joining import is sent (or none will be): early removals
        #: wait for it (``_early_removals``)
        self._imports_sent = threading.Event()
        #: the contacts to push, picked while ``ensure_objects`` waited for the ESP
        self._wanted: Future[list[Contact]] | None = None
        #: ``_learn_known`` done (``_present`` and the adapter's ids seeded from the store)
        self._learned = False
        self._learn_lock = threading.Lock()

    def _digest(self, contact: Contact) -> str:
        """The contact's field-values hash, computed once per run."""
        digest = self._digests.get(contact.email)
        if digest is None:
            digest = self._digests[contact.email] = fields_hash(contact.fields)
        return digest

    # -- objects ------------------------------------------------------------------------
    def ensure_objects(self) -> None:
        """Every part's tag/list, from the state store or found/created in the ESP.

        While the ESP is asked (a first run), the contacts to push are picked on the side
        (``_contacts_to_push``, for ``ensure_contacts``): they do not depend on the
        tags/lists, and the wait for the ESP would otherwise be idle."""
        records = {
            d.part.name: self.state.object(self.name, d.part.name) for d in self.target.parts
        }
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="contacts") as side:
            if any(record is None for record in records.values()):
                self._wanted = side.submit(self._contacts_to_push, self._known_contacts())
            for desired in self.target.parts:
                name = desired.part.name
                record = records[name]
                if record is not None:
                    self.groups[name] = EspObject(record.esp_id, name, record.kind)  # type: ignore[arg-type]
                    continue
                self._adopt(desired, self.adapter.ensure_group(name))

    def _known_contacts(self) -> dict[str, KnownContact]:
        """The state store's contacts as this run's diff read them (else read them now)."""
        if self._known is None:
            self._known = self.state.contacts(self.name)
        return self._known

    def _adopt(self, desired: DesiredPart, group: EspObject) -> None:
        name = desired.part.name
        self.state.record_object(
            self.name, name, group.kind, group.id, desired.split.segment, created=group.created
        )
        if group.created:
            self.report.created_objects.append(name)
        self.groups[name] = group

    def recover(self, name: str) -> None:
        """An owned tag/list was deleted in the ESP (it answered 404): create it again,
        forget its confirmed membership, and make every desired member an add."""
        desired = next(d for d in self.target.parts if d.part.name == name)
        self._adopt(desired, self.adapter.ensure_group(name))
        self.state.replace_confirmed(self.name, name, ())
        old = self.changes[name]
        adds = sorted(desired.emails - set(old.unaddable))
        self.changes[name] = PartChanges(adds, [], old.held_back, old.unaddable, [])
        self.report.recreated_objects.append(name)

    # -- contacts -----------------------------------------------------------------------
    def _contacts_to_push(self, known: dict[str, KnownContact]) -> list[Contact]:
        """Contacts to add to tags/lists or carrying native fields that are new to segsync
        or whose consent/fields changed, and contacts segsync pushed fields to before whose
        values changed (even if they left every segment, or the ESP would keep stale ones).

        Only the contacts that can need a push are looked at (the adds, the carriers, the
        changed ones the diff found), not every desired contact: a 1 % change of 100,000
        members looks at 1,000."""
        changed = self._field_changes
        if changed is None:
            changed = field_changes(self.target, known)
        wanted: list[Contact] = []
        for email in changed:
            contact = self._known_contact(email)
            assert contact is not None  # the diff found it among the desired contacts
            wanted.append(_delta(contact, known[email].fields_hash))
        pushed = set(changed)
        # each part's adds come sorted: sorting their concatenation only merges the runs
        needed = sorted(
            [*(e for ch in self.changes.values() for e in ch.adds), *self.target.carriers]
        )
        for email in dict.fromkeys(needed):
            if email in pushed:
                continue
            contact = self.target.contacts.get(email)
            if contact is None:
                continue
            record = known.get(email)
            if record is None:
                wanted.append(_first_push(contact))
            elif not record.present and (
                record.consent != contact.consent or record.fields_hash != self._digest(contact)
            ):
                wanted.append(_first_push(contact))  # absent before; consent/fields changed
        return wanted

    def ensure_contacts(self) -> set[str]:
        """Push the contacts that need it; return every email known present afterwards.

        When the ESP joins lists in the same call (``limits.joins_on_import``), each part's
        adds travel with its import and are confirmed from its answer, so ``batches`` has
        only removals left for that ESP.
        """
        for desired in self.target.parts:
            unaddable = self.changes[desired.part.name].unaddable
            if unaddable:  # known missing from the ESP and not creatable: never sent
                self._count_skipped(desired.part.name, len(unaddable))
        known = self._known_contacts()
        wanted = self._wanted.result() if self._wanted else self._contacts_to_push(known)
        # what the store knows of every contact (present ones, ESP ids) is taken in once
        # the first call is on its way (``_learn_known``), not before it
        with self._early_removals() as removals:
            if self.adapter.limits.joins_on_import:
                pushed = self._join_on_import(wanted)
                wanted = [c for c in wanted if c.email not in pushed]
            self._imports_sent.set()
            self._push_aside([c for c in wanted if not self._creatable(c)])
            try:
                self._push([c for c in wanted if self._creatable(c)])
            except BaseException:
                self._wait_aside()
                raise
        self._learn_known()
        # a tag/list the push found gone was created again, without the members to remove
        self._recover_lost([n for n in removals.result() if not self._recovered.get(n)])
        return self._present

    def _learn_known(self) -> None:
        """Once per run, from whichever thread needs it first: the contacts the state store
        knows present (``_present``) and their ESP ids (given to the adapter). Work over
        every known contact, done while the run's first call is in flight (``_push``,
        ``_run_after_imports_sent``) rather than before it is sent."""
        with self._learn_lock:
            if self._learned:
                return
            known = self._known_contacts()
            ids = {email: rec.esp_id for email, rec in known.items() if rec.esp_id}
            if ids:
                self.adapter.remember_ids(ids)
            self._present |= {e for e, rec in known.items() if rec.present}
            self._learned = True

    def _creatable(self, contact: Contact) -> bool:
        return self.destination.new_contacts == "consent_only" and contact.consent

    def _push_aside(self, contacts: list[Contact]) -> None:
        """Contacts that may not be created are pushed beside the rest and the membership
        batches: the ESP looks them up or batches their field updates (Mailchimp's POST
        /batches is processed in the background and polled), which the others need not
        wait for. Adds of these contacts wait for it (``_deferred``)."""
        if not contacts:
            return
        self._deferred = {c.email for c in contacts}
        # where this push has the longest chain (``limits.aside_first``: a batch processed
        # in the background, polled, its results downloaded), its first request goes
        # before the other contacts' upserts take the connections (and the CPU that
        # encodes them): they start once it is being sent, or done
        sent = threading.Event()
        first = self.adapter.limits.aside_first
        side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aside")
        self._aside = side.submit(
            self._push, contacts, one_call=True, journal=_set(sent) if first else None
        )
        side.shutdown(wait=False)
        if first:
            self._aside.add_done_callback(lambda _: sent.set())
            sent.wait()

    def _wait_aside(self) -> None:
        """Wait for ``_push_aside`` without its outcome (the run is failing already)."""
        aside, self._aside = self._aside, None
        if aside is not None:
            aside.exception()

    @contextmanager
    def _early_removals(self) -> Iterator[Future[list[str]]]:
        """Where an ESP removes members in calls of their own (not with the adds), the
        removals depend on nothing the contacts' push does: they are sent while it runs,
        journalled and confirmed batch by batch like any other. Yields the future of the
        parts whose tag/list turned out to be gone.

        They start once the first joining import is on its way (``_imports_sent``): an
        import waits for its job to be processed and polled, the longer chain, so its
        request goes before the removals' id look-ups take every connection."""
        removals = [] if self.adapter.limits.adds_and_removes_per_call else self._removals()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="removals") as side:
            if removals and not self.stop.is_set():
                self._removed_early = {b.part.part.name for b in removals}
                future = side.submit(self._run_after_imports_sent, removals)
            else:
                future = Future()
                future.set_result([])
            try:
                yield future
            finally:
                self._imports_sent.set()
                future.exception()  # wait for the batches in flight, even on an error

    def _run_after_imports_sent(self, batches: list[Batch]) -> list[str]:
        self._imports_sent.wait()
        # the ids earlier runs learned of the members to remove, not of every contact
        # (``_learn_known``, which the main thread does meanwhile)
        known = self._known_contacts()
        records = ((email, known.get(email)) for batch in batches for email in batch.removes)
        ids = {email: rec.esp_id for email, rec in records if rec is not None and rec.esp_id}
        if ids:
            self.adapter.remember_ids(ids)
        return self._run(batches)

    def _join_on_import(self, wanted: list[Contact]) -> set[str]:
        """Every part's adds through ``ensure_contacts(join=…)``, journalled and confirmed
        like a batch; returns the emails pushed that way.

        Each job (or list call) is journalled by the adapter just before it is sent
        (``journal``): the first job goes without waiting for the others' journal, which
        is written while it is on the wire. Confirmed together once every job is done."""
        by_email = {c.email: c for c in wanted}
        pushed: set[str] = set()
        for desired in self.target.parts:
            name = desired.part.name
            change = self.changes[name]
            # a contact neither pushed now nor known present would only be looked up again
            candidates = [e for e in change.adds if e in by_email or self._was_present(e)]
            skipped = len(change.adds) - len(candidates)
            if skipped:
                self._count_skipped(name, skipped)
            size = self.adapter.limits.max_contacts_per_upsert
            jobs = -(-len(candidates) // size)
            contacts = [by_email.get(e) or self._present_contact(e) for e in candidates]
            try:
                # the jobs of one part run in parallel, up to the ESP's concurrency
                result = self._push(
                    contacts, join=self.groups[name], journal=partial(self._journal_adds, name)
                )
            except EspNotFoundError:
                if self._recovered.get(name):
                    raise
                self._recovered[name] = True
                self.recover(name)
                return pushed | self._join_on_import(wanted)
            joined = {e.lower() for e in result.joined}
            refused = {e.email.lower(): e for e in result.errors if e.email.lower() not in joined}
            applied = [e for e in candidates if e in joined]
            errors = [refused[e] for e in candidates if e in refused] if refused else []
            # not in the ESP and not created: skipped, unless refused (quarantined)
            not_there = [
                e
                for e in candidates
                if e not in joined and e not in self._present and e not in refused
            ]
            if not_there:
                self._count_skipped(name, len(not_there))
            self.report.member_errors += len(errors)
            if candidates:  # every job acknowledged: confirmed together
                self.state.confirm_batch(
                    self.run_id,
                    self.name,
                    name,
                    "add",
                    applied,
                    _errors(errors),
                    absent=not_there,
                    api_calls=jobs,
                )
                self.progress.advance(self.name, jobs)
            pushed.update(c.email for c in contacts)
            self.changes[name] = replace(change, adds=[])
        return pushed

    def _was_present(self, email: str) -> bool:
        """Known present: ``_present`` once learned, else the store's record (so the first
        push need not wait for ``_learn_known``)."""
        if self._learned:
            return email in self._present
        record = self._known_contacts().get(email)
        return record is not None and record.present

    def _journal_adds(self, part: str, emails: list[str]) -> None:
        """Journal one call's adds before it is sent (``ensure_contacts(journal=…)``)."""
        self.state.begin_batch(self.name, part, "add", emails)
        self._imports_sent.set()

    def _present_contact(self, email: str) -> Contact:
        contact = self.target.contacts.get(email)
        return _first_push(contact) if contact is not None else Contact(email, False)

    def _count_skipped(self, part: str, count: int) -> None:
        with self._report_lock:  # the contacts pushed aside count from their own thread
            skipped = self.report.skipped_no_consent.get(part, 0) + count
            self.report.skipped_no_consent[part] = skipped
            self.state.update_part(self.run_id, self.name, part, skipped_no_consent=skipped)

    def _push(
        self,
        contacts: list[Contact],
        join: EspObject | None = None,
        *,
        one_call: bool = False,
        journal: Callable[[list[str]], None] | None = None,
    ) -> ContactsResult:
        """``ensure_contacts`` in batches, in parallel up to the ESP's concurrency; records
        every contact's presence and fields hash, quarantines refused ones.

        In one call (``one_call``, or joining on import: the adapter submits every job
        before waiting) or in upserts of the ESP's size. Contacts that may not be created
        go in one call (``_push_aside``): the adapter looks them up or batches their field
        updates (Mailchimp's one POST /batches)."""
        create = self.destination.new_contacts == "consent_only"
        if join is not None or one_call:
            batches = [contacts] if contacts else []
        else:
            batches = list(chunks(contacts, self.adapter.limits.max_contacts_per_upsert))
        total = ContactsResult()
        if not batches:
            return total
        rows: list[tuple[str, bool, bool, str | None, str | None]] = []
        refused: dict[str, MemberError] = {}
        # the adapter journals just before sending (``journal``): the rows below are made
        # once the first call is on its way, not while it is being prepared
        sent, journal = self._first_sent(journal)
        with ThreadPoolExecutor(
            max_workers=max(1, min(len(batches), self.adapter.limits.max_concurrency))
        ) as pool:
            futures = [
                pool.submit(
                    self.adapter.ensure_contacts,
                    batch,
                    create_new=create,
                    join=join,
                    journal=journal,
                )
                for batch in batches
            ]
            for future in futures:
                future.add_done_callback(lambda _: sent.set())
            sent.wait()
            self._learn_known()  # while the first call is in flight
            # each contact's row if it turns out present, while the calls are in flight
            expected = {c.email: (c.email, True, *self._recorded(c.email), None) for c in contacts}
            for future in futures:
                result = future.result()
                if result.missing_fields:  # values dropped: nothing of this push recorded
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise self._fields_error(result.missing_fields)
                total.merge(result)
                # in the order the adapter answered (the contacts' order): the state store
                # sorts the emails, which costs little when they come nearly sorted
                present = dict.fromkeys(e.lower() for e in result.present)
                with self._report_lock:
                    self.report.contacts_created += len({e.lower() for e in result.created})
                failed = {e.email.strip().lower(): e for e in result.errors}
                refused.update({e: err for e, err in failed.items() if e not in present})
                fresh = [
                    expected.get(email) or (email, True, *self._recorded(email), None)
                    for email in present
                ]
                if failed:  # a refused field update keeps no hash, so it is retried
                    fresh = [(e, p, c, None if e in failed else h, i) for e, p, c, h, i in fresh]
                rows += fresh
                for skipped in [*result.skipped_no_consent, *result.skipped_creation_disabled]:
                    email = skipped.lower()
                    consent, digest = self._recorded(email)
                    rows.append((email, False, consent, digest, None))
        with self._report_lock:
            self.report.contacts_updated += len(rows) - len(total.created)
        mapping = self.adapter.known_ids()
        if mapping:
            rows = [(e, p, c, h, mapping.get(e)) for e, p, c, h, _ in rows]
        if rows:
            self.state.record_contacts(self.name, rows)
        if join is None:
            self._quarantine_refused(refused)
        latest = {row[0]: row[1] for row in rows}  # of an email given twice, the later row
        self._present -= {email for email, is_present in latest.items() if not is_present}
        self._present |= {email for email, is_present in latest.items() if is_present}
        return total

    def _first_sent(
        self, journal: Callable[[list[str]], None] | None
    ) -> tuple[threading.Event, Callable[[list[str]], None] | None]:
        """An event set once a push's first call is on its way (by ``journal``, which the
        adapter calls just before sending), and the journal that sets it. Without a
        journal it is set at once, the store's contacts taken in first: the adapter may
        resolve ids of the contacts right away."""
        sent = threading.Event()
        if journal is None:
            self._learn_known()
            sent.set()
            return sent, None
        return sent, partial(_then_set, journal, sent)

    def _recorded(self, email: str) -> tuple[bool, str | None]:
        """What the state store records of a pushed contact: its consent and fields hash
        (none for an email that is no desired contact)."""
        contact = self._known_contact(email)
        return (contact.consent, self._digest(contact)) if contact else (False, None)

    def _known_contact(self, email: str) -> Contact | None:
        """The desired contact of an email: a member's, else one segsync pushed fields to
        before (``everyone``), whose fields hash must be recorded just the same."""
        return self.target.contacts.get(email) or self.target.everyone.get(email)

    def _fields_error(self, missing: list[str]) -> EspValidationError:
        """The run's error when the ESP's answers to a push show mapped fields it does not
        have (their values were dropped or refused): one clear error, not member errors."""
        mapped = {v.upper(): k for k, v in self.destination.fields.items()}
        mapped |= {name.upper(): "a trait" for name in self.destination.traits}
        names = ", ".join(f"{name} (from {mapped.get(name.upper(), '?')})" for name in missing)
        return EspValidationError(
            f"{self.name} has no {self.destination.field_noun} {names}: "
            f"{self.adapter.field_hint} or change `fields`/`traits` in "
            "config/destinations.yaml",
            esp=self.adapter.esp,
        )

    def _quarantine_refused(self, refused: dict[str, MemberError]) -> None:
        """A contact the ESP refused cannot join any part: quarantine it where it is wanted."""
        if not refused:
            return
        self._refused.update(refused)
        for desired in self.target.parts:
            adds = self.changes[desired.part.name].adds
            errors = [_errors([refused[e]])[0] for e in adds if e in refused]
            if errors:
                with self._report_lock:
                    self.report.member_errors += len(errors)
                self.state.confirm_batch(
                    self.run_id, self.name, desired.part.name, "add", [], errors, api_calls=0
                )

    # -- membership ---------------------------------------------------------------------
    def batches(self, present: set[str], *, deferred: bool = False) -> list[Batch]:
        """Full batches per part; adds and removes share a call where the ESP allows it.

        While contacts are pushed aside (``_push_aside``), their adds wait for that push,
        and so does the last, partial batch of a part they would join (with the removes
        it would share a call with), so every batch stays full but the last; ``deferred``:
        the batches that waited, once the push is done."""
        size = self.adapter.limits.max_members_per_call
        together = self.adapter.limits.adds_and_removes_per_call
        result: list[Batch] = []
        for desired in self.target.parts:
            name = desired.part.name
            change = self.changes[name]
            if deferred:
                held_adds, removing = self._held.pop(name, ([], []))
                fresh = [e for e in change.adds if e in self._deferred]
            else:
                held_adds = []
                fresh = [e for e in change.adds if e not in self._deferred]
                removing = [] if name in self._removed_early else change.removes
            addable = held_adds + [e for e in fresh if e in present]
            # not in the ESP and not created: skipped, unless refused (quarantined)
            skipped = sum(1 for e in fresh if e not in present and e not in self._refused)
            if skipped:
                self._count_skipped(name, skipped)
            if not deferred and len(fresh) < len(change.adds):  # some adds wait
                full = len(addable) // size * size
                sent = full if together else len(removing)
                self._held[name] = (addable[full:], removing[sent:])
                addable, removing = addable[:full], removing[:sent]
            group = self.groups[name]
            adds = list(chunks(addable, size))
            removes = list(chunks(removing, size))
            if together:
                for index in range(max(len(adds), len(removes))):
                    result.append(
                        Batch(
                            desired,
                            group,
                            adds[index] if index < len(adds) else [],
                            removes[index] if index < len(removes) else [],
                        )
                    )
            else:
                result += [Batch(desired, group, batch, []) for batch in adds]
                result += [Batch(desired, group, [], batch) for batch in removes]
        return result

    def _removals(self) -> list[Batch]:
        """Every part's removals in batches of their own."""
        size = self.adapter.limits.max_members_per_call
        return [
            Batch(desired, self.groups[desired.part.name], [], batch)
            for desired in self.target.parts
            for batch in chunks(self.changes[desired.part.name].removes, size)
        ]

    def _send(self, batch: Batch) -> MembershipChange:
        """Journal, send and confirm one batch, in the worker thread: the journal writes of
        one batch overlap the calls of the others instead of holding up every send."""
        name = batch.part.part.name
        if batch.adds:
            self.state.begin_batch(self.name, name, "add", batch.adds)
        if batch.removes:
            self.state.begin_batch(self.name, name, "remove", batch.removes)
        result = self.adapter.change_members(batch.group, batch.adds, batch.removes)
        self._confirm(batch, result)
        return result

    def run_batches(self, batches: list[Batch]) -> None:
        """Send batches, at most ``max_concurrency`` in flight; confirm each on its ack.

        When ``stop`` is set no new batch starts; those in flight finish and are confirmed.
        A tag/list the ESP no longer has (404) is created again and its membership re-sent.
        """
        aside, self._aside = self._aside, None  # the outermost call waits for it
        try:
            if batches or not self._removed_early:  # else the removals went already
                self._recover_lost(self._run(batches))
        finally:
            if aside is not None:
                aside.exception()  # the contacts pushed aside are done, even on an error
        if aside is None:
            return
        aside.result()
        deferred = self.batches(self._present, deferred=True)
        self._deferred, self._held = set(), {}
        if self.stop.is_set():
            self.report.stopped = self.report.stopped or bool(deferred)
        elif deferred:
            self.run_batches(deferred)

    def _recover_lost(self, lost: list[str]) -> None:
        """Tags/lists found gone while sending: created again, their membership re-sent."""
        for name in lost:
            if self._recovered.get(name):
                raise EspNotFoundError(
                    f"the {self.adapter.limits.group_kind} '{name}' was recreated and is "
                    "gone again",
                    esp=self.adapter.esp,
                )
            self._recovered[name] = True
            self.recover(name)
        if lost:
            present = self._present if self._present else set()
            again = [b for b in self.batches(present) if b.part.part.name in lost]
            self.run_batches(again)

    def _run(self, batches: list[Batch]) -> list[str]:
        self.progress.start(self.name, len(batches))
        workers = max(1, self.adapter.limits.max_concurrency)
        pending: Iterator[Batch] = iter(batches)
        in_flight: dict[Future[MembershipChange], Batch] = {}
        first_error: BaseException | None = None
        lost: list[str] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while True:
                while len(in_flight) < workers and not self.stop.is_set() and first_error is None:
                    batch = next(pending, None)
                    if batch is None:
                        break
                    if batch.part.part.name in lost:
                        continue
                    in_flight[pool.submit(self._send, batch)] = batch
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = in_flight.pop(future)
                    try:
                        future.result()  # sent and confirmed by the worker
                    except EspNotFoundError:
                        if batch.part.part.name not in lost:
                            lost.append(batch.part.part.name)
                        continue
                    except Exception as exc:  # the adapter already retried what it could
                        first_error = first_error or exc
                        continue
                    self.progress.advance(self.name)
        if first_error is not None:
            raise first_error
        stopped = self.stop.is_set() and next(pending, None) is not None
        self.report.stopped = self.report.stopped or stopped
        return [] if stopped else lost

    def _confirm(self, batch: Batch, result: MembershipChange) -> None:
        name = batch.part.part.name
        calls = 1
        for operation, emails, outcome in (
            ("add", batch.adds, result.added),
            ("remove", batch.removes, result.removed),
        ):
            if not emails:
                continue
            applied = sorted({e.strip().lower() for e in outcome.applied})
            errors = _errors(outcome.errors)
            with self._report_lock:  # workers confirm in parallel
                self.report.member_errors += len(errors)
            self.state.confirm_batch(
                self.run_id, self.name, name, operation, applied, errors, api_calls=calls
            )
            calls = 0  # one call carried both

    # -- native segments ----------------------------------------------------------------
    def write_segments(self) -> None:
        ids = {name: group.id for name, group in self.groups.items()}
        for split in self.target.splits:
            if split.native is None:
                continue
            definition = render_native(split.esp, split.native, ids)
            text = json.dumps(definition, sort_keys=True)
            record = self.state.object(self.name, split.native.name)
            if record is not None and record.definition == text:
                continue
            segment = self.adapter.upsert_segment(
                split.native.name, definition, record.esp_id if record else None
            )
            self.state.record_object(
                self.name, split.native.name, "segment", segment.id, split.segment, definition=text
            )
            self.report.segments_written.append(split.native.name)
