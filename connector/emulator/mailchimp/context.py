"""What every Mailchimp handler needs: the state, the options, the public base URL, and
small helpers to read a request (the audience in the path, the JSON body, a flag)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from connector.emulator.mailchimp.account import Audience, MailchimpState
from connector.emulator.mailchimp.problems import ProblemError, bad_request, not_found
from connector.emulator.options import EmulatorOptions

__all__ = ["Context", "flag", "read_json"]


@dataclass
class Context:
    """Shared by the handlers of one emulator."""

    state: MailchimpState
    options: EmulatorOptions
    base_url: str

    def audience(self, request: Request) -> Audience:
        """The audience named in the path, or the API's 404."""
        list_id = request.path_params["list_id"]
        audience = self.state.audiences.get(list_id)
        if audience is None:
            raise not_found()
        return audience


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or the API's 400."""
    raw = await request.body()
    if not raw.strip():
        raise bad_request("The request body is empty.", title="Invalid Resource")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
        ) from None
    if not isinstance(body, dict):
        raise ProblemError(400, "Invalid Resource", "Schema describes object, array found instead")
    return body


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``1``)."""
    return request.query_params.get(name, "").lower() in ("true", "1")
