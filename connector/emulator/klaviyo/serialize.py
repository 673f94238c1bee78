"""JSON:API resource objects of the Klaviyo emulator, shaped like the API's responses
(the SDK's response models deserialize them)."""

from __future__ import annotations

from typing import Any

from connector.emulator.klaviyo.account import ImportJob, KList, KSegment, Profile

__all__ = [
    "account_json",
    "import_error_json",
    "job_json",
    "list_json",
    "profile_json",
    "segment_json",
]

_LOCATION_KEYS = (
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
)


def _relationship(base: str, kind: str, item: str, name: str) -> dict[str, Any]:
    return {
        "links": {
            "self": f"{base}/api/{kind}/{item}/relationships/{name}/",
            "related": f"{base}/api/{kind}/{item}/{name}/",
        }
    }


def subscriptions_json(profile: Profile) -> dict[str, Any]:
    """The ``subscriptions`` additional field: email marketing consent and suppression."""
    suppression = (
        [{"reason": profile.suppression, "timestamp": profile.suppressed_at}]
        if profile.suppression
        else []
    )
    return {
        "email": {
            "marketing": {
                "can_receive_email_marketing": profile.can_receive_email,
                "consent": profile.consent,
                "consent_timestamp": profile.consent_timestamp,
                "last_updated": profile.consent_timestamp,
                "method": "API" if profile.consent != "NEVER_SUBSCRIBED" else None,
                "method_detail": None,
                "custom_method_detail": None,
                "double_optin": None,
                "suppression": suppression,
                "list_suppressions": [],
            }
        }
    }


def profile_json(
    profile: Profile,
    base: str,
    *,
    subscriptions: bool = False,
    joined_group_at: str | None = None,
) -> dict[str, Any]:
    """A profile resource; ``joined_group_at`` for list and segment member listings."""
    attributes: dict[str, Any] = {
        "email": profile.email,
        "phone_number": profile.phone_number,
        "external_id": profile.external_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "organization": profile.organization,
        "locale": profile.locale,
        "title": profile.title,
        "image": profile.image,
        "created": profile.created,
        "updated": profile.updated,
        "last_event_date": None,
        "location": {key: profile.location.get(key) for key in _LOCATION_KEYS},
        "properties": dict(profile.properties),
    }
    if joined_group_at is not None:
        attributes["joined_group_at"] = joined_group_at
    if subscriptions:
        attributes["subscriptions"] = subscriptions_json(profile)
    return {
        "type": "profile",
        "id": profile.id,
        "attributes": attributes,
        "relationships": {
            "lists": _relationship(base, "profiles", profile.id, "lists"),
            "segments": _relationship(base, "profiles", profile.id, "segments"),
        },
        "links": {"self": f"{base}/api/profiles/{profile.id}/"},
    }


def list_json(item: KList, base: str, *, profile_count: bool = False) -> dict[str, Any]:
    """A list resource."""
    attributes: dict[str, Any] = {
        "name": item.name,
        "created": item.created,
        "updated": item.updated,
        "opt_in_process": item.opt_in_process,
    }
    if profile_count:
        attributes["profile_count"] = len(item.members)
    return {
        "type": "list",
        "id": item.id,
        "attributes": attributes,
        "relationships": {
            "profiles": _relationship(base, "lists", item.id, "profiles"),
            "tags": _relationship(base, "lists", item.id, "tags"),
            "flow-triggers": _relationship(base, "lists", item.id, "flow-triggers"),
        },
        "links": {"self": f"{base}/api/lists/{item.id}/"},
    }


def segment_json(
    segment: KSegment, base: str, *, profile_count: int | None = None
) -> dict[str, Any]:
    """A segment resource."""
    attributes: dict[str, Any] = {
        "name": segment.name,
        "definition": segment.definition,
        "created": segment.created,
        "updated": segment.updated,
        "is_active": segment.is_active,
        "is_processing": False,
        "is_starred": segment.is_starred,
    }
    if profile_count is not None:
        attributes["profile_count"] = profile_count
    return {
        "type": "segment",
        "id": segment.id,
        "attributes": attributes,
        "relationships": {
            "profiles": _relationship(base, "segments", segment.id, "profiles"),
            "tags": _relationship(base, "segments", segment.id, "tags"),
            "flow-triggers": _relationship(base, "segments", segment.id, "flow-triggers"),
        },
        "links": {"self": f"{base}/api/segments/{segment.id}/"},
    }


def job_json(job: ImportJob, base: str) -> dict[str, Any]:
    """A bulk import job resource."""
    done = job.status == "complete"
    return {
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": job.created_at,
            "total_count": job.total_count,
            "completed_count": len(job.profile_ids) if done else 0,
            "failed_count": len(job.errors) if done else 0,
            "completed_at": job.completed_at,
            "expires_at": job.expires_at,
            "started_at": job.started_at,
        },
        "relationships": {
            "lists": {
                "data": [{"type": "list", "id": i} for i in job.list_ids],
                "links": {
                    "self": f"{base}/api/profile-bulk-import-jobs/{job.id}/relationships/lists/",
                    "related": f"{base}/api/profile-bulk-import-jobs/{job.id}/lists/",
                },
            },
            "profiles": {
                "links": {
                    "self": f"{base}/api/profile-bulk-import-jobs/{job.id}/relationships/profiles/",
                    "related": f"{base}/api/profile-bulk-import-jobs/{job.id}/profiles/",
                }
            },
            "import-errors": {
                "links": {"related": f"{base}/api/profile-bulk-import-jobs/{job.id}/import-errors/"}
            },
        },
        "links": {"self": f"{base}/api/profile-bulk-import-jobs/{job.id}/"},
    }


def import_error_json(job: ImportJob, index: int, item: dict[str, Any]) -> dict[str, Any]:
    """One import error resource."""
    return {
        "type": "import-error",
        "id": f"{job.id}-{index}",
        "attributes": {
            "code": item["code"],
            "title": item["title"],
            "detail": item["detail"],
            "source": item["source"],
            "original_payload": item["original_payload"],
        },
    }


def account_json(account_id: str, base: str) -> dict[str, Any]:
    """The account resource (one per emulator)."""
    return {
        "type": "account",
        "id": account_id,
        "attributes": {
            "test_account": True,
            "contact_information": {
                "default_sender_name": "segsync emulator",
                "default_sender_email": "noreply@example.com",
                "website_url": "https://example.com",
                "organization_name": "segsync emulator",
                "street_address": {
                    "address1": "1 Loopback Way",
                    "address2": "",
                    "city": "Localhost",
                    "region": "CA",
                    "country": "US",
                    "zip": "00000",
                },
            },
            "industry": None,
            "timezone": "UTC",
            "preferred_currency": "USD",
            "public_api_key": account_id,
            "locale": "en-US",
        },
        "links": {"self": f"{base}/api/accounts/{account_id}/"},
    }
