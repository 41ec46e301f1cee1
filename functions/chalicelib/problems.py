"""The one error model of the HTTP API: RFC 9457 problem details (``application/problem+json``).

Every error answer has the same body, built here and nowhere else::

    {"type": "urn:twinledger:problem:bad-input", "title": "Bad Request", "status": 400,
     "detail": "query parameter 'limit': an integer from 1 to 1000", "errors": [{"path": "query.limit", ...}]}

* the use cases raise :class:`~chalicelib.errors.ServiceError` subclasses (their class sets the status and
  the ``type``; ``errors`` lists the offending fields with their paths);
* Chalice's own answers (401 of the auth layer, 404/405 of the router, 415, 400 for a body that is not
  JSON) and any unexpected exception (a 500 that names no internals) are converted by :func:`install`'s
  middleware, so a route cannot answer an error of another shape.

Example:
    >>> problem(400, "limit: too large", [FieldError(path="query.limit", message="too large")])["errors"]
    [{'path': 'query.limit', 'message': 'too large'}]
    >>> problem(404, "no machine 'x'")["type"]
    'urn:twinledger:problem:not-found'
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from chalice.app import Chalice, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.errors import FieldError, ServiceError

__all__ = [
    "MEDIA_TYPE",
    "FieldError",
    "Problem",
    "field_errors",
    "install",
    "problem",
    "problem_response",
    "problem_type",
]

MEDIA_TYPE = "application/problem+json"
_PREFIX = "urn:twinledger:problem:"
_INTERNAL_DETAIL = "an internal error occurred; it has been logged"
#: The ``type`` of an answer that no error class names, by status.
_BY_STATUS = {
    400: "bad-input",
    401: "unauthenticated",
    403: "not-allowed",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflicting-state",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """RFC 9457 problem details, with ``errors`` listing every field that does not fit."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"type": "urn:twinledger:problem:bad-input", "title": "Bad Request", "status": 400,
         "detail": "query.limit: an integer from 1 to 1000", "errors": [
             {"path": "query.limit", "message": "an integer from 1 to 1000"}]}]})  # fmt: skip

    type: str = Field(description="a URI naming the kind of problem (urn:twinledger:problem:<kind>)")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong, for a person")
    errors: list[FieldError] = Field(default_factory=list)


def _slug(name: str) -> str:
    """``NotVisibleError`` -> ``not-visible``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Error")).lower()


def problem_type(status: int, kind: str | None = None) -> str:
    """The ``type`` URI of a problem: its kind, or the status's default kind.

    Example:
        >>> problem_type(409), problem_type(404, "not-visible")
        ('urn:twinledger:problem:conflicting-state', 'urn:twinledger:problem:not-visible')
    """
    return _PREFIX + (kind or _BY_STATUS.get(status) or ("client-error" if status < 500 else "server-error"))


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str, errors: Iterable[FieldError] = (), kind: str | None = None) -> dict[str, Any]:
    """The problem body (validated by :class:`Problem`, so no answer can leave this module malformed)."""
    body = Problem(
        type=problem_type(status, kind), title=_title(status), status=status, detail=detail, errors=list(errors)
    )
    return body.model_dump(mode="json")


def problem_response(
    status: int,
    detail: str,
    errors: Iterable[FieldError] = (),
    kind: str | None = None,
    headers: Mapping[str, str | list[str]] | None = None,
) -> Response:
    """A Chalice response carrying a problem (``Content-Type: application/problem+json``)."""
    return Response(
        body=problem(status, detail, errors, kind),
        status_code=status,
        headers={**(headers or {}), "Content-Type": MEDIA_TYPE},
    )


def field_errors(exc: ValidationError, where: str) -> list[FieldError]:
    """Every error of a pydantic validation, each with its path under ``where`` (``body``, ``query``).

    Example:
        >>> from pydantic import BaseModel
        >>> class M(BaseModel):
        ...     a: int
        ...     b: list[int]
        >>> try:
        ...     M.model_validate({"a": "x", "b": [1, "y"]})
        ... except ValidationError as exc:
        ...     [e.path for e in field_errors(exc, "body")]
        ['body.a', 'body.b.1']
    """
    found = []
    for error in exc.errors(include_url=False):
        path = ".".join([where, *(str(p) for p in error["loc"])])
        found.append(FieldError(path=path, message=str(error["msg"])[:500]))
    return found


def _from_service_error(exc: ServiceError) -> Response:
    kind = _slug(type(exc).__name__) if type(exc) is not ServiceError else None
    detail = _INTERNAL_DETAIL if exc.status == 500 else str(exc)
    return problem_response(exc.status, detail, exc.errors, kind, exc.headers)


def _legacy_body(response: Response) -> dict[str, Any] | None:
    """The ``{"Code", "Message"}`` body Chalice gives its own errors, if this is one."""
    body: Any = response.body
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, dict) and {"Code", "Message"} <= set(body):
        return body
    return None


def _converted(response: Response) -> Response:
    """Chalice's own error answers (router, auth, media type, bad JSON, unhandled) as problems."""
    status = int(response.status_code)
    if status < 400:
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    legacy = _legacy_body(response)
    if status >= 500:
        return problem_response(status, _INTERNAL_DETAIL, headers=headers)
    if legacy is None:
        return (
            response
            if response.headers.get("Content-Type") == MEDIA_TYPE
            else problem_response(status, _title(status), headers=headers)
        )
    detail = str(legacy["Message"])
    if legacy["Code"] == "BadRequestError" and "JSON" in detail:
        return problem_response(
            400, "the body is not JSON", [FieldError(path="body", message=detail)], "bad-input", headers
        )
    return problem_response(status, detail, headers=headers)


def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every HTTP answer of the app: an error becomes a problem, whoever raised it."""
    try:
        response = get_response(request)
    except ServiceError as exc:
        return _from_service_error(exc)
    except Exception:
        log.exception("unhandled error for %s", getattr(request, "path", "?"))
        return problem_response(500, _INTERNAL_DETAIL)
    return _converted(response)


def install(app: Chalice) -> None:
    """Make every HTTP answer of ``app`` an error model answer (call once, in ``app.py``)."""
    app.register_middleware(middleware, "http")
