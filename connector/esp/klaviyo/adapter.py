"""Klaviyo adapter: lists, profiles and segments of one Klaviyo account.

Built on the official ``klaviyo-api`` SDK, sending through one pooled ``httpx`` client
(``client.py``), with the SDK's retry at one attempt and every call under the one
retry policy (``retry.py``). Each endpoint has a shared burst/steady window of its tier, so
the threads of a process stay under Klaviyo's limits instead of provoking 429 storms.

Consent rules (docs/design.md, Reconciliation) and how they are kept:
- segsync never calls Klaviyo's subscribe or unsubscribe endpoints: adding to a list is not
  consent, removing from one does not change it, a bulk import grants none.
- A bulk profile import is an upsert, so before importing, every contact that may not be
  created (no consent, or ``new_contacts: never``) is looked up (``GET /api/profiles?filter=
  any(email,[…])``) and only imported when it exists: a missing one is skipped and counted.
- Lists take profile ids: ``add_members`` resolves ids (the email → id map, then a lookup)
  and never creates a profile; an email without a profile is a ``MemberError``.

Ids learned anywhere (lookups, list reads, imports) go to the email → id map, which the
reconciler can persist: ``known_ids()`` / ``remember_ids(mapping)``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any

import httpx
import pydantic

from connector.errors import (
    ConfigError,
    EspAuthError,
    EspNotFoundError,
    EspValidationError,
    MemberError,
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
from connector.esp.klaviyo.capabilities import LIMITS
from connector.esp.klaviyo.client import KlaviyoKeyAuth, build_sdk
from connector.esp.klaviyo.configuration import KlaviyoSettings
from connector.esp.klaviyo.errors import ESP, NOT_FOUND, validate_response
from connector.esp.klaviyo.ids import ProfileIds
from connector.esp.klaviyo.imports import BulkImports
from connector.esp.klaviyo.shapes import (
    DEFAULT_TIER,
    ENDPOINT_TIERS,
    R_LIST,
    R_LIST_PROFILES,
    R_LIST_RELATIONSHIPS,
    R_LISTS,
    R_PROFILE,
    R_PROFILES,
    R_SEGMENT,
    R_SEGMENTS,
    TOP_LEVEL,
    email_of,
    next_cursor,
    profile_attributes,
    quoted,
)
from connector.esp.processing_times import (
    ProcessingTime,
    shared_processing_times,
)
from connector.esp.ratelimit import (
    Clock,
    RateWindow,
    SystemClock,
    account_fingerprint,
    shared_concurrency_gate,
    shared_window_limiter,
)
from connector.esp.retry import RetryPolicy
from connector.esp.sections import RetrySettings

__all__ = ["KlaviyoAdapter"]


def _skip(result: ContactsResult, contact: Contact) -> None:
    if contact.consent:
        result.skipped_creation_disabled.append(contact.email)
    else:
        result.skipped_no_consent.append(contact.email)


LOOKUP_PAGE = 100  # emails per `any(email,[...])` filter and profiles per page


class KlaviyoAdapter(EspAdapter):
    """The ``EspAdapter`` for one Klaviyo account."""

    esp = ESP

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://a.klaviyo.com",
        timeout_seconds: float = 60.0,
        max_connections: int = 4,
        retry: RetrySettings | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        job_poll_seconds: float = 0.25,
        job_timeout_seconds: float = 900.0,
        budget: SharedBudget | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("the Klaviyo API key is not set (SEGSYNC_KLAVIYO__API_KEY)")
        self.base_url = base_url.rstrip("/")
        self.clock: Clock = clock or SystemClock()
        self.limits = LIMITS.with_concurrency(max_connections)
        account = account_fingerprint(ESP, self.base_url, api_key)

        def limiter_for(method: str, template: str) -> RateWindow:
            tier = ENDPOINT_TIERS.get((method, template), DEFAULT_TIER)
            endpoint = f"{method} {template}"
            if budget is not None:  # the rate is shared by every process using the store
                return budget.window_limiter(account, endpoint, tier)
            return shared_window_limiter(account, endpoint, tier, self.clock)

        self._http = EspHttpClient(
            esp=ESP,
            auth=KlaviyoKeyAuth(api_key),
            timeout_seconds=timeout_seconds,
            max_connections=max_connections,
            gate=RequestGate(shared_concurrency_gate(account, max_connections), limiter_for),
            check=validate_response,
            transport=transport,
        )
        self.calls = self._http.calls
        sdk = build_sdk(self._http, self.base_url)
        # the wrapper builds a new API object per attribute access: take them once
        self._lists = sdk.Lists
        self._profiles = sdk.Profiles
        self._segments = sdk.Segments
        self._retry = RetryPolicy(retry, sleep=self.clock.sleep)
        self._ids = ProfileIds()
        self._times = shared_processing_times(account)
        self._imports = BulkImports(
            self._profiles,
            call=self._call,
            paged=self._paged,
            clock=self.clock,
            poll_seconds=job_poll_seconds,
            timeout_seconds=job_timeout_seconds,
            lists_exist=lambda ids: all(self._list_exists(i) for i in ids),
            parallel=max_connections,
            times=self._times,
        )
        self._group_lock = threading.Lock()
        #: names of the owned lists ``list_owned`` found (None before it listed lists)
        self._listed: set[str] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: KlaviyoSettings,
        *,
        retry: RetrySettings | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: SharedBudget | None = None,
    ) -> KlaviyoAdapter:
        """An adapter from ``Settings.klaviyo`` (key, base URL, timeouts, concurrency)."""
        if settings.api_key is None:
            raise ConfigError("the Klaviyo API key is not set (SEGSYNC_KLAVIYO__API_KEY)")
        return cls(
            api_key=settings.api_key.get_secret_value(),
            base_url=settings.base_url,
            timeout_seconds=settings.timeout_seconds,
            max_connections=settings.max_connections,
            retry=retry,
            clock=clock,
            transport=transport,
            budget=budget,
        )

    def __repr__(self) -> str:
        return f"KlaviyoAdapter(base_url={self.base_url!r})"

    def __enter__(self) -> KlaviyoAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the email → profile id map ----------------------------------------------------

    def known_ids(self) -> dict[str, str]:
        """Every email → profile id learned so far (for the reconciler to persist)."""
        return self._ids.snapshot()

    def remember_ids(self, mapping: Mapping[str, str]) -> None:
        """Seed the map (ids persisted by an earlier run)."""
        self._ids.update(mapping)

    def processing_times(self) -> list[ProcessingTime]:
        """The account's newest bulk import job times (for the state store to keep)."""
        return self._times.records()

    def remember_processing_times(self, times: Sequence[ProcessingTime]) -> None:
        """Seed the job times with those an earlier run kept (``job_times.py``)."""
        self._times.seed(times)

    # -- plumbing -----------------------------------------------------------------------

    def _call(self, method: str, template: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """One SDK call under the retry policy; its JSON body (``{}`` for 204)."""
        return self._retry.call(partial(self._attempt, method, template, fn))

    def _attempt(self, method: str, template: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """One SDK call, once; its JSON body (``{}`` for 204)."""
        with route(template):
            try:
                result = fn()
            except pydantic.ValidationError as exc:
                # the SDK validates bodies before sending: report it like a 400
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)[:5]
                )
                raise self._rejected(method, template, problems) from None
            except (ValueError, TypeError) as exc:
                # the SDK's generated oneOf wrappers reject bodies with these
                raise self._rejected(method, template, str(exc)[:300]) from None
        return result if isinstance(result, dict) else {}

    @staticmethod
    def _rejected(method: str, template: str, problems: str) -> EspValidationError:
        return EspValidationError(
            f"the Klaviyo SDK rejected the request body: {problems}",
            esp=ESP,
            method=method,
            path=template,
        )

    def _paged(
        self, method: str, template: str, fetch: Callable[[str | None], Any]
    ) -> Iterator[dict[str, Any]]:
        """Every resource of a cursor-paged collection (``fetch(cursor)``)."""
        cursor: str | None = None
        while True:
            data = self._call(method, template, partial(fetch, cursor))
            yield from data.get("data") or []
            cursor = next_cursor(data)
            if cursor is None:
                return

    def _lookup(self, emails: Sequence[str]) -> dict[str, str]:
        """Profile ids of the emails that have a profile (fresh from Klaviyo): 100 emails
        per ``GET /api/profiles``, those requests in parallel up to the concurrency."""
        unique = list(dict.fromkeys(e.strip().lower() for e in emails))
        chunks = [unique[i : i + LOOKUP_PAGE] for i in range(0, len(unique), LOOKUP_PAGE)]
        found: dict[str, str] = {}
        if len(chunks) <= 1:
            for chunk in chunks:
                found.update(self._lookup_page(chunk))
        else:
            workers = min(len(chunks), self.limits.max_concurrency)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klaviyo") as pool:
                for page in pool.map(self._lookup_page, chunks):
                    found.update(page)
        self._ids.update(found)
        return found

    def _lookup_page(self, chunk: list[str]) -> dict[str, str]:
        """One ``any(email,[…])`` look-up of up to 100 emails: email → profile id."""
        query = f"any(email,[{','.join(quoted(e) for e in chunk)}])"

        def fetch(cursor: str | None) -> Any:
            return self._profiles.get_profiles(
                fields_profile=["email"], filter=query, page_size=LOOKUP_PAGE, page_cursor=cursor
            )

        found: dict[str, str] = {}
        for profile in self._paged("GET", R_PROFILES, fetch):
            email = email_of(profile)
            if email and profile.get("id"):
                found[email] = str(profile["id"])
        return found

    def _resolve(self, emails: Sequence[str], *, fresh: bool) -> dict[str, str]:
        """email → profile id for those that have one (the map first unless ``fresh``)."""
        ids: dict[str, str] = {}
        unknown: list[str] = []
        for email in emails:
            known = None if fresh else self._ids.get(email)
            if known:
                ids[email.strip().lower()] = known
            else:
                unknown.append(email)
        if unknown:
            ids.update(self._lookup(unknown))
        return ids

    # -- protocol -----------------------------------------------------------------------

    def check(self) -> None:
        """The key works and can read lists (``EspAuthError`` otherwise)."""
        self._call("GET", R_LISTS, lambda: self._lists.get_lists(fields_list=["name"], page_size=1))

    def doctor(self, fields: Sequence[str]) -> list[str]:
        """Key valid, and each read scope segsync needs (``lists:read``,
        ``profiles:read``, ``segments:read``) granted, one read each; rate-limit headroom
        from Klaviyo's ``RateLimit-Remaining``. Profile properties need no setup. The write
        scopes cannot be proven without writing: a key lacking one fails the first sync."""
        problems: list[str] = []
        reads = [
            ("lists:read", R_LISTS, lambda: self._lists.get_lists(fields_list=["name"])),
            (
                "profiles:read",
                R_PROFILES,
                lambda: self._profiles.get_profiles(fields_profile=["email"], page_size=1),
            ),
            (
                "segments:read",
                R_SEGMENTS,
                lambda: self._segments.get_segments(fields_segment=["name"]),
            ),
        ]
        for scope, template, read in reads:
            try:
                self._call("GET", template, read)
            except EspAuthError as exc:
                if exc.status == 401:
                    return [f"the API key is not valid ({exc.detail})"]
                problems.append(f"the key lacks the {scope} scope ({exc.detail})")
            remaining = self._http.rate_headers.get("ratelimit-remaining")
            if remaining is not None and remaining.isdigit() and int(remaining) < 5:
                problems.append(
                    f"rate limit nearly used up on {template}: {remaining} requests left "
                    "in the window (another integration shares this account)"
                )
        return problems

    def _all_lists(self, query: str | None = None) -> Iterator[dict[str, Any]]:
        def fetch(cursor: str | None) -> Any:
            return self._lists.get_lists(fields_list=["name"], filter=query, page_cursor=cursor)

        return self._paged("GET", R_LISTS, fetch)

    def _all_segments(self, query: str | None = None) -> Iterator[dict[str, Any]]:
        def fetch(cursor: str | None) -> Any:
            return self._segments.get_segments(
                fields_segment=["name"], filter=query, page_cursor=cursor
            )

        return self._paged("GET", R_SEGMENTS, fetch)

    def list_owned(
        self, prefix: str = "segsync:", *, groups: bool = True, segments: bool = True
    ) -> list[EspObject]:
        """Lists (with ``groups``) and segments (with ``segments``) whose name starts with
        ``prefix`` (ignoring case): one paged read of each kind asked for, none of the other.
        """
        wanted = prefix.casefold()
        owned: list[EspObject] = []
        kinds: list[tuple[str, Callable[[], Iterator[dict[str, Any]]]]] = []
        if groups:
            kinds.append(("list", self._all_lists))
        if segments:
            kinds.append(("segment", self._all_segments))
        for kind, read in kinds:
            for item in read():
                name = str((item.get("attributes") or {}).get("name") or "")
                if name.casefold().startswith(wanted):
                    owned.append(EspObject(str(item["id"]), name, kind))  # type: ignore[arg-type]
        if groups:
            with self._group_lock:
                self._listed = {o.name for o in owned if o.kind == "list"}
        return owned

    def _find_list(self, name: str) -> EspObject | None:
        for item in self._all_lists(f"equals(name,{quoted(name)})"):
            if (item.get("attributes") or {}).get("name") == name:
                return EspObject(str(item["id"]), name, "list")
        return None

    def ensure_group(self, name: str) -> EspObject:
        """The list named exactly ``name``, created if missing (150 creations a day).

        Klaviyo allows two lists with one name, so a create is never sent blind: the name
        is looked up first, unless this adapter's own listing (``list_owned``, read moments
        ago in the same run) lacks it; and a create that is retried (a timeout, a 5xx, a
        dropped connection: the first attempt may have landed) looks the name up again
        before each new attempt, so a retry never makes a second list.
        """
        with self._group_lock:
            unlisted = self._listed is not None and name not in self._listed
            found = None if unlisted else self._find_list(name)
            if found is not None:
                return found
            made = self._retry.call(partial(self._create_list, name, itertools.count()))
            if self._listed is not None:
                self._listed.add(name)
            return made

    def _create_list(self, name: str, attempts: Iterator[int]) -> EspObject:
        """One attempt at ``POST /api/lists``; from the second on, a list of that name that
        an earlier attempt made (its answer lost) is taken instead of creating another."""
        if next(attempts):
            found = self._find_list(name)
            if found is not None:
                return replace(found, created=True)
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        try:
            data = self._attempt("POST", R_LISTS, lambda: self._lists.create_list(body))
        except EspValidationError:
            found = self._find_list(name)  # refused: e.g. made meanwhile by another run
            if found is None:
                raise
            return found
        return EspObject(str(data["data"]["id"]), name, "list", created=True)

    def ensure_contacts(
        self,
        contacts: Sequence[Contact],
        *,
        create_new: bool,
        join: EspObject | None = None,
        journal: Callable[[list[str]], None] | None = None,
    ) -> ContactsResult:
        """Push contacts (creating consenting missing ones when allowed) and, with ``join``,
        add them to that list in the same bulk import; never subscribes anyone (see the
        module docstring). ``journal`` (with ``join``): called with each job's or list
        call's emails before it is sent."""
        journal = journal if join is not None else None
        result = ContactsResult()
        unique = dedupe_contacts(contacts)
        creatable = [c for c in unique if create_new and c.consent]
        others = [c for c in unique if not (create_new and c.consent)]
        # may be created: bulk imports (upserts that grant no consent), all jobs at once,
        # carrying the list, so no profile id is needed to join it
        refused = (
            self._imports.run(creatable, [join.id] if join else [], journal) if creatable else {}
        )
        imported = [c.email for c in creatable if c.email not in refused]
        result.errors += [refused[c.email] for c in creatable if c.email in refused]
        had_id = self._ids.having(imported)
        # new to segsync (Klaviyo does not say)
        result.created += [e for e in imported if e not in had_id] if had_id else imported
        result.present += imported
        if join is not None:
            result.joined += imported
        # a NULL unsets a property pushed before (an import cannot clear a field)
        cleared = [c for c in creatable if c.cleared and c.email not in refused]
        for outcome in self._patch_all(cleared).values():
            if isinstance(outcome, MemberError):
                result.errors.append(outcome)
        if others:
            result.merge(self._ensure_existing(others, join, journal))
        return result

    def _ensure_existing(
        self,
        others: list[Contact],
        join: EspObject | None,
        journal: Callable[[list[str]], None] | None = None,
    ) -> ContactsResult:
        """Contacts that may not be created: never imported (an import creates a missing
        profile); seen in Klaviyo now, their fields set by PATCH and list joined by id,
        neither of which can create a profile deleted since the look-up."""
        result = ContactsResult()
        ids = self._lookup([c.email for c in others]) if others else {}
        existing: list[Contact] = []
        for contact in others:
            if contact.email in ids:
                existing.append(contact)
            elif contact.consent:
                result.skipped_creation_disabled.append(contact.email)
            else:
                result.skipped_no_consent.append(contact.email)
        patched = self._patch_all([c for c in existing if c.fields or c.cleared])
        for contact in existing:
            outcome = patched.get(contact.email, True)
            if outcome is False:
                _skip(result, contact)  # deleted since the look-up: not re-created
                continue
            result.present.append(contact.email)
            if isinstance(outcome, MemberError):
                result.errors.append(outcome)
        if join is not None:
            joining = [c.email for c in existing if patched.get(c.email, True) is not False]
            for start in range(0, len(joining), self.limits.max_members_per_call):
                chunk = joining[start : start + self.limits.max_members_per_call]
                if journal is not None:
                    journal(chunk)
                added = self._change_members(join, chunk, adding=True)
                result.joined.extend(added.applied)
                result.errors.extend(added.errors)
        return result

    def _patch_all(self, contacts: list[Contact]) -> dict[str, MemberError | bool]:
        """``PATCH /api/profiles/{id}`` per contact (fields, and unset for cleared ones), in
        parallel up to the concurrency."""
        if not contacts:
            return {}
        ids = self._resolve([c.email for c in contacts], fresh=False)
        found = [c for c in contacts if c.email in ids]
        outcomes: dict[str, MemberError | bool] = {c.email: False for c in contacts}
        workers = max(1, min(len(found), self.limits.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klaviyo") as pool:
            patched = pool.map(lambda c: self._patch(c, ids[c.email]), found)
            outcomes.update(zip((c.email for c in found), patched, strict=True))
        return outcomes

    def _patch(self, contact: Contact, profile_id: str) -> MemberError | bool:
        attributes = profile_attributes(contact)
        attributes.pop("email", None)  # an identifier: never changed here
        unset = sorted(n for n in contact.cleared if n not in TOP_LEVEL)
        for name in contact.cleared & TOP_LEVEL:
            attributes[name] = None  # PATCH clears a standard attribute set to null
        data: dict[str, Any] = {"type": "profile", "id": profile_id, "attributes": attributes}
        if unset:
            data["meta"] = {"patch_properties": {"unset": unset}}
        body = {"data": data}
        try:
            self._call("PATCH", R_PROFILE, lambda: self._profiles.update_profile(profile_id, body))
        except EspNotFoundError:
            self._ids.forget([contact.email])
            return False
        except EspValidationError as exc:
            return MemberError(contact.email, exc.detail, "invalid_field", permanent=True)
        return True

    def _change_members(
        self, group: EspObject, emails: Sequence[str], *, adding: bool
    ) -> MembershipResult:
        if len(emails) > self.limits.max_members_per_call:
            raise ValueError(
                f"at most {self.limits.max_members_per_call} emails per call, got {len(emails)}"
            )
        result = MembershipResult()
        if not emails:
            return result
        method = "POST" if adding else "DELETE"
        ids: dict[str, str] = {}
        for fresh in (False, True):
            ids = self._resolve(emails, fresh=fresh)
            unique_ids = list(dict.fromkeys(ids.values()))
            if not unique_ids:
                break
            body = {"data": [{"type": "profile", "id": pid} for pid in unique_ids]}

            def send(body: dict[str, Any] = body) -> Any:
                if adding:
                    return self._lists.add_profiles_to_list(group.id, body)
                return self._lists.remove_profiles_from_list(group.id, body)

            try:
                self._call(method, R_LIST_RELATIONSHIPS, send)
                break
            except EspNotFoundError:
                if self._list_exists(group.id):
                    if fresh:
                        raise
                    self._ids.forget(emails)  # a stale profile id, not a deleted list
                    continue
                raise
            except EspValidationError:
                # a remembered id may be stale (merged or deleted profile): look the
                # emails up again once; a second failure is raised
                if fresh:
                    raise
                self._ids.forget(emails)
        for email in emails:
            normal = email.strip().lower()
            if normal in ids or not adding:
                # removing someone without a profile: they cannot be on the list
                result.applied.append(email)
            else:
                result.errors.append(
                    MemberError(
                        normal,
                        "no Klaviyo profile has this email (profiles are only created by "
                        "ensure_contacts)",
                        NOT_FOUND,
                    )
                )
        return result

    def _list_exists(self, list_id: str) -> bool:
        try:
            self._call("GET", R_LIST, lambda: self._lists.get_list(list_id, fields_list=["name"]))
        except EspNotFoundError:
            return False
        return True

    def add_members(self, group: EspObject, emails: Sequence[str]) -> MembershipResult:
        """Add up to 1000 emails' profiles to the list in one call (ids resolved first).
        The reconciler adds through ``ensure_contacts(join=…)`` instead: no ids needed."""
        return self._change_members(group, emails, adding=True)

    def remove_members(self, group: EspObject, emails: Sequence[str]) -> MembershipResult:
        """Remove up to 1000 emails' profiles from the list in one call; consent unchanged.
        Klaviyo removes by profile id only: unknown ids are looked up, 100 per call."""
        return self._change_members(group, emails, adding=False)

    def change_members(
        self, group: EspObject, adds: Sequence[str], removes: Sequence[str]
    ) -> MembershipChange:
        """Adds and removes: two calls (Klaviyo has one endpoint per direction)."""
        return MembershipChange(
            self._change_members(group, adds, adding=True),
            self._change_members(group, removes, adding=False),
        )

    def iter_members(self, group: EspObject) -> Iterator[str]:
        """Every member email of the list (learning their profile ids on the way)."""

        def fetch(cursor: str | None) -> Any:
            return self._lists.get_profiles_for_list(
                group.id,
                fields_profile=["email"],
                page_size=self.limits.member_page_size,
                page_cursor=cursor,
            )

        for profile in self._paged("GET", R_LIST_PROFILES, fetch):
            email = email_of(profile)
            if not email:
                continue  # a phone-only profile: segsync identifies people by email
            if profile.get("id"):
                self._ids.update({email: str(profile["id"])})
            yield email

    def _find_segment(self, name: str) -> str | None:
        for item in self._all_segments(f"equals(name,{quoted(name)})"):
            if (item.get("attributes") or {}).get("name") == name:
                return str(item["id"])
        return None

    def upsert_segment(
        self, name: str, definition: Mapping[str, Any], segment_id: str | None
    ) -> EspObject:
        """Create or update a segment: ``{name, definition}`` (1/s, 15/min, 100 a day).

        Without ``segment_id`` an existing segment of exactly this name is updated rather
        than spending a creation on a duplicate.
        """
        if segment_id is None:
            segment_id = self._find_segment(name)
        attributes = {"name": name, "definition": dict(definition)}
        if segment_id is None:
            body: dict[str, Any] = {"data": {"type": "segment", "attributes": attributes}}
            data = self._call("POST", R_SEGMENTS, lambda: self._segments.create_segment(body))
            return EspObject(str(data["data"]["id"]), name, "segment", created=True)
        sid = segment_id
        body = {"data": {"type": "segment", "id": sid, "attributes": attributes}}
        data = self._call("PATCH", R_SEGMENT, lambda: self._segments.update_segment(sid, body))
        return EspObject(str((data.get("data") or {}).get("id", sid)), name, "segment")

    def stop_on(self, event: threading.Event) -> None:
        self._http.stop = event
        self._retry.stop = event

    def close(self) -> None:
        self._http.close()
