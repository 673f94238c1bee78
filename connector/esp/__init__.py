"""ESP adapters: what the reconciler calls to change Mailchimp and Klaviyo.

    base.py              EspAdapter protocol, EspLimits, EspObject, Contact, results
    registry.py          ADAPTERS registry, adapter_for(destination, settings)
    mailchimp/           MailchimpAdapter (mailchimp-marketing SDK), its client and errors
    klaviyo/             KlaviyoAdapter (klaviyo-api SDK), its client, errors, bulk imports,
                         request shapes and the email → profile id map
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
from connector.esp.klaviyo.adapter import KlaviyoAdapter
from connector.esp.mailchimp.adapter import MailchimpAdapter
from connector.esp.registry import ADAPTERS, adapter_for

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
