"""What every route shares: query parameters, time parameters and JSON bodies, each validated, so client
input answers 400 naming the field, never 500.

Example:
    >>> API_TIMES[0].year, API_TIMES[1].year
    (1970, 9000)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from chalice.app import Request
from pydantic import BaseModel, ValidationError

from chalicelib.errors import BadInputError
from twin_models.timestamps import TimestampError, parse_utc

__all__ = ["API_TIMES", "body_model", "json_object", "query_param", "query_time", "remaining_ms"]

#: The instants a time parameter may name: anything else is a 400 (and never overflows the arithmetic after).
API_TIMES = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
#: The longest query value a route reads.
MAX_QUERY_VALUE = 512

Model = TypeVar("Model", bound=BaseModel)


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
