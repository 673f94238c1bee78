"""The Klaviyo API emulator: routes, credentials, revision header and rate limits.

Credentials: ``Authorization: Klaviyo-API-Key <private key>``; every request also needs a
``revision`` header (``YYYY-MM-DD`` with an optional ``.suffix``). Rate limits are fixed
windows per account and endpoint with the tiers Klaviyo documents per operation; a 429
carries ``Retry-After`` (seconds) and Klaviyo's ``throttled`` error. The windows of each
operation are the OpenAPI document's (``openapi_subset.json``).
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route

from connector.emulator.calls import CallLog
from connector.emulator.common.contract import guard
from connector.emulator.common.http import Context, build_starlette, serialized
from connector.emulator.faults import Fault, FaultInjector
from connector.emulator.gateway import Gateway
from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.klaviyo.imports import ImportHandlers
from connector.emulator.klaviyo.jsonapi import not_found, refusal
from connector.emulator.klaviyo.lists import ListHandlers
from connector.emulator.klaviyo.profiles import ProfileHandlers
from connector.emulator.klaviyo.segments import SegmentHandlers
from connector.emulator.klaviyo.subscriptions import SubscriptionHandlers
from connector.emulator.klaviyo.validation import CONTRACT, checker, contract_subset
from connector.emulator.options import DEFAULT_KLAVIYO_KEY, EmulatorOptions
from connector.emulator.ratelimit import RateLimit, parse_tier

__all__ = ["BASE_PATH", "DEFAULT_KEY", "RATE_LIMITS", "KlaviyoFlavor", "build_app"]

BASE_PATH = ""
"""Where the API is served under the emulator's root (the server's hook)."""
DEFAULT_KEY = DEFAULT_KLAVIYO_KEY
"""The key accepted when the options set none (the server's hook)."""

_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9]+)?$")

#: (method, route) → its windows, as the OpenAPI document states them (x-klaviyo-ratelimit)
RATE_LIMITS: dict[tuple[str, str], RateLimit] = {
    (key.split(" ")[0], key.split(" ")[1]): parse_tier(**tier)
    for key, tier in contract_subset()["rate_limits"].items()
}

_SERVER_ERRORS = {
    500: ("error", "A server error occurred."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "Service temporarily unavailable, try again later."),
    504: ("gateway_timeout", "Gateway timeout."),
}


class KlaviyoFlavor:
    """Klaviyo's gateway behaviour (see ``connector.emulator.gateway.Flavor``)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def concurrency_key(self, headers: Headers) -> str | None:
        return None  # Klaviyo limits request rates, not connections

    def too_many_connections(self) -> Response:
        return self.throttled(1)

    def check(self, method: str, route: str, headers: Headers) -> Response | None:
        scheme, _, key = headers.get("authorization", "").strip().partition(" ")
        if scheme != "Klaviyo-API-Key" or not key.strip():
            return refusal(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            ).response()
        if key.strip() != self.key:
            incorrect = "Incorrect authentication credentials."
            return refusal(401, "authentication_failed", incorrect, incorrect).response()
        if not _REVISION.match(headers.get("revision", "").strip()):
            return refusal(
                400,
                "invalid",
                "Invalid input.",
                "A valid revision header (YYYY-MM-DD) is required.",
                parameter="revision",
            ).response()
        return None

    def rate_limit(self, method: str, route: str) -> RateLimit | None:
        return RATE_LIMITS.get((method, route))

    def throttled(self, retry_after: int) -> Response:
        unit = "second" if retry_after == 1 else "seconds"
        return refusal(
            429,
            "throttled",
            "Request was throttled.",
            f"Request was throttled. Expected available in {retry_after} {unit}.",
            headers={"retry-after": str(retry_after)},
        ).response()

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "429":
            return self.throttled(1)
        code, title = _SERVER_ERRORS.get(fault.status, _SERVER_ERRORS[500])
        return refusal(fault.status, code, title, title).response()

    def not_found(self) -> Response:
        return not_found().response()

    def method_not_allowed(self, method: str, allow: str) -> Response:
        detail = f'Method "{method}" not allowed.'
        return refusal(405, "method_not_allowed", detail, detail).response()


def _routes(ctx: Context[KlaviyoState]) -> list[Route]:
    p = ProfileHandlers(ctx)
    li = ListHandlers(ctx)
    imp = ImportHandlers(ctx)
    seg = SegmentHandlers(ctx)
    sub = SubscriptionHandlers(ctx)
    jobs = "/api/profile-bulk-import-jobs"
    members = "/api/lists/{id}/relationships/profiles"
    return [
        Route("/api/accounts", p.accounts, methods=["GET"]),
        Route("/api/profiles", p.list_profiles, methods=["GET"]),
        Route("/api/profiles/{id}", p.get_profile, methods=["GET"]),
        Route("/api/profiles/{id}", p.update_profile, methods=["PATCH"]),
        Route("/api/profile-import", p.import_profile, methods=["POST"]),
        Route("/api/lists", li.get_lists, methods=["GET"]),
        Route("/api/lists", li.create_list, methods=["POST"]),
        Route("/api/lists/{id}", li.get_list, methods=["GET"]),
        Route("/api/lists/{id}/profiles", li.list_profiles, methods=["GET"]),
        Route(members, li.list_relationships, methods=["GET"]),
        Route(members, li.add_members, methods=["POST"]),
        Route(members, li.remove_members, methods=["DELETE"]),
        Route(jobs, imp.list_jobs, methods=["GET"]),
        Route(jobs, imp.create_job, methods=["POST"]),
        Route(f"{jobs}/{{job_id}}", imp.get_job, methods=["GET"]),
        Route(f"{jobs}/{{id}}/import-errors", imp.job_errors, methods=["GET"]),
        Route(f"{jobs}/{{id}}/profiles", imp.job_profiles, methods=["GET"]),
        Route(
            f"{jobs}/{{id}}/relationships/profiles", imp.job_profile_relationships, methods=["GET"]
        ),
        Route("/api/segments", seg.get_segments, methods=["GET"]),
        Route("/api/segments", seg.create_segment, methods=["POST"]),
        Route("/api/segments/{id}", seg.get_segment, methods=["GET"]),
        Route("/api/segments/{id}", seg.update_segment, methods=["PATCH"]),
        Route("/api/segments/{id}", seg.delete_segment, methods=["DELETE"]),
        Route("/api/segments/{id}/profiles", seg.segment_profiles, methods=["GET"]),
        Route(
            "/api/segments/{id}/relationships/profiles", seg.segment_relationships, methods=["GET"]
        ),
        Route("/api/profile-subscription-bulk-create-jobs", sub.subscribe, methods=["POST"]),
        Route("/api/profile-subscription-bulk-delete-jobs", sub.unsubscribe, methods=["POST"]),
    ]


def build_app(
    options: EmulatorOptions, calls: CallLog, faults: FaultInjector, key: str, base_url: str
) -> tuple[Gateway, KlaviyoState]:
    """The Klaviyo gateway (ASGI app) and its state."""
    state = KlaviyoState(
        clock=lambda: options.clock(),  # noqa: PLW0108 - options.clock may be swapped at runtime
        import_delay_s=lambda: options.import_delay_s,
    )
    routes = _routes(Context(state, options, base_url))
    routes = guard(serialized(routes, state.lock), CONTRACT, checker(state))
    flavor = KlaviyoFlavor(key)
    gateway = Gateway(build_starlette(routes, flavor), routes, flavor, options, calls, faults, key)
    return gateway, state
