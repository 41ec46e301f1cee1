"""Bad telemetry never escapes the quarantine: every record of a batch ends accepted, duplicate or
quarantined with a reason, and a conflicting duplicate never reaches the twin or the meter.

The pipeline runs as the wiring builds it, over the in-memory adapters (the port contract tests show they
behave as the AWS ones do), so Hypothesis can try thousands of records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from tests.functional.conftest import T0, Gateway, samples, sqs_event, wire
from twin_models.signing import generate_private_key, public_key_pem, sign_document
from twin_models.telemetry import Sample
from twin_models.tenancy import Device, Principal

NOW = T0 + timedelta(hours=2)
_LESSEE = Principal(subject="t", tenant="factory-1", role="lessee")


def build() -> tuple[Services, Gateway]:
    """Fresh in-memory services with one registered machine and its gateway key."""
    built = wiring.build(Settings(adapters="memory"), clock=lambda: NOW)
    key = generate_private_key()
    device = Device(
        machine_id="cnc-01",
        site="plant-a",
        lessor="toolmaker",
        lessee="factory-1",
        keys={"cnc-01/1": public_key_pem(key)},
    )
    built.adapters.devices.put(device)
    return built, Gateway(device, key, "cnc-01/1")


@pytest.fixture
def plant() -> Iterator[tuple[Services, Gateway]]:
    yield build()


def signed(gw: Gateway, doc: dict[str, Any]) -> str:
    """``doc`` signed with the gateway's key, whatever it holds (what a compromised gateway could send)."""
    doc = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(sign_document(doc, gw.key, gw.key_id))


def valid_doc(gw: Gateway, seq: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(wire(gw.envelope(seq, samples(T0 + timedelta(minutes=seq), 60))))
    return doc


def quarantined(built: Services, record: str) -> tuple[str, str]:
    found = [q for q in built.adapters.quarantine.list_day(NOW.strftime("%Y-%m-%d")) if q["record_id"] == record]
    assert len(found) == 1, found
    return found[0]["reason"], found[0]["detail"]


# -- the cases that used to dead-letter or break the batch ---------------------------------------------------


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def raw_value(path: tuple[Any, ...], text: str) -> Any:
    """A signed envelope whose value at ``path`` is the literal JSON ``text`` (what a careless serialiser
    writes: ``Infinity``, ``1e999``, a 70-bit integer)."""

    def make(gw: Gateway) -> str:
        return signed(gw, _with(valid_doc(gw), path, "__RAW__")).replace('"__RAW__"', text, 1)

    return make


def value(path: tuple[Any, ...], new: Any) -> Any:
    """A validly signed envelope whose value at ``path`` is ``new``."""
    return lambda gw: signed(gw, _with(valid_doc(gw), path, new))


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("Infinity", raw_value(("samples", 0, "state"), "Infinity"), "malformed_json"),
        ("1e999", raw_value(("samples", 0, "spindle_speed_rpm"), "1e999"), "schema_violation"),
        ("-1e999", raw_value(("samples", 0, "power_kw"), "-1e999"), "schema_violation"),
        ("NaN", raw_value(("samples", 0, "temperature_c"), "NaN"), "malformed_json"),
        ("seq 2**70", raw_value(("seq",), str(2**70)), "schema_violation"),
        ("part_count 2**70", raw_value(("samples", 0, "part_count"), str(2**70)), "schema_violation"),
        ("part_count 2**64", raw_value(("samples", 0, "part_count"), str(2**64)), "schema_violation"),
        ("seq 1e4000 digits", raw_value(("seq",), "9" * 5000), "malformed_json"),
        ("part_count -1", value(("samples", 0, "part_count"), -1), "schema_violation"),
        ("year 1, +14:00", value(("sent_at",), "0001-01-01T00:00:00+14:00"), "schema_violation"),
        ("year 9999, -14:00", value(("samples", 0, "ts"), "9999-12-31T23:59:59-14:00"), "schema_violation"),
        ("deep nesting", lambda gw: '{"machine_id": "cnc-01", "x": ' + "[" * 60_000 + "]" * 60_000 + "}",
         "malformed_json"),
        ("duplicate keys", lambda gw: signed(gw, valid_doc(gw))[:-1] + ', "seq": 7}', "malformed_json"),
        ("state 1500", value(("samples", 3, "state"), 1500), "schema_violation"),
    ],
)  # fmt: skip
def test_each_unrepresentable_value_is_quarantined_with_its_reason_and_the_neighbours_proceed(
    plant: tuple[Services, Gateway], name: str, raw: Any, reason: str
) -> None:
    built, gw = plant
    good = [wire(gw.envelope(seq, samples(T0 + timedelta(minutes=seq), 60))) for seq in (1, 2)]
    body = raw(gw)
    outcome = built.ingest.handle_batch(sqs_event([good[0], body, good[1]], ids=["a", "bad", "b"]))
    assert (outcome.accepted, outcome.quarantined, outcome.failed_message_ids) == (2, 1, []), name
    assert quarantined(built, "bad")[0] == reason
    assert built.adapters.quarantine.raw(f"quarantine/{NOW:%Y-%m-%d}/bad") == body.encode()  # nothing lost
    clean, _ = build()  # the twin is what the good neighbours alone make of it
    clean.adapters.devices.put(gw.device)
    assert clean.ingest.handle_batch(sqs_event(good)).accepted == 2
    twin, reference = built.adapters.shadows.get("cnc-01", "state"), clean.adapters.shadows.get("cnc-01", "state")
    assert twin is not None and reference is not None and twin[0] == reference[0]


def test_a_state_code_outside_the_taxonomy_never_reaches_history_so_reads_stay_answerable(
    plant: tuple[Services, Gateway],
) -> None:
    built, gw = plant
    bad = signed(gw, _with(valid_doc(gw), ("samples", 3, "state"), 1500))
    built.ingest.handle_batch(sqs_event([bad, wire(gw.envelope(1, samples(T0 + timedelta(minutes=1), 60)))]))
    assert built.adapters.history.get_segment("cnc-01", 0) is None
    assert quarantined(built, "msg-0") == (
        "schema_violation",
        "samples.3.state: 1500 is not a state code of the taxonomy",
    )
    intervals = built.adapters.history.segments("cnc-01", T0, T0 + timedelta(minutes=5))
    assert [s.seq for s in intervals] == [1]


# -- conflicting duplicates ------------------------------------------------------------------------------------


def test_a_conflicting_duplicate_is_quarantined_and_the_twin_and_meter_keep_the_first(
    plant: tuple[Services, Gateway],
) -> None:
    built, gw = plant
    first = [wire(gw.envelope(seq, samples(T0 + timedelta(minutes=seq), 60, parts_from=seq * 12))) for seq in (0, 1)]
    built.ingest.handle_batch(sqs_event(first))
    reference = built.adapters.shadows.get("cnc-01", "state")
    parts = sum(e.quantity for e in built.adapters.usage.between("cnc-01", T0, NOW) if e.meter == "parts")
    # the same (machine, seq = 1), validly signed, with other counters: a faulty gateway or a cloned key
    clone = [
        Sample(ts=T0 + timedelta(minutes=1, seconds=i), state=100, part_count=1000 + i, spindle_speed_rpm=8000)
        for i in range(60)
    ]
    conflicting = wire(gw.envelope(1, clone))
    redelivered = first[1]
    outcome = built.ingest.handle_batch(sqs_event([conflicting, redelivered], ids=["clone", "again"]))
    assert (outcome.quarantined, outcome.duplicates, outcome.failed_message_ids) == (1, 1, [])
    assert dict(outcome.reasons) == {"conflicting_duplicate": 1}
    reason, detail = quarantined(built, "clone")
    assert reason == "conflicting_duplicate" and "seq 1" in detail
    # both payloads are kept: the stored one in history, the conflicting one in the quarantine
    stored = built.adapters.history.get_segment("cnc-01", 1)
    assert stored is not None and stored.last.part_count == 12 + 59 // 5
    assert built.adapters.quarantine.raw(f"quarantine/{NOW:%Y-%m-%d}/clone") == conflicting.encode()
    # the twin and the meter never take the duplicate's values
    assert built.adapters.shadows.get("cnc-01", "state") == reference
    after = sum(e.quantity for e in built.adapters.usage.between("cnc-01", T0, NOW) if e.meter == "parts")
    assert after == parts


def test_a_redelivery_with_a_fresh_signature_is_a_plain_duplicate(plant: tuple[Services, Gateway]) -> None:
    built, gw = plant
    doc = valid_doc(gw)
    built.ingest.handle_batch(sqs_event([signed(gw, doc)]))
    resigned = signed(gw, doc)  # ECDSA signatures differ each time; the signed content is the same
    outcome = built.ingest.handle_batch(sqs_event([resigned], ids=["again"]))
    assert (outcome.duplicates, outcome.quarantined) == (1, 0)


# -- fuzz: arbitrary JSON never escapes ----------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-05T06:00:00Z", "Z", ""]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
_FIELDS = ["v", "machine_id", "site", "seq", "sent_at", "samples", "previous", "signature"]
_SAMPLE_FIELDS = ["ts", "state", "part_count", "reject_count", "temperature_c", "power_kw", "alarm_code"]


def _text(value: Any) -> str:
    return json.dumps(value, allow_nan=True)  # writes NaN / Infinity, as a careless serialiser would


@st.composite
def records(draw: st.DrawFn, gw: Gateway) -> str:
    """One SQS body: a valid envelope, one with a field replaced (signed or not), text, or crafted bytes."""
    doc = valid_doc(gw, seq=draw(st.integers(min_value=0, max_value=3)))
    kind = draw(st.sampled_from(["valid", "field", "sample_field", "raw", "duplicate_key", "deep", "bigint"]))
    if kind == "field":
        doc[draw(st.sampled_from(_FIELDS))] = draw(_JSON)
    elif kind == "sample_field":
        doc["samples"][draw(st.integers(0, 59))][draw(st.sampled_from(_SAMPLE_FIELDS))] = draw(_JSON)
    elif kind == "raw":
        return draw(st.one_of(st.text(max_size=60), st.builds(_text, _JSON)))
    elif kind == "duplicate_key":
        key = draw(st.sampled_from(_FIELDS))
        return signed(gw, doc)[:-1] + f', "{key}": {_text(draw(_JSON))}}}'
    elif kind == "deep":
        depth = draw(st.integers(min_value=10, max_value=50_000))
        return '{"machine_id": "cnc-01", "samples": ' + "[" * depth + "]" * depth + "}"
    elif kind == "bigint":
        return signed(gw, doc).replace('"seq": ', f'"seq": {draw(st.integers(min_value=2**63))}', 1)
    try:
        return signed(gw, doc) if draw(st.booleans()) else _text(doc)
    except (TypeError, ValueError):  # not even signable: send it as text
        return _text(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_records_never_escape_the_quarantine(data: st.DataObject) -> None:
    built, gw = build()
    bodies = data.draw(st.lists(records(gw), min_size=1, max_size=10))
    ids = [f"m{i}" for i in range(len(bodies))]
    outcome = built.ingest.handle_batch(sqs_event(bodies, ids=ids))
    # nothing raised out of the handler, nothing failed (so nothing is retried towards the dead-letter queue)
    assert outcome.failed_message_ids == []
    assert outcome.accepted + outcome.duplicates + outcome.quarantined == len(bodies)
    kept = {q["record_id"]: q["reason"] for q in built.adapters.quarantine.list_day(NOW.strftime("%Y-%m-%d"))}
    assert len(kept) == outcome.quarantined and all(kept.values())  # every rejection has its reason
    assert sum(outcome.reasons.values()) == outcome.quarantined
    # reads over what was stored answer
    assert built.twins.timeline(_LESSEE, "cnc-01", T0 - timedelta(hours=1), NOW)["machine_id"] == "cnc-01"
