"""Errors raised by the maintenance domain, all derived from :class:`MaintenanceError`."""

from __future__ import annotations

from twin_models.errors import TwinModelsError

__all__ = ["EntryError", "MaintenanceError", "PlanError", "TicketError", "TicketTransitionError"]


class MaintenanceError(TwinModelsError, ValueError):
    """Base class of every maintenance error."""


class EntryError(MaintenanceError):
    """A log entry that cannot be recorded (a link to an unknown entry, a time in the future, ...)."""


class TicketError(MaintenanceError):
    """A ticket operation that does not fit the ticket."""


class TicketTransitionError(TicketError):
    """A move the ticket's lifecycle does not allow from its current state."""


class PlanError(MaintenanceError):
    """A maintenance plan document that does not fit the schema or refers to unknown tasks."""
