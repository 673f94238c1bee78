"""Masking of secrets and member emails in anything the daemon writes or serves.

One ``Redactor`` is the last line of defence for log lines, HTTP responses and the status
page: it replaces the configured secret values (API keys, the trigger token) wherever they
appear, anything shaped like a Mailchimp or Klaviyo key or an HTTP credential, and email
addresses (customer data stays out of logs and pages; counts are enough there).

    >>> Redactor(["s3cret-value"]).text("key s3cret-value for a@b.example")
    'key ********** for <email>'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from functools import cache
from typing import Any

from pydantic import SecretStr

__all__ = ["MASK", "Redactor", "secrets_of"]

MASK = "**********"

_CREDENTIAL = r"[A-Za-z0-9._~+/=-]{8,}"  # prose words after "token:" are left alone


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    # each ESP's key shapes come from its settings section, which the settings take from the
    # ESP registry (loading the planner's and the store's modules): read when the first
    # text is redacted, so a command's --help stays light
    from connector.settings import ESP_SECTIONS  # noqa: PLC0415

    schemes = "|".join(
        ["bearer", "basic", *(re.escape(s) for esp in ESP_SECTIONS for s in esp.auth_schemes)]
    )
    return (
        # each ESP's key shapes (its settings section declares them)
        *((re.compile(pattern), MASK) for esp in ESP_SECTIONS for pattern in esp.key_patterns),
        # credentials in an Authorization header, however they got into a message
        (re.compile(rf"(?i)\b({schemes})(\s+){_CREDENTIAL}"), rf"\1\2{MASK}"),
        # key=value and "key": "value" shapes
        (
            re.compile(
                rf"(?i)\b(api[_-]?key|token|password|secret)(\"?\s*[=:]\s*\"?){_CREDENTIAL}"
            ),
            rf"\1\2{MASK}",
        ),
        (re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),  # user:password@host
        (re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "<email>"),
    )


def secrets_of(*values: SecretStr | str | None) -> list[str]:
    """The plain values of the given secrets (unset ones and very short ones left out)."""
    plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
    # a one- or two-character "secret" would mask half of every line; no real key is that short
    return [v for v in plain if v and len(v) >= 4]


class Redactor:
    """Replaces secrets and emails in strings and, recursively, in containers of them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        for pattern, replacement in _patterns():
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it redacted (dicts, lists and tuples too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, SecretStr):
            return MASK
        return value

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> dict[str, Any]:
        """A structlog processor (put it right before the renderer)."""
        return {key: self.value(v) for key, v in event_dict.items()}
