"""Klaviyo profiles and consent over loopback HTTP: lookup by email, consent states,
suppression, and the subscription endpoints segsync must never call."""

from __future__ import annotations

import httpx

from connector.emulator import Emulator
from connector.emulator.klaviyo.account import KlaviyoState

SUBSCRIBE = "/api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "/api/profile-subscription-bulk-delete-jobs"


def test_accounts(kl: httpx.Client) -> None:
    account = kl.get("/api/accounts").json()["data"][0]
    assert account["type"] == "account" and account["attributes"]["timezone"] == "UTC"


def test_lookup_by_email_paging_and_single_profile(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState]
) -> None:
    state = klaviyo.state
    a = state.add_profile("A@x.com", first_name="Ann", properties={"region": "CA"})
    state.add_profile("b@x.com")
    found = kl.get("/api/profiles", params={"filter": 'any(email,["a@x.com","c@x.com"])'}).json()
    assert [p["id"] for p in found["data"]] == [a.id]
    attributes = found["data"][0]["attributes"]
    assert attributes["email"] == "A@x.com" and attributes["properties"] == {"region": "CA"}
    assert {"first_name", "location", "created", "updated"} <= set(attributes)
    assert "subscriptions" not in attributes
    assert kl.get("/api/profiles", params={"page[size]": 100}).status_code == 200
    assert kl.get("/api/profiles", params={"page[size]": 101}).status_code == 400
    one = kl.get(f"/api/profiles/{a.id}").json()["data"]
    assert one["id"] == a.id and one["links"]["self"].endswith(f"/api/profiles/{a.id}/")
    assert kl.get("/api/profiles/01NOPE").status_code == 404
    assert kl.get("/api/profiles", params={"filter": "any(email,a@x.com)"}).status_code == 400


def test_consent_states_and_suppression_are_visible(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState]
) -> None:
    state = klaviyo.state
    state.add_profile("sub@x.com", consent="SUBSCRIBED")
    state.add_profile("unsub@x.com", consent="UNSUBSCRIBED")
    state.add_profile("never@x.com")
    state.add_profile("bounced@x.com", consent="SUBSCRIBED", suppressed="HARD_BOUNCE")
    data = kl.get(
        "/api/profiles", params={"additional-fields[profile]": "subscriptions", "page[size]": 10}
    ).json()["data"]
    marketing = {
        p["attributes"]["email"]: p["attributes"]["subscriptions"]["email"]["marketing"]
        for p in data
    }
    assert marketing["sub@x.com"]["consent"] == "SUBSCRIBED"
    assert marketing["sub@x.com"]["can_receive_email_marketing"] is True
    assert marketing["unsub@x.com"]["can_receive_email_marketing"] is False
    assert marketing["never@x.com"]["consent"] == "NEVER_SUBSCRIBED"
    assert marketing["bounced@x.com"]["suppression"][0]["reason"] == "HARD_BOUNCE"
    assert marketing["bounced@x.com"]["can_receive_email_marketing"] is False


def test_subscription_jobs_work_and_are_counted(
    kl: httpx.Client, klaviyo: Emulator[KlaviyoState]
) -> None:
    state = klaviyo.state
    target = state.add_list("newsletter")
    state.add_profile("bounced@x.com", suppressed="HARD_BOUNCE")
    body = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "bounced@x.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "SUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                }
            },
            "relationships": {"list": {"data": {"type": "list", "id": target.id}}},
        }
    }
    assert kl.post(SUBSCRIBE, json=body).status_code == 202
    profile = state.profile("bounced@x.com")
    assert profile is not None and profile.consent == "SUBSCRIBED" and profile.suppression is None
    assert state.list_emails(target.id) == {"bounced@x.com"}
    unsubscribe = {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "bounced@x.com",
                                "subscriptions": {
                                    "email": {"marketing": {"consent": "UNSUBSCRIBED"}}
                                },
                            },
                        }
                    ]
                }
            },
        }
    }
    assert kl.post(UNSUBSCRIBE, json=unsubscribe).status_code == 202
    assert profile.consent == "UNSUBSCRIBED" and profile.suppression == "UNSUBSCRIBE"
    assert state.list_emails(target.id) == {"bounced@x.com"}  # still on the list
    assert klaviyo.calls[("POST", SUBSCRIBE, 202)] == 1
    assert klaviyo.calls[("POST", UNSUBSCRIBE, 202)] == 1
    assert kl.post(SUBSCRIBE, json={"data": {"type": "nope"}}).status_code == 400
