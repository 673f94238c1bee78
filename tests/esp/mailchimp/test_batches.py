"""Mailchimp batch operations: polling, the results download, unsettled operations."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import httpx
import pytest
import respx

from connector.errors import EspError
from connector.esp.base import Contact
from connector.esp.mailchimp.adapter import MailchimpAdapter, subscriber_hash
from connector.esp.mailchimp.batches import BatchRunner, parse_results
from tests.esp.conftest import MAILCHIMP_KEY
from tests.esp.mailchimp.conftest import AUDIENCE, FakeAudience

RESULTS = "https://mailchimp-api-batch.s3.amazonaws.com/b1-response.tar.gz"


def archive(*files: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for index, items in enumerate(files):
            data = json.dumps(items).encode()
            info = tarfile.TarInfo(f"b1-response/{index}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def result(email: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": status, "operation_id": email, "response": json.dumps(body)}


def test_parse_results_reads_every_file_and_refuses_what_is_not_an_archive() -> None:
    parsed = parse_results(
        archive(
            [result("a@x.com", 200, {"status": "subscribed"})],
            [result("b@x.com", 404, {"title": "Resource Not Found"}), {"status_code": 200}],
        )
    )
    assert {k: v.status for k, v in parsed.items()} == {"a@x.com": 200, "b@x.com": 404}
    with pytest.raises(ValueError, match="gzipped tar"):
        parse_results(b"<Error>AccessDenied</Error>")


def test_no_consent_updates_go_in_one_batch_polled_until_finished(
    mailchimp: MailchimpAdapter,
    audience: FakeAudience,
    mc_router: respx.Router,
    sleeps: list[float],
) -> None:
    emails = [f"k{i}@x.com" for i in range(5)]
    statuses = iter(["pending", "started", "finished"])
    submitted: list[dict[str, Any]] = []

    def start(request: httpx.Request) -> httpx.Response:
        submitted.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "b1", "status": "pending"})

    def status(request: httpx.Request) -> httpx.Response:
        now = next(statuses)
        url = RESULTS if now == "finished" else ""
        return httpx.Response(200, json={"id": "b1", "status": now, "response_body_url": url})

    mc_router.post("/batches", name="start").mock(side_effect=start)
    mc_router.get("/batches/b1", name="status").mock(side_effect=status)
    member = {"status": "unsubscribed", "merge_fields": {"FNAME": "Ada", "LNAME": ""}}
    results = [result(e, 200, member) for e in emails[:3]]
    results += [result(emails[3], 404, {"title": "Resource Not Found"})]
    results += [result(emails[4], 503, {"title": "Service Unavailable"})]
    audience.add(emails[4], "unsubscribed")  # the unsettled one is sent alone
    download = mc_router.get(RESULTS).mock(
        return_value=httpx.Response(200, content=archive(results))
    )

    outcome = mailchimp.ensure_contacts(
        [Contact(e, False, {"FNAME": "Ada"}) for e in emails], create_new=True
    )
    (body,) = submitted
    first = body["operations"][0]
    assert first["method"] == "PATCH" and first["operation_id"] == emails[0]
    assert first["path"] == f"/lists/{AUDIENCE}/members/{subscriber_hash(emails[0])}"
    assert json.loads(first["body"]) == {"merge_fields": {"FNAME": "Ada"}}
    # each result carries what is read of it (archived? stored?), not the whole member
    assert set(first["params"]["fields"].split(",")) == {"email_address", "status", "merge_fields"}
    assert sorted(outcome.present) == [*emails[:3], emails[4]]
    assert outcome.skipped_no_consent == [emails[3]]
    assert mc_router.routes["status"].call_count == 3
    assert sleeps[:3] == [0.25, 0.5, 1.0]  # the first poll after 0.25 s, then doubling
    # the results link is fetched without the key (it points at another host)
    request = download.calls.last.request
    assert "authorization" not in request.headers
    assert MAILCHIMP_KEY not in str(request.url)
    assert mailchimp.calls[("GET", "response_body_url", 200)] == 1
    assert mc_router.routes["patch"].call_count == 1


def test_results_that_cannot_be_read_fail_the_call_clearly(
    mailchimp: MailchimpAdapter, audience: FakeAudience, mc_router: respx.Router
) -> None:
    mc_router.post("/batches").mock(
        return_value=httpx.Response(
            200, json={"id": "b1", "status": "finished", "response_body_url": RESULTS}
        )
    )
    mc_router.get(RESULTS).mock(return_value=httpx.Response(403, content=b"<Error/>"))
    contacts = [Contact(f"k{i}@x.com", False, {"FNAME": "Ada"}) for i in range(4)]
    with pytest.raises(EspError, match="batch results not available") as caught:
        mailchimp.ensure_contacts(contacts, create_new=True)
    assert caught.value.status == 403 and "response_body_url" in str(caught.value)


def test_polls_follow_the_batch_progress() -> None:
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    def runner(statuses: list[dict[str, Any]]) -> BatchRunner:
        answers = iter(statuses)
        return BatchRunner(
            start=lambda body: {"id": "b1", "status": "pending"},
            status=lambda batch_id, fields: next(answers),
            fetch=lambda url: archive([]),
            sleep=sleep,
            now=lambda: clock[0],
            stopped=lambda: False,
        )

    def started(done: int) -> dict[str, Any]:
        return {"status": "started", "total_operations": 1000, "finished_operations": done}

    finished = {"status": "finished", "response_body_url": RESULTS}
    # 800 of 1000 done after 0.25 s: the other 200 at that rate take 0.0625 s
    runner([started(800), finished]).run([])
    assert sleeps == [0.25, 0.0625]
    # little done: when the rate says (not a poll sooner, which would hear "not yet");
    # then no progress reported: doubling, never more than max_poll_seconds apart
    sleeps.clear()
    runner([started(100), {"status": "started"}, {"status": "pending"}, finished]).run([])
    assert sleeps == [0.25, 2.25, 4.5, 5.0]
    # a rate that says longer than max_poll_seconds: polled at the most that apart
    sleeps.clear()
    runner([started(10), finished]).run([])
    assert sleeps == [0.25, 5.0]
    # almost done: not sooner than a fifth of the first wait
    sleeps.clear()
    runner([started(999), finished]).run([])
    assert sleeps == [0.25, 0.05]
