"""Klaviyo's consent endpoints, implemented so tests can prove segsync never calls them.

``profile-subscription-bulk-create-jobs`` subscribes (and lifts suppressions);
``profile-subscription-bulk-delete-jobs`` unsubscribes, and without a list it suppresses
globally. Both apply at once and answer 202 with no body, like the API.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.klaviyo.jsonapi import invalid, no_content

__all__ = ["MAX_SUBSCRIBE", "MAX_UNSUBSCRIBE", "SubscriptionHandlers"]

MAX_SUBSCRIBE = 1000
MAX_UNSUBSCRIBE = 100


def _list_id(data: dict[str, Any]) -> str | None:
    relationship = (data.get("relationships") or {}).get("list") or {}
    target = relationship.get("data") or {}
    value = target.get("id")
    return value if isinstance(value, str) else None


class SubscriptionHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    async def subscribe(self, request: Request) -> Response:
        body = checked_body(request)
        data = body["data"]
        entries = data["attributes"]["profiles"]["data"]
        if len(entries) > MAX_SUBSCRIBE:
            raise invalid(
                f"A maximum of {MAX_SUBSCRIBE} profiles can be subscribed per request.",
                pointer="/data/attributes/profiles/data",
            )
        state = self.ctx.state
        list_id = _list_id(data)
        if list_id is not None and list_id not in state.lists:
            raise invalid(
                f"A list with id {list_id} does not exist.",
                pointer="/data/relationships/list/data/id",
            )
        ids = []
        for entry in entries:
            attributes = {
                k: v for k, v in (entry.get("attributes") or {}).items() if k != "subscriptions"
            }
            profile = state.upsert(attributes, entry.get("id"))
            state.set_consent(profile, "SUBSCRIBED")
            profile.suppression = None
            profile.suppressed_at = None
            ids.append(profile.id)
        if list_id is not None:
            state.add_to_list(list_id, ids)
        return no_content(202)

    async def unsubscribe(self, request: Request) -> Response:
        body = checked_body(request)
        data = body["data"]
        entries = data["attributes"]["profiles"]["data"]
        if len(entries) > MAX_UNSUBSCRIBE:
            raise invalid(
                f"A maximum of {MAX_UNSUBSCRIBE} profiles can be unsubscribed per request.",
                pointer="/data/attributes/profiles/data",
            )
        state = self.ctx.state
        list_id = _list_id(data)
        for entry in entries:
            email = (entry.get("attributes") or {}).get("email")
            profile = state.find_profile(email=email) if email else None
            if profile is None:
                continue
            state.set_consent(profile, "UNSUBSCRIBED")
            if list_id is None:
                state.suppress(profile, "UNSUBSCRIBE")
        return no_content(202)
