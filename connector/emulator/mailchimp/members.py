"""Mailchimp contact endpoints: ping, audiences, merge fields, batch subscribe, members
and member tags.

Write semantics follow the real API, including its refusals: an existing contact in a
batch without ``update_existing`` is ERROR_CONTACT_EXISTS; subscribing an unsubscribed or
cleaned contact is "Member In Compliance State"; batch problems are per-member entries in
a 200 response, single-member problems are 400s. ``sync_tags`` really replaces a
member's tags, so a test can prove the connector never sends it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.mailchimp.account import (
    MEMBER_STATUSES,
    Audience,
    Member,
    Segment,
    is_valid_email,
    now_iso,
    subscriber_hash,
)
from connector.emulator.mailchimp.context import Context, flag, read_json
from connector.emulator.mailchimp.problems import (
    ProblemError,
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
from connector.emulator.mailchimp.writes import (
    RefusedWriteError,
    apply_profile,
    check_status_change,
    clean_merge_fields,
    set_status,
    tag_names,
)

__all__ = ["MAX_BATCH_MEMBERS", "MemberHandlers"]

MAX_BATCH_MEMBERS = 500
WRITABLE_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")


def tag_segment(ctx: Context, audience: Audience, name: str) -> Segment:
    """The tag called ``name`` (case-insensitive), created when missing."""
    return ctx.state.tag(audience.id, name)


class MemberHandlers:
    """Handlers bound to one emulator's context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- account and audiences ------------------------------------------------------
    async def ping(self, request: Request) -> Response:
        return json_response({"health_status": "Everything's Chimpy!"})

    async def lists(self, request: Request) -> Response:
        paging = page_params(request)
        count, offset = paging
        with self.ctx.state.lock:
            audiences = list(self.ctx.state.audiences.values())
            body = collection(
                "lists",
                audiences,
                offset,
                count,
                lambda a: audience_json(a, self.ctx.base_url),
                constraints={
                    "may_create": False,
                    "max_instances": 1,
                    "current_total_instances": len(audiences),
                },
            )
        return json_response(filter_fields(body, request))

    async def get_list(self, request: Request) -> Response:
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            body = audience_json(audience, self.ctx.base_url)
        return json_response(filter_fields(body, request))

    async def merge_fields(self, request: Request) -> Response:
        paging = page_params(request)
        count, offset = paging
        kind = request.query_params.get("type")
        with self.ctx.state.lock:
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
        body = await read_json(request)
        members = body.get("members")
        if not isinstance(members, list):
            raise invalid_resource(
                [{"field": "members", "message": "Required property members not found"}]
            )
        if len(members) > MAX_BATCH_MEMBERS:
            raise invalid_resource(
                [
                    {
                        "field": "members",
                        "message": f"Schema describes array, should have at most "
                        f"{MAX_BATCH_MEMBERS} elements (found {len(members)})",
                    }
                ]
            )
        update_existing = body.get("update_existing") is True
        sync_tags = body.get("sync_tags") is True
        skip_merge = flag(request, "skip_merge_validation")
        skip_duplicates = flag(request, "skip_duplicate_check")
        new: list[Member] = []
        updated: list[Member] = []
        errors: list[dict[str, str]] = []
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            seen: set[str] = set()
            for entry in members:
                email = entry.get("email_address") if isinstance(entry, dict) else None
                shown = email if isinstance(email, str) else ""
                try:
                    if not isinstance(entry, dict):
                        raise RefusedWriteError("Member data must be an object")
                    key = shown.lower()
                    if key in seen and not skip_duplicates:
                        raise RefusedWriteError(
                            f"{shown} is listed more than once in this request."
                        )
                    seen.add(key)
                    member, created = self._batch_one(
                        audience, entry, update_existing, sync_tags, skip_merge
                    )
                except RefusedWriteError as exc:
                    errors.append(exc.as_batch_entry(shown))
                    continue
                (new if created else updated).append(member)
            base = self.ctx.base_url
            payload = {
                "new_members": [member_json(audience, m, base) for m in new],
                "updated_members": [member_json(audience, m, base) for m in updated],
                "errors": errors,
                "total_created": len(new),
                "total_updated": len(updated),
                "error_count": len(errors),
                "_links": [],
            }
        return json_response(filter_fields(payload, request))

    def _batch_one(
        self,
        audience: Audience,
        entry: dict[str, Any],
        update_existing: bool,
        sync_tags: bool,
        skip_merge: bool,
    ) -> tuple[Member, bool]:
        """Apply one batch entry; (member, created). Nothing changes when it raises."""
        email = entry.get("email_address")
        if not is_valid_email(email):
            raise RefusedWriteError(f"{email} is an invalid email address and cannot be imported.")
        assert isinstance(email, str)
        status = entry.get("status")
        status_if_new = entry.get("status_if_new")
        for name, value in (("status", status), ("status_if_new", status_if_new)):
            if value is not None and value not in WRITABLE_STATUSES:
                raise RefusedWriteError(
                    f"Invalid {name} {value!r}", field=name, field_message="Invalid value"
                )
        existing = audience.members.get(subscriber_hash(email))
        if existing is not None and existing.status == "archived":
            existing = None  # archived contacts come back as new ones
        if existing is not None and not update_existing:
            raise RefusedWriteError(
                f"{email} is already a list member, do you want to update? please provide "
                "update_existing:true in the request body",
                code="ERROR_CONTACT_EXISTS",
            )
        merge = clean_merge_fields(
            self.ctx,
            audience,
            entry.get("merge_fields"),
            new=existing is None,
            skip_validation=skip_merge,
        )
        tags = tag_names(entry) if ("tags" in entry or sync_tags) else []
        if existing is None:
            # status wins over status_if_new for a new contact; the contract check has made
            # sure one of them is there
            created_as = status or status_if_new
            if not isinstance(created_as, str):
                raise RefusedWriteError(
                    "Required fields were not provided: status",
                    field="status",
                    field_message="Required fields were not provided: status",
                )
            member = self._create(audience, email, created_as, entry, merge)
            self._tag(audience, member, tags, replace=sync_tags)
            return member, True
        if status is not None:
            check_status_change(existing, status)
            set_status(existing, status)
        apply_profile(existing, entry, merge)
        if tags or sync_tags:
            self._tag(audience, existing, tags, replace=sync_tags)
        return existing, False

    def _create(
        self,
        audience: Audience,
        email: str,
        status: str,
        entry: dict[str, Any],
        merge: dict[str, Any],
    ) -> Member:
        stamp = now_iso()
        member = audience.members.get(subscriber_hash(email))
        if member is None:
            member = Member(email_address=email, status=status, web_id=self.ctx.state.next_web_id())
            audience.members[member.id] = member
        member.status = status
        member.merge_fields = {}
        member.timestamp_signup = stamp
        member.timestamp_opt = stamp if status == "subscribed" else ""
        apply_profile(member, entry, merge)
        return member

    def _tag(self, audience: Audience, member: Member, names: list[str], *, replace: bool) -> None:
        wanted = {tag_segment(self.ctx, audience, n).id for n in names}
        if replace:
            for segment in audience.tags_of(member):
                if segment.id not in wanted:
                    del segment.members[member.id]
        for segment_id in wanted:
            audience.segments[segment_id].members[member.id] = None

    # -- single members -----------------------------------------------------------------
    async def list_members(self, request: Request) -> Response:
        paging = page_params(request)
        count, offset = paging
        status = request.query_params.get("status")
        if status is not None and status not in MEMBER_STATUSES:
            raise invalid_resource(
                [
                    {
                        "field": "status",
                        "message": f"Value is not one of: {', '.join(MEMBER_STATUSES)}",
                    }
                ]
            )
        with self.ctx.state.lock:
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

    async def get_member(self, request: Request) -> Response:
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            member = audience.find_member(request.path_params["subscriber_hash"])
            if member is None:
                raise not_found()
            payload = member_json(audience, member, self.ctx.base_url)
        return json_response(filter_fields(payload, request))

    async def put_member(self, request: Request) -> Response:
        body = await read_json(request)
        path_id = request.path_params["subscriber_hash"]
        email = body.get("email_address")
        missing = [k for k in ("email_address", "status_if_new") if k not in body]
        if missing:
            raise invalid_resource(
                [{"field": k, "message": f"Required property {k} not found"} for k in missing]
            )
        if not is_valid_email(email):
            raise ProblemError(400, "Invalid Resource", "Please provide a valid email address.")
        assert isinstance(email, str)
        wanted = subscriber_hash(path_id) if "@" in path_id else path_id.lower()
        if subscriber_hash(email) != wanted:
            raise ProblemError(
                400,
                "Invalid Resource",
                "The email address does not match the subscriber hash in the request path.",
            )
        status_if_new = body.get("status_if_new")
        status = body.get("status")
        for name, value in (("status_if_new", status_if_new), ("status", status)):
            if value is not None and value not in WRITABLE_STATUSES:
                raise invalid_resource(
                    [
                        {
                            "field": name,
                            "message": f"Value is not one of: {', '.join(WRITABLE_STATUSES)}",
                        }
                    ]
                )
        skip_merge = flag(request, "skip_merge_validation")
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            existing = audience.members.get(subscriber_hash(email))
            if existing is not None and existing.status == "archived":
                existing = None
            merge = clean_merge_fields(
                self.ctx,
                audience,
                body.get("merge_fields"),
                new=existing is None,
                skip_validation=skip_merge,
            )
            if existing is None:
                assert isinstance(status_if_new, str)
                member = self._create(audience, email, status_if_new, body, merge)
            else:
                if isinstance(status, str):
                    check_status_change(existing, status)
                    set_status(existing, status)
                apply_profile(existing, body, merge)
                member = existing
            payload = member_json(audience, member, self.ctx.base_url)
        return json_response(payload)

    async def patch_member(self, request: Request) -> Response:
        body = await read_json(request)
        status = body.get("status")
        if status is not None and status not in WRITABLE_STATUSES:
            raise invalid_resource(
                [
                    {
                        "field": "status",
                        "message": f"Value is not one of: {', '.join(WRITABLE_STATUSES)}",
                    }
                ]
            )
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            member = audience.find_member(request.path_params["subscriber_hash"])
            if member is None:
                raise not_found()
            merge = clean_merge_fields(
                self.ctx,
                audience,
                body.get("merge_fields"),
                new=False,
                skip_validation=True,
            )
            if isinstance(status, str):
                check_status_change(member, status)
                set_status(member, status)
            apply_profile(member, body, merge)
            payload = member_json(audience, member, self.ctx.base_url)
        return json_response(payload)

    # -- member tags --------------------------------------------------------------------
    async def member_tags(self, request: Request) -> Response:
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            member = audience.find_member(request.path_params["subscriber_hash"])
            if member is None or member.status == "archived":
                raise not_found()
            tags = audience.tags_of(member)
            payload = {
                "tags": [{"id": t.id, "name": t.name, "date_added": t.created_at} for t in tags],
                "total_items": len(tags),
                "_links": [],
            }
        return json_response(filter_fields(payload, request))

    async def update_member_tags(self, request: Request) -> Response:
        body = await read_json(request)
        tags = body.get("tags")
        errors: list[dict[str, str]] = []
        if not isinstance(tags, list):
            errors.append({"field": "tags", "message": "Required property tags not found"})
        else:
            for index, tag in enumerate(tags):
                ok = (
                    isinstance(tag, dict)
                    and isinstance(tag.get("name"), str)
                    and tag["name"].strip()
                    and tag.get("status") in ("active", "inactive")
                )
                if not ok:
                    errors.append(
                        {
                            "field": f"tags.item:{index}",
                            "message": "Each tag needs a name and a status of active or inactive",
                        }
                    )
        if errors:
            raise invalid_resource(errors)
        assert isinstance(tags, list)
        syncing = body.get("is_syncing") is True
        with self.ctx.state.lock:
            audience = self.ctx.audience(request)
            member = audience.find_member(request.path_params["subscriber_hash"])
            if member is None or member.status == "archived":
                raise not_found()
            for tag in tags:
                name = tag["name"].strip()
                if tag["status"] == "active":
                    segment = tag_segment(self.ctx, audience, name)
                    if member.id not in segment.members and not syncing:
                        self.ctx.state.automation_triggers += 1
                    segment.members[member.id] = None
                else:
                    found = audience.find_segment_by_name(name)
                    if found is not None and found.type == "static":
                        found.members.pop(member.id, None)
        return no_content()
