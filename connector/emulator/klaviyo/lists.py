"""Klaviyo list endpoints: find and create lists, read members (profiles or just ids,
cursor-paged), add and remove members by profile id (≤ 1000 per call, no consent change)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.common.values import now_iso
from connector.emulator.klaviyo.account import KlaviyoState, KList
from connector.emulator.klaviyo.jsonapi import (
    additional,
    invalid,
    listing,
    matches,
    no_content,
    not_found,
    parse_filter,
    resource,
    sparse,
)
from connector.emulator.klaviyo.serialize import list_json, profile_json

__all__ = ["MAX_LIST_MEMBERS", "ListHandlers", "member_page"]

MAX_LIST_MEMBERS = 1000
LIST_FILTERS = {
    "name": ("any", "equals"),
    "id": ("any", "equals"),
    "created": ("greater-than",),
    "updated": ("greater-than",),
}
MEMBER_FILTERS = {
    "email": ("any", "equals"),
    "phone_number": ("any", "equals"),
    "profile_id": ("any", "equals"),
    "joined_group_at": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
}


def member_page(
    ctx: Context[KlaviyoState], request: Request, members: list[tuple[str, str]], *, ids_only: bool
) -> Response:
    """A page of members ``(profile id, joined_group_at)``: full profiles or identifiers."""
    profiles = ctx.state.profiles
    filters = parse_filter(request, MEMBER_FILTERS)
    found = [
        SimpleNamespace(profile=profiles[pid], joined_group_at=joined)
        for pid, joined in members
        if not filters
        or matches(
            filters,
            SimpleNamespace(
                email=profiles[pid].email,
                phone_number=profiles[pid].phone_number,
                profile_id=pid,
                joined_group_at=joined,
            ),
        )
    ]
    if request.query_params.get("sort") == "-joined_group_at":
        found.reverse()
    subscriptions = additional(request, "profile", "subscriptions")

    def to_json(member: SimpleNamespace) -> dict[str, Any]:
        if ids_only:
            return {"type": "profile", "id": member.profile.id}
        return profile_json(
            member.profile,
            ctx.base_url,
            subscriptions=subscriptions,
            joined_group_at=member.joined_group_at,
        )

    return listing(request, found, to_json, "profile", ctx.base_url)


class ListHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    def _list(self, request: Request) -> KList:
        list_id = request.path_params["id"]
        found = self.ctx.state.lists.get(list_id)
        if found is None:
            raise not_found(f"A list with id {list_id} does not exist.")
        return found

    async def get_lists(self, request: Request) -> Response:
        self.ctx.state.tick()
        filters = parse_filter(request, LIST_FILTERS)
        found = [li for li in self.ctx.state.lists.values() if matches(filters, li)]
        found = _sorted(found, request.query_params.get("sort"))
        base = self.ctx.base_url
        return listing(
            request, found, lambda li: list_json(li, base), "list", base, default=10, maximum=10
        )

    async def create_list(self, request: Request) -> Response:
        body = checked_body(request)
        attributes = body["data"]["attributes"]
        name = attributes["name"].strip()
        if not name:
            raise invalid("A list name is required.", pointer="/data/attributes/name")
        created = self.ctx.state.add_list(name)
        if attributes.get("opt_in_process"):
            created.opt_in_process = attributes["opt_in_process"]
        data = list_json(created, self.ctx.base_url)
        return resource(data, status=201)

    async def get_list(self, request: Request) -> Response:
        self.ctx.state.tick()
        found = self._list(request)
        count = additional(request, "list", "profile_count")
        data = sparse(list_json(found, self.ctx.base_url, profile_count=count), request, "list")
        return resource(data)

    async def list_profiles(self, request: Request) -> Response:
        return await self._members(request, ids_only=False)

    async def list_relationships(self, request: Request) -> Response:
        return await self._members(request, ids_only=True)

    async def _members(self, request: Request, *, ids_only: bool) -> Response:
        self.ctx.state.tick()
        found = self._list(request)
        return member_page(self.ctx, request, list(found.members.items()), ids_only=ids_only)

    async def add_members(self, request: Request) -> Response:
        return await self._change(request, add=True)

    async def remove_members(self, request: Request) -> Response:
        return await self._change(request, add=False)

    async def _change(self, request: Request, *, add: bool) -> Response:
        body = checked_body(request)
        items = body["data"]
        if len(items) > MAX_LIST_MEMBERS:
            raise invalid(
                f"A maximum of {MAX_LIST_MEMBERS} profiles can be changed per request "
                f"({len(items)} given).",
                pointer="/data",
            )
        state = self.ctx.state
        state.tick()
        found = self._list(request)
        for index, item in enumerate(items):
            if item["id"] not in state.profiles:
                raise invalid(
                    f"Profile with id {item['id']} does not exist.",
                    pointer=f"/data/{index}/id",
                )
        ids = [item["id"] for item in items]
        if add:
            state.add_to_list(found.id, ids)
        else:
            removed = [pid for pid in ids if found.members.pop(pid, None) is not None]
            if removed:
                found.updated = now_iso()
        return no_content()


def _sorted(found: list[KList], sort: str | None) -> list[KList]:
    if not sort:
        return found
    key = sort.lstrip("-")
    if key not in ("created", "id", "name", "updated"):
        return found
    return sorted(found, key=lambda li: str(getattr(li, key)), reverse=sort.startswith("-"))
