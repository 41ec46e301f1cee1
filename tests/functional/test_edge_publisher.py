"""The publisher: signed batches, in-order QoS 1 publishing, deletion only after PUBACK, resumption."""

from __future__ import annotations

import json
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_greengrass.errors import PublishError
from edge_greengrass.publisher import EnvelopeSigner, TelemetryPublisher
from edge_greengrass.spool import OverflowPolicy, Spool
from twin_models.jws import envelope_document, jws_header, open_jws, readable_document
from twin_models.signing import generate_private_key, verify_envelope
from twin_models.telemetry import Sample, TelemetryEnvelope

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
KEY = generate_private_key()


class ManualBroker:
    """A transport whose PUBACKs the test releases (or fails) explicitly."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes, Future[None]]] = []
        self.connected = True

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        future: Future[None] = Future()
        self.sent.append((thing, topic, payload, future))
        return future

    def is_connected(self, thing: str) -> bool:
        return self.connected

    def ack_all(self) -> None:
        for *_, future in self.sent:
            if not future.done():
                future.set_result(None)

    def fail_all(self) -> None:
        for *_, future in self.sent:
            if not future.done():
                future.set_exception(PublishError("connection lost"))

    def seqs(self, thing: str = "cnc-01") -> list[int]:
        return [envelope_document(p)["seq"] for t, _, p, _ in self.sent if t == thing]


def _samples(n: int, start: datetime = T0) -> list[Sample]:
    return [Sample(ts=start + timedelta(seconds=i), state=100, part_count=i) for i in range(n)]


def _publisher(tmp_path: Path, transport: ManualBroker, **kw: object) -> TelemetryPublisher:
    signer = EnvelopeSigner(site="plant-a", key=KEY, key_id="gw-1", clock=lambda: T0 + timedelta(hours=1))
    return TelemetryPublisher(Spool(tmp_path / "spool.db"), transport, signer, **kw)  # type: ignore[arg-type]


def test_batches_are_signed_envelopes_on_the_things_topic(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=60)
    pub.add_many(("cnc-01", s) for s in _samples(130))
    pub.pump()
    assert [t for _, t, _, _ in broker.sent] == ["dt/twinledger/plant-a/cnc-01/telemetry"] * 2
    payload = broker.sent[0][2]
    envelope, _ = open_jws(payload, jws_header(payload), KEY.public_key(), now=T0 + timedelta(days=1))
    assert (envelope.v, envelope.seq, len(envelope.samples), envelope.samples[0].ts, jws_header(payload).key_id) == (
        3,
        0,
        60,
        T0,
        "gw-1",
    )
    assert pub.spool.stats().staged == 10  # the open batch waits, durably


def test_envelope_leaves_the_spool_only_after_its_puback(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=10)
    pub.add_many(("cnc-01", s) for s in _samples(30))
    pub.pump()
    assert pub.spool.stats().pending == 3 and pub.inflight == 3
    broker.sent[0][3].set_result(None)
    assert pub.pump() == 1
    assert [e.seq for e in pub.spool.pending()] == [1, 2]


def test_window_bounds_the_envelopes_in_flight(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=1, window=4)
    pub.add_many(("cnc-01", s) for s in _samples(10))
    pub.pump()
    assert broker.seqs() == [0, 1, 2, 3]
    broker.ack_all()
    pub.pump()
    pub.pump()
    assert broker.seqs() == list(range(8))


def test_failed_publish_restarts_the_lane_in_order(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=1, window=8)
    pub.add_many(("cnc-01", s) for s in _samples(5))
    pub.pump()
    broker.sent[0][3].set_result(None)  # seq 0 acknowledged
    broker.sent[2][3].set_exception(PublishError("connection lost"))  # seq 2 failed ...
    pub.pump()  # ... seq 1, 3, 4 still in flight: the lane waits for them
    assert broker.seqs() == [0, 1, 2, 3, 4]
    broker.sent[1][3].set_result(None)
    broker.fail_all()
    pub.pump()  # lane settled: restart from the oldest unacknowledged (seq 2)
    pub.pump()
    assert broker.seqs()[5:] == [2, 3, 4]
    assert pub.metrics.lane_restarts == 1
    broker.ack_all()
    pub.pump()
    assert pub.spool.stats().pending == 0


def test_nothing_is_sent_while_disconnected(tmp_path: Path) -> None:
    broker = ManualBroker()
    broker.connected = False
    pub = _publisher(tmp_path, broker, batch_size=1)
    pub.add_many(("cnc-01", s) for s in _samples(3))
    pub.pump()
    assert broker.sent == [] and pub.spool.stats().pending == 3
    broker.connected = True
    pub.pump()
    assert broker.seqs() == [0, 1, 2]


def test_restart_resumes_unacknowledged_envelopes_and_staged_samples(tmp_path: Path) -> None:
    # Given: a publisher killed with two envelopes unacknowledged and 5 samples staged
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=10)
    pub.add_many(("cnc-01", s) for s in _samples(25))
    pub.pump()
    assert pub.resume_point("cnc-01") == T0 + timedelta(seconds=24)
    del pub  # no flush, no close: as after SIGKILL
    # When: a new process opens the same spool
    broker2 = ManualBroker()
    later = EnvelopeSigner(site="plant-a", key=KEY, key_id="gw-1", clock=lambda: T0 + timedelta(hours=5))
    pub2 = TelemetryPublisher(Spool(tmp_path / "spool.db"), broker2, later, batch_size=10)
    pub2.add_many(("cnc-01", s) for s in _samples(5, start=T0 + timedelta(seconds=25)))
    pub2.pump()
    # Then: the unacknowledged envelopes go again, and the staged samples complete the next batch
    assert broker2.seqs() == [0, 1, 2]
    # signed once, when sealed: the very bytes go out again after the restart, though the clock moved on
    assert [p for _, _, p, _ in broker2.sent[:2]] == [p for _, _, p, _ in broker.sent[:2]]
    third = readable_document(broker2.sent[2][2])
    assert [s["part_count"] for s in third["samples"]] == list(range(20, 25)) + list(range(5))


def test_stale_open_batch_is_sealed_after_max_age(tmp_path: Path) -> None:
    clock = [100.0]
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=60, max_batch_age=timedelta(seconds=90), monotonic=lambda: clock[0])
    pub.add_many(("cnc-01", s) for s in _samples(5))
    pub.pump()
    assert broker.sent == []
    clock[0] += 91
    pub.pump()
    assert broker.seqs() == [0] and len(readable_document(broker.sent[0][2])["samples"]) == 5


def test_drain_publishes_everything(tmp_path: Path) -> None:
    class Instant(ManualBroker):
        def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
            future = super().publish(thing, topic, payload)
            future.set_result(None)
            return future

    broker = Instant()
    pub = _publisher(tmp_path, broker, batch_size=7)
    pub.add_many((f"cnc-0{i % 3 + 1}", s) for i, s in enumerate(_samples(60)))
    pub.flush()
    assert pub.drain(5)
    assert sorted(broker.seqs("cnc-01")) == broker.seqs("cnc-01") == [0, 1, 2]
    assert pub.spool.stats().acked == 9


def test_batch_size_is_bounded_by_the_envelope_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        _publisher(tmp_path, ManualBroker(), batch_size=10_000)


def test_assembled_payload_is_exactly_the_signed_wire_document_v1() -> None:
    signer = EnvelopeSigner(site="plant-a", key=KEY, key_id="gw-1", clock=lambda: T0, version=1)
    samples = [*_samples(3), Sample(ts=T0, state=601, spindle_current_a=12.5, tool_id="T0007", alarm_code=2001)]
    items = [signer.stage_bytes(s) for s in samples]
    fast = json.loads(signer.build("cnc-01", 4, samples, items))
    slow = json.loads(signer.build("cnc-01", 4, samples))
    expected = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=4, sent_at=T0, samples=samples)
    for doc in (fast, slow):
        verify_envelope(doc, KEY.public_key())
        assert {k: v for k, v in doc.items() if k != "signature"} == expected.unsigned_wire()
        assert set(doc["signature"]) == {"alg", "key_id", "sig"}


def test_assembled_payload_is_exactly_the_signed_wire_document_v2() -> None:
    signer = EnvelopeSigner(site="plant-a", key=KEY, key_id="gw-1", clock=lambda: T0, version=2)
    samples = [*_samples(3), Sample(ts=T0, state=601, spindle_current_a=12.5, tool_id="T0007", alarm_code=2001)]
    previous = _samples(1)[0]
    items = [signer.stage_bytes(s) for s in samples]
    fast = signer.build("cnc-01", 4, samples, items, previous=previous)
    slow = signer.build("cnc-01", 4, samples, previous=previous)
    expected = TelemetryEnvelope(
        v=2, machine_id="cnc-01", site="plant-a", seq=4, sent_at=T0, samples=samples, previous=previous
    )
    for token in (fast, slow):
        envelope, _ = open_jws(token, jws_header(token), KEY.public_key(), now=T0)
        assert envelope == expected and envelope_document(token) == expected.to_wire()


def test_an_envelope_over_the_iot_core_limit_is_split(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=1000)
    # every sample its own program and tool: no column of a v3 envelope runs, so 1,000 samples exceed 128 KB
    pub.add_many(
        ("cnc-01", s.model_copy(update={"program": f"P{i:060d}", "tool_id": f"T{i:060d}"}))
        for i, s in enumerate(_samples(1000))
    )
    pub.pump()
    sizes = [len(p) for _, _, p, _ in broker.sent]
    assert len(sizes) > 1 and max(sizes) <= 128 * 1024 and pub.metrics.split_batches >= 1
    counts = [len(readable_document(p)["samples"]) for _, _, p, _ in broker.sent]
    assert broker.seqs() == list(range(len(sizes))) and sum(counts) + pub.spool.stats().staged == 1000


def test_a_transport_that_raises_is_treated_as_a_failed_publish(tmp_path: Path) -> None:
    class Raising(ManualBroker):
        def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
            raise RuntimeError("client closed")

    pub = _publisher(tmp_path, Raising(), batch_size=1)
    pub.add("cnc-01", _samples(1)[0])
    pub.pump()
    pub.pump()
    assert pub.metrics.publish_failures == 1 and pub.spool.stats().pending == 1


def test_repeated_refusals_back_off_instead_of_hammering(tmp_path: Path) -> None:
    clock = [0.0]
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=1, monotonic=lambda: clock[0])
    pub.add("cnc-01", _samples(1)[0])
    for _ in range(3):  # refused (e.g. not authorized) three times in a row
        pub.pump()
        broker.fail_all()
        pub.pump()
    sent_after_three = len(broker.sent)
    for _ in range(50):
        pub.pump()  # no time passes: the lane waits
    assert len(broker.sent) == sent_after_three
    clock[0] += 10
    pub.pump()
    assert len(broker.sent) == sent_after_three + 1
    broker.ack_all()
    pub.pump()
    assert pub.spool.stats().pending == 0


def test_reject_new_backs_off_sealing(tmp_path: Path) -> None:
    clock = [0.0]
    broker = ManualBroker()
    broker.connected = False
    signer = EnvelopeSigner(site="plant-a", key=KEY, key_id="gw-1")
    spool = Spool(tmp_path / "s.db", max_bytes=2_000, policy=OverflowPolicy.REJECT_NEW)
    pub = TelemetryPublisher(spool, broker, signer, batch_size=2, monotonic=lambda: clock[0])
    pub.add_many(("cnc-01", s) for s in _samples(40))
    refused = pub.metrics.rejected_full
    assert refused >= 1 and spool.stats().staged > 0
    pub.add_many(("cnc-01", s) for s in _samples(4, start=T0 + timedelta(minutes=5)))
    assert pub.metrics.rejected_full == refused  # within the back-off: no new signing attempt
    assert spool.stats().dropped_full == 0  # reject_new never drops


def test_each_envelope_carries_the_last_sample_of_the_one_before_across_restarts(tmp_path: Path) -> None:
    broker = ManualBroker()
    pub = _publisher(tmp_path, broker, batch_size=60)
    pub.add_many(("cnc-01", s) for s in _samples(120))
    pub.pump()
    broker.ack_all()
    pub.pump()
    pub.spool.close()
    # a restarted gateway on the same spool goes on where it stopped
    restarted = _publisher(tmp_path, broker, batch_size=60)
    restarted.add_many(("cnc-01", s) for s in _samples(60, start=T0 + timedelta(seconds=120)))
    restarted.pump()
    # ``previous`` is covered by the signature
    envelopes = [open_jws(p, jws_header(p), KEY.public_key(), now=T0 + timedelta(days=1)) for _, _, p, _ in broker.sent]
    assert [e.seq for e, _ in envelopes] == [0, 1, 2]
    assert envelopes[0][0].previous is None
    assert [e.previous.ts for e, _ in envelopes[1:] if e.previous] == [
        T0 + timedelta(seconds=59),
        T0 + timedelta(seconds=119),
    ]
