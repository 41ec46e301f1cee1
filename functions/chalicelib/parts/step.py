"""The ingest pipeline's part step: each envelope reduced to its piece, each completed cycle to part records,
each new record queued for anchoring.

For every envelope of a machine's batch (new or redelivered) the step stores its piece and raw body, reads
the run of stored pieces around it (:func:`twin_models.parts.run_around`), scans the run for cycles and
derives the records of the cycles that touch the envelope. A record is written once (``Parts.put_part`` is
conditional on its id), and only a record written now is queued for anchoring: redelivered and reordered
envelopes change nothing.

Example:
    >>> PartsStep.WINDOW
    64
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from chalicelib.ports.anchoring import AnchorQueue
from chalicelib.ports.parts import MaintenanceState, Parts
from chalicelib.ports.twins import Devices, Shadows
from twin_models.columnar import AnyEnvelope
from twin_models.history import Segment
from twin_models.parts import (
    Cycle,
    HealthAt,
    MaintenanceAt,
    PartIdScheme,
    PartRecord,
    piece_of,
    records_of,
    run_around,
    scan,
)
from twin_models.parts import touching as cycles_touching
from twin_models.tenancy import Device

__all__ = ["PART_KIND", "PartsStep", "part_record_id"]

#: The anchoring kind of part records (and of their inspections).
PART_KIND = "part"


def part_record_id(part_id: str) -> str:
    """The anchoring record id of a part record.

    Example:
        >>> part_record_id("cnc-01:1767592830000:42")
        'parts/cnc-01:1767592830000:42'
    """
    return f"parts/{part_id}"


class PartsStep:
    """Part records from a machine's envelopes of one batch (see the module documentation)."""

    #: How many seq either side of a batch one query reads; a longer run reads again, wider.
    WINDOW = 64

    def __init__(
        self,
        parts: Parts,
        devices: Devices,
        shadows: Shadows,
        maintenance: MaintenanceState,
        anchors: AnchorQueue,
        on_recorded: Callable[[PartRecord], None] = lambda record: None,
    ) -> None:
        self.parts = parts
        self.devices = devices
        self.shadows = shadows
        self.maintenance = maintenance
        self.anchors = anchors
        self.on_recorded = on_recorded

    def run(
        self,
        machine_id: str,
        envelopes: Mapping[int, AnyEnvelope],
        segments: Mapping[int, Segment],
        bodies: Mapping[int, str],
    ) -> int:
        """Store the envelopes' pieces and record the parts they complete; returns the records written now."""
        if not envelopes:
            return 0
        for seq in sorted(envelopes):
            piece = piece_of(envelopes[seq], segments[seq].content_hash if seq in segments else "")
            self.parts.put_piece(piece, bodies.get(seq, "").encode())
        device = self.devices.get(machine_id)
        if device is None:
            return 0
        cycles = self._cycles(machine_id, sorted(envelopes))
        if not cycles:
            return 0
        scheme, health = self.parts.scheme(machine_id), self._health(machine_id)  # once per machine and batch
        return sum(self._record(device, cycle, scheme, health) for cycle in cycles)

    def _cycles(self, machine_id: str, seqs: list[int]) -> list[Cycle]:
        width = self.WINDOW
        while True:
            lo, hi = max(seqs[0] - width, 0), seqs[-1] + width
            stored = self.parts.pieces(machine_id, lo, hi)
            found: dict[tuple[datetime, tuple[int, ...]], Cycle] = {}
            complete = True
            for seq in seqs:
                run = run_around(seq, stored)
                if run and ((run[0].seq == lo and lo > 0) or run[-1].seq == hi):
                    complete = False  # the run may go on beyond what was read
                    break
                for cycle in cycles_touching(scan(run), seq):
                    found[(cycle.end, cycle.counts)] = cycle
            if complete:
                return sorted(found.values(), key=lambda c: c.end)
            width *= 4

    def _record(self, device: Device, cycle: Cycle, scheme: PartIdScheme | None, health: HealthAt) -> int:
        producer = device.lessee or device.lessor
        records = records_of(
            cycle,
            producer=producer,
            scheme=scheme,
            health=health,
            maintenance=self._maintenance(device.machine_id, cycle.end),
        )
        written = 0
        for record in records:
            if self.parts.get(record.part_id) is not None or not self.parts.put_part(record):
                continue
            self.anchors.submit(part_record_id(record.part_id), record.record_hash(), PART_KIND, (producer,))
            self.on_recorded(record)
            written += 1
        return written

    def _health(self, machine_id: str) -> HealthAt:
        found = self.shadows.get(machine_id, "health")
        if found is None:
            return HealthAt()
        reported = found[0]
        score = reported.get("score")
        severity = reported.get("severity")
        return HealthAt(
            severity=str(severity) if severity is not None else None,
            anomaly_score=float(score) if isinstance(score, int | float) else None,
        )

    def _maintenance(self, machine_id: str, at: datetime) -> MaintenanceAt:
        latest = self.maintenance.latest(machine_id, at)
        if latest is None:
            return MaintenanceAt()
        entry_hash, when = latest
        return MaintenanceAt(entry_hash=entry_hash, hours_since=round((at - when).total_seconds() / 3600.0, 6))
