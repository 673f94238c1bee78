"""Klaviyo's routes, rate tiers, and the JSON shapes segsync sends and reads.

Route templates are the keys of ``calls`` and of the rate windows; the tiers come from the
OpenAPI spec's per-operation limits (``x-klaviyo-ratelimit``), the steady L tier at its
lower documented value (700/min).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.esp.base import Contact
from connector.esp.ratelimit import RateTier
from connector.esp.values import plain_value

__all__ = [
    "DEFAULT_TIER",
    "ENDPOINT_TIERS",
    "POINTER_INDEX",
    "R_IMPORT",
    "R_IMPORTS",
    "R_IMPORT_ERRORS",
    "R_LIST",
    "R_LISTS",
    "R_LIST_PROFILES",
    "R_LIST_RELATIONSHIPS",
    "R_PROFILE",
    "R_PROFILES",
    "R_SEGMENT",
    "R_SEGMENTS",
    "TIERS",
    "TOP_LEVEL",
    "email_of",
    "next_cursor",
    "payload_email",
    "profile_attributes",
    "quoted",
]

# Klaviyo's rate tiers: requests per 1 s burst / 60 s steady
TIERS = {
    "XS": RateTier(1, 15),
    "S": RateTier(3, 60),
    "M": RateTier(10, 150),
    "L": RateTier(75, 700),
    "XL": RateTier(350, 3500),
}

# Route templates (the keys of `calls`)
R_LISTS = "/api/lists"
R_LIST = "/api/lists/{id}"
R_LIST_PROFILES = "/api/lists/{id}/profiles"
R_LIST_RELATIONSHIPS = "/api/lists/{id}/relationships/profiles"
R_PROFILES = "/api/profiles"
R_PROFILE = "/api/profiles/{id}"
R_IMPORTS = "/api/profile-bulk-import-jobs"
R_IMPORT = "/api/profile-bulk-import-jobs/{job_id}"
R_IMPORT_ERRORS = "/api/profile-bulk-import-jobs/{id}/import-errors"
R_SEGMENTS = "/api/segments"
R_SEGMENT = "/api/segments/{id}"

#: (method, route) → tier, from the OpenAPI spec's per-operation rate limits
ENDPOINT_TIERS: dict[tuple[str, str], RateTier] = {
    ("GET", R_LISTS): TIERS["L"],
    ("GET", R_LIST): TIERS["L"],
    ("PATCH", R_PROFILE): TIERS["L"],
    ("POST", R_LISTS): TIERS["M"],  # and 150 per day
    ("GET", R_LIST_PROFILES): TIERS["L"],
    ("POST", R_LIST_RELATIONSHIPS): TIERS["M"],
    ("DELETE", R_LIST_RELATIONSHIPS): TIERS["M"],
    ("GET", R_PROFILES): TIERS["L"],
    ("POST", R_IMPORTS): TIERS["M"],
    ("GET", R_IMPORTS): TIERS["M"],
    ("GET", R_IMPORT): TIERS["M"],
    ("GET", R_IMPORT_ERRORS): TIERS["M"],
    ("GET", R_SEGMENTS): TIERS["L"],
    ("POST", R_SEGMENTS): TIERS["XS"],  # and 100 per day
    ("PATCH", R_SEGMENT): TIERS["XS"],
}
DEFAULT_TIER = TIERS["M"]

# profile attributes a field may set directly; identifiers (phone, external_id) are left
# out on purpose: setting one could merge profiles
TOP_LEVEL = frozenset({"first_name", "last_name", "organization", "title", "locale", "image"})
POINTER_INDEX = re.compile(r"/profiles/data/(\d+)")


def next_cursor(data: Mapping[str, Any]) -> str | None:
    """The ``page[cursor]`` of the ``links.next`` URL, if there is a next page."""
    links = data.get("links")
    url = links.get("next") if isinstance(links, dict) else None
    if not url:
        return None
    values = parse_qs(urlsplit(str(url)).query).get("page[cursor]")
    return values[0] if values else None


def email_of(resource: Mapping[str, Any]) -> str:
    """The lower-cased email of a profile resource ('' if it has none)."""
    attributes = resource.get("attributes") or {}
    return str(attributes.get("email") or "").strip().lower()


def quoted(value: str) -> str:
    """A string literal for a Klaviyo filter (``equals(name,"…")``): double-quoted, only
    ``"`` and ``\\`` escaped, every other character as itself (UTF-8 on the wire), so a
    non-ASCII address such as ``jürgen@example.de`` is matched as written (``json.dumps``
    would send ``\\u00fc``, which a filter takes literally)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile_attributes(contact: Contact) -> dict[str, Any]:
    """A profile's bulk-import attributes: email, top-level fields, custom properties."""
    attributes: dict[str, Any] = {"email": contact.email}
    properties: dict[str, Any] = {}
    for name, raw in contact.fields.items():
        value = plain_value(raw)
        if value is None:
            continue  # null cannot clear a field in a bulk import; sending it is noise
        if name in TOP_LEVEL:
            attributes[name] = value
        else:
            properties[name] = value
    if properties:
        attributes["properties"] = properties
    return attributes


def payload_email(payload: Any, depth: int = 0) -> str:
    """The email inside an import error's ``original_payload``, wherever it sits."""
    if depth > 4 or not isinstance(payload, dict):
        return ""
    email = payload.get("email")
    if isinstance(email, str) and email:
        return email.strip().lower()
    for value in payload.values():
        found = payload_email(value, depth + 1)
        if found:
            return found
    return ""
