"""Klaviyo account and profile endpoints: ``GET /api/accounts``, ``GET /api/profiles``
(filter ``any(email,[...])`` and friends, page size ≤ 100) and ``GET /api/profiles/{id}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.klaviyo.context import Context, additional, filter_problem
from connector.emulator.klaviyo.jsonapi import (
    FilterError,
    invalid,
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
            # an email filter is answered from the email index (a look-up per request
            # must not scan every profile: segsync looks 100 emails up at a time)
            by_email = next(
                (t for t in filters if t.field == "email" and t.op in ("equals", "any")), None
            )
            candidates = (
                state.profiles.values()
                if by_email is None
                else state.profiles_with_emails(
                    by_email.value if isinstance(by_email.value, list) else [by_email.value]
                )
            )
            found = [
                p
                for p in candidates
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

    async def import_profile(self, request: Request) -> Response:
        """``POST /api/profile-import``: create or update one profile by its identifiers
        (what a one-call-per-member script uses); never touches consent."""
        state = self.ctx.state
        state.tick()
        try:
            body = await request.json()
            data = body["data"]
            attributes = dict(data["attributes"])
        except (ValueError, KeyError, TypeError):
            return invalid("The request body must be a profile resource object.", pointer="/data")
        if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
            return invalid("A profile needs an email, phone number or external id.")
        with state.lock:
            existed = state.find_profile(
                id=data.get("id"),
                email=attributes.get("email"),
                external_id=attributes.get("external_id"),
                phone_number=attributes.get("phone_number"),
            )
            profile = state.upsert(attributes, data.get("id"))
            payload = profile_json(profile, self.ctx.base_url)
        return jsonapi({"data": payload}, status=200 if existed else 201)

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
