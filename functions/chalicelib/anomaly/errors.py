"""Errors of the anomaly area's use cases, all derived from :class:`AnomalyServiceError`.

Example:
    >>> ScoringFailedError("endpoint down").STATUS_CODE
    502
"""

from __future__ import annotations

from chalicelib.errors import ServiceError

__all__ = ["AnomalyServiceError", "ScoringFailedError"]


class AnomalyServiceError(ServiceError):
    """Base of the anomaly area's errors (bad scoring input: 500 unless a subclass says otherwise)."""


class ScoringFailedError(AnomalyServiceError):
    """The anomaly endpoint could not be called or answered something unreadable."""

    status = 502
