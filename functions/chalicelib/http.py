"""What every route shares: query parameters, time parameters and JSON bodies, each validated, so client
input answers 400 naming the field, never 500.

Example:
    >>> API_TIMES[0].year, API_TIMES[1].year
    (1970, 9000)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib.errors import BadInputError
from twin_models.timestamps import TimestampError, parse_utc

__all__ = [
    "API_TIMES",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PageRequest",
    "body_model",
    "decode_cursor",
    "encode_cursor",
    "json_object",
    "page",
    "page_body",
    "page_request",
    "query_param",
    "query_time",
    "remaining_ms",
]

#: The instants a time parameter may name: anything else is a 400 (and never overflows the arithmetic after).
API_TIMES = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
#: The longest query value a route reads.
MAX_QUERY_VALUE = 512

#: The page size of a list when the caller names none, and the largest it may name.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item")


def query_param(request: Request, name: str, default: str | None = None) -> str | None:
    """A query-string parameter, or ``default``; longer than :data:`MAX_QUERY_VALUE` is a 400."""
    params: Any = request.query_params or {}
    value = params.get(name)
    if value is None:
        return default
    text = str(value)
    if len(text) > MAX_QUERY_VALUE:
        raise BadInputError(f"query parameter {name!r} is longer than {MAX_QUERY_VALUE} characters")
    return text


def query_time(request: Request, name: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 timestamp parameter (a zone is required) between 1970 and 9000, as UTC."""
    raw = query_param(request, name)
    if raw is None:
        if default is None:
            raise BadInputError(f"query parameter {name!r} is required (ISO 8601 with zone)")
        return default
    try:  # a "+" in a query string arrives as a space
        value = parse_utc(raw.strip().replace(" ", "+"))
    except TimestampError as exc:
        raise BadInputError(f"query parameter {name!r}: {exc}") from exc
    low, high = API_TIMES
    if not low <= value < high:
        raise BadInputError(f"query parameter {name!r}: {raw!r} is outside {low.year}..{high.year}")
    return value


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an absent body is ``{}``); anything else is a 400."""
    body = request.json_body
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadInputError(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def body_model(request: Request, model: type[Model]) -> Model:
    """The request body validated by ``model``: a 400 names the first field that does not fit."""
    try:
        return model.model_validate(json_object(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadInputError(f"{where}: {first['msg']}") from exc


def remaining_ms(event: Any) -> int | None:
    """The Lambda invocation's remaining time of a scheduled event (None outside Lambda).

    Example:
        >>> remaining_ms(object()) is None
        True
    """
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


@dataclass(frozen=True)
class PageRequest:
    """One page of a list: at most ``limit`` items whose key sorts after ``after`` (``None``: from the start)."""

    limit: int = DEFAULT_LIMIT
    after: str | None = None


def encode_cursor(key: str) -> str:
    """The opaque ``next`` cursor for a list's sort key (URL-safe, no padding).

    Example:
        >>> decode_cursor(encode_cursor("cnc-01"))
        'cnc-01'
    """
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key a ``next`` cursor stands for; anything this API did not issue is a 400."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8", errors="strict")
    except (binascii.Error, ValueError) as exc:
        raise BadInputError("query parameter 'next': not a cursor this API issued") from exc


def page_request(request: Request) -> PageRequest:
    """``?limit=`` (1..MAX_LIMIT, default DEFAULT_LIMIT) and ``?next=`` (a cursor from the previous page)."""
    raw_limit = query_param(request, "limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise BadInputError(f"query parameter 'limit': an integer from 1 to {MAX_LIMIT}, not {raw_limit!r}")
        limit = int(raw_limit)
    cursor = query_param(request, "next")
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


def page(items: Sequence[Item], key: Callable[[Item], str], request: PageRequest) -> tuple[list[Item], str | None]:
    """The items of one page, in key order, and the cursor of the next page (``None`` on the last one).

    Every list of the API pages the same way: items sorted by a unique string key, a page holds the first
    ``limit`` items after the cursor's key.

    Example:
        >>> items, nxt = page(["b", "a", "c"], str, PageRequest(limit=2))
        >>> items, page(["b", "a", "c"], str, PageRequest(limit=2, after=decode_cursor(nxt)))
        (['a', 'b'], (['c'], None))
    """
    ordered = sorted(items, key=key)
    if request.after is not None:
        ordered = [item for item in ordered if key(item) > request.after]
    chosen = ordered[: request.limit]
    more = len(ordered) > request.limit
    return chosen, encode_cursor(key(chosen[-1])) if more and chosen else None


def page_body(items: list[Any], next_cursor: str | None, **extra: Any) -> dict[str, Any]:
    """The one shape of a list response: ``{"items": [...], "next": cursor | null, ...extra}``.

    Example:
        >>> page_body([1], None)
        {'items': [1], 'next': None}
    """
    return {"items": items, "next": next_cursor, **extra}
