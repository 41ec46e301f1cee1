"""The telemetry publisher: batch, sign, spool, publish in order with QoS 1, forget only after PUBACK.

Each sample is staged durably in the :class:`~edge_greengrass.spool.Spool` as it arrives; a full batch
(or one older than ``max_batch_age``) is sealed into a signed :class:`TelemetryEnvelope` with the
thing's next ``seq``; :meth:`TelemetryPublisher.pump` keeps up to ``window`` envelopes per thing in
flight, oldest first, and deletes an envelope from the spool only when its PUBACK arrives. When a
publish fails (disconnect, refusal, timeout) the thing's lane waits for its other in-flight publishes
to settle and restarts from its oldest unacknowledged envelope, so order is kept and a re-sent
duplicate is the worst case (the cloud drops duplicates on ``(thing, seq)``).

Example:
    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> from concurrent.futures import Future
    >>> from twin_models.signing import generate_private_key
    >>> from twin_models.telemetry import Sample
    >>> class Loopback:
    ...     def __init__(self): self.sent = []
    ...     def publish(self, thing, topic, payload):
    ...         self.sent.append(topic); f = Future(); f.set_result(None); return f
    ...     def is_connected(self, thing): return True
    >>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.db")
    >>> signer = EnvelopeSigner(site="plant-a", key=generate_private_key(), key_id="gw-1")
    >>> pub = TelemetryPublisher(spool, Loopback(), signer, batch_size=2)
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> pub.add("cnc-01", Sample(ts=t, state=100)); pub.add("cnc-01", Sample(ts=t, state=100))
    >>> pub.pump(); pub.pump()  # send, then collect the PUBACK
    0
    1
    >>> spool.stats().pending
    0
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import TypeAdapter, ValidationError

from edge_greengrass.errors import PublishError, SpoolFullError
from edge_greengrass.spool import Spool, per_item
from twin_models.jws import seal_jws
from twin_models.signing import sample_wire_bytes, seal_wire
from twin_models.telemetry import MAX_ENVELOPE_BYTES, MAX_SAMPLES, Sample, topic_for

__all__ = ["EnvelopeSigner", "PublisherMetrics", "TelemetryPublisher", "unloadable_samples"]

_log = logging.getLogger(__name__)

_SAMPLE_LIST = TypeAdapter(list[Sample])
_each_sample = per_item(Sample.model_validate_json)


def unloadable_samples(items: Sequence[bytes]) -> list[tuple[int, str]]:
    """``(index, error)`` of every staged item that does not load again with ``Sample.model_validate_json``.

    The common case (all load) is one validation of the whole batch; only a batch with a bad item is
    checked item by item, so the result is exactly the per-item round trip.

    Example:
        >>> from datetime import datetime, timezone
        >>> good = sample_wire_bytes(Sample(ts=datetime(2026, 1, 5, tzinfo=timezone.utc), state=100))
        >>> unloadable_samples([good, good])
        []
        >>> [i for i, _ in unloadable_samples([good, good.replace(b'"state":100', b'"state":null')])]
        [1]
    """
    if not items:
        return []
    try:
        if len(_SAMPLE_LIST.validate_json(b"[" + b",".join(items) + b"]")) == len(items):
            return []
    except ValidationError:
        pass
    return _each_sample(items)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Publishes(Protocol):
    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]: ...

    def is_connected(self, thing: str) -> bool: ...


class EnvelopeSigner:
    """Seals envelopes with the gateway's device key, once per envelope: v3 (the default) and v2 are a JWS
    over the envelope's bytes (:func:`twin_models.jws.seal_jws`; v3 carries the samples as columns,
    :mod:`twin_models.columnar`, about a tenth of v2's bytes), v1 the JSON with the signature inside
    (:func:`twin_models.signing.seal_wire`). The spool keeps the sealed bytes; they are published unchanged.

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.signing import generate_private_key
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> signer = EnvelopeSigner(site="plant-a", key=generate_private_key(), key_id="gw-1", clock=lambda: t)
        >>> samples = [Sample(ts=t, state=100)]
        >>> signer.build("cnc-01", 0, samples, [signer.stage_bytes(s) for s in samples])[:3]
        b'eyJ'
    """

    def __init__(
        self,
        *,
        site: str,
        key: ec.EllipticCurvePrivateKey,
        key_id: str,
        clock: Callable[[], dt.datetime] = _utc_now,
        version: Literal[1, 2, 3] = 3,
    ) -> None:
        self.site = site
        self.key_id = key_id
        #: 3: a JWS over the envelope's columns (:mod:`twin_models.columnar`); 2: a JWS over the envelope's
        #: sample list (:mod:`twin_models.jws`); 1: the signature inside the JSON
        self.version = version
        self._key = key
        self._clock = clock

    def topic(self, thing: str) -> str:
        """The telemetry topic of ``thing``."""
        return topic_for(self.site, thing)

    @staticmethod
    def stage_bytes(sample: Sample) -> bytes:
        """How a sample is staged: its wire JSON (:func:`twin_models.signing.sample_wire_bytes`)."""
        return sample_wire_bytes(sample)

    def build(
        self,
        thing: str,
        seq: int,
        samples: list[Sample],
        items: list[bytes] | None = None,
        previous: Sample | None = None,
    ) -> bytes:
        """The signed wire bytes of envelope ``seq`` carrying ``samples``, sent now (by this signer's clock).

        ``items`` are the samples' :meth:`stage_bytes` when already at hand: the payload is then
        assembled around them instead of serialising every sample again. Either way the bytes
        decode to exactly ``signed.to_wire()``. ``previous`` is the last sample of envelope
        ``seq - 1`` (metering across the boundary needs it, whatever order envelopes arrive in).
        """
        if self.version == 3:
            return seal_jws(
                thing, self.site, seq, samples, self._key, self.key_id, self._clock(), previous, columns=True
            )
        seal = seal_jws if self.version == 2 else seal_wire
        return seal(
            thing,
            self.site,
            seq,
            samples,
            self._key,
            self.key_id,
            sent_at=self._clock(),
            previous=previous,
            items=items,
        )


@dataclass
class PublisherMetrics:
    """Counters since the process started (the spool keeps lifetime counters)."""

    samples_in: int = 0
    envelopes_sealed: int = 0
    publishes_sent: int = 0
    publishes_acked: int = 0
    publish_failures: int = 0
    lane_restarts: int = 0
    rejected_full: int = 0
    split_batches: int = 0
    #: samples whose staged bytes would not load again: refused before staging, never published
    rejected_invalid: int = 0


class _TooLarge(Exception):
    """An envelope over IoT Core's payload limit (internal: the batch is split)."""


@dataclass
class _Lane:
    cursor: int = 0
    inflight: dict[int, Future[None]] = field(default_factory=dict)
    restarting: bool = False
    #: consecutive restarts without an acknowledgement, and when sending may resume
    failures: int = 0
    resume_at: float = 0.0


#: Back-off before re-sending after consecutive failed restarts: immediately, then 0.5 s doubling to 10 s.
def _backoff(failures: int) -> float:
    return 0.0 if failures <= 1 else min(10.0, 0.5 * 2 ** (failures - 2))


class TelemetryPublisher:
    """Batches, signs, spools and publishes one gateway's telemetry. Single-threaded: call from one loop."""

    def __init__(
        self,
        spool: Spool,
        transport: _Publishes,
        signer: EnvelopeSigner,
        *,
        batch_size: int = 60,
        max_batch_age: dt.timedelta = dt.timedelta(seconds=90),
        window: int = 32,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= MAX_SAMPLES:
            raise ValueError(f"batch_size must be within 1..{MAX_SAMPLES}, got {batch_size}")
        self.spool = spool
        self.transport = transport
        self.signer = signer
        self.batch_size = batch_size
        self.max_batch_age_s = max_batch_age.total_seconds()
        self.window = window
        self.metrics = PublisherMetrics()
        self._monotonic = monotonic
        self._lanes: dict[str, _Lane] = {}
        # staged-sample count and when the open batch started, per thing (recovered on start)
        self._staged: dict[str, int] = {}
        self._opened: dict[str, float] = {}
        # the open batches' samples in memory, row for row what the spool has staged
        self._open: dict[str, list[Sample]] = {}
        # a smaller batch for things whose full batch would exceed IoT Core's payload limit
        self._limit: dict[str, int] = {}
        # things that may have unacknowledged envelopes (read once; then kept up to date in memory)
        self._backlog: set[str] = set(spool.pending_things())
        self._full_until = 0.0
        # (seq, last sample) of each thing's newest sealed envelope, once read from the spool
        self._sealed: dict[str, tuple[int, Sample] | None] = {}
        for thing, error in spool.reject_staged(unloadable_samples):
            _log.warning("a staged sample of %s does not load (%s): moved to staged_rejects", thing, error)
        now = monotonic()
        for thing in spool.staged_things():
            self._open[thing] = [Sample.model_validate_json(item) for item in spool.staged(thing)]
            self._staged[thing] = len(self._open[thing])
            self._opened[thing] = now

    # -- intake -----------------------------------------------------------------------------------
    def add(self, thing: str, sample: Sample) -> None:
        """Stage one sample durably; seal the batch when it is full."""
        self.add_many(((thing, sample),))

    def add_many(self, pairs: Iterable[tuple[str, Sample]]) -> None:
        """Stage several ``(thing, sample)`` pairs in one transaction; seal full batches."""
        accepted = list(pairs)
        if not accepted:
            return
        rows = [(thing, self.signer.stage_bytes(sample)) for thing, sample in accepted]
        refused = unloadable_samples([item for _, item in rows])
        if refused:  # a row that would not load again must never reach the spool
            out = {index for index, _ in refused}
            for index, error in refused:
                _log.warning("refusing a sample of %s that would not load again: %s", rows[index][0], error)
            self.metrics.rejected_invalid += len(refused)
            rows = [row for index, row in enumerate(rows) if index not in out]
            accepted = [pair for index, pair in enumerate(accepted) if index not in out]
            if not rows:
                return
        last = {thing: sample for thing, sample in accepted}
        self.spool.stage_many(rows, state={f"last_ts/{t}": s.ts.isoformat() for t, s in last.items()})
        now = self._monotonic()
        for thing, sample in accepted:
            self._open.setdefault(thing, []).append(sample)
            self._staged[thing] = self._staged.get(thing, 0) + 1
            self._opened.setdefault(thing, now)
        self.metrics.samples_in += len(rows)
        for thing in {thing for thing, _ in rows}:
            while self._staged.get(thing, 0) >= self._limit.get(thing, self.batch_size):
                if not self._seal(thing):
                    break

    def resume_point(self, thing: str) -> dt.datetime | None:
        """Timestamp of the last sample staged for ``thing`` (survives restarts)."""
        value = self.spool.get_state(f"last_ts/{thing}")
        return dt.datetime.fromisoformat(value) if value else None

    def _last_sealed(self, thing: str) -> tuple[int, Sample] | None:
        """``(seq, last sample)`` of the newest envelope sealed for ``thing``, if known."""
        if thing in self._sealed:
            return self._sealed[thing]
        value = self.spool.get_state(f"sealed_last/{thing}")
        known: tuple[int, Sample] | None = None
        if value:
            try:
                stored = json.loads(value)
                known = int(stored["seq"]), Sample.model_validate(stored["sample"])
            except (ValueError, TypeError, KeyError) as exc:  # the next envelope carries no ``previous``
                _log.warning("ignoring the unreadable last sealed sample of %s: %s", thing, exc)
        self._sealed[thing] = known
        return known

    @staticmethod
    def _sealed_state(thing: str, seq: int, items: list[bytes]) -> dict[str, str]:
        # Stored in the seal's own transaction: the envelope and its "last sealed sample" commit together.
        # The staged bytes are the sample's wire JSON, so the record is assembled, not serialised again.
        return {f"sealed_last/{thing}": f'{{"seq":{seq},"sample":{items[-1].decode()}}}'}

    def _seal(self, thing: str) -> bool:
        if self._monotonic() < self._full_until:
            return False  # the spool refused recently (reject_new): do not sign again in a tight loop
        open_samples = self._open.setdefault(thing, [])
        taken = 0
        last_sealed = self._last_sealed(thing)
        sealed_last: Sample | None = None

        def build(seq: int, items: list[bytes]) -> bytes:
            nonlocal taken, sealed_last
            taken = len(items)
            if len(open_samples) >= taken:
                samples = open_samples[:taken]
            else:  # not mirrored in memory (should not happen): decode what the spool holds
                samples = [Sample.model_validate_json(item) for item in items]
            previous = last_sealed[1] if last_sealed and last_sealed[0] == seq - 1 else None
            sealed_last = samples[-1]
            payload = self.signer.build(thing, seq, samples, items, previous=previous)
            if len(payload) > MAX_ENVELOPE_BYTES and taken > 1:
                raise _TooLarge
            return payload

        limit = self._limit.get(thing, self.batch_size)
        while True:
            try:
                entry = self.spool.seal(
                    thing,
                    self.signer.topic(thing),
                    build,
                    limit=limit,
                    state=lambda seq, items: self._sealed_state(thing, seq, items),
                )
                break
            except _TooLarge:  # IoT Core takes 128 KB: seal fewer samples (the rest stay staged)
                limit = max(1, limit // 2)
                self._limit[thing] = limit  # this thing's samples are large: keep the smaller batch
                self.metrics.split_batches += 1
            except SpoolFullError as exc:
                self.metrics.rejected_full += 1
                self._full_until = self._monotonic() + 1.0
                _log.warning("spool full, samples of %s stay staged: %s", thing, exc)
                return False
        if entry is None:
            self._staged.pop(thing, None)
            self._opened.pop(thing, None)
            self._open.pop(thing, None)
            return False
        del open_samples[:taken]
        if sealed_last is not None:
            self._sealed[thing] = (entry.seq, sealed_last)
        self._backlog.add(thing)
        self.metrics.envelopes_sealed += 1
        left = max(0, self._staged.get(thing, 0) - taken)
        if left:
            self._staged[thing] = left
            self._opened[thing] = self._monotonic()
        else:
            self._staged.pop(thing, None)
            self._opened.pop(thing, None)
        return True

    def flush(self) -> int:
        """Seal every open batch now (e.g. at shutdown); returns the envelopes sealed."""
        sealed = 0
        for thing in list(self._staged):
            while self._staged.get(thing) and self._seal(thing):
                sealed += 1
        return sealed

    def _seal_stale(self) -> None:
        limit = self._monotonic() - self.max_batch_age_s
        for thing, opened in list(self._opened.items()):
            if opened <= limit:
                self._seal(thing)

    # -- output -----------------------------------------------------------------------------------
    def pump(self) -> int:
        """One non-blocking round: collect PUBACKs, seal stale batches, send what the window allows.

        Returns the number of envelopes acknowledged (and deleted from the spool) in this round.
        """
        acked: list[int] = []
        now = self._monotonic()
        for thing, lane in self._lanes.items():
            for entry_id, future in list(lane.inflight.items()):
                if not future.done():
                    continue
                del lane.inflight[entry_id]
                if future.exception() is None:
                    acked.append(entry_id)
                    lane.failures = 0
                else:
                    self.metrics.publish_failures += 1
                    if not lane.restarting:
                        _log.info("publish for %s failed (%s); lane restarts", thing, future.exception())
                    lane.restarting = True
            if lane.restarting and not lane.inflight:
                lane.cursor = 0
                lane.restarting = False
                lane.failures += 1
                lane.resume_at = now + _backoff(lane.failures)
                self.metrics.lane_restarts += 1
        if acked:
            self.spool.ack(acked)
            self.metrics.publishes_acked += len(acked)
        self._seal_stale()
        for thing in sorted(self._backlog):
            lane = self._lanes.setdefault(thing, _Lane())
            room = self.window - len(lane.inflight)
            if lane.restarting or room <= 0 or now < lane.resume_at or not self.transport.is_connected(thing):
                continue
            entries = self.spool.pending(room, after_id=lane.cursor, thing=thing)
            if not entries and not lane.inflight:
                self._backlog.discard(thing)  # all acknowledged (or dropped): idle until the next seal
                lane.cursor = 0
                continue
            for entry in entries:
                lane.inflight[entry.id] = self._publish(thing, entry.topic, entry.payload)
                lane.cursor = entry.id
                self.metrics.publishes_sent += 1
        return len(acked)

    def _publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        try:
            return self.transport.publish(thing, topic, payload)
        except Exception as exc:  # a transport that raises instead of failing its future: same handling
            failed: Future[None] = Future()
            failed.set_exception(PublishError(f"publish to {topic} raised: {exc!r}"))
            return failed

    @property
    def inflight(self) -> int:
        """Envelopes sent and not yet acknowledged."""
        return sum(len(lane.inflight) for lane in self._lanes.values())

    def drain(self, timeout: float, *, poll_s: float = 0.005) -> bool:
        """Pump until the spool is empty (True) or ``timeout`` seconds pass (False)."""
        deadline = self._monotonic() + timeout
        while True:
            self.pump()
            if not self.inflight and not self._backlog:
                return True
            if self._monotonic() >= deadline:
                return False
            time.sleep(poll_s)
