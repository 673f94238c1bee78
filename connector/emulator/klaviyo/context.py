"""What every Klaviyo handler needs: the state, the options and the public base URL."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from connector.emulator.klaviyo.account import KlaviyoState
from connector.emulator.klaviyo.jsonapi import FilterError, JsonApiError, invalid
from connector.emulator.options import EmulatorOptions

__all__ = ["Context", "additional", "filter_problem"]


@dataclass
class Context:
    """Shared by the handlers of one emulator."""

    state: KlaviyoState
    options: EmulatorOptions
    base_url: str


def additional(request: Request, kind: str, name: str) -> bool:
    """Whether ``additional-fields[<kind>]`` asks for ``name``."""
    raw = request.query_params.get(f"additional-fields[{kind}]", "")
    return name in {part.strip() for part in raw.split(",")}


def filter_problem(exc: FilterError) -> JsonApiError:
    """The 400 for a bad ``filter`` parameter."""
    return invalid(str(exc), parameter="filter")
