"""Mailchimp emulator: batch operations (POST /batches, status, results archive)."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import tarfile
import time
from typing import Any

import httpx
import mailchimp_marketing
import pytest

from connector.emulator import Emulator
from connector.emulator.mailchimp.account import MailchimpState

AUDIENCE = "demo-audience"


def _hash(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def _finished(mc: httpx.Client, batch_id: str) -> dict[str, Any]:
    seen = []
    for _ in range(200):
        batch = mc.get(f"/batches/{batch_id}").json()
        seen.append(batch["status"])
        if batch["status"] == "finished":
            assert set(seen) <= {"pending", "started", "finished"}
            return dict(batch)
        time.sleep(0.02)
    raise AssertionError(f"batch never finished: {seen[-1]}")


def _results(url: str) -> list[dict[str, Any]]:
    archive = httpx.get(url)  # a pre-signed link: no credentials
    assert archive.status_code == 200
    results: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                results += json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    return results


def test_a_batch_runs_its_operations_and_reports_each_result(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client
) -> None:
    mailchimp.state.add_member(AUDIENCE, "kept@example.com", "unsubscribed")
    operations = [
        {
            "method": "PATCH",
            "path": f"/lists/{AUDIENCE}/members/{_hash('kept@example.com')}",
            "params": {"fields": "email_address,status,merge_fields"},
            "body": json.dumps({"merge_fields": {"FNAME": "Ada"}}),
            "operation_id": "kept@example.com",
        },
        {
            "method": "PATCH",
            "path": f"/lists/{AUDIENCE}/members/{_hash('gone@example.com')}",
            "body": json.dumps({"merge_fields": {"FNAME": "Bob"}}),
            "operation_id": "gone@example.com",
        },
        {
            "method": "GET",
            "path": f"/lists/{AUDIENCE}/members/{_hash('kept@example.com')}",
            "params": {"fields": "status"},
            "operation_id": "read",
        },
    ]
    started = mc.post("/batches", json={"operations": operations})
    assert started.status_code == 200
    batch = started.json()
    assert batch["status"] == "pending" and batch["total_operations"] == 3
    assert batch["response_body_url"] == ""
    done = _finished(mc, batch["id"])
    assert (done["finished_operations"], done["errored_operations"]) == (3, 1)
    results = {r["operation_id"]: r for r in _results(done["response_body_url"])}
    assert results["kept@example.com"]["status_code"] == 200
    kept = json.loads(results["kept@example.com"]["response"])
    # ``fields`` applies to an operation's answer as to any response (partial responses)
    assert set(kept) == {"email_address", "status", "merge_fields"}
    assert kept["merge_fields"]["FNAME"] == "Ada"
    assert results["gone@example.com"]["status_code"] == 404  # PATCH never creates
    assert json.loads(results["read"]["response"]) == {"status": "unsubscribed"}
    member = mailchimp.state.audience(AUDIENCE).find_member("kept@example.com")
    assert member is not None and member.status == "unsubscribed"
    assert member.merge_fields["FNAME"] == "Ada"
    assert mailchimp.state.audience(AUDIENCE).find_member("gone@example.com") is None
    # the operations were not client calls; the batch, its polls and the archive were
    routes = {(c.method, c.route) for c in mailchimp.calls.records}
    assert ("PATCH", "/3.0/lists/{list_id}/members/{subscriber_hash}") not in routes
    assert ("GET", "/mailchimp-api-batch/{name}") in routes
    listing = mc.get("/batches").json()
    assert [b["id"] for b in listing["batches"]] == [batch["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "operations"),
        ({"operations": [{"path": "/ping"}]}, "operations.item:0.method"),
        ({"operations": [{"method": "GET"}]}, "operations.item:0.path"),
        ({"operations": [{"method": "HEAD", "path": "/ping"}]}, "operations.item:0.method"),
        # the body is the operation's JSON as a string, not an object
        (
            {"operations": [{"method": "PATCH", "path": "/ping", "body": {"a": 1}}]},
            "operations.item:0.body",
        ),
    ],
)
def test_a_batch_the_reference_refuses_is_refused_whole(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client, body: dict[str, Any], field: str
) -> None:
    answer = mc.post("/batches", json=body)
    assert answer.status_code == 400
    assert answer.json()["title"] == "Invalid Resource"
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert mailchimp.state.batches == {}
    assert mailchimp.state.contract_violations


def test_an_operation_body_that_breaks_the_contract_is_a_400_result(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client
) -> None:
    bad = {"members": [{"email_address": "x@example.com"}]}  # no status nor status_if_new
    operations = [{"method": "POST", "path": f"/lists/{AUDIENCE}", "body": json.dumps(bad)}]
    batch = mc.post("/batches", json={"operations": operations}).json()
    done = _finished(mc, batch["id"])
    (result,) = _results(done["response_body_url"])
    assert result["status_code"] == 400 and result["operation_id"] is None
    assert "status" in json.loads(result["response"])["detail"]
    assert mailchimp.state.audience(AUDIENCE).find_member("x@example.com") is None


def test_batch_endpoints_need_the_key_and_unknown_batches_are_404(
    mailchimp: Emulator[MailchimpState], mc: httpx.Client
) -> None:
    assert httpx.post(f"{mailchimp.base_url}/batches", json={"operations": []}).status_code == 401
    assert mc.get("/batches/nope").status_code == 404
    root = mailchimp.base_url.removesuffix("/3.0")
    assert httpx.get(f"{root}/mailchimp-api-batch/nope-response.tar.gz").status_code == 404


def test_calls_are_answered_while_a_batch_runs(mailchimp: Emulator[MailchimpState]) -> None:
    """Mailchimp processes a batch on its own servers: the account's other calls (tag calls,
    polls) are answered while its operations run, not after the last one. Through the SDK
    over HTTP; each tag call is followed by a poll, and some poll must find the batch part
    done."""
    sdk = mailchimp_marketing.Client()
    sdk.set_config({"api_key": mailchimp.api_key, "server": "us1"})
    sdk.api_client.host = mailchimp.base_url
    emails = [f"kept{i}@example.com" for i in range(3000)]
    for address in emails:
        mailchimp.state.add_member(AUDIENCE, address, "unsubscribed")
    tag = sdk.lists.create_segment(AUDIENCE, {"name": "probe", "static_segment": []})
    operations = [
        {
            "method": "PATCH",
            "path": f"/lists/{AUDIENCE}/members/{_hash(address)}",
            "body": json.dumps({"merge_fields": {"FNAME": "Ada"}}),
            "operation_id": address,
        }
        for address in emails
    ]
    batch = sdk.batches.start({"operations": operations})
    seen: list[tuple[str, int]] = []
    for address in itertools.cycle(emails):
        sdk.lists.batch_segment_members({"members_to_add": [address]}, AUDIENCE, tag["id"])
        status = sdk.batches.status(batch["id"])
        seen.append((status["status"], status["finished_operations"]))
        if status["status"] == "finished":
            break
    assert status["finished_operations"] == len(emails) and status["errored_operations"] == 0
    midway = [done for state, done in seen if 0 < done < len(emails)]
    assert midway, f"no call was answered while the batch ran: {seen[:5]} … {seen[-5:]}"
    assert mailchimp.state.contract_violations == []
