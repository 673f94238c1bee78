"""ESP adapters: what the reconciler calls to change Mailchimp and Klaviyo.

    base.py              EspAdapter protocol, EspLimits, EspObject, Contact, results
    factory.py           ADAPTERS registry, adapter_for(destination, settings)
    mailchimp.py         MailchimpAdapter (mailchimp-marketing SDK)
    klaviyo.py           KlaviyoAdapter (klaviyo-api SDK)
    transport.py         the one httpx.Client per adapter: gates, counts, response checks
    retry.py             the one tenacity policy
    ratelimit.py         per-account concurrency and rate windows shared by all threads
    status.py            HTTP status → error class
    mailchimp_errors.py / klaviyo_errors.py   messages and per-member errors of each ESP

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
