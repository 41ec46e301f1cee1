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
from typing import Annotated, Any, TypeVar

from chalice.app import Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from chalicelib.errors import BadInputError, validation_error
from twin_models.timestamps import TimestampError, parse_utc

__all__ = [
    "API_TIMES",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PageQuery",
    "PageRequest",
    "QueryTime",
    "body_model",
    "decode_cursor",
    "encode_cursor",
    "json_object",
    "page",
    "page_body",
    "page_request",
    "query_model",
    "query_param",
    "query_time",
    "remaining_ms",
    "validation_error",
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
        raise BadInputError(
            f"query parameter {name!r} is longer than {MAX_QUERY_VALUE} characters", field=f"query.{name}"
        )
    return text


def query_time(request: Request, name: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 timestamp parameter (a zone is required) between 1970 and 9000, as UTC."""
    raw = query_param(request, name)
    if raw is None:
        if default is None:
            raise BadInputError(f"query parameter {name!r} is required (ISO 8601 with zone)", field=f"query.{name}")
        return default
    try:
        return api_time(raw)
    except ValueError as exc:
        raise BadInputError(f"query parameter {name!r}: {exc}", field=f"query.{name}") from exc


def api_time(raw: Any) -> datetime:
    """The one rule for a time the API reads: ISO 8601 with a zone, 1970..9000, as aware UTC.

    Example:
        >>> api_time("2026-01-05T07:00:00+01:00").isoformat()
        '2026-01-05T06:00:00+00:00'
    """
    if isinstance(raw, datetime):
        raw = raw.isoformat()
    if not isinstance(raw, str):
        raise ValueError(f"an ISO 8601 time with zone, not {type(raw).__name__}")
    try:  # a "+" in a query string arrives as a space
        value = parse_utc(raw.strip().replace(" ", "+"))
    except TimestampError as exc:
        raise ValueError(str(exc)) from exc
    low, high = API_TIMES
    if not low <= value < high:
        raise ValueError(f"{raw!r} is outside {low.year}..{high.year}")
    return value


#: A time parameter of a query or body model (the rule of :func:`api_time`).
QueryTime = Annotated[
    datetime,
    BeforeValidator(api_time),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "ISO 8601 with zone, 1970..9000"}),
]


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an absent body is ``{}``); anything else is a 400."""
    body = request.json_body
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadInputError(f"the body must be a JSON object, not {type(body).__name__}", field="body")
    return body


def body_model(request: Request, model: type[Model]) -> Model:
    """The request body validated by ``model``: a 400 names every field that does not fit (``body.<path>``).

    The body is required. Validation is strict, as JSON has the types: ``0`` is not ``false`` and ``"5"`` is not ``5``.
    """
    if not request.raw_body:  # an absent body is not an empty object: PUT without one must not reset anything
        raise BadInputError("a JSON object body is required", field="body")
    json_object(request)  # not JSON at all, or not an object: said as such
    try:
        return model.model_validate_json(request.raw_body, strict=True)
    except ValidationError as exc:
        raise validation_error(exc, "body") from exc


def query_model(request: Request, model: type[Model]) -> Model:
    """The query string validated by ``model``; every field at fault is named (``query.<name>``).

    Query values are text, so a number or a flag is read from its text (``?limit=5``).
    """
    params: Any = request.query_params or {}
    values = {name: query_param(request, name) for name in params}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, "query") from exc


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


class PageQuery(BaseModel):
    """The query of a list: ``?limit=`` (1..MAX_LIMIT) and ``?next=`` (the cursor of the previous page).

    A route's query model that lists extends it; :meth:`page` is the :class:`PageRequest` it stands for.

    Example:
        >>> PageQuery.model_validate({"limit": "2", "next": encode_cursor("b")}).page()
        PageRequest(limit=2, after='b')
    """

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT
    next: Annotated[
        str | None, Field(max_length=MAX_QUERY_VALUE, description="the `next` cursor of the previous page")
    ] = None

    def page(self) -> PageRequest:
        """The page this query asks for (a cursor this API did not issue is a 400)."""
        return PageRequest(limit=self.limit, after=decode_cursor(self.next) if self.next else None)


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
        raise BadInputError("query parameter 'next': not a cursor this API issued", field="query.next") from exc


def page_request(request: Request) -> PageRequest:
    """``?limit=`` (1..MAX_LIMIT, default DEFAULT_LIMIT) and ``?next=`` (a cursor from the previous page)."""
    raw = {name: query_param(request, name) for name in ("limit", "next")}
    try:
        query = PageQuery.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        raise validation_error(exc, "query") from exc
    return query.page()


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
