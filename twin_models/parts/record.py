"""The part record: how, where and in what condition one part was made, and the proof bundle that carries it.

A :class:`PartRecord` is derived from one :class:`~twin_models.parts.cycles.Cycle` (the signed telemetry of
the part's cycle) and what the cloud knows at that moment: the machine's health and maintenance state, the
lessee's id scheme. Its ``event_ids`` are the Event Hash IDs of its commissioning event and of the machine's
own inspection (the reject signal), both rebuilt from the record itself by :func:`part_events`; so the
record's hash (:func:`twin_models.anchoring.record_hash`, which is what is anchored) covers the events too.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from twin_models.parts.cycles import piece_of, scan
    >>> from twin_models.telemetry import Sample, TelemetryEnvelope
    >>> t = datetime(2026, 1, 5, 6, tzinfo=UTC)
    >>> samples = [Sample(ts=t + timedelta(seconds=i), state=100, part_count=i // 4, reject_count=i // 8,
    ...                   program="P100", material_lot="L-7") for i in range(9)]
    >>> env = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=0, sent_at=t, samples=samples)
    >>> records = [r for c in scan([piece_of(env, "0xab")]) for r in records_of(c, producer="factory-1")]
    >>> [(r.count, r.result, r.material_lot) for r in records]
    [(1, 'good', 'L-7'), (2, 'rejected', 'L-7')]
    >>> records[0].verify_events() is None
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin_models.merkle import keccak256
from twin_models.parts.cycles import Cycle, Stat
from twin_models.parts.epcis import NAMESPACES, Inspection, commissioning_event, inspection_event, machine_uri
from twin_models.parts.hashid import event_hash_id
from twin_models.parts.identity import PartIdScheme, part_id
from twin_models.signing import canonical_bytes
from twin_models.telemetry import UtcDatetime

__all__ = [
    "EnvelopeRef",
    "HealthAt",
    "InspectionRecord",
    "MaintenanceAt",
    "PartRecord",
    "ProcessSummary",
    "inspection_record",
    "part_events",
    "records_of",
]


class ProcessSummary(BaseModel):
    """The cycle's process values: spindle load (%), vibration RMS (mm/s), temperature (°C), energy (kWh)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spindle_load_pct: Stat
    vibration_rms_mm_s: Stat
    temperature_c: Stat
    energy_kwh: float
    samples: int


class HealthAt(BaseModel):
    """The machine's health when the part was recorded (the ``health`` shadow: severity and anomaly score)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: str | None = None
    anomaly_score: float | None = None


class MaintenanceAt(BaseModel):
    """The machine's maintenance state: the hash of its latest maintenance-log entry and the hours since."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry_hash: str | None = None
    hours_since: float | None = None


class EnvelopeRef(BaseModel):
    """One envelope the cycle came from: ``(machine, seq)`` and the hash of its signed content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    machine_id: str
    seq: int
    content_hash: str


class PartRecord(BaseModel):
    """One produced part (see the module documentation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    part_id: str
    epc: str
    machine_id: str
    site: str
    program: str
    order_id: str | None
    material_lot: str | None
    product: str | None
    count: int
    cycle_start: UtcDatetime
    cycle_end: UtcDatetime
    cycle_time_s: float
    ideal_cycle_time_s: float | None
    tool_id: str
    tool_wear_pct: float
    process: ProcessSummary
    health: HealthAt
    maintenance: MaintenanceAt
    result: Literal["good", "rejected"]
    producer: Annotated[str, Field(min_length=1, description="the tenant that made the part (the lessee)")]
    evidence: list[EnvelopeRef]
    event_ids: list[str] = Field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The JSON form that is hashed and anchored."""
        return self.model_dump(mode="json")

    def record_hash(self) -> bytes:
        """keccak256 of the RFC 8785 form of :meth:`document` (what :func:`twin_models.anchoring.record_hash`
        computes, through the fast canonical writer of :func:`twin_models.signing.canonical_bytes`)."""
        return keccak256(canonical_bytes(self.document()))

    def verify_events(self, events: list[dict[str, Any]] | None = None) -> str | None:
        """None when ``event_ids`` are the hash ids of the events rebuilt from this record (and ``events``,
        when given, are those events, each with its own hash id); else what does not match."""
        rebuilt = part_events(self)
        if [e["eventID"] for e in rebuilt] != self.event_ids:
            return "the record's event_ids are not the hash ids of the events its own values make"
        for index, event in enumerate(events or []):
            if event_hash_id(event, NAMESPACES) != event.get("eventID"):
                return f"event {index}: its eventID is not its CBV 2.0 Event Hash ID"
            if index < len(rebuilt) and event["eventID"] != rebuilt[index]["eventID"]:
                return f"event {index}: not the event the record's values make"
        return None


def _ilmd(record: PartRecord) -> dict[str, str]:
    return {
        "cbvmda:lotNumber": record.material_lot or "",
        "tl:program": record.program,
        "tl:order": record.order_id or "",
        "tl:product": record.product or "",
    }


def part_events(record: PartRecord) -> list[dict[str, Any]]:
    """The record's commissioning event and the machine's own inspection, each with its ``eventID``."""
    commissioning = commissioning_event(
        record.epc,
        record.machine_id,
        record.site,
        record.cycle_start,
        record.cycle_end,
        _ilmd(record),
        record.process.model_dump(mode="json"),
    )
    machine = Inspection(
        inspected_at=record.cycle_end,
        inspector=record.machine_id,
        result="conformant" if record.result == "good" else "non_conformant",
    )
    return [
        commissioning,
        inspection_event(record.epc, record.site, machine, read_point=machine_uri(record.machine_id)),
    ]


def records_of(
    cycle: Cycle,
    *,
    producer: str,
    scheme: PartIdScheme | None = None,
    health: HealthAt | None = None,
    maintenance: MaintenanceAt | None = None,
) -> list[PartRecord]:
    """The part records of one cycle (one per part its step counted), with their event ids."""
    scheme = scheme or PartIdScheme()
    span = cycle.span
    process = ProcessSummary(
        spindle_load_pct=span.stat("load"),
        vibration_rms_mm_s=span.stat("vibration"),
        temperature_c=span.stat("temperature"),
        energy_kwh=round(span.energy_kwh, 9),
        samples=span.n,
    )
    ctx = cycle.context
    out = []
    for count, rejected in zip(cycle.counts, cycle.rejected, strict=True):
        draft = PartRecord(
            part_id=part_id(cycle.machine_id, cycle.end, count),
            epc=scheme.epc(cycle.machine_id, ctx.program, cycle.end, count),
            machine_id=cycle.machine_id,
            site=cycle.site,
            program=ctx.program,
            order_id=ctx.order_id,
            material_lot=ctx.material_lot,
            product=ctx.product,
            count=count,
            cycle_start=cycle.start,
            cycle_end=cycle.end,
            cycle_time_s=cycle.cycle_time_s,
            ideal_cycle_time_s=ctx.ideal_cycle_time_s,
            tool_id=ctx.tool_id,
            tool_wear_pct=ctx.tool_wear_pct,
            process=process,
            health=health or HealthAt(),
            maintenance=maintenance or MaintenanceAt(),
            result="rejected" if rejected else "good",
            producer=producer,
            evidence=[EnvelopeRef(machine_id=cycle.machine_id, seq=s, content_hash=h) for s, h in cycle.evidence],
        )
        out.append(draft.model_copy(update={"event_ids": [e["eventID"] for e in part_events(draft)]}))
    return out


class InspectionRecord(BaseModel):
    """An inspector's result for a part, as anchored: the part's record hash, the inspection and its event id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    part_id: str
    part_record_hash: str
    number: Annotated[int, Field(ge=1)]
    inspection: Inspection
    event_id: str
    recorded_at: UtcDatetime

    def event(self, record: PartRecord) -> dict[str, Any]:
        """The inspecting event this record stands for."""
        return inspection_event(record.epc, record.site, self.inspection)


def inspection_record(record: PartRecord, inspection: Inspection, number: int, at: datetime) -> InspectionRecord:
    """The ``number``-th inspection of a part, with its event's hash id."""
    event = inspection_event(record.epc, record.site, inspection)
    return InspectionRecord(
        part_id=record.part_id,
        part_record_hash="0x" + record.record_hash().hex(),
        number=number,
        inspection=inspection,
        event_id=event["eventID"],
        recorded_at=at,
    )
