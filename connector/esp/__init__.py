"""ESP adapters: what the reconciler calls to change Mailchimp and Klaviyo.

    base.py              EspAdapter base class, EspLimits, EspObject, Contact, results
    spec.py              EspSpec: one ESP as the rest of segsync sees it
    emulated.py          EspEmulator: the hooks the demo and ``segsync emulator`` run
    registry.py          ESPS by name; destination_models, capabilities_for,
                         render_native, adapter_for
    mailchimp/           everything Mailchimp: destination model, adapter
                         (mailchimp-marketing SDK), client, errors, capabilities, native
                         segments, plan display, emulator hooks, factory
    klaviyo/             everything Klaviyo: destination model, adapter (klaviyo-api SDK),
                         client, errors, bulk imports, request shapes, the email → profile
                         id map, capabilities, native segments, plan display, emulator
                         hooks, factory
    http_client.py       the one httpx.Client per adapter: gates, counts, response checks
    retry.py             the one tenacity policy
    ratelimit.py         per-account concurrency and rate windows shared by all threads
    budget/              the same limits shared by processes through the state store's
                         database (leased connection slots, token grants)
    status.py            HTTP status → error class
    values.py            field values as plain JSON

Errors raised are the ``connector.errors`` tree (``EspAuthError``, ``RateLimitedError``, …);
no message, repr or log record contains an API key. Importing this package loads no SDK:
an adapter's SDK loads when the registry first builds that adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.esp.base import (
        Contact,
        ContactsResult,
        EspAdapter,
        EspLimits,
        EspObject,
        MembershipResult,
    )

__all__ = [
    "Contact",
    "ContactsResult",
    "EspAdapter",
    "EspLimits",
    "EspObject",
    "MembershipResult",
]


def __getattr__(name: str) -> Any:
    """The adapters' types load on first use: reading ``destinations.yaml`` through the
    registry needs none of them (``tests/cli/test_lazy_commands.py``)."""
    if name in __all__:
        from connector.esp import base  # noqa: PLC0415

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
