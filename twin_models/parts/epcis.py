"""EPCIS 2.0 JSON-LD events of a part, their Event Hash IDs, and the EPCISDocument that carries them.

* :func:`commissioning_event` — ``ObjectEvent``, ``action ADD``, ``bizStep commissioning``, disposition
  ``active``; ``ilmd`` with the lot (``cbvmda:lotNumber``), program, order and product; ``readPoint`` the
  machine, ``bizLocation`` the site; the cycle's process summary as ``sensorElementList`` (spindle load,
  vibration RMS, temperature as min/mean/max, energy as a value).
* :func:`inspection_event` — ``ObjectEvent``, ``action OBSERVE``, ``bizStep inspecting``, disposition
  ``conformant`` or ``non_conformant``, the measured values as sensor reports. The machine's own reject
  signal is the first inspection of every part (:func:`machine_inspection`).

Every event's ``eventID`` is its CBV 2.0 Event Hash ID (:func:`twin_models.parts.hashid.event_hash_id`),
computed from the event, never stored beside it. Machines and sites are named by the project's URNs
``urn:twinledger:machine:<machine_id>`` and ``urn:twinledger:site:<site>``.

Example:
    >>> inspection = Inspection(inspected_at="2026-01-05T07:00:00Z", inspector="qa-1", result="conformant",
    ...     measurements=[Measurement(characteristic="bore", type="Length", value=12.01, uom="MMT")])
    >>> event = inspection_event("urn:twinledger:part:m:1:1", "plant-a", inspection)
    >>> event["bizStep"], event["disposition"], event["eventID"].startswith("ni:///sha-256;")
    ('inspecting', 'conformant', True)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin_models.parts.hashid import declare_namespaces, event_hash_id
from twin_models.telemetry import NAME_PATTERN, UtcDatetime

__all__ = [
    "CONTEXT",
    "EPCIS_CONTEXT_URL",
    "NAMESPACES",
    "Inspection",
    "Measurement",
    "epcis_document",
    "event_time",
    "inspection_event",
    "machine_uri",
    "site_uri",
    "with_event_id",
]

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: The user-extension namespaces of the project's events: CBV master data and the project's own.
NAMESPACES = {"cbvmda": "urn:epcglobal:cbv:mda:", "tl": "urn:twinledger:epcis:"}
CONTEXT: list[Any] = [EPCIS_CONTEXT_URL, NAMESPACES]


def machine_uri(machine_id: str) -> str:
    """The ``readPoint`` of a machine."""
    return f"urn:twinledger:machine:{machine_id}"


def site_uri(site: str) -> str:
    """The ``bizLocation`` of a site."""
    return f"urn:twinledger:site:{site}"


def event_time(value: datetime) -> str:
    """An event time as EPCIS text: UTC, millisecond precision (truncated), ``Z``.

    Example:
        >>> event_time(datetime(2026, 1, 5, 6, 0, 30, 999999, tzinfo=UTC))
        '2026-01-05T06:00:30.999Z'
    """
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


MeasurementType = Literal["Dimensionless", "Speed", "Temperature", "Energy", "Length"]


class Measurement(BaseModel):
    """One measured characteristic of an inspection (UN/CEFACT unit code, e.g. ``MMT`` for mm)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    characteristic: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
    type: MeasurementType = "Length"
    value: Annotated[float, Field(ge=-1e12, le=1e12)]
    uom: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,3}$")]


class Inspection(BaseModel):
    """A quality inspector's (or the machine's) result for one part."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inspected_at: UtcDatetime
    inspector: Annotated[str, Field(pattern=NAME_PATTERN)]
    station: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    result: Literal["conformant", "non_conformant"]
    measurements: Annotated[list[Measurement], Field(max_length=50)] = Field(default_factory=list)


def with_event_id(event: dict[str, Any]) -> dict[str, Any]:
    """The event with ``eventID`` set to its CBV 2.0 Event Hash ID (first in the object)."""
    body = {k: v for k, v in event.items() if k not in ("eventID", "type")}
    return {"type": event["type"], "eventID": event_hash_id(event, NAMESPACES), **body}


def _report(type_: str, uom: str, **values: float) -> dict[str, Any]:
    return {"type": type_, **values, "uom": uom}


def commissioning_event(
    epc: str,
    machine_id: str,
    site: str,
    start: datetime,
    end: datetime,
    ilmd: dict[str, str],
    process: dict[str, Any],
) -> dict[str, Any]:
    """The part's commissioning ``ObjectEvent`` (``process``: a record's ``process`` section, JSON form)."""
    reports = [
        _report("Dimensionless", "P1", **_stat(process["spindle_load_pct"])),
        _report("Speed", "C16", **_stat(process["vibration_rms_mm_s"])),
        _report("Temperature", "CEL", **_stat(process["temperature_c"])),
        _report("Energy", "KWH", value=process["energy_kwh"]),
    ]
    return with_event_id(
        {
            "type": "ObjectEvent",
            "eventTime": event_time(end),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [epc],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": machine_uri(machine_id)},
            "bizLocation": {"id": site_uri(site)},
            "sensorElementList": [
                {
                    "sensorMetadata": {
                        "startTime": event_time(start),
                        "endTime": event_time(end),
                        "deviceID": machine_uri(machine_id),
                    },
                    "sensorReport": reports,
                }
            ],
            "ilmd": {k: v for k, v in ilmd.items() if v},
        }
    )


def _stat(stat: dict[str, float]) -> dict[str, float]:
    return {"minValue": stat["min"], "maxValue": stat["max"], "meanValue": stat["mean"]}


def inspection_event(epc: str, site: str, inspection: Inspection, read_point: str | None = None) -> dict[str, Any]:
    """An inspecting ``ObjectEvent`` for one inspection of the part ``epc``."""
    point = read_point or f"urn:twinledger:station:{inspection.station or inspection.inspector}"
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": event_time(inspection.inspected_at),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "disposition": inspection.result,
        "readPoint": {"id": point},
        "bizLocation": {"id": site_uri(site)},
    }
    if inspection.measurements:
        event["sensorElementList"] = [
            {
                "sensorMetadata": {"time": event_time(inspection.inspected_at)},
                "sensorReport": [
                    {
                        "type": m.type,
                        "dataProcessingMethod": f"urn:twinledger:characteristic:{m.characteristic}",
                        "value": m.value,
                        "uom": m.uom,
                    }
                    for m in inspection.measurements
                ],
            }
        ]
    return with_event_id(event)


def epcis_document(events: list[dict[str, Any]], created: datetime) -> dict[str, Any]:
    """An ``EPCISDocument`` (EPCIS 2.0 JSON-LD) holding ``events``.

    Example:
        >>> epcis_document([], datetime(2026, 1, 5, tzinfo=UTC))["schemaVersion"]
        '2.0'
    """
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event_time(created),
        "epcisBody": {"eventList": events},
    }


#: The prefixes :data:`CONTEXT` declares (what the Event Hash ID expands extension keys with).
DECLARED = declare_namespaces(CONTEXT)
