"""In-process adapters of the parts ports (:mod:`chalicelib.ports.parts`): the same semantics as
:class:`chalicelib.adapters.parts.DynamoParts` (a part record and an inspection number written once), in
dicts behind one lock.

Example:
    >>> from datetime import UTC, datetime
    >>> state = MemoryMaintenanceState()
    >>> state.record("cnc-01", "0xab", datetime(2026, 1, 5, tzinfo=UTC))
    >>> state.latest("cnc-01", datetime(2026, 1, 6, tzinfo=UTC))[0]
    '0xab'
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from chalicelib.ports.parts import StoredPart
from twin_models.parts import InspectionRecord, PartIdScheme, PartRecord, Piece

__all__ = ["MemoryMaintenanceState", "MemoryParts"]


class MemoryParts:
    """Pieces, raw envelopes, part records, shares, inspections and schemes in process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pieces: dict[tuple[str, int], Piece] = {}
        self._bodies: dict[tuple[str, int], bytes] = {}
        self._parts: dict[str, StoredPart] = {}
        self._inspections: dict[str, dict[int, InspectionRecord]] = {}
        self._schemes: dict[str, PartIdScheme] = {}

    def put_piece(self, piece: Piece, body: bytes) -> None:
        """Keep a piece and its envelope (first write wins)."""
        with self._lock:
            self._pieces.setdefault((piece.machine_id, piece.seq), piece)
            self._bodies.setdefault((piece.machine_id, piece.seq), body)

    def pieces(self, machine_id: str, lo: int, hi: int) -> dict[int, Piece]:
        """Stored pieces with ``lo <= seq <= hi``."""
        with self._lock:
            if hi - lo < len(self._pieces):
                found = ((s, self._pieces.get((machine_id, s))) for s in range(lo, hi + 1))
                return {s: p for s, p in found if p is not None}
            return {s: p for (m, s), p in self._pieces.items() if m == machine_id and lo <= s <= hi}

    def envelope(self, machine_id: str, seq: int) -> bytes | None:
        """The raw envelope of ``(machine, seq)``."""
        with self._lock:
            return self._bodies.get((machine_id, seq))

    def put_part(self, record: PartRecord) -> bool:
        """Store a record unless its id exists."""
        with self._lock:
            if record.part_id in self._parts:
                return False
            self._parts[record.part_id] = StoredPart(record=record)
            return True

    def get(self, part_id: str) -> StoredPart | None:
        """A stored part."""
        with self._lock:
            return self._parts.get(part_id)

    def for_machine(self, machine_id: str, start: datetime, end: datetime) -> list[StoredPart]:
        """The machine's parts ended in ``[start, end)``, by cycle end and count."""
        with self._lock:
            found = [
                p
                for p in self._parts.values()
                if p.record.machine_id == machine_id and start <= p.record.cycle_end < end
            ]
        return sorted(found, key=lambda p: (p.record.cycle_end, p.record.count))

    def share(self, part_id: str, tenant: str) -> None:
        """Grant ``tenant`` read access."""
        with self._lock:
            found = self._parts.get(part_id)
            if found is not None and tenant not in found.shared_with:
                self._parts[part_id] = replace(found, shared_with=(*found.shared_with, tenant))

    def add_inspection(self, record: InspectionRecord) -> bool:
        """Store an inspection unless its number exists for the part."""
        with self._lock:
            numbers = self._inspections.setdefault(record.part_id, {})
            if record.number in numbers:
                return False
            numbers[record.number] = record
            return True

    def inspections(self, part_id: str) -> list[InspectionRecord]:
        """A part's inspections by number."""
        with self._lock:
            return [r for _, r in sorted(self._inspections.get(part_id, {}).items())]

    def scheme(self, machine_id: str) -> PartIdScheme | None:
        """The machine's id scheme."""
        with self._lock:
            return self._schemes.get(machine_id)

    def set_scheme(self, machine_id: str, scheme: PartIdScheme) -> None:
        """Set the machine's id scheme."""
        with self._lock:
            self._schemes[machine_id] = scheme


class MemoryMaintenanceState:
    """Maintenance-log entries in process (until the maintenance log serves them): ``(hash, time)`` per machine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[tuple[datetime, str]]] = {}

    def record(self, machine_id: str, entry_hash: str, at: datetime) -> None:
        """Note a maintenance-log entry."""
        with self._lock:
            self._entries.setdefault(machine_id, []).append((at, entry_hash))

    def latest(self, machine_id: str, at: datetime) -> tuple[str, datetime] | None:
        """The latest entry at or before ``at``."""
        with self._lock:
            found = [(t, h) for t, h in self._entries.get(machine_id, []) if t <= at]
        if not found:
            return None
        when, entry_hash = max(found)
        return entry_hash, when
