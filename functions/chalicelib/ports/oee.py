"""The OEE area's ports: stored per-period totals and the sites' shift calendars.

Example:
    >>> StoredPeriod("cnc-01", 0, 10, "2026-01-05 early", "early", {}, []).end_us
    10
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from twin_models.oee import FoldedSeqs, PlantCalendar

__all__ = ["Calendars", "OeeProgress", "OeeResults", "StoredPeriod"]


@dataclass(frozen=True)
class StoredPeriod:
    """One machine's stored totals for one completed period."""

    machine_id: str
    start_us: int
    end_us: int
    label: str
    shift: str | None
    row: dict[str, float]
    notes: list[str]


@dataclass(frozen=True)
class OeeProgress:
    """Where one machine's scheduled OEE run left off: the history folded in (:class:`FoldedSeqs`), the
    time of the run (``until_us``: periods ending before it are stored) and the fingerprint of its inputs
    other than history (calendar, state codes, ideal cycle times, line); another fingerprint means a full
    recompute."""

    machine_id: str
    folded: FoldedSeqs
    until_us: int
    fingerprint: str


@runtime_checkable
class OeeResults(Protocol):
    """Per-machine, per-period additive totals rows."""

    def put(self, periods: list[StoredPeriod], computed_at: datetime) -> int:
        """Write (or overwrite) periods; returns how many were written."""
        ...

    def between(self, machine_id: str, start_us: int, end_us: int) -> list[StoredPeriod]:
        """Stored periods that lie inside ``[start_us, end_us)``, in time order."""
        ...

    def progress(self, machine_id: str) -> OeeProgress | None:
        """Where the machine's last scheduled run left off, or None before its first."""
        ...

    def put_progress(self, progress: OeeProgress) -> None:
        """Store where the machine's scheduled run left off (after its periods are stored)."""
        ...


@runtime_checkable
class Calendars(Protocol):
    """Each site's shift calendar, in the plant's local zone."""

    def put(self, site: str, calendar: PlantCalendar) -> None:
        """Store a site's calendar."""
        ...

    def get(self, site: str) -> PlantCalendar | None:
        """A site's calendar, or None when none is stored."""
        ...
