"""What every Mailchimp handler needs: the state, the options, the public base URL, the
audience in the path and the query's flags."""

from __future__ import annotations

from starlette.requests import Request

from connector.emulator.common import http
from connector.emulator.mailchimp.account import Audience, MailchimpState
from connector.emulator.mailchimp.problems import not_found

__all__ = ["Context", "flag"]


class Context(http.Context[MailchimpState]):
    """Shared by the handlers of one emulator."""

    def audience(self, request: Request) -> Audience:
        """The audience named in the path, or the API's 404."""
        audience = self.state.audiences.get(request.path_params["list_id"])
        if audience is None:
            raise not_found()
        return audience


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``1``)."""
    return request.query_params.get(name, "").lower() in ("true", "1")
