"""Errors of the health area, all derived from :class:`HealthError`."""

from __future__ import annotations

from chalicelib.errors import ServiceError

__all__ = ["EndpointError", "HealthError"]


class HealthError(ServiceError):
    """Base of the health area's errors."""


class EndpointError(HealthError):
    """The anomaly endpoint could not be called or answered something unreadable."""

    status = 502
