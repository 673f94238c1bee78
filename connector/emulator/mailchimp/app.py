"""The Mailchimp Marketing API 3.0 emulator: routes, credentials and gateway answers.

Credentials: HTTP Basic with any user name and the API key as password (what the SDK
sends), or ``Authorization: Bearer <key>`` / ``apikey <key>``. At most
``max_connections`` requests per key are in flight; the next one gets Mailchimp's 429
("You have exceeded the limit of 10 simultaneous connections"), without Retry-After.
"""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route

from connector.emulator.calls import CallLog
from connector.emulator.common.contract import guard
from connector.emulator.common.http import build_starlette, serialized
from connector.emulator.faults import Fault, FaultInjector
from connector.emulator.gateway import Gateway
from connector.emulator.mailchimp.account import MailchimpState
from connector.emulator.mailchimp.batches import RESULTS_ROUTE, BatchHandlers
from connector.emulator.mailchimp.context import Context
from connector.emulator.mailchimp.contract import CONTRACT, checker
from connector.emulator.mailchimp.members import MemberHandlers
from connector.emulator.mailchimp.problems import not_found, problem
from connector.emulator.mailchimp.segments import SegmentHandlers
from connector.emulator.options import DEFAULT_MAILCHIMP_KEY, EmulatorOptions
from connector.emulator.ratelimit import RateLimit

__all__ = ["BASE_PATH", "DEFAULT_KEY", "MailchimpFlavor", "build_app", "extract_key"]

BASE_PATH = "/3.0"
"""Where the API is served under the emulator's root (the server's hook)."""
DEFAULT_KEY = DEFAULT_MAILCHIMP_KEY
"""The key accepted when the options set none (the server's hook)."""

PREFIX = "/3.0"
_SERVER_ERROR_TITLES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def extract_key(headers: Headers) -> str | None:
    """The API key a request carries (Basic password, Bearer or apikey), if any."""
    value = headers.get("authorization", "").strip()
    scheme, _, credentials = value.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    if scheme in ("bearer", "apikey", "oauth") and credentials:
        return credentials
    return None


class MailchimpFlavor:
    """Mailchimp's gateway behaviour (see ``connector.emulator.gateway.Flavor``)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def concurrency_key(self, headers: Headers) -> str | None:
        return extract_key(headers) or "anonymous"

    def too_many_connections(self) -> Response:
        return problem(
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )

    def check(self, method: str, route: str, headers: Headers) -> Response | None:
        if route == RESULTS_ROUTE:
            return None  # a pre-signed link: no credentials
        key = extract_key(headers)
        if key is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if key != self.key:
            return problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return None

    def rate_limit(self, method: str, route: str) -> RateLimit | None:
        return None  # Mailchimp limits connections, not request rates

    def throttled(self, retry_after: int) -> Response:
        return self.too_many_connections()

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "429":
            return self.too_many_connections()
        title = _SERVER_ERROR_TITLES.get(fault.status, "Internal Server Error")
        return problem(
            fault.status,
            title,
            "An unexpected internal error has occurred. Please contact Support for more "
            "information.",
        )

    def not_found(self) -> Response:
        return not_found().response()

    def method_not_allowed(self, method: str, allow: str) -> Response:
        return problem(
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for "
            "this resource's available methods.",
            headers={"allow": allow} if allow else None,
        )


def _routes(ctx: Context, batches: BatchHandlers) -> list[Route]:
    m = MemberHandlers(ctx)
    s = SegmentHandlers(ctx)
    lists = f"{PREFIX}/lists/{{list_id}}"
    member = f"{lists}/members/{{subscriber_hash}}"
    segment = f"{lists}/segments/{{segment_id}}"
    return [
        Route(f"{PREFIX}/ping", m.ping, methods=["GET"]),
        Route(f"{PREFIX}/lists", m.lists, methods=["GET"]),
        Route(lists, m.get_list, methods=["GET"]),
        Route(lists, m.batch_subscribe, methods=["POST"]),
        Route(f"{lists}/merge-fields", m.merge_fields, methods=["GET"]),
        Route(f"{lists}/members", m.list_members, methods=["GET"]),
        Route(member, m.get_member, methods=["GET"]),
        Route(member, m.put_member, methods=["PUT"]),
        Route(member, m.patch_member, methods=["PATCH"]),
        Route(f"{member}/tags", m.member_tags, methods=["GET"]),
        Route(f"{member}/tags", m.update_member_tags, methods=["POST"]),
        Route(f"{lists}/segments", s.list_segments, methods=["GET"]),
        Route(f"{lists}/segments", s.create_segment, methods=["POST"]),
        Route(segment, s.get_segment, methods=["GET"]),
        Route(segment, s.update_segment, methods=["PATCH"]),
        Route(segment, s.delete_segment, methods=["DELETE"]),
        Route(segment, s.batch_members, methods=["POST"]),
        Route(f"{segment}/members", s.segment_members, methods=["GET"]),
        Route(f"{lists}/tag-search", s.tag_search, methods=["GET"]),
        Route(f"{PREFIX}/batches", batches.start, methods=["POST"]),
        Route(f"{PREFIX}/batches", batches.listing, methods=["GET"]),
        Route(f"{PREFIX}/batches/{{batch_id}}", batches.status, methods=["GET"]),
        Route(f"{PREFIX}/batches/{{batch_id}}", batches.delete, methods=["DELETE"]),
        Route(RESULTS_ROUTE, batches.results, methods=["GET"]),
    ]


def build_app(
    options: EmulatorOptions, calls: CallLog, faults: FaultInjector, key: str, base_url: str
) -> tuple[Gateway, MailchimpState]:
    """The Mailchimp gateway (ASGI app) and its state, seeded from ``options``."""
    state = MailchimpState()
    for list_id in options.audiences:
        state.add_audience(list_id, merge_fields=options.merge_fields)
    ctx = Context(state=state, options=options, base_url=base_url)
    batches = BatchHandlers(ctx)
    routes = guard(serialized(_routes(ctx, batches), state.lock), CONTRACT, checker(state))
    flavor = MailchimpFlavor(key)
    app = build_starlette(routes, flavor)
    batches.app = app  # operations run through the routes, not the gateway
    state.batches = batches.jobs
    gateway = Gateway(app, routes, flavor, options, calls, faults, key)
    return gateway, state
