"""Errors the use cases raise, mapped to HTTP statuses in one place (``app.py`` middleware)."""

from __future__ import annotations

__all__ = ["BadInputError", "NotVisibleError", "ServiceError"]


class ServiceError(Exception):
    """Base of the functions' use-case errors."""

    status = 500


class NotVisibleError(ServiceError):
    """The resource does not exist for this caller (another tenant's machine looks absent: 404)."""

    status = 404


class BadInputError(ServiceError):
    """A request parameter that cannot be understood (400)."""

    status = 400
