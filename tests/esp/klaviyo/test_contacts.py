"""Klaviyo ``ensure_contacts``: lookups before imports, consent rules, import errors."""

from __future__ import annotations

import respx

from connector.esp import Contact
from connector.esp.klaviyo import KlaviyoAdapter
from tests.esp.conftest import FakeClock
from tests.esp.klaviyo.conftest import FakeKlaviyo


def _imported(account: FakeKlaviyo) -> list[dict[str, object]]:
    return [
        resource["attributes"]
        for job in account.imports
        for resource in job["data"]["attributes"]["profiles"]["data"]
    ]


def test_missing_contacts_without_consent_are_never_imported(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    known = account.add_profile("known@example.com")
    result = klaviyo.ensure_contacts(
        [
            Contact("known@example.com", False, {"region": " CA "}),
            Contact("stranger@example.com", False, {"region": "NY"}),
            Contact("fan@example.com", True, {"region": "TX"}),
        ],
        create_new=False,
    )
    assert result.present == ["known@example.com"]
    assert result.skipped_no_consent == ["stranger@example.com"]
    assert result.skipped_creation_disabled == ["fan@example.com"]
    assert result.created == result.errors == []
    assert _imported(account) == [{"email": "known@example.com", "properties": {"region": "CA"}}]
    assert account.profiles[known]["properties"] == {"region": "CA"}
    assert account.id_of("stranger@example.com") is None


def test_consenting_new_contacts_are_imported_and_their_ids_learned(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router, clock: FakeClock
) -> None:
    result = klaviyo.ensure_contacts(
        [Contact("new@example.com", True, {"first_name": "Ada", "lifecycle": "vip", "n": None})],
        create_new=True,
    )
    pid = account.id_of("new@example.com")
    assert result.created == result.present == ["new@example.com"]
    assert klaviyo.known_ids() == {"new@example.com": pid}
    assert account.imports == [
        {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {
                    "profiles": {
                        "data": [
                            {
                                "type": "profile",
                                "attributes": {
                                    "email": "new@example.com",
                                    "first_name": "Ada",
                                    "properties": {"lifecycle": "vip"},
                                },
                            }
                        ]
                    }
                },
            }
        }
    ]
    assert kl_router.routes["job"].call_count == 2  # processing, then complete
    assert clock.sleeps == [0.25]  # one poll interval (the first is short; then doubling)
    assert not kl_router.routes["import_errors"].called


def test_existing_contacts_without_fields_need_no_import(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    klaviyo.remember_ids({"a@example.com": account.add_profile("a@example.com")})
    result = klaviyo.ensure_contacts([Contact("a@example.com", True)], create_new=True)
    assert result.present == ["a@example.com"] and result.created == []
    assert not kl_router.routes["import"].called


def test_creatable_contacts_are_imported_without_a_lookup_first(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, kl_router: respx.Router
) -> None:
    account.add_profile("a@example.com")
    result = klaviyo.ensure_contacts(
        [Contact("a@example.com", True), Contact("b@example.com", True)], create_new=True
    )
    assert sorted(result.present) == ["a@example.com", "b@example.com"]
    assert kl_router.routes["import"].call_count == 1
    assert len(account.lookups) == 1  # once, after the import, for the ids


def test_lookups_are_100_emails_per_request_and_trust_only_creatable_known_ids(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo
) -> None:
    klaviyo.remember_ids({"c0@example.com": "01KNOWN", "s0@example.com": "01STALE"})
    contacts = [Contact(f"c{i}@example.com", True) for i in range(150)]
    contacts += [Contact(f"s{i}@example.com", False) for i in range(100)]
    result = klaviyo.ensure_contacts(contacts, create_new=True)
    looked_up = [e for chunk in account.lookups for e in chunk]
    # before the import only the 100 that may not be created are looked up (s0 again,
    # although remembered); after it, the 149 new ones (c0's remembered id is trusted)
    assert [len(chunk) for chunk in account.lookups] == [100, 100, 49]
    assert "c0@example.com" not in looked_up
    assert "s0@example.com" in looked_up
    assert len(result.skipped_no_consent) == 100
    assert len(result.created) == 149


def test_import_errors_become_member_errors_by_payload_or_pointer(
    make_klaviyo: object, account: FakeKlaviyo
) -> None:
    for style in ("payload", "pointer"):
        account.error_style = style
        account.invalid = {f"bad-{style}@example"}
        adapter = make_klaviyo()  # type: ignore[operator]
        result = adapter.ensure_contacts(
            [Contact(f"ok-{style}@example.com", True), Contact(f"bad-{style}@example", True)],
            create_new=True,
        )
        assert result.created == [f"ok-{style}@example.com"]
        assert [(e.email, e.code, e.permanent) for e in result.errors] == [
            (f"bad-{style}@example", "invalid_email", True)
        ]
        assert "Invalid email address" in result.errors[0].reason


def test_large_imports_are_split_under_the_payload_limit(
    klaviyo: KlaviyoAdapter, account: FakeKlaviyo, monkeypatch: object
) -> None:
    import connector.esp.klaviyo_imports as module

    monkeypatch.setattr(module, "MAX_IMPORT_BYTES", 2_000)  # type: ignore[attr-defined]
    contacts = [Contact(f"p{i}@example.com", True, {"note": "x" * 100}) for i in range(30)]
    result = klaviyo.ensure_contacts(contacts, create_new=True)
    assert len(account.imports) > 1
    assert len(result.created) == 30
