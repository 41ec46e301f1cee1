"""Port contracts: the same test bodies against the AWS adapters on moto (``aws``) and the in-process ones
(``memory``), so that a use case tested, benchmarked or demonstrated on the memory adapters behaves the
same in the cloud.

Each port has a fixture that builds its adapter for the ``backend`` parameter. A behaviour moto does not
reproduce faithfully (AWS IoT shadows: ``"desired": null``, the nested delta, the 8 KB and depth limits,
``version`` on a new shadow) is tested on the memory adapter alone, and its docstring says why.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters import aws
from chalicelib.adapters import memory as mem
from chalicelib.ports.anchoring import AnchorStore, Batch, QueuedRecord, RecordConflictError, RecordStatus
from chalicelib.ports.anomaly import AlertPublisher, Cooldowns
from chalicelib.ports.archive import Archive
from chalicelib.ports.billing import InvoiceArchive, Invoices, Leases, Usage
from chalicelib.ports.oee import Calendars, OeeProgress, OeeResults, StoredPeriod
from chalicelib.ports.twins import Devices, History, Quarantine, Shadows, ShadowVersionConflictError, StateCodes
from tests.functional.conftest import T0, samples
from twin_models.billing import Invoice, Lease, UsageEvent, compute_invoice, load_lease
from twin_models.history import Segment, segment_from_envelope
from twin_models.oee import FoldedSeqs, PlantCalendar
from twin_models.shadow import update_payload
from twin_models.states import PlantStateCodes
from twin_models.telemetry import TelemetryEnvelope
from twin_models.tenancy import Device

THINGS = ("cnc-01", "cnc-02")

# -- the two backends --------------------------------------------------------------------------------------


@pytest.fixture(params=["aws", "memory"])
def backend(request: pytest.FixtureRequest) -> str:
    """``aws``: the AWS adapters on moto (every table and bucket created); ``memory``: the in-process ones."""
    if request.param == "aws":
        request.getfixturevalue("moto_aws")
    return str(request.param)


# The AWS adapters are imported inside the fixtures: a module being reworked breaks only its own port's tests.


@pytest.fixture
def devices(backend: str) -> Devices:
    if backend == "aws":
        from chalicelib.adapters.twins import DeviceRegistry

        return DeviceRegistry()
    return mem.MemoryDevices()


@pytest.fixture
def history(backend: str) -> History:
    if backend == "aws":
        from chalicelib.adapters.twins import HistoryStore

        return HistoryStore()
    return mem.MemoryHistory()


@pytest.fixture
def quarantine(backend: str) -> Quarantine:
    if backend == "aws":
        from chalicelib.adapters.twins import QuarantineStore

        return QuarantineStore()
    return mem.MemoryQuarantine()


@pytest.fixture
def shadows(backend: str) -> Shadows:
    """Shadows of the things in ``THINGS`` (in AWS a shadow belongs to a registered thing)."""
    if backend == "aws":
        from chalicelib.adapters.twins import ShadowStore

        for thing in THINGS:
            aws.client("iot").create_thing(thingName=thing)
        return ShadowStore()
    return mem.MemoryShadows()


@pytest.fixture
def archive(backend: str) -> Archive:
    if backend == "aws":
        from chalicelib.adapters.archive import S3Archive

        return S3Archive()
    return mem.MemoryArchive()


@pytest.fixture
def usage(backend: str) -> Usage:
    if backend == "aws":
        from chalicelib.adapters.billing import UsageStore

        return UsageStore()
    return mem.MemoryUsage()


@pytest.fixture
def leases(backend: str) -> Leases:
    if backend == "aws":
        from chalicelib.adapters.billing import LeaseStore

        return LeaseStore()
    return mem.MemoryLeases()


@pytest.fixture
def invoices(backend: str) -> Invoices:
    if backend == "aws":
        from chalicelib.adapters.billing import InvoiceStore

        return InvoiceStore()
    return mem.MemoryInvoices()


@pytest.fixture
def invoice_archive(backend: str) -> InvoiceArchive:
    if backend == "aws":
        from chalicelib.adapters.billing import InvoiceArchive as S3InvoiceArchive

        return S3InvoiceArchive()
    return mem.MemoryInvoiceArchive()


@pytest.fixture
def oee_results(backend: str) -> OeeResults:
    if backend == "aws":
        from chalicelib.adapters.oee import OeeResultStore

        return OeeResultStore()
    return mem.MemoryOeeResults()


@pytest.fixture
def calendars(backend: str) -> Calendars:
    if backend == "aws":
        from chalicelib.adapters.oee import CalendarStore

        return CalendarStore()
    return mem.MemoryCalendars()


@pytest.fixture
def state_codes(backend: str) -> StateCodes:
    if backend == "aws":
        from chalicelib.adapters.oee import StateCodeStore

        return StateCodeStore()
    return mem.MemoryStateCodes()


@pytest.fixture
def cooldowns(backend: str) -> Cooldowns:
    if backend == "aws":
        from chalicelib.adapters.anomaly import CooldownStore

        return CooldownStore()
    return mem.MemoryCooldowns()


@pytest.fixture
def alerts(backend: str) -> AlertPublisher:
    if backend == "aws":
        from chalicelib.adapters.anomaly import SnsAlertPublisher

        return SnsAlertPublisher(aws.client("sns").create_topic(Name="twinledger-alerts")["TopicArn"])
    return mem.MemoryAlerts()


@pytest.fixture
def anchor_store(backend: str) -> AnchorStore:
    if backend == "aws":
        from chalicelib.adapters.anchoring import DynamoAnchorStore

        return DynamoAnchorStore()
    return mem.InMemoryAnchorStore()


PORTS: list[tuple[str, type]] = [
    ("devices", Devices),
    ("history", History),
    ("quarantine", Quarantine),
    ("shadows", Shadows),
    ("archive", Archive),
    ("usage", Usage),
    ("leases", Leases),
    ("invoices", Invoices),
    ("invoice_archive", InvoiceArchive),
    ("oee_results", OeeResults),
    ("calendars", Calendars),
    ("state_codes", StateCodes),
    ("cooldowns", Cooldowns),
    ("alerts", AlertPublisher),
    ("anchor_store", AnchorStore),
]


@pytest.mark.parametrize(("fixture", "port"), PORTS, ids=[name for name, _ in PORTS])
def test_every_adapter_implements_its_port(
    backend: str, fixture: str, port: type, request: pytest.FixtureRequest
) -> None:
    assert isinstance(request.getfixturevalue(fixture), port)


# -- builders ----------------------------------------------------------------------------------------------


def device(machine_id: str, lessor: str = "toolmaker", lessee: str | None = "factory-1") -> Device:
    return Device(machine_id=machine_id, site="plant-a", line="line-a", lessor=lessor, lessee=lessee)


def segment(machine_id: str, seq: int, start: datetime, n: int = 10, state: int = 100) -> Segment:
    """The segment of one (unsigned) envelope of ``n`` 1 Hz samples from ``start``: ``[start, start + n s)``."""
    envelope = TelemetryEnvelope(
        machine_id=machine_id,
        site="plant-a",
        seq=seq,
        sent_at=start + timedelta(seconds=n),
        samples=samples(start, n, state=state),
    )
    return segment_from_envelope(envelope)


LEASE_DOC: dict[str, Any] = {
    "lease_id": "lease-7",
    "lessor": "toolmaker",
    "lessee": "factory-1",
    "machine_ids": ["cnc-01", "cnc-02"],
    "start": "2026-10-01T00:00:00+02:00",
    "billing_interval": "monthly",
    "timezone": "Europe/Berlin",
    "currency": "EUR",
    "tax_rate": "0.19",
    "grace_period": "P2D",
    "tariff": {
        "components": [
            {"id": "base", "kind": "base_fee", "amount": "100.00"},
            {"id": "spindle", "meter": "spindle_hours", "unit_price": "10.00"},
        ]
    },
}


def lease(lease_id: str = "lease-7", lessor: str = "toolmaker", lessee: str = "factory-1") -> Lease:
    return load_lease({**LEASE_DOC, "lease_id": lease_id, "lessor": lessor, "lessee": lessee})


def ev(ident: str, machine: str, ts: datetime, hours: str, meter: str = "spindle_hours") -> UsageEvent:
    return UsageEvent(id=ident, machine_id=machine, meter=meter, ts=ts, quantity=Decimal(hours))


def invoice(period: str, the_lease: Lease | None = None, events: tuple[UsageEvent, ...] = ()) -> Invoice:
    the_lease = the_lease or lease()
    return compute_invoice(the_lease, the_lease.period(period), events)


def fields(events: list[UsageEvent]) -> list[tuple[Any, ...]]:
    """What a stored event is, field by field (``received_at`` included)."""
    return [(e.id, e.machine_id, e.meter, e.ts, e.quantity, e.received_at, e.lease_id) for e in events]


# -- devices -----------------------------------------------------------------------------------------------


def test_devices_put_get_and_list_by_tenant(devices: Devices) -> None:
    devices.put(device("cnc-02"))
    devices.put(device("cnc-01"))
    devices.put(device("cnc-03", lessor="other-maker", lessee=None))
    assert devices.get("cnc-01") == device("cnc-01")
    assert devices.get("cnc-09") is None
    assert [d.machine_id for d in devices.for_tenant("toolmaker")] == ["cnc-01", "cnc-02"]
    assert [d.machine_id for d in devices.for_tenant("factory-1")] == ["cnc-01", "cnc-02"]
    assert [d.machine_id for d in devices.for_tenant("other-maker")] == ["cnc-03"]
    assert devices.for_tenant("nobody") == []
    assert [d.machine_id for d in devices.all()] == ["cnc-01", "cnc-02", "cnc-03"]


def test_devices_put_replaces_the_whole_entry(devices: Devices) -> None:
    devices.put(device("cnc-01"))
    devices.put(device("cnc-01", lessee="factory-2"))
    assert devices.get("cnc-01") == device("cnc-01", lessee="factory-2")
    assert devices.for_tenant("factory-1") == []
    assert [d.machine_id for d in devices.for_tenant("factory-2")] == ["cnc-01"]


# -- history -----------------------------------------------------------------------------------------------


def test_history_put_segment_is_once_per_machine_and_seq(history: History) -> None:
    first = segment("cnc-01", 0, T0)
    other = segment("cnc-01", 0, T0 + timedelta(hours=1), state=600)  # same (machine, seq), other content
    assert history.put_segment(first, T0) is True
    assert history.put_segment(other, T0) is False
    assert history.put_segment(first, T0) is False
    assert history.get_segment("cnc-01", 0) == first
    assert history.put_segment(segment("cnc-02", 0, T0), T0) is True  # another machine's seq 0
    assert history.get_segment("cnc-01", 1) is None
    assert history.get_segment("cnc-03", 0) is None


@pytest.fixture
def three_segments(history: History) -> History:
    """cnc-01: seq 0 on [T0, T0+10 s), seq 1 on [+10, +20), seq 2 on [+20, +30), stored out of order;
    cnc-02: one segment at the same time."""
    for seq in (2, 0, 1):
        assert history.put_segment(segment("cnc-01", seq, T0 + timedelta(seconds=10 * seq)), T0)
    assert history.put_segment(segment("cnc-02", 0, T0), T0)
    return history


def test_history_segments_overlap_the_window_in_start_order(three_segments: History) -> None:
    def seqs(start_s: int, end_s: int, lookback_s: float = 3600.0) -> list[int]:
        found = three_segments.segments(
            "cnc-01", T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s), lookback_s=lookback_s
        )
        assert all(s.machine_id == "cnc-01" for s in found)
        return [s.seq for s in found]

    assert seqs(-60, 60) == [0, 1, 2]
    assert seqs(10, 20) == [1]  # seq 0 ends at +10, seq 2 starts at +20: neither overlaps [+10, +20)
    assert seqs(15, 25) == [1, 2]
    assert seqs(15, 25, lookback_s=3) == [2]  # seq 1 started 5 s before the window: beyond the lookback
    assert seqs(30, 60) == []


def test_history_latest_before_is_newest_first(three_segments: History) -> None:
    def seqs(at_s: int, limit: int = 4) -> list[int]:
        return [s.seq for s in three_segments.latest_before("cnc-01", T0 + timedelta(seconds=at_s), limit=limit)]

    assert seqs(20) == [2, 1, 0]  # a segment starting exactly at ``at`` counts
    assert seqs(20, limit=2) == [2, 1]
    assert seqs(5) == [0]
    assert seqs(-1) == []
    assert seqs(3600) == [2, 1, 0]


def test_history_since_is_every_seq_above_in_seq_order(three_segments: History) -> None:
    assert history_put_late(three_segments)
    assert [s.seq for s in three_segments.since("cnc-01", -1)] == [0, 1, 2, 7]
    assert [s.seq for s in three_segments.since("cnc-01", 1)] == [2, 7]  # whatever the samples' times
    assert [s.seq for s in three_segments.since("cnc-01", 7)] == []
    assert [s.seq for s in three_segments.since("cnc-02", -1)] == [0]
    assert three_segments.since("cnc-03", -1) == []


def history_put_late(history: History) -> bool:
    """cnc-01's seq 7, holding samples from an hour before the others (a spooled envelope)."""
    return history.put_segment(segment("cnc-01", 7, T0 - timedelta(hours=1)), T0)


# -- quarantine and archive --------------------------------------------------------------------------------


def test_quarantine_keeps_reason_and_raw_by_utc_day(quarantine: Quarantine) -> None:
    late = datetime(2026, 1, 6, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # 2026-01-05 22:30 UTC
    key_b = quarantine.put("msg-b", "bad_signature", "x" * 2500, b"raw-b", None, late)
    key_a = quarantine.put("msg-a", "schema", "missing seq", b"{}", "cnc-01", T0)
    quarantine.put("msg-c", "schema", "next day", b"c", "cnc-01", T0 + timedelta(days=1))
    assert (key_a, key_b) == ("quarantine/2026-01-05/msg-a", "quarantine/2026-01-05/msg-b")
    assert quarantine.list_day("2026-01-05") == [
        {
            "day": "2026-01-05",
            "record_id": "msg-a",
            "reason": "schema",
            "detail": "missing seq",
            "machine_id": "cnc-01",
            "received_at": "2026-01-05T06:00:00+00:00",
            "raw_key": key_a,
            "raw_bytes": "2",
        },
        {
            "day": "2026-01-05",
            "record_id": "msg-b",
            "reason": "bad_signature",
            "detail": "x" * 2000,
            "machine_id": "-",
            "received_at": "2026-01-05T22:30:00+00:00",
            "raw_key": key_b,
            "raw_bytes": "5",
        },
    ]
    assert [r["record_id"] for r in quarantine.list_day("2026-01-06")] == ["msg-c"]
    assert quarantine.list_day("2026-01-04") == []
    assert quarantine.raw(key_b) == b"raw-b"
    assert quarantine.raw(key_a) == b"{}"


def test_archive_keeps_bytes_by_key(archive: Archive) -> None:
    archive.put("tickets/t-1.json", b'{"a":1}')
    archive.put("tickets/t-2.bin", b"\x00\x01", content_type="application/octet-stream")
    assert archive.get("tickets/t-1.json") == b'{"a":1}'
    assert archive.get("tickets/t-2.bin") == b"\x00\x01"
    archive.put("tickets/t-1.json", b'{"a":2}')
    assert archive.get("tickets/t-1.json") == b'{"a":2}'
    with pytest.raises(KeyError):
        archive.get("tickets/t-3.json")


# -- shadows (both backends) -------------------------------------------------------------------------------


def put(shadows: Shadows, shadow: str, state: dict[str, Any], version: int | None = None, thing: str = "cnc-01") -> int:
    body: dict[str, Any] = {"state": state}
    if version is not None:
        body["version"] = version
    return shadows.update(thing, shadow, json.dumps(body).encode())


def test_shadow_absent_until_first_update(shadows: Shadows) -> None:
    assert shadows.get("cnc-01", "state") is None
    assert shadows.document("cnc-01", "state") is None
    assert put(shadows, "state", {"reported": {"a": 1}}) == 1
    assert shadows.get("cnc-01", "state") == ({"a": 1}, 1)
    assert shadows.get("cnc-01", "oee") is None  # named shadows are separate
    assert shadows.get("cnc-02", "state") is None


def test_shadow_version_increments_and_a_stale_version_conflicts(shadows: Shadows) -> None:
    assert [put(shadows, "state", {"reported": {"n": n}}) for n in range(3)] == [1, 2, 3]
    assert put(shadows, "state", {"reported": {"n": 3}}, version=3) == 4
    with pytest.raises(ShadowVersionConflictError):
        put(shadows, "state", {"reported": {"n": 99}}, version=3)
    with pytest.raises(ShadowVersionConflictError):
        put(shadows, "state", {"reported": {"n": 99}}, version=5)
    assert shadows.get("cnc-01", "state") == ({"n": 3}, 4)  # the rejected updates changed nothing
    assert shadows.update("cnc-01", "state", update_payload({"n": 4}, version=4)) == 5


def test_shadow_merges_nested_objects_replaces_arrays_and_null_deletes(shadows: Shadows) -> None:
    put(shadows, "state", {"reported": {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "list": [1, 2, 3], "s": "x"}})
    put(shadows, "state", {"reported": {"a": {"c": {"e": 30, "f": 4}, "g": 5}, "list": [9]}})
    assert shadows.get("cnc-01", "state") == (
        {"a": {"b": 1, "c": {"d": 2, "e": 30, "f": 4}, "g": 5}, "list": [9], "s": "x"},
        2,
    )
    put(shadows, "state", {"reported": {"a": {"c": {"d": None}, "b": None}, "s": None, "missing": None}})
    assert shadows.get("cnc-01", "state") == ({"a": {"c": {"e": 30, "f": 4}, "g": 5}, "list": [9]}, 3)
    put(shadows, "state", {"reported": {"a": 7, "list": {"now": "an object"}}})  # types may change
    assert shadows.get("cnc-01", "state") == ({"a": 7, "list": {"now": "an object"}}, 4)


def test_shadow_delta_appears_and_closes(shadows: Shadows) -> None:
    put(shadows, "config", {"reported": {"mode": "idle", "rate": 1}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert set(doc["state"]) == {"reported"}  # no desired section, no delta
    assert set(doc["metadata"]) == {"reported"}
    assert isinstance(doc["metadata"]["reported"]["rate"]["timestamp"], int)
    assert isinstance(doc["timestamp"], int)

    put(shadows, "config", {"desired": {"mode": "run", "rate": 1, "cfg": {"speed": 2}}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert doc["state"]["delta"] == {"mode": "run", "cfg": {"speed": 2}}  # rate agrees already
    assert doc["state"]["desired"] == {"mode": "run", "rate": 1, "cfg": {"speed": 2}}
    assert doc["metadata"]["desired"]["cfg"]["speed"]["timestamp"] > 0

    put(shadows, "config", {"reported": {"mode": "run", "cfg": {"speed": 1}}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert doc["state"]["delta"] == {"cfg": {"speed": 2}}

    put(shadows, "config", {"reported": {"cfg": {"speed": 2}}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert "delta" not in doc["state"]
    assert doc["version"] == 4
    assert shadows.get("cnc-01", "config") == ({"mode": "run", "rate": 1, "cfg": {"speed": 2}}, 4)


def test_shadow_desired_key_deleted_by_null_leaves_the_delta(shadows: Shadows) -> None:
    put(shadows, "config", {"desired": {"mode": "run", "rate": 2}, "reported": {"mode": "idle"}})
    put(shadows, "config", {"desired": {"mode": None}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert doc["state"]["desired"] == {"rate": 2}
    assert doc["state"]["delta"] == {"rate": 2}
    put(shadows, "config", {"desired": {"rate": None}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert set(doc["state"]) == {"reported"}  # desired emptied: the section is gone, and so is the delta


# reference model of AWS's merge, written independently of the adapter
def reference_merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(stored)
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            below = out.get(key)
            out[key] = reference_merge(below if isinstance(below, dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def reference_delta(desired: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, want in desired.items():
        if key not in reported:
            out[key] = want
        elif isinstance(want, dict) and isinstance(reported[key], dict):
            below = reference_delta(want, reported[key])
            if below:
                out[key] = below
        elif json.dumps(want, sort_keys=True) != json.dumps(reported[key], sort_keys=True):
            out[key] = want
    return out


KEYS = st.sampled_from(["a", "b", "c", "d"])
SCALARS = st.one_of(st.integers(-50, 50), st.booleans(), st.text("xyz", max_size=3))
VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(SCALARS, st.lists(SCALARS, max_size=3)),
    lambda inner: st.dictionaries(KEYS, st.one_of(st.none(), inner), max_size=3),
    max_leaves=8,
)
SECTION = st.dictionaries(KEYS, st.one_of(st.none(), VALUES), max_size=4)
UPDATE = st.fixed_dictionaries({}, optional={"desired": SECTION, "reported": SECTION})
_shadow_names = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(updates=st.lists(UPDATE, min_size=1, max_size=6))
def test_shadow_state_is_the_recursive_merge_of_its_updates(shadows: Shadows, updates: list[dict[str, Any]]) -> None:
    """Random sequences of flat and nested updates: desired and reported equal the reference merge."""
    name = f"prop-{next(_shadow_names)}"
    desired: dict[str, Any] = {}
    reported: dict[str, Any] = {}
    for n, state in enumerate(updates, start=1):
        assert put(shadows, name, state) == n
        desired = reference_merge(desired, state.get("desired") or {})
        reported = reference_merge(reported, state.get("reported") or {})
    doc = shadows.document("cnc-01", name)
    assert doc is not None
    assert doc["state"].get("desired", {}) == desired
    assert doc["state"].get("reported", {}) == reported
    assert shadows.get("cnc-01", name) == (reported, len(updates))


# -- shadows (where moto is not AWS: the memory adapter alone) ---------------------------------------------


def test_memory_shadow_section_null_clears_it() -> None:
    """``"desired": null`` removes the whole desired section in AWS (moto ignores it: memory only)."""
    shadows = mem.MemoryShadows()
    put(shadows, "config", {"desired": {"mode": "run"}, "reported": {"mode": "idle"}})
    assert put(shadows, "config", {"desired": None, "reported": {"rate": 2}}) == 2
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert doc["state"] == {"reported": {"mode": "idle", "rate": 2}}
    assert set(doc["metadata"]) == {"reported"}
    put(shadows, "config", {"reported": None})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert (doc["state"], doc["metadata"], doc["version"]) == ({}, {}, 3)  # the shadow exists, empty
    assert shadows.get("cnc-01", "config") == ({}, 3)


def test_memory_shadow_delta_omits_a_nested_object_reported_already() -> None:
    """AWS leaves a nested desired object that reported covers out of the delta; moto puts ``{}`` there."""
    shadows = mem.MemoryShadows()
    put(shadows, "config", {"desired": {"cfg": {"speed": 2}}, "reported": {"cfg": {"speed": 2, "extra": 1}}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert "delta" not in doc["state"]


def test_memory_shadow_delta_tells_booleans_from_numbers() -> None:
    """JSON ``true`` is not ``1`` (Python says it is; moto compares with ``==``)."""
    shadows = mem.MemoryShadows()
    put(shadows, "config", {"desired": {"on": True, "off": False}, "reported": {"on": 1, "off": False}})
    doc = shadows.document("cnc-01", "config")
    assert doc is not None
    assert doc["state"]["delta"] == {"on": True}


def test_memory_shadow_rejects_a_state_over_8_kb() -> None:
    """AWS rejects a state (desired + reported, metadata excluded) over 8 KB; moto stores anything."""
    shadows = mem.MemoryShadows()
    with pytest.raises(mem.ShadowDocumentTooLargeError) as raised:
        put(shadows, "state", {"reported": {"blob": "x" * 9000}})
    assert isinstance(raised.value, ValueError)
    assert shadows.get("cnc-01", "state") is None
    assert put(shadows, "state", {"reported": {"one": "x" * 5000}}) == 1
    with pytest.raises(mem.ShadowDocumentTooLargeError):
        put(shadows, "state", {"desired": {"two": "y" * 5000}})  # fine alone, too much together
    assert shadows.get("cnc-01", "state") == ({"one": "x" * 5000}, 1)
    # what the ingest writes (trimmed by ``fit_to_limits``) is always accepted
    alerts = {"open_alerts": [{"id": i, "text": "z" * 200} for i in range(100)]}
    assert shadows.update("cnc-01", "health", update_payload(alerts)) == 1
    health = shadows.get("cnc-01", "health")
    assert health is not None and health[0]["truncated"] is True
    assert len(json.dumps({"reported": health[0]}, separators=(",", ":"))) <= mem.MAX_SHADOW_STATE_BYTES


def test_memory_shadow_rejects_more_than_6_levels() -> None:
    """AWS rejects objects nested deeper than 6 levels under desired/reported; moto does not check."""
    shadows = mem.MemoryShadows()

    def nested(levels: int) -> dict[str, Any]:
        doc: dict[str, Any] = {"leaf": 1}
        for level in range(levels - 1):
            doc = {f"l{level}": doc}
        return doc

    assert put(shadows, "state", {"reported": nested(6)}) == 1
    with pytest.raises(mem.ShadowDocumentTooDeepError):
        put(shadows, "state", {"desired": nested(7)})
    assert shadows.get("cnc-01", "state") == (nested(6), 1)


def test_memory_shadow_version_of_a_new_shadow_is_zero() -> None:
    """A shadow that does not exist yet is at version 0 (moto crashes with AttributeError on this request)."""
    shadows = mem.MemoryShadows()
    with pytest.raises(ShadowVersionConflictError):
        put(shadows, "state", {"reported": {"a": 1}}, version=1)
    assert shadows.get("cnc-01", "state") is None
    assert put(shadows, "state", {"reported": {"a": 1}}, version=0) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"reported": {"a": 1}}',
        b'{"state": null}',
        b'{"state": [1]}',
        b'{"state": {"delta": {"a": 1}}}',
        b'{"state": {"desired": 5}}',
        b'{"state": {"reported": [1]}}',
        b'{"state": {"reported": {"a": 1}}, "version": "1"}',
        b'{"state": {"reported": {"a": 1}}, "version": true}',
    ],
)
def test_memory_shadow_rejects_malformed_updates(payload: bytes) -> None:
    """The 400 answers of AWS IoT (moto accepts some of them): a ValueError, nothing stored."""
    shadows = mem.MemoryShadows()
    with pytest.raises(mem.InvalidShadowUpdateError):
        shadows.update("cnc-01", "state", payload)
    assert shadows.get("cnc-01", "state") is None


def test_memory_shadow_metadata_stamps_each_field_when_it_changed() -> None:
    """AWS keeps a per-field timestamp of the last change; moto re-stamps every field on every update."""
    clock = iter([100, 200, 300])
    shadows = mem.MemoryShadows(clock=lambda: next(clock))
    put(shadows, "state", {"reported": {"a": 1, "n": {"x": 1, "y": [1, 2]}}})
    put(shadows, "state", {"reported": {"n": {"x": 2}}})
    doc = shadows.document("cnc-01", "state")
    assert doc is not None
    assert doc["metadata"]["reported"] == {
        "a": {"timestamp": 100},
        "n": {"x": {"timestamp": 200}, "y": [{"timestamp": 100}, {"timestamp": 100}]},
    }
    assert doc["timestamp"] == 300  # when the document was read


def test_memory_shadow_documents_are_copies() -> None:
    shadows = mem.MemoryShadows()
    put(shadows, "state", {"reported": {"n": {"x": 1}}})
    found = shadows.get("cnc-01", "state")
    assert found is not None
    found[0]["n"]["x"] = 99
    doc = shadows.document("cnc-01", "state")
    assert doc is not None
    doc["state"]["reported"]["n"]["x"] = 98
    assert shadows.get("cnc-01", "state") == ({"n": {"x": 1}}, 1)


@settings(max_examples=150, deadline=None)
@given(
    updates=st.lists(
        st.fixed_dictionaries(
            {}, optional={"desired": st.one_of(st.none(), SECTION), "reported": st.one_of(st.none(), SECTION)}
        ),
        min_size=1,
        max_size=8,
    )
)
def test_memory_shadow_state_and_delta_follow_the_reference(updates: list[dict[str, Any]]) -> None:
    """Random updates, section nulls included (memory only: moto ignores them): the state is the reference
    merge, a section shows only when non-empty, and the delta is the reference delta."""
    shadows = mem.MemoryShadows()
    state: dict[str, dict[str, Any]] = {"desired": {}, "reported": {}}
    for n, update in enumerate(updates, start=1):
        assert put(shadows, "state", update) == n
        for section in ("desired", "reported"):
            if section in update:
                given_section = update[section]
                state[section] = {} if given_section is None else reference_merge(state[section], given_section)
    doc = shadows.document("cnc-01", "state")
    assert doc is not None
    expected = {k: v for k, v in state.items() if v}
    delta = reference_delta(state["desired"], state["reported"])
    if delta:
        expected["delta"] = delta
    assert doc["state"] == expected
    assert doc["version"] == len(updates)


# -- usage -------------------------------------------------------------------------------------------------

OCT = datetime(2026, 10, 10, 8, tzinfo=UTC)
R1 = datetime(2026, 10, 10, 9, tzinfo=UTC)
R2 = datetime(2026, 10, 11, 9, tzinfo=UTC)


def test_usage_is_stored_once_duplicates_and_conflicts_reported(usage: Usage) -> None:
    a1, b1 = ev("a1", "cnc-01", OCT, "1.5"), ev("b1", "cnc-01", OCT + timedelta(hours=1), "2")
    first = usage.put([a1, b1], received_at=R1)
    assert (first.stored, first.duplicates, first.conflicts) == (2, 0, [])
    changed = ev("a1", "cnc-01", OCT, "7")  # same id, other content
    again = usage.put([a1, changed, ev("c1", "cnc-01", OCT, "3")], received_at=R2)
    assert (again.stored, again.duplicates, again.conflicts) == (1, 1, ["a1"])
    stored = {e.id: e for e in usage.between("cnc-01", OCT, OCT + timedelta(days=1))}
    assert sorted(stored) == ["a1", "b1", "c1"]
    assert stored["a1"].quantity == Decimal("1.5")  # the first version stays what is billed
    assert stored["a1"].received_at == R1  # and keeps its first arrival
    assert stored["c1"].received_at == R2
    other = usage.put([ev("a1", "cnc-02", OCT, "7")], received_at=R2)  # ids are per machine
    assert (other.stored, other.conflicts) == (1, [])


def test_usage_between_is_start_inclusive_end_exclusive_in_time_order(usage: Usage) -> None:
    start, end = OCT, OCT + timedelta(hours=2)
    events = [
        ev("z-at-start", "cnc-01", start, "1"),
        ev("before", "cnc-01", start - timedelta(microseconds=1), "1"),
        ev("at-end", "cnc-01", end, "1"),
        ev("a-inside", "cnc-01", start + timedelta(hours=1), "1"),
        ev("b-at-start", "cnc-01", start, "1"),
        ev("other-machine", "cnc-02", start + timedelta(hours=1), "1"),
    ]
    usage.put(events, received_at=R1)
    found = usage.between("cnc-01", start, end)
    assert [e.id for e in found] == ["b-at-start", "z-at-start", "a-inside"]
    assert fields(found)[0] == ("b-at-start", "cnc-01", "spindle_hours", start, Decimal("1"), R1, None)


def test_usage_received_between_is_after_exclusive_until_inclusive(usage: Usage) -> None:
    usage.put([ev("at-after", "cnc-01", OCT, "1")], received_at=R1)
    usage.put([ev("b-until", "cnc-01", OCT, "1"), ev("a-until", "cnc-01", OCT, "1")], received_at=R2)
    usage.put([ev("inside", "cnc-01", OCT, "1")], received_at=R1 + timedelta(hours=1))
    usage.put([ev("later", "cnc-01", OCT, "1")], received_at=R2 + timedelta(microseconds=1))
    found = usage.received_between("cnc-01", R1, R2)
    assert [e.id for e in found] == ["inside", "a-until", "b-until"]
    assert usage.received_between("cnc-02", R1, R2) == []


_usage_machines = itertools.count()
EVENTS = st.lists(
    st.builds(
        ev,
        st.sampled_from(["e1", "e2", "e3", "e4", "e5"]),
        st.just("m"),
        st.sampled_from([OCT, OCT + timedelta(minutes=30), OCT + timedelta(hours=3)]),
        st.sampled_from(["0.5", "1", "2.25"]),
    ),
    max_size=8,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_usage_put_twice_is_put_once(usage: Usage, events: list[UsageEvent]) -> None:
    """For any set of events (ids repeated with other content included), a second put changes nothing."""
    n = next(_usage_machines)
    once, twice = f"m-{n}-once", f"m-{n}-twice"
    with_machine = [[UsageEvent(e.id, m, e.meter, e.ts, e.quantity) for e in events] for m in (once, twice)]
    first = usage.put(with_machine[0], received_at=R1)
    usage.put(with_machine[1], received_at=R1)
    second = usage.put(with_machine[1], received_at=R2)
    assert second.stored == 0
    assert second.duplicates + len(second.conflicts) == len(events)
    assert first.stored == len({e.id for e in events})
    window = (OCT - timedelta(days=1), OCT + timedelta(days=1))

    def strip(found: list[UsageEvent]) -> list[tuple[Any, ...]]:
        return [(e.id, e.ts, e.quantity, e.received_at) for e in found]

    assert strip(usage.between(twice, *window)) == strip(usage.between(once, *window))
    assert strip(usage.received_between(twice, R1 - timedelta(seconds=1), R2)) == strip(
        usage.received_between(once, R1 - timedelta(seconds=1), R2)
    )


# -- leases ------------------------------------------------------------------------------------------------


def test_leases_create_once_get_and_list(leases: Leases) -> None:
    assert leases.create(lease("lease-7"), contract_address="0xabc") is True
    assert leases.create(lease("lease-7", lessee="somebody-else"), contract_address="0xother") is False
    assert leases.create(lease("lease-3", lessor="other-maker")) is True
    assert leases.create(lease("lease-5", lessee="factory-2")) is True
    record = leases.get("toolmaker:lease-7")
    assert record is not None
    assert (record.lease, record.contract_address) == (lease("lease-7"), "0xabc")
    assert (record.billed_through, record.anchored_through) == (None, None)
    assert leases.get("toolmaker:lease-9") is None
    assert [r.lease.lease_id for r in leases.for_tenant("toolmaker")] == ["toolmaker:lease-5", "toolmaker:lease-7"]
    assert [r.lease.lease_id for r in leases.for_tenant("factory-1")] == ["other-maker:lease-3", "toolmaker:lease-7"]
    assert [r.lease.lease_id for r in leases.for_tenant("factory-2")] == ["toolmaker:lease-5"]
    assert leases.for_tenant("nobody") == []
    assert sorted(r.lease.lease_id for r in leases.all()) == [
        "other-maker:lease-3",
        "toolmaker:lease-5",
        "toolmaker:lease-7",
    ]


def test_lease_cursor_moves_only_from_the_value_it_was_read_at(leases: Leases) -> None:
    leases.create(lease())
    assert leases.advance("toolmaker:lease-7", "billed_through", None, "2026-10") is True
    assert leases.advance("toolmaker:lease-7", "billed_through", None, "2026-11") is False  # somebody moved it first
    assert leases.advance("toolmaker:lease-7", "billed_through", "2026-09", "2026-11") is False
    assert leases.advance("toolmaker:lease-7", "billed_through", "2026-10", "2026-11") is True
    assert leases.advance("toolmaker:lease-7", "anchored_through", None, "2026-10") is True  # cursors are independent
    record = leases.get("toolmaker:lease-7")
    assert record is not None
    assert (record.billed_through, record.anchored_through) == ("2026-11", "2026-10")
    assert record.lease == lease()
    with pytest.raises(ValueError):
        leases.advance("toolmaker:lease-7", "paid_through", None, "2026-10")


def test_lease_cursor_of_an_unknown_lease_does_not_move(leases: Leases) -> None:
    assert leases.advance("toolmaker:lease-x", "billed_through", None, "2026-10") is False
    assert leases.get("toolmaker:lease-x") is None


# -- invoices ----------------------------------------------------------------------------------------------

ISSUED = datetime(2026, 11, 3, 0, 30, tzinfo=UTC)


def test_invoices_put_once_and_list_by_period(invoices: Invoices) -> None:
    october, november = invoice("2026-10"), invoice("2026-11")
    other = invoice("2026-10", lease("lease-3"))
    assert invoices.put_new(november, ISSUED + timedelta(days=30)) is True
    assert invoices.put_new(october, ISSUED) is True
    assert invoices.put_new(other, ISSUED) is True
    assert invoices.put_new(october, ISSUED + timedelta(hours=1)) is False
    record = invoices.get("toolmaker:lease-7@2026-10")
    assert record is not None
    assert record.invoice.to_json() == october.to_json()
    assert (record.status, record.issued_at, record.archived) == ("issued", ISSUED, False)
    assert (record.anchor_status, record.anchor, record.answer) == ("pending", {}, {})
    assert invoices.get("toolmaker:lease-7@2026-12") is None
    assert [r.invoice.invoice_id for r in invoices.for_lease("toolmaker:lease-7")] == [
        "toolmaker:lease-7@2026-10",
        "toolmaker:lease-7@2026-11",
    ]
    assert [r.invoice.invoice_id for r in invoices.for_lease("toolmaker:lease-3")] == ["toolmaker:lease-3@2026-10"]
    assert invoices.for_lease("toolmaker:lease-9") == []
    invoices.mark_archived("toolmaker:lease-7@2026-10")
    invoices.mark_archived("toolmaker:lease-7@2026-12")  # unknown: nothing happens
    archived = invoices.get("toolmaker:lease-7@2026-10")
    assert archived is not None and archived.archived


def test_invoice_anchor_claim_finish_release(invoices: Invoices) -> None:
    inv = invoice("2026-10")
    invoices.put_new(inv, ISSUED)
    ident, now = inv.invoice_id, ISSUED + timedelta(hours=1)

    def anchor_status() -> tuple[str, dict[str, Any]]:
        record = invoices.get(ident)
        assert record is not None
        return record.anchor_status, record.anchor

    assert invoices.claim_anchor(ident, "run-a", now, ttl_s=60) is True
    assert anchor_status() == ("posting", {})
    assert invoices.claim_anchor(ident, "run-b", now + timedelta(seconds=30), ttl_s=60) is False  # claim held
    assert invoices.finish_anchor(ident, "run-b", 0, "0xtx", "0xlease") is False  # not under our claim
    assert invoices.release_anchor(ident, "run-b", "nope") is False
    assert invoices.release_anchor(ident, "run-a", "chain down " + "x" * 600) is True
    assert anchor_status() == ("pending", {"error": "chain down " + "x" * 489})  # cut to 500 characters
    assert invoices.finish_anchor(ident, "run-a", 0, "0xtx", "0xlease") is False  # the claim was given back

    assert invoices.claim_anchor(ident, "run-b", now, ttl_s=60) is True
    assert anchor_status() == ("posting", {"error": "chain down " + "x" * 489})
    assert invoices.claim_anchor(ident, "run-c", now + timedelta(seconds=60), ttl_s=60) is False  # not yet expired
    assert invoices.claim_anchor(ident, "run-c", now + timedelta(seconds=61), ttl_s=60) is True  # expired: taken over
    assert invoices.finish_anchor(ident, "run-b", 0, "0xtx", "0xlease") is False  # run-b lost its claim
    assert invoices.finish_anchor(ident, "run-c", 3, "0xtx", "0xlease") is True
    assert anchor_status() == ("posted", {"index": 3, "tx_hash": "0xtx", "contract": "0xlease"})
    assert invoices.claim_anchor(ident, "run-d", now + timedelta(days=1), ttl_s=60) is False  # posted for good
    assert invoices.finish_anchor(ident, "run-c", 4, "0xother", "0xlease") is False
    assert invoices.release_anchor(ident, "run-c", "late") is False
    assert anchor_status() == ("posted", {"index": 3, "tx_hash": "0xtx", "contract": "0xlease"})
    assert invoices.claim_anchor("lease-7@2026-12", "run-a", now, ttl_s=60) is False  # no such invoice
    assert invoices.finish_anchor("lease-7@2026-12", "run-a", 0, "0xtx", "0xlease") is False


def test_invoice_answer_only_from_issued(invoices: Invoices) -> None:
    october, november = invoice("2026-10"), invoice("2026-11")
    invoices.put_new(october, ISSUED)
    invoices.put_new(november, ISSUED)
    at = datetime(2026, 11, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    assert invoices.answer(october.invoice_id, "acknowledged", "alice@factory-1", at, None) is True
    assert invoices.answer(october.invoice_id, "disputed", "bob@factory-1", at, "too much") is False
    record = invoices.get(october.invoice_id)
    assert record is not None
    assert record.status == "acknowledged"
    assert record.answer == {"answered_by": "alice@factory-1", "answered_at": "2026-11-05T09:00:00+00:00"}

    reason = "spindle hours include the 3 days of the breakdown"
    assert invoices.answer(november.invoice_id, "disputed", "bob@factory-1", at, reason) is True
    record = invoices.get(november.invoice_id)
    assert record is not None
    assert record.status == "disputed"
    assert record.answer == {
        "answered_by": "bob@factory-1",
        "answered_at": "2026-11-05T09:00:00+00:00",
        "reason": reason,
        "reason_hash": "0x" + hashlib.sha256(reason.encode()).hexdigest(),
    }
    assert record.as_dict()["answer"]["reason"] == reason
    assert invoices.answer("lease-7@2026-12", "acknowledged", "alice@factory-1", at, None) is False


def test_invoice_archive_writes_the_same_bytes(invoice_archive: InvoiceArchive) -> None:
    inv = invoice("2026-10", events=(ev("a1", "cnc-01", OCT, "12.5"),))
    key = invoice_archive.put(inv)
    assert key == "invoices/toolmaker:lease-7/2026-10.json"
    body = invoice_archive.get(inv)
    assert Invoice.from_json(json.loads(body)).hash == inv.hash
    assert invoice_archive.put(inv) == key
    assert invoice_archive.get(inv) == body


# -- OEE ---------------------------------------------------------------------------------------------------


def period(start_us: int, machine: str = "cnc-01", label: str = "", shift: str | None = "early") -> StoredPeriod:
    return StoredPeriod(
        machine_id=machine,
        start_us=start_us,
        end_us=start_us + 100,
        label=label or f"p{start_us}",
        shift=shift,
        row={"run_s": 80.5, "parts": 12.0},
        notes=["gap"] if start_us == 100 else [],
    )


def test_oee_results_put_overwrites_and_between_lies_inside(oee_results: OeeResults) -> None:
    computed = datetime(2026, 1, 5, 14, tzinfo=UTC)
    assert oee_results.put([period(200), period(0, shift=None), period(100), period(0, "cnc-02")], computed) == 4

    def labels(start_us: int, end_us: int, machine: str = "cnc-01") -> list[str]:
        return [p.label for p in oee_results.between(machine, start_us, end_us)]

    assert labels(0, 300) == ["p0", "p100", "p200"]
    assert labels(0, 200) == ["p0", "p100"]  # p200 starts at the end but ends after it
    assert labels(100, 300) == ["p100", "p200"]
    assert labels(1, 199) == []
    assert labels(0, 100, "cnc-02") == ["p0"]
    assert oee_results.between("cnc-01", 0, 100) == [period(0, shift=None)]  # no shift comes back as None
    assert oee_results.between("cnc-01", 100, 200) == [period(100)]
    assert oee_results.put([period(100, label="p100 again")], computed + timedelta(hours=1)) == 1
    assert labels(0, 300) == ["p0", "p100 again", "p200"]
    assert oee_results.put([], computed) == 0


def test_oee_progress_is_kept_per_machine_apart_from_the_periods(oee_results: OeeResults) -> None:
    assert oee_results.progress("cnc-01") is None
    folded = FoldedSeqs(through=41, above=(43, 44, 50))
    oee_results.put([period(0)], datetime(2026, 1, 5, 14, tzinfo=UTC))
    oee_results.put_progress(OeeProgress("cnc-01", folded, 1_767_621_600_000_000, "f1"))
    assert oee_results.progress("cnc-01") == OeeProgress("cnc-01", folded, 1_767_621_600_000_000, "f1")
    assert oee_results.progress("cnc-02") is None
    assert [p.start_us for p in oee_results.between("cnc-01", 0, 2**62)] == [0]  # the progress is no period
    oee_results.put_progress(OeeProgress("cnc-01", FoldedSeqs(through=60), 1_767_625_200_000_000, "f2"))
    found = oee_results.progress("cnc-01")
    assert found is not None and (found.folded.through, found.fingerprint) == (60, "f2")


def test_calendars_put_and_get(calendars: Calendars) -> None:
    berlin = PlantCalendar.model_validate(
        {"timezone": "Europe/Berlin", "shifts": [{"name": "early", "start": "06:00", "end": "14:00"}]}
    )
    assert calendars.get("plant-a") is None
    calendars.put("plant-a", berlin)
    assert calendars.get("plant-a") == berlin
    calendars.put("plant-a", PlantCalendar(timezone="UTC"))
    assert calendars.get("plant-a") == PlantCalendar(timezone="UTC")
    assert calendars.get("plant-b") is None


def test_state_codes_put_and_get_beside_the_calendar(state_codes: StateCodes, calendars: Calendars) -> None:
    mapping = PlantStateCodes.model_validate({"codes": {"1500": "running", "150": "idle"}})
    assert state_codes.get("plant-a") is None
    calendars.put("plant-a", PlantCalendar(timezone="Europe/Berlin"))  # same table, its own item
    state_codes.put("plant-a", mapping)
    assert state_codes.get("plant-a", 0) == mapping
    assert calendars.get("plant-a") == PlantCalendar(timezone="Europe/Berlin")
    state_codes.put("plant-a", PlantStateCodes())
    assert state_codes.get("plant-a", 0) == PlantStateCodes() and state_codes.get("plant-b") is None


# -- anomaly -----------------------------------------------------------------------------------------------


def test_cooldown_is_free_when_absent_or_ended(cooldowns: Cooldowns) -> None:
    assert cooldowns.try_acquire("cnc-01#stop", 1_000, 600) is True
    assert cooldowns.try_acquire("cnc-01#stop", 1_000, 600) is False
    assert cooldowns.try_acquire("cnc-01#stop", 1_599, 600) is False
    assert cooldowns.try_acquire("cnc-01#service", 1_599, 600) is True  # keys are independent
    assert cooldowns.try_acquire("cnc-01#stop", 1_600, 600) is True  # until <= now: free again
    assert cooldowns.try_acquire("cnc-01#stop", 2_199, 600) is False  # and the new cooldown runs


def test_alerts_return_a_message_id(alerts: AlertPublisher) -> None:
    ids = [alerts.publish("cnc-01: spindle " + "!" * 120, "stop the machine", {"machine_id": "cnc-01"}) for _ in "ab"]
    assert all(isinstance(i, str) and i for i in ids)
    assert ids[0] != ids[1]


def test_memory_alerts_keep_what_was_published() -> None:
    alerts = mem.MemoryAlerts()
    assert alerts.publish("s" * 120, "m1", {"machine_id": "cnc-01"}) == "alert-1"
    assert alerts.publish("s2", "m2", {}) == "alert-2"
    assert alerts.published == [
        mem.PublishedAlert("alert-1", "s" * 100, "m1", {"machine_id": "cnc-01"}),
        mem.PublishedAlert("alert-2", "s2", "m2", {}),
    ]


# -- anchoring ---------------------------------------------------------------------------------------------


def test_anchor_store_queue_claim_release(anchor_store: AnchorStore) -> None:
    r1 = QueuedRecord("r1", b"\x01" * 32, "invoice", T0, tenants=("factory-1",))
    r2 = QueuedRecord("r2", b"\x02" * 32, "invoice", T0 + timedelta(seconds=1))
    assert anchor_store.enqueue(r2) is True
    assert anchor_store.enqueue(r1) is True
    assert anchor_store.enqueue(r1) is False
    with pytest.raises(RecordConflictError):
        anchor_store.enqueue(QueuedRecord("r1", b"\x09" * 32, "invoice", T0))
    assert [r.record_id for r in anchor_store.pending(10)] == ["r1", "r2"]
    assert [r.record_id for r in anchor_store.pending(1)] == ["r1"]
    assert anchor_store.count_pending() == 2
    found = anchor_store.get("r1")
    assert found is not None and (found.record_hash, found.tenants) == (r1.record_hash, ("factory-1",))

    batch = Batch("b1", "invoice", T0, record_ids=("r1", "r2"), record_hashes=(r1.record_hash, r2.record_hash))
    anchor_store.put_batch(batch)
    assert anchor_store.claim("b1", ["r1", "r2", "r9"]) == ["r1", "r2"]
    assert anchor_store.claim("b2", ["r1"]) == []
    claimed = anchor_store.get("r2")
    assert claimed is not None and (claimed.status, claimed.batch_id) == (RecordStatus.BATCHED, "b1")
    assert anchor_store.count_pending() == 0
    assert [b.batch_id for b in anchor_store.open_batches()] == ["b1"]
    anchor_store.release(batch)
    assert [r.record_id for r in anchor_store.pending(10)] == ["r1", "r2"]
    assert anchor_store.open_batches() == []


def test_anchor_store_drain_lock(anchor_store: AnchorStore) -> None:
    assert anchor_store.acquire_lock("a", T0, 60) is True
    assert anchor_store.acquire_lock("a", T0 + timedelta(seconds=1), 60) is True  # the owner renews
    assert anchor_store.acquire_lock("b", T0 + timedelta(seconds=30), 60) is False
    anchor_store.release_lock("b")  # not the owner: nothing happens
    assert anchor_store.acquire_lock("b", T0 + timedelta(seconds=30), 60) is False
    assert anchor_store.acquire_lock("b", T0 + timedelta(seconds=120), 60) is True  # a's lock expired
    anchor_store.release_lock("b")
    assert anchor_store.acquire_lock("a", T0 + timedelta(seconds=121), 60) is True


# -- thread safety (memory) --------------------------------------------------------------------------------


def test_memory_stores_hold_their_conditions_under_concurrency() -> None:
    """Many threads race for the same conditional writes: exactly one of each wins."""
    workers = 8
    history, invoices_, shadows = mem.MemoryHistory(), mem.MemoryInvoices(), mem.MemoryShadows()
    inv = invoice("2026-10")
    invoices_.put_new(inv, ISSUED)
    seg = segment("cnc-01", 0, T0)

    def race(n: int) -> tuple[bool, bool, bool]:
        try:
            shadows.update("cnc-01", "state", update_payload({"n": n}, version=0))
            won_shadow = True
        except ShadowVersionConflictError:
            won_shadow = False
        return (
            history.put_segment(seg, T0),
            invoices_.claim_anchor(inv.invoice_id, f"run-{n}", ISSUED, 60),
            won_shadow,
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(race, range(workers * 4)))
    assert [sum(column) for column in zip(*results, strict=True)] == [1, 1, 1]
