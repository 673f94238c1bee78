"""Mailchimp adapter: tags (static segments), contacts and saved segments of one audience.

Built on the official ``mailchimp-marketing`` SDK, sending through one pooled ``httpx``
client (``client.py``), at most ``max_connections`` (≤ 10) requests in flight per
account for the whole process, every call under the one retry policy (``retry.py``).

Consent rules (docs/design.md, Reconciliation) and how they are kept:
- The API requires ``status`` or ``status_if_new`` on every member of a batch
  ``POST /lists/{id}``. segsync only ever sends ``status_if_new: subscribed`` with
  ``update_existing: true``: ``status_if_new`` applies only when the contact is created, so an
  existing contact's status can never change, and its merge fields are updated in the same
  call. Only contacts that may be created (``create_new`` and consent true) go in a batch.
- A contact that may not be created (no consent, or ``new_contacts: never``) is never put in
  a batch, since any batch member can be created (if it was deleted between segsync's read
  and the batch, ``status_if_new`` would re-create it). It is looked up (a ``GET`` never
  creates), and its fields go by ``PATCH …/members/{hash}``, which answers 404 for a contact
  deleted since the read instead of creating it.
- "Member In Compliance State", invalid/fake and permanently deleted addresses are
  permanent ``MemberError``s; ``sync_tags`` is never sent; no contact is ever unsubscribed,
  archived or deleted.

The subscriber hash is the MD5 of the lower-cased email; tag names compare ignoring case.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import httpx
from mailchimp_marketing.api.batches_api import BatchesApi
from mailchimp_marketing.api.lists_api import ListsApi
from mailchimp_marketing.api_client import ApiClientError

from connector.errors import (
    ConfigError,
    EspAuthError,
    EspError,
    EspNotFoundError,
    EspValidationError,
    MemberError,
    RetriableEspError,
)
from connector.esp.base import (
    Contact,
    ContactsResult,
    EspAdapter,
    EspObject,
    MembershipChange,
    MembershipResult,
    dedupe_contacts,
)
from connector.esp.budget import SharedBudget
from connector.esp.http_client import EspHttpClient, RequestGate, route
from connector.esp.mailchimp.batches import (
    R_BATCH,
    R_BATCHES,
    R_RESULTS,
    BatchRunner,
    OperationResult,
)
from connector.esp.mailchimp.capabilities import LIMITS
from connector.esp.mailchimp.client import HttpxApiClient, body_of, response_fields
from connector.esp.mailchimp.configuration import MailchimpSettings
from connector.esp.mailchimp.echo import ECHO_FIELDS, EchoCheck
from connector.esp.mailchimp.errors import (
    ESP,
    NOT_IN_AUDIENCE,
    from_api_client_error,
    member_error,
    problem_message,
    validate_response,
)
from connector.esp.processing_times import ProcessingTime, shared_processing_times
from connector.esp.ratelimit import account_fingerprint, shared_concurrency_gate
from connector.esp.retry import RetryPolicy, Sleep
from connector.esp.sections import RetrySettings
from connector.esp.values import plain_value

__all__ = ["MailchimpAdapter", "mailchimp_base_url", "subscriber_hash"]

T = TypeVar("T")
log = logging.getLogger("segsync.esp.mailchimp")

_DATA_CENTRE = re.compile(r"[a-z]{2,}[0-9]+")

# Route templates (the keys of `calls`)
R_LIST = "/lists/{list_id}"
R_SEGMENTS = "/lists/{list_id}/segments"
R_SEGMENT = "/lists/{list_id}/segments/{segment_id}"
R_SEGMENT_MEMBERS = "/lists/{list_id}/segments/{segment_id}/members"
R_MEMBER = "/lists/{list_id}/members/{subscriber_hash}"
R_MEMBERS = "/lists/{list_id}/members"
R_MERGE_FIELDS = "/lists/{list_id}/merge-fields"
#: what the adapter reads from batch answers (Mailchimp otherwise echoes whole members)
_BATCH_FIELDS = (
    "new_members.email_address",
    "updated_members.email_address",
    "errors",
    "total_created",
    "total_updated",
    "error_count",
)
_SEGMENT_BATCH_FIELDS = (
    "members_added.email_address",
    "members_removed.email_address",
    "errors",
    "total_added",
    "total_removed",
    "error_count",
)
#: what a batched PATCH's result carries (``fields``): its status (archived?) and merge
#: fields (stored? ``echo.py``); the whole member would make the results archive ten
#: times larger
_PATCH_RESULT_FIELDS = "email_address,status,merge_fields"
#: below this many contacts to look up, one GET each beats reading the audience
SCAN_MIN_LOOKUPS = 20
#: from this many field updates of contacts that may not be created, one ``POST /batches``
#: (plus its polls and the results download: 3 calls or more) beats one PATCH each
BATCH_MIN_OPERATIONS = 4
#: operations per ``POST /batches``: Mailchimp documents no limit; 10,000 PATCHes are about
#: 2 MB of JSON, and a run's field updates beyond that go in more batches
MAX_BATCH_OPERATIONS = 10_000


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


def mailchimp_base_url(api_key: str | None, base_url: str | None) -> str:
    """The API root: ``base_url`` if set, else ``https://<dc>.api.mailchimp.com/3.0`` from
    the key's ``-<dc>`` suffix. Messages never contain the key."""
    if base_url:
        return base_url.rstrip("/")
    if not api_key:
        raise ConfigError("the Mailchimp API key is not set (SEGSYNC_MAILCHIMP__API_KEY)")
    _, _, dc = api_key.rpartition("-")
    if "-" not in api_key or not _DATA_CENTRE.fullmatch(dc):
        raise ConfigError(
            "the Mailchimp API key has no data-centre suffix (like '-us21'); "
            "set SEGSYNC_MAILCHIMP__BASE_URL to the API root"
        )
    return f"https://{dc}.api.mailchimp.com/3.0"


def _merge_value(value: Any) -> Any:
    value = plain_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and "T" in value and value[:4].isdigit() and len(value) > 10:
        return value[:10]  # a timestamp: Mailchimp date fields take the date
    return value


def _merge_fields(contact: Contact) -> dict[str, Any]:
    """The contact's merge fields: its values (NULL never sent), and ``""`` — Mailchimp's
    own empty value, what its ``blank`` op matches — for fields to clear."""
    values = {tag: _merge_value(value) for tag, value in contact.fields.items()}
    merge = {tag: value for tag, value in values.items() if value is not None}
    merge.update({tag: "" for tag in contact.cleared if tag not in merge})
    return merge


def _batch_member(contact: Contact) -> dict[str, Any]:
    """A batch member that can create the contact (subscribed, it has consent) but never
    changes an existing one's status."""
    member: dict[str, Any] = {"email_address": contact.email, "status_if_new": "subscribed"}
    merge = _merge_fields(contact)
    if merge:
        member["merge_fields"] = merge
    return member


def _skip(result: ContactsResult, contact: Contact) -> None:
    if contact.consent:
        result.skipped_creation_disabled.append(contact.email)
    else:
        result.skipped_no_consent.append(contact.email)


class MailchimpAdapter(EspAdapter):
    """The ``EspAdapter`` for one Mailchimp audience."""

    esp = ESP
    field_hint = "create it in Mailchimp (Audience → Settings → Audience fields and merge tags)"

    def __init__(
        self,
        *,
        api_key: str,
        audience_id: str,
        base_url: str | None = None,
        timeout_seconds: float = 120.0,
        max_connections: int = 10,
        retry: RetrySettings | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        budget: SharedBudget | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """``sleep`` and ``now`` (monotonic seconds) are injectable for tests: retries
        and batch polls wait with ``sleep``; a batch's progress and times use ``now``."""
        root = mailchimp_base_url(api_key, base_url)
        if not audience_id:
            raise ConfigError("a Mailchimp destination needs an audience id")
        self.audience_id = audience_id
        self.base_url = root
        self.limits = LIMITS.with_concurrency(max_connections)
        account = account_fingerprint(ESP, root, api_key)
        self._http = EspHttpClient(
            esp=ESP,
            auth=httpx.BasicAuth("segsync", api_key),
            timeout_seconds=timeout_seconds,
            max_connections=max_connections,
            # with a budget store, the connection cap is shared by every process using it
            gate=RequestGate(
                budget.concurrency_gate(account, max_connections)
                if budget is not None
                else shared_concurrency_gate(account, max_connections)
            ),
            check=validate_response,
            transport=transport,
        )
        self.calls = self._http.calls
        api_client = HttpxApiClient(self._http, root)
        self._lists = ListsApi(api_client)
        self._retry = RetryPolicy(retry, sleep=sleep)
        self._batches = BatchesApi(api_client)
        # batch results live on file storage behind a pre-signed link: no credentials
        self._files = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            transport=transport,
            follow_redirects=True,
        )
        self._batch_runner = BatchRunner(
            start=lambda body: self._call("POST", R_BATCHES, lambda: self._batches.start(body)),
            status=lambda batch_id, fields: self._call(
                "GET", R_BATCH, lambda: self._batches.status(batch_id, fields=fields)
            ),
            fetch=self._fetch_results,
            sleep=sleep,
            now=now,
            stopped=lambda: self._http.stop is not None and self._http.stop.is_set(),
            times=shared_processing_times(account),
        )
        self._group_lock = threading.Lock()
        self._scan_lock = threading.Lock()
        #: casefolded names of the owned tags ``list_owned`` found (None before it ran)
        self._listed: set[str] | None = None
        self._audience: dict[str, str] | None = None
        #: were the merge fields sent stored? (``echo.py``: from the answers, no read first)
        self._echo = EchoCheck()

    @classmethod
    def from_settings(
        cls,
        settings: MailchimpSettings,
        *,
        audience_id: str,
        retry: RetrySettings | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        budget: SharedBudget | None = None,
    ) -> MailchimpAdapter:
        """An adapter for ``audience_id`` from ``Settings.mailchimp`` (key, base URL, limits)."""
        if settings.api_key is None:
            raise ConfigError("the Mailchimp API key is not set (SEGSYNC_MAILCHIMP__API_KEY)")
        return cls(
            api_key=settings.api_key.get_secret_value(),
            audience_id=audience_id,
            base_url=settings.base_url,
            timeout_seconds=settings.timeout_seconds,
            max_connections=settings.max_connections,
            retry=retry,
            sleep=sleep,
            transport=transport,
            budget=budget,
        )

    def __repr__(self) -> str:
        return f"MailchimpAdapter(audience_id={self.audience_id!r}, base_url={self.base_url!r})"

    def __enter__(self) -> MailchimpAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------

    def _call(self, method: str, template: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """One SDK call under the retry policy; its JSON body."""

        def attempt() -> dict[str, Any]:
            with route(template):
                try:
                    return body_of(fn())
                except ApiClientError as err:
                    # the SDK wraps whatever `request` raised, our EspErrors included
                    raise from_api_client_error(err, method, template) from None

        return self._retry.call(attempt)

    def _pages(
        self, method: str, template: str, key: str, fetch: Callable[[int, int], Any]
    ) -> Iterator[dict[str, Any]]:
        """Every item of an offset-paged collection (``fetch(count, offset)``)."""
        size = self.limits.member_page_size
        offset = 0
        while True:
            data = self._call(method, template, partial(fetch, size, offset))
            items = data.get(key) or []
            yield from items
            offset += len(items)
            total = data.get("total_items")
            if not items or len(items) < size or (isinstance(total, int) and offset >= total):
                return

    # -- protocol -----------------------------------------------------------------------

    def check(self) -> None:
        """The key works and the audience exists (``EspAuthError`` / ``EspNotFoundError``)."""
        self._call(
            "GET",
            R_LIST,
            lambda: self._lists.get_list(self.audience_id, fields=["id", "name"]),
        )

    def doctor(self, fields: Sequence[str]) -> list[str]:
        """Key and audience (``GET /lists/{id}``), mapped merge fields present, tags
        readable. Mailchimp keys have no scopes and Mailchimp limits connections, not
        rates: ``max_connections`` is checked against its limit of 10."""
        try:
            self.check()
        except (EspAuthError, EspNotFoundError) as exc:
            what = (
                "the API key is not valid"
                if isinstance(exc, EspAuthError)
                else (f"audience {self.audience_id} not found")
            )
            return [f"{what} ({exc.detail})"]
        problems = [
            f"the audience has no merge field {tag} (Audience → Settings → Audience fields "
            "and merge tags)"
            for tag in self.missing_fields(fields)
        ]
        next(iter(self._segments("static")), None)  # tags readable
        if self.limits.max_concurrency > 10:
            problems.append(
                f"max_connections {self.limits.max_concurrency} is over Mailchimp's 10 "
                "simultaneous connections per user"
            )
        return problems

    def missing_fields(self, tags: Iterable[str]) -> list[str]:
        """The merge-field tags among ``tags`` that the audience does not have."""
        have = self._merge_field_types()
        return sorted({t for t in tags if t.upper() not in have})

    def field_types(self, fields: Sequence[str]) -> dict[str, str]:
        """The merge-field type (text, number, date, dropdown, …) of each of ``fields``
        the audience has (tags compared ignoring case)."""
        have = self._merge_field_types()
        return {tag: have[tag.upper()] for tag in fields if tag.upper() in have}

    def _merge_field_types(self) -> dict[str, str]:
        """Upper-cased tag → type of every merge field of the audience."""

        def fetch(count: int, offset: int) -> Any:
            return self._lists.get_list_merge_fields(
                self.audience_id,
                count=count,
                offset=offset,
                fields=["merge_fields.tag", "merge_fields.type", "total_items"],
            )

        return {
            str(f.get("tag", "")).upper(): str(f.get("type", "")).lower()
            for f in self._pages("GET", R_MERGE_FIELDS, "merge_fields", fetch)
        }

    def _segments(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        def fetch(count: int, offset: int) -> Any:
            params: dict[str, Any] = {
                "count": count,
                "offset": offset,
                "fields": ["segments.id", "segments.name", "segments.type", "total_items"],
            }
            if kind:
                params["type"] = kind
            return self._lists.list_segments(self.audience_id, **params)

        return self._pages("GET", R_SEGMENTS, "segments", fetch)

    def list_owned(
        self, prefix: str = "segsync:", *, groups: bool = True, segments: bool = True
    ) -> list[EspObject]:
        """Tags (``groups``) and saved segments (``segments``) whose name starts with
        ``prefix`` (ignoring case); one listing holds both kinds."""
        wanted = prefix.casefold()
        kind = None if groups and segments else "static" if groups else "saved"
        owned = [
            EspObject(
                id=str(seg["id"]),
                name=str(seg.get("name", "")),
                kind="tag" if seg.get("type") == "static" else "segment",
            )
            for seg in self._segments(kind)
            if str(seg.get("name", "")).casefold().startswith(wanted)
        ]
        if groups:
            with self._group_lock:
                self._listed = {o.name.casefold() for o in owned if o.kind == "tag"}
        return owned

    def _find(self, name: str, kind: str) -> dict[str, Any] | None:
        wanted = name.casefold()
        for seg in self._segments(kind):
            if str(seg.get("name", "")).casefold() == wanted:
                return seg
        return None

    def ensure_group(self, name: str) -> EspObject:
        """The tag named ``name`` (ignoring case), created empty if missing."""
        with self._group_lock:  # find-then-create must not race with itself
            # a name missing from this adapter's own full listing (``list_owned``, read
            # moments ago in the same run) is not looked up a second time; a tag created
            # meanwhile makes the create fail, and is then found
            listed = self._listed is not None and name.casefold() not in self._listed
            found = None if listed else self._find(name, "static")
            if found is not None:
                return EspObject(str(found["id"]), str(found.get("name", name)), "tag")
            try:
                data = self._call(
                    "POST",
                    R_SEGMENTS,
                    lambda: self._lists.create_segment(
                        self.audience_id, {"name": name, "static_segment": []}
                    ),
                )
            except EspValidationError:
                # e.g. a retried create whose first attempt did land: find it again
                found = self._find(name, "static")
                if found is None:
                    raise
                return EspObject(str(found["id"]), str(found.get("name", name)), "tag")
            if self._listed is not None:
                self._listed.add(name.casefold())
            return EspObject(str(data["id"]), str(data.get("name", name)), "tag", created=True)

    def _batch(self, members: list[dict[str, Any]], *, echo: bool) -> dict[str, Any]:
        """``POST /lists/{id}`` with ``update_existing: true``: every member carries
        ``status_if_new`` (never ``status``), so an existing contact's status cannot change.
        ``echo``: the members answered with their merge fields too (``echo.py``)."""
        body = {"members": members, "update_existing": True}
        fields = _BATCH_FIELDS + ECHO_FIELDS if echo else _BATCH_FIELDS

        def send() -> Any:
            with response_fields(fields):
                return self._lists.batch_list_members(
                    self.audience_id, body, skip_merge_validation=True
                )

        return self._call("POST", R_LIST, send)

    def _patch_fields(self, contact: Contact, suspects: set[str]) -> MemberError | bool:
        """Field values of one existing contact by ``PATCH …/members/{hash}``, which never
        creates a contact: True when done, False when it is gone (404), a ``MemberError``
        when refused. The answer's merge fields tell whether they were stored (``echo.py``)."""
        body = {"merge_fields": _merge_fields(contact)}

        def send() -> Any:
            with response_fields(("email_address", "merge_fields")):
                return self._lists.update_list_member(
                    self.audience_id,
                    subscriber_hash(contact.email),
                    body,
                    skip_merge_validation=True,
                )

        try:
            data = self._call("PATCH", R_MEMBER, send)
        except EspNotFoundError:
            return False
        except EspValidationError as exc:
            self._echo.refused(contact, suspects)
            return member_error(contact.email, exc.detail)
        self._echo.answered(contact, data.get("merge_fields"), suspects)
        return True

    def _fetch_results(self, url: str) -> bytes:
        """A finished batch's archive (``response_body_url``), under the retry policy."""

        def attempt() -> bytes:
            try:
                response = self._files.get(url)
            except httpx.TransportError as exc:
                self._http._count("GET", R_RESULTS, 0)
                raise RetriableEspError(
                    f"batch results download failed ({type(exc).__name__})",
                    esp=ESP,
                    method="GET",
                    path=R_RESULTS,
                ) from None
            self._http._count("GET", R_RESULTS, response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                raise RetriableEspError(
                    "batch results download failed",
                    esp=ESP,
                    status=response.status_code,
                    method="GET",
                    path=R_RESULTS,
                )
            if response.status_code != 200:
                raise EspError(
                    "batch results not available",
                    esp=ESP,
                    status=response.status_code,
                    method="GET",
                    path=R_RESULTS,
                )
            return response.content

        return self._retry.call(attempt)

    def _patch_in_batch(
        self, contacts: list[Contact], suspects: set[str], sending: _Sending
    ) -> dict[str, MemberError | bool]:
        """Field values of existing contacts by one ``POST /batches`` of ``PATCH
        …/members/{hash}`` operations (a PATCH never creates a contact): True when done,
        False when the contact is missing or archived, a ``MemberError`` when refused. An
        operation the batch did not settle (no result, 429 or 5xx) is sent on its own. Each
        result's body (the member) tells whether the merge fields were stored (``echo.py``)."""
        operations = [
            {
                "method": "PATCH",
                "path": f"/lists/{self.audience_id}/members/{subscriber_hash(c.email)}",
                # the result says only what is read of it: the archive stays small
                "params": {"skip_merge_validation": "true", "fields": _PATCH_RESULT_FIELDS},
                "body": json.dumps({"merge_fields": _merge_fields(c)}, separators=(",", ":")),
                "operation_id": c.email,
            }
            for c in contacts
        ]
        sending([c.email for c in contacts])
        results = self._batch_runner.run(operations)
        outcomes: dict[str, MemberError | bool] = {}
        unsettled: list[Contact] = []
        turned_down: list[Contact] = []
        for contact in contacts:
            result = results.get(contact.email)
            if result is None or result.status == 429 or result.status >= 500:
                unsettled.append(contact)
                continue
            outcomes[contact.email] = _patch_outcome(contact.email, result)
            if 200 <= result.status < 300:
                self._echo.answered(contact, result.body.get("merge_fields"), suspects)
            elif result.status != 404:
                turned_down.append(contact)
        for contact in turned_down:  # after the answers, which may confirm their tags
            self._echo.refused(contact, suspects)
        for contact in unsettled:
            outcomes[contact.email] = self._patch_fields(contact, suspects)
        return outcomes

    def _member_status(self, email: str) -> str | None:
        """The member's status, or None when the address is not in the audience."""
        try:
            data = self._call(
                "GET",
                R_MEMBER,
                lambda: self._lists.get_list_member(
                    self.audience_id, subscriber_hash(email), fields=["email_address", "status"]
                ),
            )
        except EspNotFoundError:
            return None
        return str(data.get("status") or "subscribed")

    def _audience_statuses(self, budget: int) -> dict[str, str] | None:
        """Every member's status (email → status), read once per adapter in pages of 1000,
        when that takes at most ``budget`` calls; None when one GET per contact is cheaper.

        Pays at most one page to find out. Archived contacts are not listed (they count as
        missing, like a 404). Contacts this adapter creates are consenting ones, never
        looked up here, so the snapshot stays valid for the adapter's run.
        """
        with self._scan_lock:
            if self._audience is not None:
                return self._audience
            size = self.limits.member_page_size
            fields = ["members.email_address", "members.status", "total_items"]

            def fetch(offset: int) -> Any:
                return self._lists.get_list_members_info(
                    self.audience_id, count=size, offset=offset, fields=fields
                )

            first = self._call("GET", R_MEMBERS, partial(fetch, 0))
            total = int(first.get("total_items") or 0)
            if -(-total // size) > budget:
                return None
            statuses: dict[str, str] = {}
            page = first
            offset = 0
            while True:
                items = page.get("members") or []
                for member in items:
                    statuses[str(member.get("email_address", "")).lower()] = str(
                        member.get("status") or "subscribed"
                    )
                offset += len(items)
                if not items or len(items) < size or offset >= total:
                    break
                page = self._call("GET", R_MEMBERS, partial(fetch, offset))
            self._audience = statuses
            return statuses

    def _statuses(self, emails: Sequence[str]) -> dict[str, str | None]:
        if not emails:
            return {}
        if len(emails) >= SCAN_MIN_LOOKUPS:
            audience = self._audience_statuses(budget=len(emails))
            if audience is not None:
                return {email: audience.get(email.lower()) for email in emails}
        workers = max(1, min(len(emails), self.limits.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailchimp") as pool:
            return dict(zip(emails, pool.map(self._member_status, emails), strict=True))

    def ensure_contacts(
        self,
        contacts: Sequence[Contact],
        *,
        create_new: bool,
        join: EspObject | None = None,
        journal: Callable[[list[str]], None] | None = None,
    ) -> ContactsResult:
        """Create consenting missing contacts (when allowed) and push fields to existing ones:
        the first in upserts of ``limits.max_contacts_per_upsert``, the others (that may not
        be created) all together, their field updates in one ``POST /batches`` (see the
        module docstring). Tags are not joined here (``join`` must be None:
        ``limits.joins_on_import`` is false). ``journal`` is called once, with the emails of
        the first call, just before it is sent (``limits.aside_first``)."""
        if join is not None:
            raise ValueError("Mailchimp tags are joined by change_members")
        sending = _once(journal)
        result = ContactsResult()
        unique = dedupe_contacts(contacts)
        creatable = [c for c in unique if create_new and c.consent]
        size = self.limits.max_contacts_per_upsert
        suspects: set[str] = set()  # merge tags an answer did not confirm (``echo.py``)
        for start in range(0, len(creatable), size):
            result.merge(self._upsert(creatable[start : start + size], suspects, sending))
        others = [c for c in unique if not (create_new and c.consent)]
        if others:
            result.merge(self._ensure_existing(others, suspects, sending))
        if suspects:  # something looked wrong: one read of the merge fields settles it
            result.missing_fields = self.missing_fields(suspects)
        return result

    def _upsert(
        self, creatable: list[Contact], suspects: set[str], sending: _Sending
    ) -> ContactsResult:
        """Contacts that may be created: one upsert; ``status_if_new`` applies only to a
        new one."""
        result = ContactsResult()
        echo = self._echo.wanted(creatable)
        sending([c.email for c in creatable])
        data = self._batch([_batch_member(c) for c in creatable], echo=echo)
        answers = {
            str(m.get("email_address", "")).lower(): (created, m.get("merge_fields"))
            for key, created in (("new_members", True), ("updated_members", False))
            for m in data.get(key) or []
        }
        refused = _batch_errors(data)
        turned_down: list[Contact] = []
        for contact in creatable:
            error = refused.get(contact.email)
            answer = answers.get(contact.email)
            if answer is not None:
                if answer[0]:
                    result.created.append(contact.email)
                result.present.append(contact.email)
                if echo:
                    self._echo.answered(contact, answer[1], suspects)
            elif error is not None:
                result.errors.append(error)
                turned_down.append(contact)
            else:
                # neither created, updated nor refused: Mailchimp answered for it nowhere
                result.errors.append(
                    MemberError(contact.email, "not in Mailchimp's batch answer", "esp_error")
                )
        for contact in turned_down:  # after the answers, which may confirm their tags
            self._echo.refused(contact, suspects)
        return result

    def _ensure_existing(
        self, others: list[Contact], suspects: set[str], sending: _Sending
    ) -> ContactsResult:
        """Contacts that may not be created never go in an upsert (any member of it can be
        created): their fields go by PATCH, which answers 404 rather than creating a
        contact that is missing or was deleted since a read — many of them in one
        ``POST /batches`` (up to ``MAX_BATCH_OPERATIONS``), whose results also tell who is
        there; the others (a few, or none with fields to send) are read first (GET never
        creates)."""
        result = ContactsResult()
        with_fields = [c for c in others if c.fields or c.cleared]
        batched: dict[str, MemberError | bool] = {}
        if len(with_fields) >= BATCH_MIN_OPERATIONS:
            for start in range(0, len(with_fields), MAX_BATCH_OPERATIONS):
                batched.update(
                    self._patch_in_batch(
                        with_fields[start : start + MAX_BATCH_OPERATIONS], suspects, sending
                    )
                )
        read = [c for c in others if c.email not in batched]
        if read:
            sending([c.email for c in read])
        statuses = self._statuses([c.email for c in read])
        to_patch: list[Contact] = []
        for contact in read:
            status = statuses.get(contact.email)
            if status is None or status == "archived":
                # missing (or archived, which only an explicit re-add would undo)
                _skip(result, contact)
                continue
            if contact.fields or contact.cleared:
                to_patch.append(contact)
            else:
                result.present.append(contact.email)
        outcomes: list[MemberError | bool] = []
        if to_patch:
            workers = max(1, min(len(to_patch), self.limits.max_concurrency))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailchimp") as pool:
                outcomes = list(pool.map(partial(self._patch_fields, suspects=suspects), to_patch))
        patched = [c for c in others if c.email in batched] + to_patch
        outcomes = [batched[c.email] for c in others if c.email in batched] + outcomes
        for contact, outcome in zip(patched, outcomes, strict=True):
            if outcome is False:
                _skip(result, contact)  # missing, or deleted since the read: not created
                continue
            result.present.append(contact.email)
            if isinstance(outcome, MemberError):
                result.errors.append(outcome)
        return result

    def change_members(
        self, group: EspObject, adds: Sequence[str], removes: Sequence[str]
    ) -> MembershipChange:
        """Tag and untag up to 500 emails each in one ``POST …/segments/{id}``: members
        already tagged count as applied adds, addresses not in the audience as applied
        removes (they cannot carry the tag)."""
        limit = self.limits.max_members_per_call
        if len(adds) > limit or len(removes) > limit:
            raise ValueError(f"at most {limit} emails per call and direction")
        if not adds and not removes:
            return MembershipChange(MembershipResult(), MembershipResult())
        body: dict[str, list[str]] = {}
        if adds:
            body["members_to_add"] = list(adds)
        if removes:
            body["members_to_remove"] = list(removes)

        def send() -> Any:
            with response_fields(_SEGMENT_BATCH_FIELDS):
                return self._lists.batch_segment_members(body, self.audience_id, group.id)

        try:
            data = self._call("POST", R_SEGMENT, send)
        except EspValidationError as exc:
            # a deleted tag may be answered 400 ("A Static Segment with an id of … does
            # not exist") rather than 404: tell the caller it is gone, so it is recreated
            gone = re.search(r"does not exist|not found", exc.detail, re.I)
            if gone and not self._segment_exists(group.id):
                raise EspNotFoundError(
                    exc.detail, esp=ESP, status=404, method="POST", path=R_SEGMENT
                ) from None
            raise
        errors = _segment_errors(data)
        return MembershipChange(
            _membership(adds, errors, removing=False),
            _membership(removes, errors, removing=True),
        )

    def _segment_exists(self, segment_id: str) -> bool:
        try:
            self._call(
                "GET",
                R_SEGMENT,
                lambda: self._lists.get_segment(self.audience_id, segment_id, fields=["id"]),
            )
        except EspNotFoundError:
            return False
        return True

    def iter_members(self, group: EspObject) -> Iterator[str]:
        """Every tagged email, including unsubscribed, cleaned and transactional members."""

        def fetch(count: int, offset: int) -> Any:
            return self._lists.get_segment_members_list(
                self.audience_id,
                group.id,
                count=count,
                offset=offset,
                include_cleaned=True,
                include_transactional=True,
                include_unsubscribed=True,
                fields=["members.email_address", "total_items"],
            )

        for member in self._pages("GET", R_SEGMENT_MEMBERS, "members", fetch):
            email = str(member.get("email_address") or "").strip().lower()
            if email:
                yield email

    def upsert_segment(
        self, name: str, definition: Mapping[str, Any], segment_id: str | None
    ) -> EspObject:
        """Create or update a saved segment: ``{name, options: definition}``.

        Without ``segment_id`` an existing saved segment of the same name (ignoring case) is
        updated instead of creating a second one (a retried create, or lost state).
        """
        body = {"name": name, "options": dict(definition)}
        created = False
        if segment_id is None:
            found = self._find(name, "saved")
            segment_id = str(found["id"]) if found is not None else None
        if segment_id is None:
            data = self._call(
                "POST", R_SEGMENTS, lambda: self._lists.create_segment(self.audience_id, body)
            )
            created = True
        else:
            sid = segment_id
            data = self._call(
                "PATCH",
                R_SEGMENT,
                lambda: self._lists.update_segment(self.audience_id, sid, body),
            )
        return EspObject(
            str(data.get("id", segment_id)), str(data.get("name", name)), "segment", created
        )

    def stop_on(self, event: threading.Event) -> None:
        self._http.stop = event
        self._retry.stop = event

    def processing_times(self) -> list[ProcessingTime]:
        """The account's newest batch processing times (for the state store to keep)."""
        return self._batch_runner.times.records()

    def remember_processing_times(self, times: Sequence[ProcessingTime]) -> None:
        """Seed the batch times with those an earlier run kept (``batch_times.py``)."""
        self._batch_runner.times.seed(times)

    def close(self) -> None:
        self._http.close()
        self._files.close()


_Sending = Callable[[list[str]], None]


def _once(journal: _Sending | None) -> _Sending:
    """``journal`` called for the first call only (none: nothing)."""
    pending = [journal] if journal is not None else []

    def sending(emails: list[str]) -> None:
        if pending:
            pending.pop()(emails)

    return sending


def _patch_outcome(email: str, result: OperationResult) -> MemberError | bool:
    """What one batch PATCH did: True (updated), False (not there: 404, or archived — left
    alone, like a missing contact), or the refusal."""
    if result.status == 404:
        return False
    if 200 <= result.status < 300:
        return result.body.get("status") != "archived"
    # the same message (and so the same classification) as a PATCH sent on its own
    return member_error(email, problem_message(dict(result.body), result.status))


def _batch_errors(data: Mapping[str, Any]) -> dict[str, MemberError]:
    """Per-member errors of a ``POST /lists/{id}`` answer, by lower-cased email."""
    errors: dict[str, MemberError] = {}
    for item in data.get("errors") or []:
        email = str(item.get("email_address") or "").strip().lower()
        if email:
            errors[email] = member_error(
                email,
                str(item.get("error") or ""),
                str(item.get("error_code") or ""),
                field=str(item.get("field") or ""),
                field_message=str(item.get("field_message") or ""),
            )
    return errors


def _segment_errors(data: Mapping[str, Any]) -> dict[str, MemberError]:
    """Per-member errors of a ``POST /lists/{id}/segments/{seg}`` answer, by email."""
    errors: dict[str, MemberError] = {}
    for item in data.get("errors") or []:
        message = str(item.get("error") or "")
        code = str(item.get("error_code") or "")
        for email in item.get("email_addresses") or []:
            errors[str(email).strip().lower()] = member_error(str(email), message, code)
    return errors


def _membership(
    emails: Sequence[str], errors: Mapping[str, MemberError], *, removing: bool
) -> MembershipResult:
    result = MembershipResult()
    for email in emails:
        error = errors.get(email.strip().lower())
        if error is None or (removing and error.code == NOT_IN_AUDIENCE):
            result.applied.append(email)
        else:
            result.errors.append(error)
    return result
