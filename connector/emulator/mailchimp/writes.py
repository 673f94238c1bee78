"""What a member write may do, shared by batch subscribe, PUT and PATCH: the refusals
(compliance states, bad merge fields, bad tags) and the changes Mailchimp applies."""

from __future__ import annotations

from typing import Any

from connector.emulator.common.values import now_iso
from connector.emulator.mailchimp.account import Audience, Member, subscriber_hash
from connector.emulator.mailchimp.context import Context
from connector.emulator.mailchimp.problems import ProblemError

__all__ = ["RefusedWriteError", "compliance_error", "live_member", "write_member"]


class RefusedWriteError(ProblemError):
    """A refused member write: an error entry of a batch subscribe, or a single endpoint's
    400 (rendered by the app's ``ProblemError`` handler)."""

    def __init__(
        self,
        error: str,
        *,
        code: str = "ERROR_GENERIC",
        field: str = "",
        field_message: str = "",
        title: str = "Invalid Resource",
    ) -> None:
        errors = [{"field": field, "message": field_message}] if field else None
        super().__init__(400, title, error, errors=errors)
        self.error = error
        self.code = code
        self.field = field
        self.field_message = field_message

    def as_batch_entry(self, email: str) -> dict[str, str]:
        return {
            "email_address": email,
            "error": self.error,
            "error_code": self.code,
            "field": self.field,
            "field_message": self.field_message,
        }


def compliance_error(email: str) -> RefusedWriteError:
    """The refusal to subscribe someone who unsubscribed, bounced or is under review."""
    return RefusedWriteError(
        f"{email} is in a compliance state due to unsubscribe, bounce, or compliance review "
        "and cannot be subscribed.",
        title="Member In Compliance State",
    )


def check_status_change(member: Member, status: str) -> None:
    """Raise when the API would refuse moving ``member`` to ``status``."""
    blocked = {"unsubscribed": ("subscribed",), "cleaned": ("subscribed", "pending")}
    if status in blocked.get(member.status, ()):
        raise compliance_error(member.email_address)


def clean_merge_fields(
    ctx: Context,
    audience: Audience,
    values: dict[str, Any] | None,
    *,
    new: bool,
    skip_validation: bool,
) -> dict[str, Any]:
    """Merge-field values keyed by tag, validated like the API (raises RefusedWriteError);
    the contract made ``values`` an object."""
    values = values or {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        merge = audience.merge_field(str(key))
        if merge is None:
            if ctx.options.unknown_merge_fields == "ignore":
                continue
            raise RefusedWriteError(
                "Your merge fields were invalid.",
                field=str(key),
                field_message=f"The merge field {key} does not exist in this audience",
            )
        text = "" if value is None else value
        if merge.type == "number" and text != "":
            try:
                float(str(text))
            except ValueError:
                raise RefusedWriteError(
                    "Your merge fields were invalid.",
                    field=merge.tag,
                    field_message="Please enter a number",
                ) from None
        if merge.choices and text != "" and str(text) not in merge.choices:
            raise RefusedWriteError(
                "Your merge fields were invalid.",
                field=merge.tag,
                field_message="Please choose one of the listed values",
            )
        cleaned[merge.tag] = text
    if new and not skip_validation:
        for merge in audience.merge_fields:
            if merge.required and str(cleaned.get(merge.tag, "")).strip() == "":
                raise RefusedWriteError(
                    "Your merge fields were invalid.",
                    field=merge.tag,
                    field_message="Please enter a value",
                )
    return cleaned


def set_status(member: Member, status: str) -> None:
    """Apply an allowed status change with the timestamps Mailchimp keeps."""
    if status == member.status:
        return
    member.status = status
    if status == "subscribed":
        member.timestamp_opt = now_iso()
    if status == "unsubscribed":
        member.unsubscribe_reason = "N/A (Unsubscribed by API)"


def apply_profile(member: Member, entry: dict[str, Any], merge: dict[str, Any]) -> None:
    """The profile fields of a body (typed by the contract) and its cleaned merge fields."""
    member.merge_fields.update(merge)
    for key in ("language", "email_type", "vip"):
        if key in entry:
            setattr(member, key, entry[key])
    member.last_changed = now_iso()


def tag_names(entry: dict[str, Any]) -> list[str]:
    """The tag names of a body (the contract made them a list of strings)."""
    tags: list[str] = entry.get("tags") or []
    if not all(t.strip() for t in tags):
        raise RefusedWriteError(
            "Tags must be a list of names", field="tags", field_message="Invalid"
        )
    return [t.strip() for t in tags]


def live_member(audience: Audience, email: str) -> Member | None:
    """The contact with this email; None when new or archived (archived contacts come back
    as new ones)."""
    member = audience.members.get(subscriber_hash(email))
    return None if member is None or member.status == "archived" else member


def write_member(
    ctx: Context,
    audience: Audience,
    entry: dict[str, Any],
    existing: Member | None,
    new_status: str | None,
    *,
    skip_merge: bool = False,
    with_tags: bool = False,
    sync_tags: bool = False,
) -> Member:
    """Create (as ``new_status``) or update one contact from a body: merge fields checked,
    status changes the API refuses refused, tags in the body added (``sync_tags``: the
    body's tags replace the contact's; the single-member endpoints take no tags). Nothing
    changes when it raises."""
    merge = clean_merge_fields(
        ctx, audience, entry.get("merge_fields"), new=existing is None, skip_validation=skip_merge
    )
    tags = tag_names(entry) if with_tags and ("tags" in entry or sync_tags) else []
    if existing is None:
        assert new_status is not None  # the contract requires it
        member = audience.members.get(subscriber_hash(entry["email_address"]))
        if member is None:
            member = Member(entry["email_address"], new_status, ctx.state.next_web_id())
            audience.members[member.id] = member
        stamp = now_iso()
        member.status, member.merge_fields = new_status, {}
        member.timestamp_signup = stamp
        member.timestamp_opt = stamp if new_status == "subscribed" else ""
    else:
        member = existing
        if entry.get("status") is not None:
            check_status_change(member, entry["status"])
            set_status(member, entry["status"])
    apply_profile(member, entry, merge)
    if tags or sync_tags:
        wanted = {ctx.state.tag(audience.id, name).id for name in tags}
        if sync_tags:
            for segment in audience.tags_of(member):
                if segment.id not in wanted:
                    del segment.members[member.id]
        for segment_id in wanted:
            audience.segments[segment_id].members[member.id] = None
    return member
