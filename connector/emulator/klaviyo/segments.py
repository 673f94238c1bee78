"""Klaviyo segment endpoints: find, create (OpenAPI schema + definition checks, ≤ 100
conditions), read, update, delete, and the members a definition selects."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Context, Handlers, checked_body
from connector.emulator.common.values import now_iso
from connector.emulator.klaviyo.account import KlaviyoState, KSegment
from connector.emulator.klaviyo.definitions import segment_members, validate_definition
from connector.emulator.klaviyo.jsonapi import (
    JsonApiError,
    additional,
    error,
    invalid,
    listing,
    matches,
    no_content,
    not_found,
    parse_filter,
    refusal,
    resource,
    sparse,
)
from connector.emulator.klaviyo.lists import member_page
from connector.emulator.klaviyo.serialize import segment_json

__all__ = ["SegmentHandlers"]

SEGMENT_FILTERS = {
    "name": ("any", "equals"),
    "id": ("any", "equals"),
    "created": ("greater-than",),
    "updated": ("greater-than",),
    "is_active": ("any", "equals"),
    "is_starred": ("equals",),
}


class SegmentHandlers(Handlers[Context[KlaviyoState]]):
    """Handlers bound to one emulator's context."""

    def _segment(self, request: Request) -> KSegment:
        segment_id = request.path_params["id"]
        found = self.ctx.state.segments.get(segment_id)
        if found is None:
            raise not_found(f"A segment with id {segment_id} does not exist.")
        return found

    def _json(self, request: Request, segment: KSegment) -> dict[str, Any]:
        counted = additional(request, "segment", "profile_count")
        count = len(segment_members(self.ctx.state, segment)) if counted else None
        return segment_json(segment, self.ctx.base_url, profile_count=count)

    def _check(self, definition: dict[str, Any]) -> None:
        """The definition checks the schema cannot make (``definitions``), or the 400."""
        where = "/data/attributes/definition"
        limit = self.ctx.options.klaviyo_max_conditions
        problems = validate_definition(definition, self.ctx.state, limit, where)
        if problems:
            raise JsonApiError(
                400,
                [error(400, "invalid", "Invalid input.", d, pointer=p) for p, d in problems],
            )

    async def get_segments(self, request: Request) -> Response:
        self.ctx.state.tick()
        filters = parse_filter(request, SEGMENT_FILTERS)
        found = [s for s in self.ctx.state.segments.values() if matches(filters, s)]
        return listing(
            request,
            found,
            lambda s: self._json(request, s),
            "segment",
            self.ctx.base_url,
            default=10,
            maximum=10,
        )

    async def create_segment(self, request: Request) -> Response:
        body = checked_body(request)
        attributes = body["data"]["attributes"]
        state = self.ctx.state
        self._check(attributes["definition"])
        name = attributes["name"].strip()
        if not name:
            raise invalid("A segment name is required.", pointer="/data/attributes/name")
        created = state.add_segment(name, attributes["definition"])
        created.is_starred = bool(attributes.get("is_starred"))
        data = sparse(self._json(request, created), request, "segment")
        return resource(data, status=201)

    async def get_segment(self, request: Request) -> Response:
        self.ctx.state.tick()
        found = self._segment(request)
        data = sparse(self._json(request, found), request, "segment")
        return resource(data)

    async def update_segment(self, request: Request) -> Response:
        body = checked_body(request)
        data = body["data"]
        found = self._segment(request)
        if data.get("id") != found.id:
            raise refusal(
                409,
                "conflict",
                "Conflict.",
                "The id in the request body does not match the id in the URL.",
                pointer="/data/id",
            )
        attributes = data.get("attributes") or {}
        definition = attributes.get("definition")
        if definition is not None:
            self._check(definition)
            found.definition = definition
        if isinstance(attributes.get("name"), str) and attributes["name"].strip():
            found.name = attributes["name"].strip()
        if isinstance(attributes.get("is_starred"), bool):
            found.is_starred = attributes["is_starred"]
        if isinstance(attributes.get("is_active"), bool):
            found.is_active = attributes["is_active"]
        found.updated = now_iso()
        payload = sparse(self._json(request, found), request, "segment")
        return resource(payload)

    async def delete_segment(self, request: Request) -> Response:
        found = self._segment(request)
        del self.ctx.state.segments[found.id]
        return no_content()

    async def segment_profiles(self, request: Request) -> Response:
        return await self._members(request, ids_only=False)

    async def segment_relationships(self, request: Request) -> Response:
        return await self._members(request, ids_only=True)

    async def _members(self, request: Request, *, ids_only: bool) -> Response:
        state = self.ctx.state
        state.tick()
        found = self._segment(request)
        # The emulator has no join history for segments: joined = last update.
        members = [(pid, found.updated) for pid in segment_members(state, found)]
        return member_page(self.ctx, request, members, ids_only=ids_only)
