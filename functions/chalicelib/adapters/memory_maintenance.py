"""The maintenance store in process (:class:`chalicelib.ports.maintenance.MaintenanceStore`), with the
DynamoDB adapter's semantics: an append takes its ``(machine, seq)`` place once, atomically with the
ticket it moves and the machine's "head pending" mark.

Example:
    >>> from chalicelib.ports.maintenance import MaintenanceStore
    >>> isinstance(MemoryMaintenanceStore(), MaintenanceStore)
    True
"""

from __future__ import annotations

import threading
from datetime import datetime

from chalicelib.ports.maintenance import HeadRecord, HealthPoint, PublishedPlan
from twin_models.maintenance import LogEntry, Ticket

__all__ = ["MemoryMaintenanceStore"]


class MemoryMaintenanceStore:
    """Logs, tickets, heads, health history and plans in dicts, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[str]] = {}  # machine -> entry documents (JSON), by seq
        self._times: dict[str, list[tuple[datetime, int, str]]] = {}  # machine -> (occurred_at, seq, hash)
        self._tickets: dict[str, dict[str, str]] = {}  # machine -> ticket id -> ticket JSON
        self._pending: dict[str, int] = {}
        self._heads: dict[str, dict[int, HeadRecord]] = {}
        self._health: dict[str, dict[int, HealthPoint]] = {}
        self._plans: dict[tuple[str, str], PublishedPlan] = {}

    # -- the log -----------------------------------------------------------------------------------
    def append(self, entry: LogEntry, ticket: Ticket | None = None) -> bool:
        with self._lock:
            log = self._entries.setdefault(entry.machine_id, [])
            if entry.seq != len(log):
                return False
            log.append(entry.model_dump_json())
            self._times.setdefault(entry.machine_id, []).append((entry.occurred_at, entry.seq, entry.hash_hex))
            if ticket is not None:
                self._tickets.setdefault(entry.machine_id, {})[ticket.ticket_id] = ticket.model_dump_json()
            self._pending[entry.machine_id] = entry.seq
            return True

    def head(self, machine_id: str) -> LogEntry | None:
        with self._lock:
            log = self._entries.get(machine_id)
            last = log[-1] if log else None
        return LogEntry.model_validate_json(last) if last else None

    def entry(self, machine_id: str, seq: int) -> LogEntry | None:
        with self._lock:
            log = self._entries.get(machine_id, [])
            found = log[seq] if 0 <= seq < len(log) else None
        return LogEntry.model_validate_json(found) if found else None

    def entries(self, machine_id: str, first_seq: int = 0, last_seq: int | None = None) -> list[LogEntry]:
        with self._lock:
            log = list(self._entries.get(machine_id, []))
        stop = len(log) if last_seq is None else min(last_seq + 1, len(log))
        return [LogEntry.model_validate_json(doc) for doc in log[max(first_seq, 0) : stop]]

    def latest(self, machine_id: str, at: datetime) -> tuple[str, datetime] | None:
        with self._lock:
            found = [t for t in self._times.get(machine_id, []) if t[0] <= at]
        if not found:
            return None
        when, _, entry_hash = max(found)
        return entry_hash, when

    # -- tickets -----------------------------------------------------------------------------------
    def ticket(self, machine_id: str, ticket_id: str) -> Ticket | None:
        with self._lock:
            found = self._tickets.get(machine_id, {}).get(ticket_id)
        return Ticket.model_validate_json(found) if found else None

    def tickets(self, machine_id: str) -> list[Ticket]:
        with self._lock:
            found = list(self._tickets.get(machine_id, {}).values())
        tickets = [Ticket.model_validate_json(t) for t in found]
        return sorted(tickets, key=lambda t: int(t.opening_entry.rpartition(".")[2]))

    # -- anchoring of heads ----------------------------------------------------------------------
    def pending_heads(self, limit: int = 1000) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(self._pending.items())[:limit]

    def clear_pending(self, machine_id: str, seq: int) -> bool:
        with self._lock:
            if self._pending.get(machine_id) != seq:
                return False
            del self._pending[machine_id]
            return True

    def put_head(self, head: HeadRecord) -> None:
        with self._lock:
            self._heads.setdefault(head.machine_id, {}).setdefault(head.seq, head)

    def heads(self, machine_id: str) -> list[HeadRecord]:
        with self._lock:
            return [h for _, h in sorted(self._heads.get(machine_id, {}).items())]

    # -- health history --------------------------------------------------------------------------
    def observe(self, point: HealthPoint, bucket_s: int = 600) -> None:
        with self._lock:
            self._health.setdefault(point.machine_id, {})[int(point.at.timestamp()) // bucket_s] = point

    def health(self, machine_id: str, start: datetime, end: datetime) -> list[HealthPoint]:
        with self._lock:
            points = list(self._health.get(machine_id, {}).values())
        return sorted((p for p in points if start <= p.at < end), key=lambda p: p.at)

    # -- plans -------------------------------------------------------------------------------------
    def put_plan(self, published: PublishedPlan) -> None:
        with self._lock:
            self._plans[(published.lessor, published.plan.machine_type)] = published

    def plan(self, lessor: str, machine_type: str) -> PublishedPlan | None:
        with self._lock:
            return self._plans.get((lessor, machine_type))
