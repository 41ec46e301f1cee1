"""Quality proof per part: identity, cycles from signed telemetry, part records, EPCIS 2.0 events.

* :mod:`~twin_models.parts.identity` — part ids and EPCs (the project's URN, GS1 SGTIN or Digital Link);
* :mod:`~twin_models.parts.cycles` — each envelope reduced once to a piece; cycles scanned from runs of pieces;
* :mod:`~twin_models.parts.record` — the part record, its events, inspections;
* :mod:`~twin_models.parts.epcis` and :mod:`~twin_models.parts.hashid` — EPCIS 2.0 JSON-LD events and the
  CBV 2.0 Event Hash ID;
* :mod:`~twin_models.parts.bundle` — the part's proof bundle and its off-line checks.

Example:
    >>> PartIdScheme().kind
    'urn'
"""

from twin_models.parts.bundle import (
    CHECKS,
    BundleCheck,
    ChainAnswer,
    KeyRecord,
    PartBundle,
    SignedCheck,
    check,
    check_offline,
    earliest_sent,
    key_record,
)
from twin_models.parts.cycles import Cycle, Piece, Span, Stat, piece_of, run_around, scan, touching
from twin_models.parts.epcis import CONTEXT, NAMESPACES, Inspection, Measurement, epcis_document
from twin_models.parts.hashid import event_hash_id, pre_hash
from twin_models.parts.identity import Gtin, PartIdScheme, part_id
from twin_models.parts.record import (
    EnvelopeRef,
    HealthAt,
    InspectionRecord,
    MaintenanceAt,
    PartRecord,
    ProcessSummary,
    inspection_record,
    part_events,
    records_of,
)

__all__ = [
    "CHECKS",
    "CONTEXT",
    "NAMESPACES",
    "BundleCheck",
    "ChainAnswer",
    "Cycle",
    "EnvelopeRef",
    "Gtin",
    "HealthAt",
    "Inspection",
    "InspectionRecord",
    "KeyRecord",
    "MaintenanceAt",
    "Measurement",
    "PartBundle",
    "PartIdScheme",
    "PartRecord",
    "Piece",
    "ProcessSummary",
    "SignedCheck",
    "Span",
    "Stat",
    "check",
    "check_offline",
    "earliest_sent",
    "epcis_document",
    "event_hash_id",
    "inspection_record",
    "key_record",
    "part_events",
    "part_id",
    "piece_of",
    "pre_hash",
    "records_of",
    "run_around",
    "scan",
    "touching",
]
