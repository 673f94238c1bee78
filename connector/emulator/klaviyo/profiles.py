"""Klaviyo account and profile endpoints: ``GET /api/accounts``, ``GET /api/profiles``
(filter ``any(email,[...])`` and friends, page size ≤ 100), ``GET``/``PATCH
/api/profiles/{id}`` and ``POST /api/profile-import``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.common.values import is_valid_email
from connector.emulator.klaviyo.account import PROFILE_FIELDS, KlaviyoState, Profile
from connector.emulator.klaviyo.jsonapi import (
    additional,
    invalid,
    jsonapi,
    listing,
    matches,
    not_found,
    parse_filter,
    resource,
    sparse,
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


class ProfileHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    def _profile(self, request: Request) -> Profile:
        profile_id = request.path_params["id"]
        profile = self.ctx.state.profiles.get(profile_id)
        if profile is None:
            raise not_found(f"A profile with id {profile_id} does not exist.")
        return profile

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
        filters = parse_filter(request, PROFILE_FILTERS)
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
        found = [p for p in candidates if matches(filters, p)]
        subscriptions = additional(request, "profile", "subscriptions")
        base = self.ctx.base_url
        return listing(
            request,
            found,
            lambda p: profile_json(p, base, subscriptions=subscriptions),
            "profile",
            base,
        )

    async def import_profile(self, request: Request) -> Response:
        """``POST /api/profile-import``: create or update one profile by its identifiers
        (what a one-call-per-member script uses); never touches consent."""
        state = self.ctx.state
        state.tick()
        body = checked_body(request)
        data = body["data"]
        attributes = dict(data["attributes"])
        if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
            raise invalid("A profile needs an email, phone number or external id.")
        existed = state.find_profile(
            id=data.get("id"),
            email=attributes.get("email"),
            external_id=attributes.get("external_id"),
            phone_number=attributes.get("phone_number"),
        )
        profile = state.upsert(attributes, data.get("id"))
        payload = profile_json(profile, self.ctx.base_url)
        return jsonapi({"data": payload}, status=200 if existed else 201)

    async def update_profile(self, request: Request) -> Response:
        """``PATCH /api/profiles/{id}``: update one profile, never create one (404). A
        standard attribute set to null is cleared; ``meta.patch_properties.unset`` removes
        custom properties; consent is never touched."""
        state = self.ctx.state
        state.tick()
        body = checked_body(request)
        profile_id = request.path_params["id"]
        data = body["data"]
        if data.get("id") != profile_id:
            raise invalid("The id in the body does not match the URL.", pointer="/data/id")
        attributes = data.get("attributes") or {}
        email = attributes.get("email")
        if email is not None and not is_valid_email(email):
            raise invalid(f"Invalid email address: {email}", pointer="/data/attributes/email")
        profile = self._profile(request)
        for name, value in attributes.items():
            if name in PROFILE_FIELDS:
                setattr(profile, name, value)
        properties = attributes.get("properties")
        if isinstance(properties, dict):
            profile.properties.update(properties)
        patch = ((data.get("meta") or {}).get("patch_properties")) or {}
        for name in patch.get("unset") or []:
            profile.properties.pop(name, None)
        state.index(profile)
        payload = profile_json(profile, self.ctx.base_url)
        return jsonapi({"data": payload})

    async def get_profile(self, request: Request) -> Response:
        self.ctx.state.tick()
        profile = self._profile(request)
        subscriptions = additional(request, "profile", "subscriptions")
        payload = profile_json(profile, self.ctx.base_url, subscriptions=subscriptions)
        return resource(sparse(payload, request, "profile"))
