"""Address checks: what the ESPs would refuse is never pushed; the fast path for plain
addresses accepts nothing the library (email-validator) would refuse."""

from __future__ import annotations

import pytest
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from connector.reconcile.addresses import _PLAIN, SPECIAL_TLDS, Rejects, _plain, check_email

REFUSED = [
    "nul\x00@example.com",
    "bob\u200b@example.com",  # zero-width space
    "<script>alert(1)</script>@x.com",
    "a,b@example.com",
    "a..b@example.com",
    "user@localhost",
    "user@shop.test",  # special-use name
    "user@-bad-.com",
    "x" * 65 + "@example.com",
    "broken-address",
]


def test_the_special_top_level_domains_are_the_libraries() -> None:
    """The fast path's copy of the special-use names (kept to not import the library for
    plain addresses) is the library's list."""
    assert frozenset(n.rsplit(".", 1)[-1] for n in SPECIAL_USE_DOMAIN_NAMES) == SPECIAL_TLDS


@pytest.mark.parametrize("raw", REFUSED)
def test_addresses_an_esp_would_refuse_are_rejected_with_a_reason(raw: str) -> None:
    email, why = check_email(raw)
    assert email is None and why and why != "no email"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann@Example.COM ", "ann@example.com"),
        ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
        ("user@xn--bcher-kva.com", "user@bücher.com"),  # IDNA domains are normalised
        ("josé@exämple.com", "josé@exämple.com"),  # RFC 6531 local part
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert check_email(raw) == (expected, "")


@pytest.mark.parametrize("raw", [None, "", "   ", 42])
def test_missing_is_not_a_reject(raw: object) -> None:
    assert check_email(raw) == (None, "no email")
    assert Rejects(counts={"no email": 3}).describe() == ""


@given(st.from_regex(_PLAIN, fullmatch=True))
def test_the_fast_path_accepts_only_what_the_library_accepts(email: str) -> None:
    if not _plain(email):
        return
    assert validate_email(email, check_deliverability=False, strict=True).normalized == email


@given(st.text(max_size=40).map(lambda s: s + "@example.com") | st.text(max_size=60))
def test_any_text_gets_an_answer_that_agrees_with_the_library(raw: str) -> None:
    email, why = check_email(raw)
    if email is None:
        return
    try:
        checked = validate_email(raw.strip().lower(), check_deliverability=False, strict=True)
    except EmailNotValidError as exc:  # pragma: no cover - a disagreement is the failure
        raise AssertionError(f"accepted {raw!r}, the library refuses it: {exc}") from None
    assert checked.normalized.lower() == email and why == ""
