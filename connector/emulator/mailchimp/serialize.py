"""JSON shapes of Mailchimp resources (members, segments, merge fields, audiences), the
``fields``/``exclude_fields`` filter and ``count``/``offset`` paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request

from connector.emulator.mailchimp.account import Audience, Member, MergeField, Segment
from connector.emulator.mailchimp.problems import invalid_resource

__all__ = [
    "audience_json",
    "filter_fields",
    "member_json",
    "merge_field_json",
    "page_params",
    "segment_json",
]

MAX_COUNT = 1000


def _link(rel: str, href: str, method: str = "GET") -> dict[str, str]:
    return {"rel": rel, "href": href, "method": method}


def member_json(audience: Audience, member: Member, base: str) -> dict[str, Any]:
    """A list member as the members endpoints return it."""
    href = f"{base}/lists/{audience.id}/members/{member.id}"
    merge = {m.tag: member.merge_fields.get(m.tag, "") for m in audience.merge_fields}
    tags = audience.tags_of(member)
    full_name = " ".join(
        str(member.merge_fields.get(t, "")).strip() for t in ("FNAME", "LNAME")
    ).strip()
    body: dict[str, Any] = {
        "id": member.id,
        "email_address": member.email_address,
        "unique_email_id": member.id[:10],
        "contact_id": member.id,
        "full_name": full_name,
        "web_id": member.web_id,
        "email_type": member.email_type,
        "status": member.status,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merge,
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": member.timestamp_signup,
        "ip_opt": "",
        "timestamp_opt": member.timestamp_opt,
        "member_rating": 2,
        "last_changed": member.last_changed,
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {
            "latitude": 0,
            "longitude": 0,
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": "",
            "timezone": "",
            "region": "",
        },
        "source": member.source,
        "tags_count": len(tags),
        "tags": [{"id": t.id, "name": t.name} for t in tags],
        "list_id": audience.id,
        "_links": [
            _link("self", href),
            _link("parent", f"{base}/lists/{audience.id}/members"),
            _link("update", href, "PATCH"),
            _link("upsert", href, "PUT"),
        ],
    }
    if member.status == "unsubscribed":
        body["unsubscribe_reason"] = member.unsubscribe_reason or "N/A (Unsubscribed by API)"
    return body


def segment_json(
    audience: Audience, segment: Segment, member_count: int, base: str
) -> dict[str, Any]:
    """A tag or saved segment as the segments endpoints return it."""
    body: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "member_count": member_count,
        "type": segment.type,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }
    if segment.type == "saved":
        body["options"] = {"match": segment.match, "conditions": segment.conditions}
    body["list_id"] = audience.id
    body["_links"] = [
        _link("self", f"{base}/lists/{audience.id}/segments/{segment.id}"),
        _link("members", f"{base}/lists/{audience.id}/segments/{segment.id}/members"),
    ]
    return body


def merge_field_json(audience: Audience, merge: MergeField, base: str) -> dict[str, Any]:
    """A merge field as ``GET /lists/{id}/merge-fields`` returns it."""
    options: dict[str, Any] = {}
    if merge.type == "text":
        options["size"] = 25
    if merge.choices:
        options["choices"] = list(merge.choices)
    return {
        "merge_id": merge.merge_id,
        "tag": merge.tag,
        "name": merge.name,
        "type": merge.type,
        "required": merge.required,
        "default_value": merge.default_value,
        "public": False,
        "display_order": merge.merge_id + 1,
        "options": options,
        "help_text": "",
        "list_id": audience.id,
        "_links": [_link("self", f"{base}/lists/{audience.id}/merge-fields/{merge.merge_id}")],
    }


def audience_json(audience: Audience, base: str) -> dict[str, Any]:
    """An audience as ``GET /lists/{id}`` returns it."""
    members = audience.members.values()
    count = {s: sum(1 for m in members if m.status == s) for s in ("subscribed", "unsubscribed")}
    cleaned = sum(1 for m in members if m.status == "cleaned")
    return {
        "id": audience.id,
        "web_id": audience.web_id,
        "name": audience.name,
        "contact": {
            "company": "segsync emulator",
            "address1": "",
            "address2": "",
            "city": "",
            "state": "",
            "zip": "",
            "country": "US",
            "phone": "",
        },
        "permission_reminder": "You signed up for updates.",
        "use_archive_bar": False,
        "campaign_defaults": {
            "from_name": "segsync",
            "from_email": "noreply@example.com",
            "subject": "",
            "language": "en",
        },
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": audience.date_created,
        "list_rating": 0,
        "email_type_option": False,
        "subscribe_url_short": "",
        "subscribe_url_long": "",
        "beamer_address": "",
        "visibility": "prv",
        "double_optin": False,
        "has_welcome": False,
        "marketing_permissions": False,
        "modules": [],
        "stats": {
            "member_count": count["subscribed"],
            "total_contacts": len(audience.members),
            "unsubscribe_count": count["unsubscribed"],
            "cleaned_count": cleaned,
            "member_count_since_send": count["subscribed"],
            "unsubscribe_count_since_send": count["unsubscribed"],
            "cleaned_count_since_send": cleaned,
            "campaign_count": 0,
            "campaign_last_sent": "",
            "merge_field_count": len(audience.merge_fields),
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "target_sub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
            "last_sub_date": "",
            "last_unsub_date": "",
        },
        "_links": [_link("self", f"{base}/lists/{audience.id}")],
    }


T = TypeVar("T")


def collection(
    key: str,
    items: Sequence[T],
    offset: int,
    count: int,
    to_json: Callable[[T], dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """One page of a collection as Mailchimp answers it: the page's items under ``key``,
    ``total_items`` over all of them, ``_links``, and any ``extra`` fields (``list_id``)."""
    return {
        key: [to_json(item) for item in items[offset : offset + count]],
        **extra,
        "total_items": len(items),
        "_links": [],
    }


def page_params(request: Request, default: int = 10) -> tuple[int, int]:
    """``(count, offset)`` from the query, or a 400 when out of range."""
    query = request.query_params
    try:
        count = int(query.get("count", default))
        offset = int(query.get("offset", 0))
    except ValueError:
        raise invalid_resource(
            [{"field": "count", "message": "count and offset must be integers"}]
        ) from None
    if count < 1 or count > MAX_COUNT:
        raise invalid_resource(
            [{"field": "count", "message": f"count must be between 1 and {MAX_COUNT}"}]
        )
    if offset < 0:
        raise invalid_resource([{"field": "offset", "message": "offset must be 0 or more"}])
    return count, offset


def _split(value: str | None) -> list[list[str]]:
    if not value:
        return []
    return [part.strip().split(".") for part in value.split(",") if part.strip()]


def _select(node: Any, paths: list[list[str]], keep: bool) -> Any:
    """``node`` with only (``keep``) or without the dotted ``paths``; lists apply per item."""
    if isinstance(node, list):
        return [_select(item, paths, keep) for item in node]
    if not isinstance(node, dict):
        return node
    by_key: dict[str, list[list[str]]] = {}  # each path under its first key, once per node
    for path in paths:
        if path:
            by_key.setdefault(path[0], []).append(path[1:])
    out: dict[str, Any] = {}
    for key, value in node.items():
        inner = by_key.get(key)
        whole = inner is not None and any(not p for p in inner)
        if keep and inner:
            out[key] = value if whole else _select(value, inner, keep)
        elif not keep and not whole:
            out[key] = _select(value, inner, keep) if inner else value
    return out


def filter_fields(payload: dict[str, Any], request: Request) -> dict[str, Any]:
    """Apply ``fields`` and ``exclude_fields`` (comma-separated dotted paths)."""
    keep = _split(request.query_params.get("fields"))
    drop = _split(request.query_params.get("exclude_fields"))
    result: dict[str, Any] = _select(payload, keep, True) if keep else payload
    return _select(result, drop, False) if drop else result
