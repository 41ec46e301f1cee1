"""Errors the use cases raise; each carries its HTTP status.

Every error derives from :class:`ServiceError`, a Chalice view error: a route that lets one
escape answers ``{"Code": <class name>, "Message": <text>}`` with the class's ``status``, so
services raise and routes stay one-liners.

Example:
    >>> NotVisibleError("no machine 'cnc-9'").STATUS_CODE
    404
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceViewError

__all__ = [
    "BadInputError",
    "ConflictingStateError",
    "NotAllowedError",
    "NotVisibleError",
    "PayloadTooLargeError",
    "ServiceError",
]


class ServiceError(ChaliceViewError):
    """Base of the functions' use-case errors; a subclass sets ``status``."""

    status = 500
    STATUS_CODE = 500

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
