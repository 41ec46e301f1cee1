"""Errors the use cases raise; each carries its HTTP status.

Every error derives from :class:`ServiceError`: a route that lets one escape answers problem details
(:mod:`chalicelib.problems`) with the class's ``status``, its message as ``detail`` and its ``errors``
(the fields at fault, each with its path), so services raise and routes stay one-liners.

Example:
    >>> NotVisibleError("no machine 'cnc-9'").STATUS_CODE
    404
    >>> BadInputError("limit: too large", field="query.limit").errors[0].path
    'query.limit'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalice.app import ChaliceUnhandledError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "BadInputError",
    "ConflictingStateError",
    "FieldError",
    "NotAllowedError",
    "NotVisibleError",
    "PayloadTooLargeError",
    "ServiceError",
    "validation_error",
]


class FieldError(BaseModel):
    """One field that does not fit: where (``query.limit``, ``body.lease.start``, ``path.machine_id``) and why."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="where: query.<name>, path.<name>, body.<field>.<index>..., or body")
    message: str


class ServiceError(ChaliceUnhandledError):
    """Base of the functions' use-case errors; a subclass sets ``status``.

    (A Chalice "unhandled" error on purpose: Chalice passes it on to the problem-details middleware
    instead of answering its own ``{"Code", "Message"}`` body.)
    """

    status = 500
    STATUS_CODE = 500

    def __init__(
        self,
        message: str = "",
        *,
        errors: Iterable[FieldError] = (),
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        found = list(errors)
        if field is not None:
            found.append(FieldError(path=field, message=message))
        self.errors: list[FieldError] = found
        self.headers: dict[str, str] = dict(headers or {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.STATUS_CODE = cls.status


class NotVisibleError(ServiceError):
    """The resource does not exist for this caller (another tenant's machine looks absent)."""

    status = 404


class BadInputError(ServiceError):
    """A request parameter that cannot be understood."""

    status = 400


class PayloadTooLargeError(ServiceError):
    """A request (or the document it would write) over its size limit."""

    status = 413


class NotAllowedError(ServiceError):
    """The caller's role may not do this to a resource it can see."""

    status = 403


class ConflictingStateError(ServiceError):
    """The resource is not in a state that allows this."""

    status = 409


def validation_error(exc: ValidationError, where: str) -> BadInputError:
    """A pydantic validation as a 400 naming every field at fault under ``where`` (``body``, ``query``).

    Example:
        >>> class M(BaseModel):
        ...     a: int
        ...     b: list[int]
        >>> try:
        ...     M.model_validate({"a": "x", "b": [1, "y"]})
        ... except ValidationError as exc:
        ...     [e.path for e in validation_error(exc, "body").errors]
        ['body.a', 'body.b.1']
    """
    errors = [
        FieldError(path=".".join([where, *(str(p) for p in e["loc"])]), message=str(e["msg"])[:500])
        for e in exc.errors(include_url=False)
    ]
    return BadInputError("; ".join(f"{e.path}: {e.message}" for e in errors[:5]), errors=errors)
