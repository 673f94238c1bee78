"""Mailchimp tag and segment endpoints: list, create, read, update, delete, bulk
membership changes, members (computed for saved segments) and tag search."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Handlers, checked_body
from connector.emulator.common.values import now_iso
from connector.emulator.mailchimp.account import Audience, Member, Segment
from connector.emulator.mailchimp.conditions import segment_member_list, validate_options
from connector.emulator.mailchimp.context import Context, flag
from connector.emulator.mailchimp.problems import (
    ProblemError,
    bad_request,
    invalid_resource,
    json_response,
    no_content,
    not_found,
)
from connector.emulator.mailchimp.serialize import (
    collection,
    filter_fields,
    member_json,
    page_params,
    segment_json,
)

__all__ = ["SegmentHandlers"]

DEFAULT_STATUSES = ("subscribed", "pending")


def _visible_statuses(request: Request) -> set[str]:
    """Statuses the segment members endpoint lists, given the ``include_*`` flags."""
    statuses = set(DEFAULT_STATUSES)
    for status, name in (
        ("cleaned", "include_cleaned"),
        ("unsubscribed", "include_unsubscribed"),
        ("transactional", "include_transactional"),
    ):
        if flag(request, name):
            statuses.add(status)
    return statuses


def _name(body: dict[str, Any]) -> str:
    """The segment name of a body (the contract made it a string), or the API's 400."""
    name: str = body["name"].strip()
    if not name:
        raise invalid_resource([{"field": "name", "message": "Required property name not found"}])
    return name


def _check_unique(audience: Audience, name: str, segment: Segment | None) -> None:
    clash = audience.find_segment_by_name(name)
    if clash is not None and clash is not segment:
        raise bad_request(f'A segment or tag named "{name}" already exists in this audience.')


def _static_problem(segment_id: object) -> ProblemError:
    # Mailchimp answers this for unknown ids and for saved segments alike.
    return bad_request(f"A Static Segment with an id of {segment_id} does not exist for this list.")


class SegmentHandlers(Handlers[Context]):
    """Handlers bound to one emulator's context."""

    def _json(self, audience: Audience, segment: Segment) -> dict[str, Any]:
        count = len(segment_member_list(audience, segment, DEFAULT_STATUSES))
        return segment_json(audience, segment, count, self.ctx.base_url)

    def _segment(self, audience: Audience, request: Request) -> Segment | None:
        raw = request.path_params["segment_id"]
        return audience.segments.get(int(raw)) if str(raw).isdigit() else None

    async def list_segments(self, request: Request) -> Response:
        count, offset = page_params(request)
        kind = request.query_params.get("type")
        if kind is not None and kind not in ("saved", "static", "fuzzy"):
            raise invalid_resource(
                [{"field": "type", "message": "Value is not one of: saved, static, fuzzy"}]
            )
        audience = self.ctx.audience(request)
        found = [s for s in audience.segments.values() if kind is None or s.type == kind]
        payload = collection(
            "segments",
            found,
            offset,
            count,
            lambda s: self._json(audience, s),
            list_id=audience.id,
        )
        return json_response(filter_fields(payload, request))

    async def create_segment(self, request: Request) -> Response:
        body = checked_body(request)
        name = _name(body)
        if ("static_segment" in body) == ("options" in body):
            raise bad_request('Must provide either an "options" field or a "static_segment" field')
        audience = self.ctx.audience(request)
        _check_unique(audience, name, None)
        segment = Segment(id=self.ctx.state.next_segment_id(), name=name, type="static")
        if "static_segment" in body:
            for email in body["static_segment"]:
                member = audience.find_member(email)
                if member is not None and member.status != "archived":
                    segment.members[member.id] = None
        else:
            segment.type, segment.match = "saved", "any"
            self._set_conditions(audience, segment, body["options"])
        audience.segments[segment.id] = segment
        payload = self._json(audience, segment)
        return json_response(payload)

    def _set_conditions(self, audience: Audience, segment: Segment, options: Any) -> None:
        errors = validate_options(options, audience, self.ctx.options.max_conditions)
        if errors:
            raise invalid_resource(errors)
        segment.match = options.get("match", segment.match)
        segment.conditions = list(options["conditions"])

    async def get_segment(self, request: Request) -> Response:
        audience = self.ctx.audience(request)
        segment = self._segment(audience, request)
        if segment is None:
            raise not_found()
        payload = self._json(audience, segment)
        return json_response(filter_fields(payload, request))

    async def update_segment(self, request: Request) -> Response:
        body = checked_body(request)
        name = _name(body)
        audience = self.ctx.audience(request)
        segment = self._segment(audience, request)
        if segment is None:
            raise not_found()
        _check_unique(audience, name, segment)
        if "options" in body:
            if segment.type != "saved":
                raise bad_request("Cannot add conditions to a static segment.")
            self._set_conditions(audience, segment, body["options"])
        if "static_segment" in body:
            if segment.type != "static":
                raise _static_problem(segment.id)
            # PATCH with static_segment replaces the whole membership, like the API.
            found = (audience.find_member(e) for e in body["static_segment"])
            segment.members = {m.id: None for m in found if m is not None}
        segment.name = name
        segment.updated_at = now_iso()
        payload = self._json(audience, segment)
        return json_response(payload)

    async def delete_segment(self, request: Request) -> Response:
        audience = self.ctx.audience(request)
        segment = self._segment(audience, request)
        if segment is None:
            raise not_found()
        del audience.segments[segment.id]
        return no_content()

    async def batch_members(self, request: Request) -> Response:
        body = checked_body(request)
        to_add, to_remove = body.get("members_to_add", []), body.get("members_to_remove", [])
        audience = self.ctx.audience(request)
        segment = self._segment(audience, request)
        if segment is None or segment.type != "static":
            raise _static_problem(request.path_params["segment_id"])
        added, missing_add = self._resolve(audience, to_add)
        removed, missing_remove = self._resolve(audience, to_remove)
        added = [m for m in added if m.id not in segment.members]
        removed = [m for m in removed if m.id in segment.members]
        for member in added:
            segment.members[member.id] = None
        for member in removed:
            del segment.members[member.id]
        if added or removed:
            segment.updated_at = now_iso()
        errors = [
            {"email_addresses": emails, "error": "Email address is not a list member"}
            for emails in (missing_add, missing_remove)
            if emails
        ]
        base = self.ctx.base_url
        payload = {
            "members_added": [member_json(audience, m, base) for m in added],
            "members_removed": [member_json(audience, m, base) for m in removed],
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(missing_add) + len(missing_remove),
            "_links": [],
        }
        return json_response(filter_fields(payload, request))

    @staticmethod
    def _resolve(audience: Audience, emails: list[str]) -> tuple[list[Member], list[str]]:
        """Members for the emails (each once), and the emails that are not on the list."""
        found: dict[str, Member] = {}
        missing: list[str] = []
        for email in emails:
            member = audience.find_member(email) if "@" in email else None
            if member is None or member.status == "archived":
                missing.append(email)
            else:
                found.setdefault(member.id, member)
        return list(found.values()), missing

    async def segment_members(self, request: Request) -> Response:
        count, offset = page_params(request)
        statuses = _visible_statuses(request)
        audience = self.ctx.audience(request)
        segment = self._segment(audience, request)
        if segment is None:
            raise not_found()
        found = segment_member_list(audience, segment, statuses)
        payload = collection(
            "members",
            found,
            offset,
            count,
            lambda m: member_json(audience, m, self.ctx.base_url),
        )
        return json_response(filter_fields(payload, request))

    async def tag_search(self, request: Request) -> Response:
        prefix = request.query_params.get("name", "").strip().lower()
        audience = self.ctx.audience(request)
        tags = [
            {"id": s.id, "name": s.name}
            for s in audience.segments.values()
            if s.type == "static" and s.name.lower().startswith(prefix)
        ]
        return json_response(filter_fields({"tags": tags, "total_items": len(tags)}, request))
