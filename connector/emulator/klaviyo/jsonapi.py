"""Klaviyo's JSON:API plumbing: responses, error documents, cursor paging, sparse
fieldsets and the ``filter`` query language (``equals(name,"x")``,
``any(email,["a","b"])``, several joined by commas meaning AND).

Handlers and the helpers they call raise ``JsonApiError`` where Klaviyo refuses; the app's
one exception handler renders it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from connector.emulator.common.http import ApiError, json_response

__all__ = [
    "Filter",
    "JsonApiError",
    "Page",
    "additional",
    "error",
    "invalid",
    "jsonapi",
    "listing",
    "matches",
    "no_content",
    "not_found",
    "page",
    "parse_filter",
    "refusal",
    "resource",
    "sparse",
    "window",
]

MEDIA = "application/vnd.api+json"
T = TypeVar("T")


def jsonapi(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON:API document."""
    return json_response(payload, status, MEDIA, headers)


def no_content(status: int = 204) -> Response:
    """An empty answer (204 for relationship changes, 202 for subscription jobs)."""
    return Response(b"", status_code=status, headers={"content-type": MEDIA})


def error(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """One JSON:API error object, shaped like Klaviyo's."""
    source = {"parameter": parameter} if parameter is not None else {"pointer": pointer or "/data/"}
    return {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
        "source": source,
        "links": {},
        "meta": {},
    }


class JsonApiError(ApiError):
    """A refusal, ``{"errors": [...]}`` with ``status``."""

    media_type = MEDIA

    def __init__(
        self, status: int, items: list[dict[str, Any]], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, {"errors": items}, headers)


def refusal(status: int, code: str, title: str, detail: str, **extra: Any) -> JsonApiError:
    """A refusal with one error object."""
    headers = extra.pop("headers", None)
    return JsonApiError(status, [error(status, code, title, detail, **extra)], headers)


def invalid(
    detail: str, *, pointer: str | None = None, parameter: str | None = None
) -> JsonApiError:
    """400 ``invalid``: the request body or a parameter is wrong."""
    return refusal(400, "invalid", "Invalid input.", detail, pointer=pointer, parameter=parameter)


def not_found(detail: str = "The requested resource was not found.") -> JsonApiError:
    """404 ``not_found``."""
    return refusal(404, "not_found", "Not found.", detail)


# -- paging ---------------------------------------------------------------------------------
def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"emu:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    # The SDK cuts cursors out of ``https://`` next-links only, and keeps the "=" after
    # the parameter name; the emulator's links are plain http, so take whole links too.
    for marker in ("page[cursor]=", "page%5Bcursor%5D="):
        if marker in cursor:
            cursor = unquote(cursor.rsplit(marker, maxsplit=1)[-1].split("&", maxsplit=1)[0])
    cursor = cursor.lstrip("=")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "emu" and number.isdigit() else None


@dataclass
class Page:
    """One page of a collection and its ``links`` object."""

    offset: int
    size: int
    links: dict[str, str | None]


def page(request: Request, total: int, *, default: int, maximum: int, base: str) -> Page:
    """Read ``page[size]`` and ``page[cursor]``; build self/next/prev links."""
    query = request.query_params
    raw_size = query.get("page[size]")
    size = default
    if raw_size is not None:
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= maximum:
            raise invalid(
                f"Page size must be an integer between 1 and {maximum}.",
                parameter="page[size]",
            )
        size = int(raw_size)
    offset = 0
    cursor = query.get("page[cursor]")
    if cursor:
        decoded = _decode_cursor(cursor)
        if decoded is None:
            raise invalid("Invalid page cursor.", parameter="page[cursor]")
        offset = decoded
    params = [(k, v) for k, v in query.multi_items() if k != "page[cursor]"]
    url = f"{base}{request.url.path}"

    def link(at: int) -> str:
        return f"{url}?{urlencode([*params, ('page[cursor]', _encode_cursor(at))])}"

    self_link = f"{url}?{urlencode(query.multi_items())}" if query else url
    links: dict[str, str | None] = {
        "self": self_link,
        "next": link(offset + size) if offset + size < total else None,
        "prev": link(max(0, offset - size)) if offset > 0 else None,
    }
    return Page(offset, size, links)


def window(items: Sequence[T], current: Page) -> list[T]:
    """The items of the current page."""
    return list(items[current.offset : current.offset + current.size])


# -- sparse fieldsets -------------------------------------------------------------------
def additional(request: Request, kind: str, name: str) -> bool:
    """Whether ``additional-fields[<kind>]`` asks for ``name``."""
    raw = request.query_params.get(f"additional-fields[{kind}]", "")
    return name in {part.strip() for part in raw.split(",")}


def sparse(resource: dict[str, Any], request: Request, kind: str) -> dict[str, Any]:
    """Keep only ``fields[<kind>]`` attributes (dotted names keep sub-keys)."""
    raw = request.query_params.get(f"fields[{kind}]")
    if not raw or "attributes" not in resource:
        return resource
    wanted = [w.strip().split(".") for w in raw.split(",") if w.strip()]
    attributes = resource.get("attributes", {})
    kept: dict[str, Any] = {}
    for path in wanted:
        name = path[0]
        if name not in attributes:
            continue
        value = attributes[name]
        if len(path) == 1 or not isinstance(value, dict):
            kept[name] = value
            continue
        node = kept.setdefault(name, {})
        source: Any = value
        for part in path[1:-1]:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            node = node.setdefault(part, {})
        if isinstance(source, dict) and path[-1] in source:
            node[path[-1]] = source[path[-1]]
    return {**resource, "attributes": kept}


# -- filters ----------------------------------------------------------------------------
class FilterError(ValueError):
    """A ``filter`` parameter the API would reject."""


@dataclass(frozen=True)
class Filter:
    """One ``op(field,value)`` term."""

    op: str
    field: str
    value: Any


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise FilterError(f"Expected {char!r} at position {self.pos} of the filter")
        self.pos += 1

    def word(self) -> str:
        self.skip()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",()[] ":
            self.pos += 1
        if start == self.pos:
            raise FilterError(f"Expected a name at position {start} of the filter")
        return self.text[start : self.pos]

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == quote:
                return "".join(out)
            else:
                out.append(char)
        raise FilterError("Unterminated string in the filter")

    def value(self) -> Any:
        char = self.peek()
        if char in "\"'":
            return self.string()
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() != "]":
                items.append(self.value())
                if self.peek() == ",":
                    self.pos += 1
            self.pos += 1
            return items
        raw = self.word()
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        try:
            return float(raw) if "." in raw else int(raw)
        except ValueError:
            return raw  # datetimes are unquoted

    def term(self) -> Filter:
        op = self.word()
        self.expect("(")
        field = self.word()
        self.expect(",")
        value = self.value()
        self.expect(")")
        return Filter(op, field, value)

    def terms(self) -> list[Filter]:
        found = [self.term()]
        while self.peek() == ",":
            self.pos += 1
            found.append(self.term())
        if self.peek():
            raise FilterError(f"Unexpected text at position {self.pos} of the filter")
        return found


def parse_filter(request: Request, allowed: Mapping[str, tuple[str, ...]]) -> list[Filter]:
    """Terms of the ``filter`` parameter, checked against ``{field: allowed ops}``; the
    API's 400 when it is wrong."""
    try:
        return _checked_terms(request.query_params.get("filter"), allowed)
    except FilterError as exc:
        raise invalid(str(exc), parameter="filter") from None


def _checked_terms(text: str | None, allowed: Mapping[str, tuple[str, ...]]) -> list[Filter]:
    if not text:
        return []
    terms = _Parser(text).terms()
    for term in terms:
        ops = allowed.get(term.field)
        if ops is None:
            raise FilterError(f"'{term.field}' is not a valid field for this filter.")
        if term.op not in ops:
            raise FilterError(f"'{term.op}' is not a valid operator for '{term.field}'.")
        if term.op == "any" and not isinstance(term.value, list):
            raise FilterError(f"'any' on '{term.field}' needs a list of values.")
    return terms


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda actual, wanted: actual == wanted,
    "any": lambda actual, wanted: actual in wanted,
    "greater-than": lambda actual, wanted: actual is not None and str(actual) > str(wanted),
    "greater-or-equal": lambda actual, wanted: actual is not None and str(actual) >= str(wanted),
    "less-than": lambda actual, wanted: actual is not None and str(actual) < str(wanted),
    "less-or-equal": lambda actual, wanted: actual is not None and str(actual) <= str(wanted),
}


def matches(filters: list[Filter], item: object) -> bool:
    """Whether ``item`` (its attributes named as the filter's fields) passes every term;
    emails compare case-insensitively."""
    for term in filters:
        actual, wanted = getattr(item, term.field, None), term.value
        if term.field == "email":
            actual = actual.lower() if isinstance(actual, str) else actual
            many = isinstance(wanted, list)
            wanted = [str(w).lower() for w in wanted] if many else str(wanted).lower()
        if not _COMPARE[term.op](actual, wanted):
            return False
    return True


# -- answers ----------------------------------------------------------------------------
def listing(
    request: Request,
    items: Sequence[T],
    to_json: Callable[[T], dict[str, Any]],
    kind: str,
    base: str,
    *,
    default: int = 20,
    maximum: int = 100,
) -> Response:
    """One cursor page of a collection, each resource cut to ``fields[<kind>]``."""
    current = page(request, len(items), default=default, maximum=maximum, base=base)
    data = [sparse(to_json(item), request, kind) for item in window(items, current)]
    return jsonapi({"data": data, "links": current.links})


def resource(data: dict[str, Any], status: int = 200) -> Response:
    """One resource, with its own link as the document's."""
    return jsonapi({"data": data, "links": {"self": data["links"]["self"]}}, status)
