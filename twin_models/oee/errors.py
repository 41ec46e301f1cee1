"""Errors raised by the OEE engine, all derived from :class:`OeeError`.

Example:
    >>> from twin_models.oee.errors import OeeError, OeeInputError
    >>> issubclass(OeeInputError, OeeError)
    True
"""

from __future__ import annotations

__all__ = ["CalendarError", "OeeError", "OeeInputError", "SamplesError"]


class OeeError(Exception):
    """Base class of every error of the OEE engine."""


class OeeInputError(OeeError, ValueError):
    """Input that cannot be evaluated (bad scenario, unattributable counts, unknown program...)."""


class CalendarError(OeeInputError):
    """A shift calendar that is inconsistent (overlapping shifts, a break outside its shift...)."""


class SamplesError(OeeInputError):
    """Samples that cannot be turned into state intervals (mismatched lengths, NaN timestamps...)."""
