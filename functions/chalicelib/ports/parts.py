"""The parts area's ports: the part store, and the machine's maintenance state as the part record needs it.

* :class:`Parts` keeps what part derivation needs (each envelope's :class:`~twin_models.parts.cycles.Piece`,
  the raw envelope it came from), the part records (each written once), who a part is shared with, its
  inspections, and each machine's id scheme. Adapters: ``chalicelib.adapters.parts.DynamoParts``,
  ``chalicelib.adapters.memory_parts.MemoryParts``.
* :class:`MaintenanceState` answers "the latest maintenance-log entry of this machine at this instant":
  ``(entry hash, when)``. The maintenance store serves it (``MaintenanceStore.latest``: the wiring passes
  ``chalicelib.adapters.maintenance.DynamoMaintenanceStore`` or its in-process twin);
  ``chalicelib.adapters.memory_parts.MemoryMaintenanceState`` is a stand-in for the parts benchmark.

Example:
    >>> from chalicelib.adapters.memory_parts import MemoryParts
    >>> isinstance(MemoryParts(), Parts)
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from twin_models.columnar import AnyEnvelope
from twin_models.history import Segment
from twin_models.parts import InspectionRecord, PartIdScheme, PartRecord, Piece

__all__ = ["MaintenanceState", "PartDeriver", "Parts", "StoredPart"]


@dataclass(frozen=True)
class StoredPart:
    """A part record as stored, with the tenants it is shared with."""

    record: PartRecord
    shared_with: tuple[str, ...] = field(default=())

    @property
    def parties(self) -> tuple[str, ...]:
        """Who may see the part: its producer and the tenants it is shared with."""
        return (self.record.producer, *self.shared_with)


@runtime_checkable
class Parts(Protocol):
    """Pieces, raw envelopes, part records, shares, inspections and id schemes."""

    def put_piece(self, piece: Piece, body: bytes) -> None:
        """Keep one envelope's piece and its raw body (the same ``(machine, seq)`` again changes nothing)."""
        ...

    def pieces(self, machine_id: str, lo: int, hi: int) -> dict[int, Piece]:
        """The stored pieces with ``lo <= seq <= hi``, by seq."""
        ...

    def envelope(self, machine_id: str, seq: int) -> bytes | None:
        """The raw envelope (JWS or v1 JSON) a piece came from."""
        ...

    def put_part(self, record: PartRecord) -> bool:
        """Store a part record unless its id exists; False when it did (one conditional write)."""
        ...

    def get(self, part_id: str) -> StoredPart | None:
        """A stored part."""
        ...

    def for_machine(self, machine_id: str, start: datetime, end: datetime) -> list[StoredPart]:
        """The machine's parts whose cycle ended in ``[start, end)``, by cycle end."""
        ...

    def share(self, part_id: str, tenant: str) -> None:
        """Grant ``tenant`` read access to the part (idempotent)."""
        ...

    def add_inspection(self, record: InspectionRecord) -> bool:
        """Store the ``record.number``-th inspection of its part unless that number exists; False if it did."""
        ...

    def inspections(self, part_id: str) -> list[InspectionRecord]:
        """A part's inspections, by number."""
        ...

    def scheme(self, machine_id: str) -> PartIdScheme | None:
        """The machine's part id scheme (None: the project's URN)."""
        ...

    def set_scheme(self, machine_id: str, scheme: PartIdScheme) -> None:
        """Set the machine's part id scheme (applies to parts derived from then on)."""
        ...


@runtime_checkable
class MaintenanceState(Protocol):
    """The machine's maintenance log as a part record needs it."""

    def latest(self, machine_id: str, at: datetime) -> tuple[str, datetime] | None:
        """The hash (``0x`` hex) and time of the machine's latest maintenance-log entry at or before ``at``."""
        ...


@runtime_checkable
class PartDeriver(Protocol):
    """The parts area as the ingest pipeline sees it (the wiring passes ``chalicelib.parts.step.PartsStep``)."""

    def run(
        self,
        machine_id: str,
        envelopes: Mapping[int, AnyEnvelope],
        segments: Mapping[int, Segment],
        bodies: Mapping[int, str],
    ) -> int:
        """Record the parts one machine's envelopes (by seq, with their segments and raw bodies) complete."""
        ...
