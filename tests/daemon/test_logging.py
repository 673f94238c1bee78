"""JSON-lines logging and the redactor: keys, tokens and emails never reach the stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from connector.daemon.logging import configure_logging, get_logger
from connector.daemon.redact import MASK, Redactor, secrets_of

MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us21"
KLAVIYO_KEY = "pk_abcdefghijklmnopqrstuvwxyz0123"
ODD_KEY = "odd-shaped key 42!"  # no pattern knows it; only the configured value masks it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {MAILCHIMP_KEY} rejected", f"key {MASK} rejected"),
        (f"using {KLAVIYO_KEY}", f"using {MASK}"),
        ("Authorization: Bearer abc.def-123456", f"Authorization: Bearer {MASK}"),
        ("Authorization: Basic c2Vnc3luYzpzZWNyZXQ=", f"Authorization: Basic {MASK}"),
        ("api_key=AbCdEf123456&x=1", f"api_key={MASK}&x=1"),
        ('{"token": "s3cr3t-t0ken-value"}', f'{{"token": "{MASK}"}}'),
        ("postgresql://bob:hunter22@db:5432/x", f"postgresql://bob:{MASK}@db:5432/x"),
        ("refused Jane.Doe+vip@Example.co.uk (bounced)", "refused <email> (bounced)"),
        # prose stays readable
        ("missing or wrong token: send the header", "missing or wrong token: send the header"),
        ("the Bearer scheme", "the Bearer scheme"),
        ("segsync:vip-ca has 12 members", "segsync:vip-ca has 12 members"),
    ],
)
def test_redactor_patterns(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_configured_secrets_are_masked_whatever_their_shape() -> None:
    redactor = Redactor(secrets_of(SecretStr(ODD_KEY), None, "ab"))
    assert redactor.secrets == [ODD_KEY]  # unset and too-short values are ignored
    nested = {"a": [f"x {ODD_KEY} y", ("t", ODD_KEY)], "n": 3, "s": SecretStr("z")}
    assert redactor.value(nested) == {"a": [f"x {MASK} y", ("t", MASK)], "n": 3, "s": MASK}


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("info", redactor=Redactor([ODD_KEY]), stream=buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    structlog.reset_defaults()


def test_lines_are_json_with_context_and_nothing_secret(stream: io.StringIO) -> None:
    log = get_logger("test")
    with structlog.contextvars.bound_contextvars(job_id="j123"):
        log.info("sync finished", run_id="r1", note=f"key {ODD_KEY}", email="a@b.example")
    log.debug("not shown at info")
    logging.getLogger("segsync.esp.retry").warning("retrying with Bearer %s", "abcdefgh12345")
    try:
        raise RuntimeError(f"boom {MAILCHIMP_KEY}")
    except RuntimeError:
        log.exception("sync crashed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "sync finished",
        f"retrying with Bearer {MASK}",
        "sync crashed",
    ]
    first = lines[0]
    assert list(first)[:6] == ["timestamp", "level", "event", "logger", "job_id", "run_id"]
    assert first["job_id"] == "j123" and first["level"] == "info"
    assert first["note"] == f"key {MASK}" and first["email"] == "<email>"
    assert lines[1]["logger"] == "segsync.esp.retry" and lines[1]["level"] == "warning"
    assert "RuntimeError" in lines[2]["exception"]
    text = stream.getvalue()
    for secret in (ODD_KEY, MAILCHIMP_KEY, "abcdefgh12345", "a@b.example"):
        assert secret not in text
