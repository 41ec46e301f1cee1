"""The maintenance area's ports: the store of the logs, and what the ingest path and anchoring see of it.

:class:`MaintenanceStore` keeps, per machine, the log entries (append-only, one per ``seq``), the tickets
(the state their events in the log leave them in), the heads submitted for anchoring, and the health
history the trend is fitted on; and the maintenance plans per machine type. It also serves the parts
area's ``MaintenanceState`` (``latest``). Adapters:
``chalicelib.adapters.maintenance.DynamoMaintenanceStore`` and
``chalicelib.adapters.memory_maintenance.MemoryMaintenanceStore``.

An append is one atomic write: the entry at ``(machine, seq)`` if that place is free, the ticket the entry
moves (if any), and the machine's mark "head not anchored yet". Two writers appending to one machine at the
same time: one wins the place, the other reads the new head and tries again.

:class:`MaintenanceInbox` is what the ingest path uses (the maintenance service implements it);
:class:`AnchoredProofs` is what maintenance needs of anchoring besides ``AnchorQueue.submit`` (the
anchoring service implements it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from twin_models.anchoring import ProofBundle
from twin_models.maintenance import LogEntry, MaintenancePlan, Ticket

__all__ = [
    "AnchoredProofs",
    "HeadRecord",
    "HealthPoint",
    "MaintenanceInbox",
    "MaintenanceStore",
    "PublishedPlan",
]


@dataclass(frozen=True)
class HeadRecord:
    """A machine's chain head submitted for anchoring: the hash of the entry at ``seq``."""

    machine_id: str
    seq: int
    hash: str
    record_id: str
    submitted_at: datetime


@dataclass(frozen=True)
class HealthPoint:
    """One scoring of a machine: its anomaly score, the thresholds, and each component's share of the score."""

    machine_id: str
    at: datetime
    severity: str
    score: float
    threshold: float
    critical: float
    shares: Mapping[str, float] = field(default_factory=dict)
    action: str = ""


@dataclass(frozen=True)
class PublishedPlan:
    """A plan as the lessor published it."""

    plan: MaintenancePlan
    lessor: str
    published_at: datetime
    published_by: str


@runtime_checkable
class MaintenanceStore(Protocol):
    """Logs, tickets, anchored heads, health history and plans."""

    # -- the log -----------------------------------------------------------------------------------
    def append(self, entry: LogEntry, ticket: Ticket | None = None) -> bool:
        """Write ``entry`` at its ``(machine, seq)``, with ``ticket``'s new state and the machine's "head
        pending" mark, in one atomic write; False (nothing written) when that place is taken."""
        ...

    def head(self, machine_id: str) -> LogEntry | None:
        """The machine's last entry (None: an empty log)."""
        ...

    def entry(self, machine_id: str, seq: int) -> LogEntry | None:
        """One entry."""
        ...

    def entries(self, machine_id: str, first_seq: int = 0, last_seq: int | None = None) -> list[LogEntry]:
        """The entries from ``first_seq`` to ``last_seq`` (inclusive; None: to the end), in order."""
        ...

    def latest(self, machine_id: str, at: datetime) -> tuple[str, datetime] | None:
        """The hash (``0x`` hex) and ``occurred_at`` of the latest entry that happened at or before ``at``
        (what the parts area's ``MaintenanceState`` port asks: a part record names the log's state)."""
        ...

    # -- tickets -----------------------------------------------------------------------------------
    def ticket(self, machine_id: str, ticket_id: str) -> Ticket | None:
        """One ticket."""
        ...

    def tickets(self, machine_id: str) -> list[Ticket]:
        """The machine's tickets, in the order they were opened."""
        ...

    # -- anchoring of heads ----------------------------------------------------------------------
    def pending_heads(self, limit: int = 1000) -> list[tuple[str, int]]:
        """Machines whose head is not submitted yet, with the seq their mark was set at."""
        ...

    def clear_pending(self, machine_id: str, seq: int) -> bool:
        """Remove the machine's mark if it is still the one set at ``seq`` (a newer append keeps it)."""
        ...

    def put_head(self, head: HeadRecord) -> None:
        """Record a head submitted for anchoring (idempotent per ``(machine, seq)``)."""
        ...

    def heads(self, machine_id: str) -> list[HeadRecord]:
        """The machine's submitted heads, oldest first."""
        ...

    # -- health history --------------------------------------------------------------------------
    def observe(self, point: HealthPoint, bucket_s: int = 600) -> None:
        """Keep one scoring per machine and ``bucket_s`` window (a later one in the window replaces it)."""
        ...

    def health(self, machine_id: str, start: datetime, end: datetime) -> list[HealthPoint]:
        """The kept scorings in ``[start, end)``, oldest first."""
        ...

    # -- plans -------------------------------------------------------------------------------------
    def put_plan(self, published: PublishedPlan) -> None:
        """Publish (or replace) the lessor's plan of its machine type."""
        ...

    def plan(self, lessor: str, machine_type: str) -> PublishedPlan | None:
        """The lessor's plan of a machine type."""
        ...


@runtime_checkable
class MaintenanceInbox(Protocol):
    """What the ingest path hands to maintenance (the wiring passes the maintenance service)."""

    def record_alarm(self, machine_id: str, tenants: tuple[str, ...], alarm: Mapping[str, Any]) -> bool:
        """An alarm from anomaly scoring (its onset ticket or an escalation): opens or updates the machine's
        ticket for the component and logs an ``alarm`` entry; False when it was recorded before."""
        ...

    def observe_health(self, machine_id: str, reported: Mapping[str, Any]) -> None:
        """The ``health`` shadow's reported section after a scoring (kept for the trend)."""
        ...


@runtime_checkable
class AnchoredProofs(Protocol):
    """The proof bundle of an anchored record (the anchoring service; raises ``ChainError`` when not anchored)."""

    def bundle(self, record_id: str, record: Any = None) -> ProofBundle:
        """The bundle of ``record_id``, with ``record`` embedded."""
        ...
