"""Klaviyo list endpoints: find and create lists, read members (profiles or just ids,
cursor-paged), add and remove members by profile id (≤ 1000 per call, no consent change)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.klaviyo.account import KlaviyoState, KList, now_iso
from connector.emulator.klaviyo.jsonapi import (
    additional,
    invalid,
    jsonapi,
    matches,
    no_content,
    not_found,
    page,
    parse_filter,
    sparse,
    window,
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
    state = ctx.state
    filters = parse_filter(request, MEMBER_FILTERS)
    if filters:
        members = [
            (pid, joined)
            for pid, joined in members
            if matches(
                filters,
                {
                    "email": state.profiles[pid].email,
                    "phone_number": state.profiles[pid].phone_number,
                    "profile_id": pid,
                    "joined_group_at": joined,
                },
            )
        ]
    if request.query_params.get("sort") == "-joined_group_at":
        members = list(reversed(members))
    current = page(request, len(members), default=20, maximum=100, base=ctx.base_url)
    chosen = window(members, current)
    data: list[dict[str, Any]]
    if ids_only:
        data = [{"type": "profile", "id": pid} for pid, _ in chosen]
    else:
        subscriptions = additional(request, "profile", "subscriptions")
        data = [
            sparse(
                profile_json(
                    state.profiles[pid],
                    ctx.base_url,
                    subscriptions=subscriptions,
                    joined_group_at=joined,
                ),
                request,
                "profile",
            )
            for pid, joined in chosen
        ]
    return jsonapi({"data": data, "links": current.links})


class ListHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    def _list(self, request: Request) -> KList:
        list_id = request.path_params["id"]
        found = self.ctx.state.lists.get(list_id)
        if found is None:
            raise not_found(f"A list with id {list_id} does not exist.")
        return found

    async def get_lists(self, request: Request) -> Response:
        state = self.ctx.state
        state.tick()
        filters = parse_filter(request, LIST_FILTERS)
        with state.lock:
            found = [
                li
                for li in state.lists.values()
                if matches(
                    filters,
                    {"name": li.name, "id": li.id, "created": li.created, "updated": li.updated},
                )
            ]
            found = _sorted(found, request.query_params.get("sort"))
            current = page(request, len(found), default=10, maximum=10, base=self.ctx.base_url)
            data = [
                sparse(list_json(li, self.ctx.base_url), request, "list")
                for li in window(found, current)
            ]
        return jsonapi({"data": data, "links": current.links})

    async def create_list(self, request: Request) -> Response:
        body = checked_body(request)
        attributes = body["data"]["attributes"]
        name = attributes["name"].strip()
        if not name:
            raise invalid("A list name is required.", pointer="/data/attributes/name")
        with self.ctx.state.lock:
            created = self.ctx.state.add_list(name)
            if attributes.get("opt_in_process"):
                created.opt_in_process = attributes["opt_in_process"]
            data = list_json(created, self.ctx.base_url)
        return jsonapi({"data": data, "links": {"self": data["links"]["self"]}}, status=201)

    async def get_list(self, request: Request) -> Response:
        self.ctx.state.tick()
        with self.ctx.state.lock:
            found = self._list(request)
            data = sparse(
                list_json(
                    found,
                    self.ctx.base_url,
                    profile_count=additional(request, "list", "profile_count"),
                ),
                request,
                "list",
            )
        return jsonapi({"data": data, "links": {"self": data["links"]["self"]}})

    async def list_profiles(self, request: Request) -> Response:
        return await self._members(request, ids_only=False)

    async def list_relationships(self, request: Request) -> Response:
        return await self._members(request, ids_only=True)

    async def _members(self, request: Request, *, ids_only: bool) -> Response:
        self.ctx.state.tick()
        with self.ctx.state.lock:
            found = self._list(request)
            return member_page(self.ctx, request, list(found.members.items()), ids_only=ids_only)

    async def add_members(self, request: Request) -> Response:
        return await self._change(request, "list-members-add", add=True)

    async def remove_members(self, request: Request) -> Response:
        return await self._change(request, "list-members-delete", add=False)

    async def _change(self, request: Request, model: str, *, add: bool) -> Response:
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
        with state.lock:
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
