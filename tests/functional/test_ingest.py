"""Ingest under SQS at-least-once delivery: the twin and history end as after one clean delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters import aws
from chalicelib.adapters.billing import UsageStore
from chalicelib.adapters.twins import AWS_CALLS, BacklogStore, HistoryStore, QuarantineStore, ShadowStore
from tests.functional.conftest import T0, Gateway, ingest_service, register, samples, sqs_event, wire
from twin_models.signing import generate_private_key, seal
from twin_models.telemetry import Sample

pytestmark = pytest.mark.usefixtures("moto_aws")


def snapshot(thing: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The twin's state shadow (reported) and its history, without the machine's name."""
    found = ShadowStore().get(thing, "state")
    reported = found[0] if found else {}
    page = aws.client("dynamodb").query(
        TableName="twinledger-history",
        KeyConditionExpression="machine_id = :t",
        ExpressionAttributeValues={":t": {"S": thing}},
    )
    history = []
    for item in page["Items"]:
        body = json.loads(item["body"]["S"])
        body.pop("machine_id")
        body.pop("content_hash")  # the signed-content digest covers the machine's name too
        history.append(body)
    return reported, sorted(history, key=lambda b: b["seq"])


def four_envelopes(gw: Gateway) -> list[str]:
    """Four consecutive minutes of a running machine, a breakdown in the third."""
    out = []
    for seq in range(4):
        state = 600 if seq == 2 else 100
        out.append(wire(gw.envelope(seq, samples(T0 + timedelta(minutes=seq), 60, state=state, parts_from=seq * 12))))
    return out


@pytest.fixture
def reference() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What one clean, in-order delivery produces."""
    gw = register("ref-01")
    outcome = ingest_service().handle_batch(sqs_event(four_envelopes(gw)))
    assert outcome.accepted == 4 and not outcome.failed_message_ids
    return snapshot("ref-01")


def test_clean_batch_builds_history_and_one_shadow_update(reference: tuple[dict[str, Any], list[Any]]) -> None:
    reported, history = reference
    assert [h["seq"] for h in history] == [0, 1, 2, 3]
    assert reported["state"] == 100 and reported["category"] == "running"
    assert reported["counters"]["parts_total"] == 3 * 12 + 59 // 5
    assert reported["last_sample_ts"] == "2026-01-05T06:03:59Z"
    assert history[2]["intervals"][0][2] == 600


def test_duplicate_delivery_of_a_whole_batch_changes_nothing(reference: tuple[dict[str, Any], list[Any]]) -> None:
    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    service = ingest_service()
    first = service.handle_batch(sqs_event(bodies))
    second = service.handle_batch(sqs_event(bodies, ids=[f"again-{i}" for i in range(4)]))
    assert (first.accepted, second.accepted, second.duplicates) == (4, 0, 4)
    assert second.shadow_updates == 0
    assert snapshot("cnc-01") == reference


def test_one_poisoned_record_in_a_batch_of_ten_is_quarantined_and_the_rest_proceed() -> None:
    gw = register("cnc-01")
    bodies = [wire(gw.envelope(i, samples(T0 + timedelta(minutes=i), 60))) for i in range(9)]
    bodies.insert(4, '{"v": 1, "machine_id": "cnc-01", "samples": [')
    outcome = ingest_service().handle_batch(sqs_event(bodies))
    assert (outcome.accepted, outcome.quarantined, outcome.failed_message_ids) == (9, 1, [])
    assert dict(outcome.reasons) == {"malformed_json": 1}
    kept = QuarantineStore().list_day(_today())
    assert [(k["record_id"], k["reason"], k["machine_id"]) for k in kept] == [("msg-4", "malformed_json", "cnc-01")]
    assert QuarantineStore().raw(kept[0]["raw_key"]) == bodies[4].encode()


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _tampered(gw: Gateway) -> str:
    doc = json.loads(wire(gw.envelope(0, samples(T0, 60))))
    doc["samples"][10]["part_count"] += 100
    return json.dumps(doc)


def _unsigned(gw: Gateway) -> str:
    doc = json.loads(wire(gw.envelope(0, samples(T0, 60))))
    del doc["signature"]
    return json.dumps(doc)


def _other_things_key(gw: Gateway) -> str:
    other = register("cnc-99")
    return wire(other.envelope(0, samples(T0, 60)).model_copy(update={"machine_id": "cnc-01"}))


def _forged_with_own_key_id(gw: Gateway) -> str:
    forger = Gateway(gw.device, generate_private_key(), gw.key_id)
    return wire(forger.envelope(0, samples(T0, 60)))


def _future(gw: Gateway) -> str:
    return wire(gw.envelope(0, samples(datetime.now(UTC) + timedelta(hours=2), 10)))


def _schema(gw: Gateway) -> str:
    doc = json.loads(wire(gw.envelope(0, samples(T0, 60))))
    doc["samples"][3]["state"] = "running"
    return json.dumps(doc)


def _oversized(gw: Gateway) -> str:
    doc = json.loads(wire(gw.envelope(0, samples(T0, 60))))
    doc["padding"] = "x" * 200_000
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_tampered, "bad_signature"),
        (_unsigned, "unsigned"),
        (_other_things_key, "unknown_key"),
        (_forged_with_own_key_id, "bad_signature"),
        (_future, "future_timestamp"),
        (_schema, "schema_violation"),
        (_oversized, "oversized"),
    ],
)
def test_bad_envelopes_are_quarantined_with_their_reason(make: Any, reason: str) -> None:
    gw = register("cnc-01")
    body = make(gw)
    outcome = ingest_service().handle_batch(sqs_event([body, wire(gw.envelope(7, samples(T0, 5)))]))
    assert (outcome.accepted, outcome.quarantined, dict(outcome.reasons)) == (1, 1, {reason: 1})
    kept = QuarantineStore().list_day(_today())
    assert kept[0]["reason"] == reason and kept[0]["detail"]
    assert QuarantineStore().raw(kept[0]["raw_key"]) == body.encode()
    assert HistoryStore().get_segment("cnc-01", 0) is None


def test_unregistered_thing_is_quarantined_as_unknown_key() -> None:
    gw = register("cnc-01")
    body = wire(gw.envelope(0, samples(T0, 5)).model_copy(update={"machine_id": "ghost-7"}))
    outcome = ingest_service().handle_batch(sqs_event([body]))
    assert dict(outcome.reasons) == {"unknown_key": 1}


class CrashingShadows(ShadowStore):
    """A shadow store whose first update dies, as a Lambda timing out after the history write."""

    def __init__(self) -> None:
        self.crashes = 1

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("Lambda killed between history write and shadow update")
        return super().update(machine_id, shadow, payload)


def test_crash_between_history_write_and_shadow_update_is_caught_up_from_the_backlog(
    reference: tuple[dict[str, Any], list[Any]],
) -> None:
    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    service = ingest_service(shadows=CrashingShadows())
    crashed = service.handle_batch(sqs_event(bodies))
    # the envelopes are in history: they are not failed back to SQS (whose retries end in the dead-letter
    # queue) but kept in the backlog
    assert (crashed.accepted, crashed.deferred, crashed.failed_message_ids) == (4, 4, [])
    assert ShadowStore().get("cnc-01", "state") is None
    assert [seq for seq, _ in BacklogStore().entries("cnc-01")] == [0, 1, 2, 3]
    # the scheduled catch-up completes them; a redelivery after that changes nothing
    assert service.catch_up() == {"machines": 1, "caught_up": 4, "still_failing": []}
    assert BacklogStore().machines() == []
    redelivered = service.handle_batch(sqs_event(bodies))
    assert (redelivered.duplicates, redelivered.shadow_updates, redelivered.failed_message_ids) == (4, 0, [])
    assert snapshot("cnc-01") == reference


class DownFor(ShadowStore):
    """The shadow service refuses one machine's updates until it is told to recover."""

    def __init__(self, machine_id: str) -> None:
        self.machine_id = machine_id
        self.down = True

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        if self.down and machine_id == self.machine_id:
            raise RuntimeError("ThrottlingException: rate exceeded for this thing")
        return super().update(machine_id, shadow, payload)


def _usage(machine_id: str) -> list[tuple[str, str, str]]:
    events = UsageStore().between(machine_id, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    return sorted((e.meter, e.ts.isoformat(), format(e.quantity, "f")) for e in events)


def test_a_failing_step_for_one_machine_holds_up_no_other_and_catches_up_to_a_clean_run() -> None:
    # Given two machines in one batch; the clean run of the same telemetry on a third machine's history
    sick, well, clean = register("cnc-01"), register("cnc-02"), register("ref-01")
    bodies = {gw.device.machine_id: four_envelopes(gw) for gw in (sick, well, clean)}
    ingest_service().handle_batch(sqs_event(bodies["ref-01"]))
    shadows = DownFor("cnc-01")
    service = ingest_service(shadows=shadows)
    # When the shadow service refuses cnc-01 for three batches in a row
    for attempt in range(3):
        mixed = [b for pair in zip(bodies["cnc-01"], bodies["cnc-02"], strict=True) for b in pair]
        outcome = service.handle_batch(sqs_event(mixed, ids=[f"{attempt}-{i}" for i in range(8)]))
        # Then nothing is failed back to SQS (so nothing reaches the dead-letter queue)
        assert outcome.failed_message_ids == []
        assert service.catch_up()["still_failing"] == ["cnc-01"]
    # And cnc-02 was never held up
    assert snapshot("cnc-02")[0] == snapshot("ref-01")[0]
    assert _usage("cnc-02") == _usage("ref-01")
    # When the service recovers, the next catch-up completes cnc-01: its twin and usage equal the clean run
    shadows.down = False
    assert service.catch_up() == {"machines": 1, "caught_up": 4, "still_failing": []}
    assert snapshot("cnc-01") == snapshot("ref-01")
    assert _usage("cnc-01") == _usage("ref-01")


def test_out_of_order_envelopes_are_placed_by_time(reference: tuple[dict[str, Any], list[Any]]) -> None:
    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    service = ingest_service()
    for order in ([3], [1, 0], [2]):
        service.handle_batch(sqs_event([bodies[i] for i in order], ids=[f"m{i}" for i in order]))
    assert snapshot("cnc-01") == reference


def test_counter_reset_never_moves_the_twin_backwards() -> None:
    gw = register("cnc-01")
    service = ingest_service()
    service.handle_batch(sqs_event([wire(gw.envelope(0, samples(T0, 60, parts_from=500)))]))
    before = ShadowStore().get("cnc-01", "state")
    assert before is not None and before[0]["counters"]["parts_total"] == 511
    # the controller was reset to zero at the start of the next minute
    service.handle_batch(sqs_event([wire(gw.envelope(1, samples(T0 + timedelta(minutes=1), 60, parts_from=0)))]))
    after = ShadowStore().get("cnc-01", "state")
    assert after is not None
    assert after[0]["counters"]["controller"]["parts"] == 11
    assert after[0]["counters"]["parts_total"] == 511 + 11  # the reset counts from zero, never backwards


class RacingShadows(ShadowStore):
    """Another Lambda updates the same shadow between our read and our write, twice."""

    def __init__(self, rival: Gateway, rival_samples: list[list[Sample]]) -> None:
        self.rival = rival
        self.rival_samples = rival_samples
        self.conflicts = 0

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        if self.rival_samples:
            batch = self.rival_samples.pop(0)
            seq = 100 + len(self.rival_samples)
            ingest_service().handle_batch(sqs_event([wire(self.rival.envelope(seq, batch))], ids=[f"r{seq}"]))
            self.conflicts += 1
        return super().update(machine_id, shadow, payload)


def test_concurrent_batches_for_one_thing_resolve_version_conflicts(
    reference: tuple[dict[str, Any], list[Any]],
) -> None:
    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    # the rival delivers the first two minutes while we try to apply the last two
    rival_batches = [samples(T0 + timedelta(minutes=m), 60, parts_from=m * 12) for m in (0, 1)]
    racing = RacingShadows(gw, rival_batches)
    outcome = ingest_service(shadows=racing).handle_batch(sqs_event(bodies[2:], ids=["a2", "a3"]))
    assert racing.conflicts == 2 and outcome.shadow_updates == 1 and not outcome.failed_message_ids
    # the rival used other seqs for the same samples; deliver ours too, then compare the twin
    ingest_service().handle_batch(sqs_event(bodies[:2]))
    assert snapshot("cnc-01")[0] == reference[0]


class FlakyHistory(HistoryStore):
    """DynamoDB throttles one write: only that record is reported back to SQS."""

    def put_segment(self, segment: Any, received_at: Any) -> bool:
        if segment.seq == 1:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return super().put_segment(segment, received_at)


def test_transient_failure_reports_only_that_record_for_redelivery() -> None:
    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    outcome = ingest_service(history=FlakyHistory()).handle_batch(sqs_event(bodies))
    assert outcome.failed_message_ids == ["msg-1"]
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    again = ingest_service().handle_batch(sqs_event([bodies[1]], ids=["msg-1"]))
    assert again.accepted == 1


def test_the_deployed_handler_answers_with_a_partial_batch_response() -> None:
    from app import app

    gw = register("cnc-01")
    bodies = four_envelopes(gw)
    with Client(app) as client:
        first = client.lambda_.invoke("ingest", sqs_event([*bodies[:2], "not json"]))
        AWS_CALLS.clear()  # the first batch also created the shadow; from now on: one update per batch
        second = client.lambda_.invoke("ingest", sqs_event(bodies[2:], ids=["m2", "m3"]))
    assert first.payload == second.payload == {"batchItemFailures": []}
    assert AWS_CALLS["iot-data.UpdateThingShadow"] == 1
    state = ShadowStore().get("cnc-01", "state")
    assert state is not None and state[0]["last_sample_ts"] == "2026-01-05T06:03:59Z"


def test_ingest_meters_usage_once_across_envelope_boundaries_and_redelivery() -> None:
    from collections import defaultdict
    from decimal import Decimal

    from chalicelib.adapters.billing import UsageStore

    gw = register("cnc-01")
    bodies = four_envelopes(gw)  # parts 0..11, 12..23, 24..35 (breakdown minute), 36..47
    service = ingest_service()
    service.handle_batch(sqs_event(bodies[:2], ids=["a", "b"]))
    service.handle_batch(sqs_event(bodies[2:], ids=["c", "d"]))  # its predecessor comes from history
    service.handle_batch(sqs_event(bodies))  # a whole redelivery
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for event in UsageStore().between("cnc-01", T0, T0 + timedelta(hours=1)):
        totals[event.meter] += event.quantity
    assert totals["parts"] == 47  # every increment from the first reading, boundaries included, once
    # three running minutes; the breakdown minute is not billed (each event is rounded to 1e-6 h)
    assert abs(totals["spindle_hours"] - Decimal(180) / 3600) <= Decimal("0.000001") * 3


def test_envelopes_that_carry_their_previous_sample_meter_exactly_in_any_order() -> None:
    from decimal import Decimal

    from chalicelib.adapters.billing import UsageStore

    gw = register("cnc-01")
    minutes = [samples(T0 + timedelta(minutes=m), 60, parts_from=m * 12) for m in range(4)]
    bodies = [
        wire(seal("cnc-01", "plant-a", m, rows, gw.key, gw.key_id, previous=minutes[m - 1][-1] if m else None))
        for m, rows in enumerate(minutes)
    ]
    service = ingest_service()
    for order in ([3], [1], [2, 0]):  # every envelope arrives before its predecessor
        service.handle_batch(sqs_event([bodies[i] for i in order], ids=[f"m{i}" for i in order]))
    parts = sum(
        (e.quantity for e in UsageStore().between("cnc-01", T0, T0 + timedelta(hours=1)) if e.meter == "parts"),
        Decimal(0),
    )
    assert parts == 47
