"""ESP adapters: what the reconciler calls to change Mailchimp and Klaviyo.

    base.py              EspAdapter protocol, EspLimits, EspObject, Contact, results
    factory.py           ADAPTERS registry, adapter_for(destination, settings)
    mailchimp.py         MailchimpAdapter (mailchimp-marketing SDK)
    mailchimp_client.py  the SDK's ApiClient sending through our transport
    mailchimp_errors.py  problem+json messages, per-member error classification
    klaviyo.py           KlaviyoAdapter (klaviyo-api SDK)
    klaviyo_client.py    the SDK's REST client replaced by our transport, retry off
    klaviyo_errors.py    JSON:API error messages, import errors
    klaviyo_imports.py   bulk profile import jobs (submit, poll, refused profiles)
    klaviyo_shapes.py    routes, rate tiers, request/response shapes
    klaviyo_ids.py       the email → profile id map
    transport.py         the one httpx.Client per adapter: gates, counts, response checks
    retry.py             the one tenacity policy
    ratelimit.py         per-account concurrency and rate windows shared by all threads
    status.py            HTTP status → error class
    values.py            field values as plain JSON

Errors raised are the ``connector.errors`` tree (``EspAuthError``, ``RateLimitedError``, …);
no message, repr or log record contains an API key.
"""

from __future__ import annotations

from connector.esp.base import (
    KLAVIYO_LIMITS,
    MAILCHIMP_LIMITS,
    Contact,
    ContactsResult,
    EspAdapter,
    EspLimits,
    EspObject,
    MembershipResult,
)
from connector.esp.factory import ADAPTERS, adapter_for
from connector.esp.klaviyo import KlaviyoAdapter
from connector.esp.mailchimp import MailchimpAdapter

__all__ = [
    "ADAPTERS",
    "KLAVIYO_LIMITS",
    "MAILCHIMP_LIMITS",
    "Contact",
    "ContactsResult",
    "EspAdapter",
    "EspLimits",
    "EspObject",
    "KlaviyoAdapter",
    "MailchimpAdapter",
    "MembershipResult",
    "adapter_for",
]
