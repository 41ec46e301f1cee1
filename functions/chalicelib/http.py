"""Small helpers shared by the route modules: query parameters and JSON bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import Request

from chalicelib.errors import BadInputError

__all__ = ["query_param", "query_time", "remaining_ms"]


def query_param(request: Request, name: str, default: str | None = None) -> str | None:
    """A query-string parameter, or ``default``."""
    params: Any = request.query_params or {}
    value = params.get(name)
    return str(value) if value is not None else default


def query_time(request: Request, name: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 timestamp parameter (a zone is required), as UTC."""
    raw = query_param(request, name)
    if raw is None:
        if default is None:
            raise BadInputError(f"query parameter {name!r} is required (ISO 8601 with zone)")
        return default
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise BadInputError(f"{name}={raw!r} is not an ISO 8601 timestamp") from exc
    if value.tzinfo is None:
        raise BadInputError(f"{name}={raw!r} needs a time zone (for example Z)")
    return value.astimezone(UTC)


def remaining_ms(event: Any) -> int | None:
    """The Lambda invocation's remaining time of a scheduled event (None outside Lambda).

    Example:
        >>> remaining_ms(object()) is None
        True
    """
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None
