"""Mailchimp routes for respx: a small fake audience behind the batch and member endpoints,
and helpers for problem+json answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from connector.esp.mailchimp.adapter import MailchimpAdapter, subscriber_hash
from tests.esp.conftest import FAST_RETRY, MAILCHIMP_KEY

BASE = "https://us7.api.mailchimp.com/3.0"
AUDIENCE = "a1b2c3d4e5"


def problem(status: int, title: str = "", detail: str = "", **extra: Any) -> httpx.Response:
    """A Mailchimp problem+json error response."""
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "0c6d7d1e-1f2a-4b3c-8d9e-0a1b2c3d4e5f",
        **extra,
    }
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/problem+json; charset=utf-8"},
    )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


@dataclass
class FakeAudience:
    """What the batch (``POST /lists/{id}``) and member endpoints of one audience do."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: addresses Mailchimp refuses to (re)subscribe: "Member In Compliance State"
    compliance: set[str] = field(default_factory=set)
    #: addresses Mailchimp calls fake or invalid
    invalid: set[str] = field(default_factory=set)
    batches: list[dict[str, Any]] = field(default_factory=list)
    member_gets: list[str] = field(default_factory=list)
    patches: list[tuple[str, Any]] = field(default_factory=list)
    #: the audience's merge fields: a member is answered with each of them (values of other
    #: tags are dropped)
    merge_tags: tuple[str, ...] = ("FNAME", "LNAME", "ADDRESS", "PHONE", "STATE", "STAGE", "X")

    def add(self, email: str, status: str = "subscribed", **merge_fields: Any) -> None:
        self.members[email] = {"status": status, "merge_fields": dict(merge_fields)}

    def echo(self, email: str) -> dict[str, Any]:
        """A member's ``merge_fields`` as Mailchimp answers them: every field of the
        audience, ``""`` when empty."""
        stored = self.members[email]["merge_fields"]
        return {tag: stored.get(tag, "") for tag in self.merge_tags}

    def batch(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        self.batches.append(body)
        if any(not {"status", "status_if_new"} & m.keys() for m in body["members"]):
            # the API refuses the whole request (the reference marks a status required)
            return problem(400, "Invalid Resource", "Required fields were not provided: status")
        new, updated, errors = [], [], []
        for member in body["members"]:
            email = member["email_address"].lower()
            known = self.members.get(email)
            if email in self.invalid:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} looks fake or invalid, please enter a real email "
                        "address.",
                        "error_code": "ERROR_GENERIC",
                    }
                )
            elif known is not None and not body["update_existing"]:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member. Use PUT to insert or update "
                        "list members.",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
            elif known is not None:
                if "status" in member:  # status_if_new never touches an existing contact
                    known["status"] = member["status"]
                known["merge_fields"].update(member.get("merge_fields", {}))
                updated.append(
                    {
                        "email_address": email,
                        "status": known["status"],
                        "merge_fields": self.echo(email),
                    }
                )
            elif email in self.compliance:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is in a compliance state due to unsubscribe, bounce, "
                        "or compliance review and cannot be subscribed.",
                        "error_code": "ERROR_GENERIC",
                    }
                )
            else:
                status = member.get("status") or member["status_if_new"]
                self.add(email, status, **member.get("merge_fields", {}))
                new.append(
                    {"email_address": email, "status": status, "merge_fields": self.echo(email)}
                )
        return httpx.Response(
            200,
            json={
                "new_members": new,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(new),
                "total_updated": len(updated),
                "error_count": len(errors),
            },
        )

    def member(self, request: httpx.Request, subscriber_hash_: str) -> httpx.Response:
        self.member_gets.append(subscriber_hash_)
        for email, data in self.members.items():
            if subscriber_hash(email) == subscriber_hash_:
                return httpx.Response(200, json={"email_address": email, "status": data["status"]})
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def patch(self, request: httpx.Request, subscriber_hash_: str) -> httpx.Response:
        body = body_of(request)
        self.patches.append((subscriber_hash_, body))
        for email, data in self.members.items():
            if subscriber_hash(email) == subscriber_hash_:
                data["merge_fields"].update(body.get("merge_fields", {}))
                return httpx.Response(
                    200, json={"email_address": email, "merge_fields": self.echo(email)}
                )
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def install(self, router: respx.Router) -> None:
        router.post(f"/lists/{AUDIENCE}", name="batch").mock(side_effect=self.batch)
        member = rf"/lists/{AUDIENCE}/members/(?P<subscriber_hash_>[0-9a-f]{{32}})"
        router.get(url__regex=member, name="member").mock(side_effect=self.member)
        router.patch(url__regex=member, name="patch").mock(side_effect=self.patch)


def segments_page(segments: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """``GET /lists/{id}/segments`` honouring type, count and offset."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        kind = params.get("type")
        chosen = [s for s in segments if kind is None or s["type"] == kind]
        offset, count = int(params.get("offset", 0)), int(params.get("count", 10))
        return httpx.Response(
            200, json={"segments": chosen[offset : offset + count], "total_items": len(chosen)}
        )

    return answer


@pytest.fixture
def mc_router() -> Iterator[respx.Router]:
    router = respx.Router(base_url=BASE, assert_all_called=False)
    yield router


@pytest.fixture
def audience(mc_router: respx.Router) -> FakeAudience:
    fake = FakeAudience()
    fake.install(mc_router)
    return fake


@pytest.fixture
def make_mailchimp(
    mc_router: respx.Router, sleeps: list[float]
) -> Iterator[Callable[..., MailchimpAdapter]]:
    made: list[MailchimpAdapter] = []

    def make(**options: Any) -> MailchimpAdapter:
        settings: dict[str, Any] = {
            "api_key": MAILCHIMP_KEY,
            "audience_id": AUDIENCE,
            "retry": FAST_RETRY,
            "sleep": sleeps.append,
            "transport": httpx.MockTransport(mc_router.handler),
        }
        settings.update(options)
        adapter = MailchimpAdapter(**settings)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def mailchimp(make_mailchimp: Callable[..., MailchimpAdapter]) -> MailchimpAdapter:
    return make_mailchimp()


HASH_RE = re.compile(r"[0-9a-f]{32}")
