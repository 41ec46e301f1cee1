"""Errors of the billing model, all derived from :class:`BillingError`."""

from __future__ import annotations

from twin_models.errors import TwinModelsError

__all__ = [
    "BillingError",
    "LeaseError",
    "PeriodError",
    "UsageConflictError",
    "UsageError",
]


class BillingError(TwinModelsError):
    """Base of every billing error."""


class LeaseError(BillingError):
    """A lease or tariff document that cannot be used (schema, tiers, time zone, currency)."""


class PeriodError(BillingError):
    """A billing period that is malformed or does not fit the lease's interval."""


class UsageError(BillingError):
    """A usage event or usage file that cannot be read; the message names the line."""


class UsageConflictError(UsageError):
    """Two usage events with the same id but different content (a duplicate must be identical)."""
