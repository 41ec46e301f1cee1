"""Every EPCIS event the project writes carries the Event Hash ID that GS1's reference implementation
(``epcis-event-hash-generator``) computes for it: commissioning, the machine's inspection and an inspector's
inspection (with and without measurements), for each kind of part identifier, over generated values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from epcis_event_hash_generator.hash_generator import epcis_hashes_from_events
from epcis_event_hash_generator.json_to_py import event_list_from_epcis_document_json
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.anchoring import record_hash
from twin_models.parts import (
    Gtin,
    Inspection,
    Measurement,
    PartIdScheme,
    epcis_document,
    event_hash_id,
    inspection_record,
    part_events,
    piece_of,
    records_of,
    scan,
)
from twin_models.parts.epcis import NAMESPACES, inspection_event
from twin_models.telemetry import Sample, TelemetryEnvelope

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
GTIN = Gtin(company_prefix="4012345", item_reference="011111")
SCHEMES = {
    "urn": PartIdScheme(),
    "sgtin": PartIdScheme(kind="sgtin", machine_code="C01", default=GTIN),
    "digital_link": PartIdScheme(kind="digital_link", machine_code="C01", programs={"P100": GTIN}),
}


def oracle(event: dict[str, Any]) -> str:
    """GS1's reference hash of one event, read from an EPCISDocument as a consumer receives it (JSON text)."""
    document = json.loads(json.dumps(epcis_document([event], T0)))
    (found,) = epcis_hashes_from_events(event_list_from_epcis_document_json(document))
    return str(found)


# Identifiers as a plant writes them: a letter, then letters, digits and dashes, with a digit somewhere (a
# word such as "Temperature" or "active" would collide with the vocabulary the reference expands by suffix).
identifiers = st.from_regex(r"\A[A-Z][A-Z0-9\-]{0,10}[0-9]\Z")
numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))


def records(scheme: PartIdScheme, **fields: Any) -> list[Any]:
    v: dict[str, Any] = {
        "program": "P100",
        "material_lot": "L-42",
        "order_id": "O-7",
        "product": "PN-1",
        "spindle_load_pct": 40.0,
        "temperature_c": 30.0,
        "power_kw": 12.5,
    } | fields
    samples = [
        Sample(
            ts=T0 + timedelta(seconds=i),
            state=100,
            part_count=i // 4,
            reject_count=i // 8,
            spindle_load_pct=min(v["spindle_load_pct"] + i, 1000),
            vibration_rms_mm_s=1.0 + i / 10,
            temperature_c=min(v["temperature_c"] + i / 3, 400),
            power_kw=v["power_kw"],
            program=v["program"],
            material_lot=v["material_lot"],
            order_id=v["order_id"],
            product=v["product"],
        )
        for i in range(9)
    ]
    envelope = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=0, sent_at=T0, samples=samples)
    return [r for c in scan([piece_of(envelope, "sha256:ab")]) for r in records_of(c, producer="f1", scheme=scheme)]


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_every_event_type_has_the_reference_hash_id(kind: str) -> None:
    good, rejected = records(SCHEMES[kind])
    inspection = Inspection(
        inspected_at=T0 + timedelta(hours=1),
        inspector="qa-1",
        station="cmm-2",
        result="non_conformant",
        measurements=[
            Measurement(characteristic="bore", type="Length", value=12.013, uom="MMT"),
            Measurement(characteristic="flatness", type="Length", value=0.02, uom="MMT"),
            Measurement(characteristic="surface-temp", type="Temperature", value=24, uom="CEL"),
        ],
    )
    events = part_events(good) + part_events(rejected)
    events += [
        inspection_event(good.epc, good.site, inspection),
        inspection_record(good, inspection, 1, T0).event(good),
    ]
    events.append(inspection_event(good.epc, good.site, inspection.model_copy(update={"measurements": []})))

    assert {e["bizStep"] for e in events} == {"commissioning", "inspecting"}
    assert {e.get("disposition") for e in events} == {"active", "conformant", "non_conformant"}
    for event in events:
        assert event["eventID"] == oracle(event) == event_hash_id(event, NAMESPACES)
    # and the ids tell the events apart
    assert len({e["eventID"] for e in events}) == len(events) - 1  # the same inspection built twice


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(sorted(SCHEMES)),
    lot=identifiers,
    program=st.sampled_from(["P100", "P200"]),
    order=identifiers,
    load=positive,
    temperature=st.floats(min_value=-50, max_value=400, allow_nan=False),
    power=positive,
)
def test_commissioning_hash_ids_match_the_reference_for_generated_values(
    kind: str, lot: str, program: str, order: str, load: float, temperature: float, power: float
) -> None:
    found = records(
        SCHEMES[kind],
        material_lot=lot,
        program=program,
        order_id=order,
        spindle_load_pct=load,
        temperature_c=temperature,
        power_kw=power,
    )
    for record in found:
        for event in part_events(record):
            assert event["eventID"] == oracle(event)
        # the fast canonical writer hashes a record exactly as the anchored rule (RFC 8785) does
        assert record.record_hash() == record_hash(record.document())


@settings(max_examples=30, deadline=None)
@given(
    at=instants,
    inspector=identifiers,
    result=st.sampled_from(["conformant", "non_conformant"]),
    values=st.lists(st.tuples(identifiers, numbers, st.sampled_from(["MMT", "CEL", "KGM", "P1"])), max_size=4),
)
def test_inspection_hash_ids_match_the_reference_for_generated_values(
    at: datetime, inspector: str, result: str, values: list[tuple[str, float, str]]
) -> None:
    inspection = Inspection(
        inspected_at=at,
        inspector=inspector,
        result=result,
        measurements=[Measurement(characteristic=c, value=v, uom=u) for c, v, u in values],
    )
    for epc in ("urn:twinledger:part:cnc-01:1:1", "https://id.gs1.org/01/04012345111118/21/C01-1-1"):
        event = inspection_event(epc, "plant-a", inspection)
        assert event["eventID"] == oracle(event)


def test_a_changed_value_changes_the_hash_id() -> None:
    (good, _) = records(SCHEMES["sgtin"])
    event = part_events(good)[0]
    changed = json.loads(json.dumps(event))
    changed["sensorElementList"][0]["sensorReport"][0]["maxValue"] += 0.001

    assert event_hash_id(changed, NAMESPACES) != event["eventID"]
    assert oracle(changed) != event["eventID"]
