"""Mailchimp contact endpoints: ping, audiences, merge fields, batch subscribe, members
and member tags.

The contract (``contract.py``) has checked each body before these run. Write semantics
follow the real API, including its refusals: an existing contact in a batch without
``update_existing`` is ERROR_CONTACT_EXISTS; subscribing an unsubscribed or cleaned
contact is "Member In Compliance State"; batch problems are per-member entries in a 200
response, single-member problems are 400s. ``sync_tags`` really replaces a member's tags,
so a test can prove the connector never sends it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import Handlers, checked_body
from connector.emulator.common.values import is_valid_email
from connector.emulator.mailchimp.account import (
    MEMBER_STATUSES,
    Member,
    subscriber_hash,
)
from connector.emulator.mailchimp.context import Context, flag
from connector.emulator.mailchimp.problems import (
    bad_request,
    invalid_resource,
    json_response,
    no_content,
    not_found,
)
from connector.emulator.mailchimp.serialize import (
    audience_json,
    collection,
    filter_fields,
    member_json,
    merge_field_json,
    page_params,
)
from connector.emulator.mailchimp.writes import RefusedWriteError, live_member, write_member

__all__ = ["MemberHandlers"]


class MemberHandlers(Handlers[Context]):
    """Handlers bound to one emulator's context."""

    # -- account and audiences ------------------------------------------------------
    async def ping(self, request: Request) -> Response:
        return json_response({"health_status": "Everything's Chimpy!"})

    async def lists(self, request: Request) -> Response:
        count, offset = page_params(request)
        audiences = list(self.ctx.state.audiences.values())
        limits = {"may_create": False, "max_instances": 1}
        body = collection(
            "lists",
            audiences,
            offset,
            count,
            lambda a: audience_json(a, self.ctx.base_url),
            constraints={**limits, "current_total_instances": len(audiences)},
        )
        return json_response(filter_fields(body, request))

    async def get_list(self, request: Request) -> Response:
        body = audience_json(self.ctx.audience(request), self.ctx.base_url)
        return json_response(filter_fields(body, request))

    async def merge_fields(self, request: Request) -> Response:
        count, offset = page_params(request)
        kind = request.query_params.get("type")
        audience = self.ctx.audience(request)
        fields = [m for m in audience.merge_fields if kind is None or m.type == kind]
        if "required" in request.query_params:
            fields = [m for m in fields if m.required == flag(request, "required")]
        body = collection(
            "merge_fields",
            fields,
            offset,
            count,
            lambda m: merge_field_json(audience, m, self.ctx.base_url),
            list_id=audience.id,
        )
        return json_response(filter_fields(body, request))

    # -- batch subscribe ----------------------------------------------------------------
    async def batch_subscribe(self, request: Request) -> Response:
        body = checked_body(request)
        update_existing = body.get("update_existing") is True
        skip_duplicates = flag(request, "skip_duplicate_check")
        done: dict[bool, list[Member]] = {True: [], False: []}  # created? -> members
        errors: list[dict[str, str]] = []
        audience = self.ctx.audience(request)
        seen: set[str] = set()
        for entry in body["members"]:
            email: str = entry["email_address"]
            try:
                if email.lower() in seen and not skip_duplicates:
                    raise RefusedWriteError(f"{email} is listed more than once in this request.")
                seen.add(email.lower())
                if not is_valid_email(email):
                    raise RefusedWriteError(
                        f"{email} is an invalid email address and cannot be imported."
                    )
                existing = live_member(audience, email)
                if existing is not None and not update_existing:
                    raise RefusedWriteError(
                        f"{email} is already a list member, do you want to update? please "
                        "provide update_existing:true in the request body",
                        code="ERROR_CONTACT_EXISTS",
                    )
                # status wins over status_if_new for a new contact
                member = write_member(
                    self.ctx,
                    audience,
                    entry,
                    existing,
                    entry.get("status") or entry.get("status_if_new"),
                    skip_merge=flag(request, "skip_merge_validation"),
                    with_tags=True,
                    sync_tags=body.get("sync_tags") is True,
                )
            except RefusedWriteError as exc:
                errors.append(exc.as_batch_entry(email))
                continue
            done[existing is None].append(member)
        base = self.ctx.base_url
        payload = {
            "new_members": [member_json(audience, m, base) for m in done[True]],
            "updated_members": [member_json(audience, m, base) for m in done[False]],
            "errors": errors,
            "total_created": len(done[True]),
            "total_updated": len(done[False]),
            "error_count": len(errors),
            "_links": [],
        }
        return json_response(filter_fields(payload, request))

    # -- single members -----------------------------------------------------------------
    async def list_members(self, request: Request) -> Response:
        count, offset = page_params(request)
        status = request.query_params.get("status")
        if status is not None and status not in MEMBER_STATUSES:
            message = f"Value is not one of: {', '.join(MEMBER_STATUSES)}"
            raise invalid_resource([{"field": "status", "message": message}])
        audience = self.ctx.audience(request)
        found = [
            m
            for m in audience.members.values()
            if (m.status == status if status else m.status != "archived")
        ]
        payload = collection(
            "members",
            found,
            offset,
            count,
            lambda m: member_json(audience, m, self.ctx.base_url),
            list_id=audience.id,
        )
        return json_response(filter_fields(payload, request))

    def _member(self, request: Request, *, archived: bool = True) -> Member:
        """The member the path names (hash or email), or the API's 404."""
        member = self.ctx.audience(request).find_member(request.path_params["subscriber_hash"])
        if member is None or (member.status == "archived" and not archived):
            raise not_found()
        return member

    async def get_member(self, request: Request) -> Response:
        payload = member_json(self.ctx.audience(request), self._member(request), self.ctx.base_url)
        return json_response(filter_fields(payload, request))

    async def put_member(self, request: Request) -> Response:
        body = checked_body(request)
        email = body["email_address"]
        if not is_valid_email(email):
            raise bad_request("Please provide a valid email address.")
        path_id = request.path_params["subscriber_hash"]
        if subscriber_hash(email) != (
            subscriber_hash(path_id) if "@" in path_id else path_id.lower()
        ):
            raise bad_request(
                "The email address does not match the subscriber hash in the request path."
            )
        audience = self.ctx.audience(request)
        existing = live_member(audience, email)
        member = write_member(
            self.ctx,
            audience,
            body,
            existing,
            body["status_if_new"],
            skip_merge=flag(request, "skip_merge_validation"),
        )
        payload = member_json(audience, member, self.ctx.base_url)
        return json_response(filter_fields(payload, request))

    async def patch_member(self, request: Request) -> Response:
        body = checked_body(request)
        audience = self.ctx.audience(request)
        member = write_member(self.ctx, audience, body, self._member(request), None)
        payload = member_json(audience, member, self.ctx.base_url)
        return json_response(filter_fields(payload, request))

    # -- member tags --------------------------------------------------------------------
    async def member_tags(self, request: Request) -> Response:
        audience = self.ctx.audience(request)
        tags = audience.tags_of(self._member(request, archived=False))
        payload = {
            "tags": [{"id": t.id, "name": t.name, "date_added": t.created_at} for t in tags],
            "total_items": len(tags),
            "_links": [],
        }
        return json_response(filter_fields(payload, request))

    async def update_member_tags(self, request: Request) -> Response:
        body = checked_body(request)
        blank = [i for i, tag in enumerate(body["tags"]) if not tag["name"].strip()]
        if blank:
            message = "Each tag needs a name and a status of active or inactive"
            raise invalid_resource([{"field": f"tags.item:{i}", "message": message} for i in blank])
        syncing = body.get("is_syncing") is True
        audience = self.ctx.audience(request)
        member = self._member(request, archived=False)
        for tag in body["tags"]:
            name = tag["name"].strip()
            if tag["status"] == "active":
                segment = self.ctx.state.tag(audience.id, name)
                if member.id not in segment.members and not syncing:
                    self.ctx.state.automation_triggers += 1
                segment.members[member.id] = None
            else:
                found = audience.find_segment_by_name(name)
                if found is not None and found.type == "static":
                    found.members.pop(member.id, None)
        return no_content()
