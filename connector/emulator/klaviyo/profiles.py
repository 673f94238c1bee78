"""Klaviyo account and profile endpoints: ``GET /api/accounts``, ``GET /api/profiles``
(filter ``any(email,[...])`` and friends, page size ≤ 100) and ``GET /api/profiles/{id}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.klaviyo.context import Context, additional, filter_problem
from connector.emulator.klaviyo.jsonapi import (
    FilterError,
    jsonapi,
    matches,
    not_found,
    page,
    parse_filter,
    sparse,
    window,
)
from connector.emulator.klaviyo.serialize import account_json, profile_json

__all__ = ["ProfileHandlers"]

_IDENTITY_OPS = ("any", "equals")
PROFILE_FILTERS = {
    "id": _IDENTITY_OPS,
    "email": _IDENTITY_OPS,
    "phone_number": _IDENTITY_OPS,
    "external_id": _IDENTITY_OPS,
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
}


class ProfileHandlers:
    """Handlers bound to one emulator's context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def accounts(self, request: Request) -> Response:
        base = self.ctx.base_url
        return jsonapi(
            {
                "data": [account_json(self.ctx.state.account_id, base)],
                "links": {"self": f"{base}/api/accounts/"},
            }
        )

    async def list_profiles(self, request: Request) -> Response:
        state = self.ctx.state
        state.tick()
        try:
            filters = parse_filter(request.query_params.get("filter"), PROFILE_FILTERS)
        except FilterError as exc:
            return filter_problem(exc)
        with state.lock:
            found = [
                p
                for p in state.profiles.values()
                if matches(
                    filters,
                    {
                        "id": p.id,
                        "email": p.email,
                        "phone_number": p.phone_number,
                        "external_id": p.external_id,
                        "created": p.created,
                        "updated": p.updated,
                    },
                )
            ]
            current = page(request, len(found), default=20, maximum=100, base=self.ctx.base_url)
            if isinstance(current, Response):
                return current
            subscriptions = additional(request, "profile", "subscriptions")
            data = [
                sparse(
                    profile_json(p, self.ctx.base_url, subscriptions=subscriptions),
                    request,
                    "profile",
                )
                for p in window(found, current)
            ]
        return jsonapi({"data": data, "links": current.links})

    async def get_profile(self, request: Request) -> Response:
        state = self.ctx.state
        state.tick()
        profile_id = request.path_params["id"]
        with state.lock:
            profile = state.profiles.get(profile_id)
            if profile is None:
                return not_found(f"A profile with id {profile_id} does not exist.")
            subscriptions = additional(request, "profile", "subscriptions")
            data = sparse(
                profile_json(profile, self.ctx.base_url, subscriptions=subscriptions),
                request,
                "profile",
            )
        return jsonapi({"data": data, "links": {"self": data["links"]["self"]}})
