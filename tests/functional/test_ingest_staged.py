"""Ingest verifies a batch stage by stage (headers and keys, then signatures, then the strict parse, then the
segments) and runs each later step over every machine before the next. Neither changes what any record gets:
a record's outcome is the one it gets alone, whatever else is in its batch and in which order, and a lookup
that fails holds up only its own record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from chalicelib.adapters.memory import MemoryDevices
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from tests.functional.conftest import T0, Gateway, samples, sqs_event, wire
from tests.functional.test_ingest_envelope_v2 import NOW, _unb64, build, header_of, quarantine, sign_raw
from twin_models.jws import seal_jws
from twin_models.telemetry import EnvelopeError
from twin_models.tenancy import Device


def _rows(seq: int) -> list[Any]:
    return samples(T0 + timedelta(minutes=seq), 60, parts_from=seq * 12)


def _record(gw: Gateway, kind: str, seq: int) -> str:
    """One record of a kind: valid in each envelope version, or bad in one of the ways a stage refuses."""
    if kind in ("v3", "v2", "cnc-02", "unregistered"):
        machine = {"cnc-02": "cnc-02", "unregistered": "cnc-99"}.get(kind, "cnc-01")
        return seal_jws(machine, "plant-a", seq, _rows(seq), gw.key, gw.key_id, columns=kind != "v2").decode()
    if kind == "v1":
        return wire(gw.envelope(seq, _rows(seq)))
    good = seal_jws("cnc-01", "plant-a", seq, _rows(seq), gw.key, gw.key_id, columns=True).decode()
    head, payload, signature = good.split(".")
    if kind == "bad_signature":
        return f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    if kind == "duplicate_key":
        raw = _unb64(payload).replace(f'"seq":{seq}'.encode(), f'"seq":{seq},"seq":{seq + 1}'.encode(), 1)
        return sign_raw(gw, header_of(gw, cty="vnd.twinledger.telemetry.v3+json", seq=seq), raw)
    if kind == "header_mismatch":
        return sign_raw(gw, header_of(gw, cty="vnd.twinledger.telemetry.v3+json", seq=seq + 1), _unb64(payload))
    if kind == "bad_header":
        return f"eyJ{head[5:]}.{payload}.{signature}"
    return "eyJ" + good[len(good) // 2 :]  # torn in half


KINDS = ("v3", "v2", "v1", "cnc-02", "unregistered", "bad_signature", "duplicate_key", "header_mismatch",
         "bad_header", "torn")  # fmt: skip


def _same(alone: Any, together: Any) -> bool:
    if isinstance(alone, EnvelopeError) or isinstance(together, EnvelopeError):
        return (type(alone), getattr(alone, "reason", None), str(alone)) == (
            type(together),
            getattr(together, "reason", None),
            str(together),
        )
    segment, envelope, parties = alone
    return bool(together[0] == segment and together[1].seq == envelope.seq and together[2] == parties)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(min_value=0, max_value=4)), min_size=1, max_size=10))
def test_each_record_of_a_batch_gets_what_it_gets_alone(drawn: list[tuple[str, int]]) -> None:
    # Given a batch of valid and bad records of every version, in any order
    built, gw = build()
    bodies = [_record(gw, kind, seq) for kind, seq in drawn]
    # When the batch is verified stage by stage
    together = built.ingest.verify.run_batch(bodies, NOW)
    # Then every record's result is the one it gets alone: the same segment, or the same refusal
    alone = [built.ingest.verify.run_batch([body], NOW)[0] for body in bodies]
    assert len(together) == len(bodies)
    for (kind, _), one, many in zip(drawn, alone, together, strict=True):
        assert _same(one, many), (kind, one, many)
        assert isinstance(one, tuple) == (kind in ("v3", "v2", "v1", "cnc-02")), (kind, one)


class LookupDownFor(MemoryDevices):
    """The device registry fails for one machine's lookups (a throttled or unreachable table) until it recovers."""

    def __init__(self, machine_id: str) -> None:
        super().__init__()
        self.machine_id, self.down = machine_id, True

    def get(self, machine_id: str, max_age_s: float = 60.0) -> Device | None:
        if self.down and machine_id == self.machine_id:
            raise RuntimeError("ProvisionedThroughputExceededException: the device table is throttled")
        return super().get(machine_id, max_age_s)


def _with_devices(devices: MemoryDevices) -> tuple[Services, Gateway]:
    plain, gw = build()
    for machine in ("cnc-01", "cnc-02"):
        found = plain.adapters.devices.get(machine)
        assert found is not None
        devices.put(found)
    return wiring.build(Settings(adapters="memory"), devices=devices, clock=lambda: NOW), gw


def test_a_failed_key_lookup_fails_only_its_record_back_to_sqs_and_quarantines_nothing() -> None:
    # Given the device registry failing for cnc-02's lookups
    devices = LookupDownFor("cnc-02")
    built, gw = _with_devices(devices)
    bodies = [_record(gw, "v3", 0), _record(gw, "cnc-02", 0), _record(gw, "torn", 1), _record(gw, "v3", 1)]
    # When a batch holds its envelope among others
    report = built.ingest.handle_batch(sqs_event(bodies))
    # Then only that record goes back to SQS, to be delivered again; it is not quarantined as bad input
    assert report.failed_message_ids == ["msg-1"]
    assert [q["reason"] for q in quarantine(built)] == ["malformed_json"]
    assert built.adapters.history.get_segment("cnc-02", 0) is None
    assert [built.adapters.history.get_segment("cnc-01", seq) is not None for seq in (0, 1)] == [True, True]
    # And once the registry answers again, the redelivered record is accepted
    devices.down = False
    again = built.ingest.handle_batch(sqs_event([bodies[1]], ids=["msg-1"]))
    assert again.failed_message_ids == [] and again.accepted == 1
    assert built.adapters.history.get_segment("cnc-02", 0) is not None


def test_a_failed_key_lookup_during_catch_up_keeps_the_machine_in_the_backlog() -> None:
    # Given cnc-02's envelope in the backlog, and the device registry failing for cnc-02
    devices = LookupDownFor("cnc-02")
    built, gw = _with_devices(devices)
    body = _record(gw, "cnc-02", 0)
    built.adapters.backlog.put("cnc-02", 0, body.encode(), "RuntimeError: shadow down", NOW)
    # When the catch-up runs, the machine stays for the next run, whole
    assert built.ingest.catch_up() == {"machines": 1, "caught_up": 0, "still_failing": ["cnc-02"]}
    assert built.adapters.backlog.entries("cnc-02") == [(0, body.encode())]
    # And once the registry answers, the next catch-up completes it
    devices.down = False
    assert built.ingest.catch_up() == {"machines": 1, "caught_up": 1, "still_failing": []}
    assert built.adapters.shadows.get("cnc-02", "state") is not None
