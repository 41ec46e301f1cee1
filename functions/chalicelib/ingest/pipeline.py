"""Telemetry ingest as a pipeline: an SQS batch of signed envelopes in; history, shadows, usage, health and
queued tickets out.

The steps (:mod:`chalicelib.ingest.steps`), each over its ports: **verify** (strict parse, time window, the
machine's registered key, the signature) -> **store** (history, one conditional write on ``(machine, seq)``;
bad records to the quarantine with their reason, never failing the batch) -> per machine and batch:
**shadow** (one coalesced, version-locked ``state`` update) -> **meter** (usage events, idempotent by id)
-> **score** (the new samples on the anomaly endpoint, the ``health`` shadow; advisory) -> **queue** (the
tickets scoring opened, archived and queued for anchoring).

Each step runs over the whole batch before the next one starts (:meth:`VerifyStep.run_batch` stage by stage,
then the later steps machine after machine), so that a step's code stays in the CPU's caches; a record's
outcome is the one it would get alone.

A transient error before the history write fails only that record, which SQS delivers again (partial
batch response). Written history is never failed back: when a machine's shadow or metering step fails,
its envelopes of the batch go to the backlog (``Backlog`` port) and the scheduled catch-up
(:meth:`IngestPipeline.catch_up`) completes them later; other machines are not held up, and the result
equals a clean run (the shadow merge only moves forward, usage events are idempotent by id).

Example:
    >>> BatchOutcome(accepted=2).response()
    {'batchItemFailures': []}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.ingest.steps import MeterStep, QueueStep, ScoreStep, ShadowStep, StoreStep, Verified, VerifyStep
from chalicelib.ports.parts import PartDeriver
from chalicelib.ports.twins import Backlog
from twin_models.billing import UsageEvent
from twin_models.columnar import AnyEnvelope
from twin_models.history import Segment
from twin_models.telemetry import EnvelopeError

__all__ = ["BatchOutcome", "IngestPipeline", "logger", "metrics"]

logger = Logger(service="twinledger-ingest")
metrics = Metrics(namespace="twinledger", service="ingest")

Outcome = Literal["accepted", "duplicate", "quarantined"]


@dataclass
class BatchOutcome:
    """What one batch did: counts by outcome, quarantine reasons, and the SQS partial-batch response."""

    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    samples: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shadow_updates: int = 0
    health_updates: int = 0
    deferred: int = 0
    tickets: list[dict[str, Any]] = field(default_factory=list)
    failed_message_ids: list[str] = field(default_factory=list)

    def add(self, other: BatchOutcome) -> None:
        """Add another batch's counts (a service keeps running totals)."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.samples += other.samples
        self.shadow_updates += other.shadow_updates
        self.health_updates += other.health_updates
        self.deferred += other.deferred
        self.tickets.extend(other.tickets)
        for reason, count in other.reasons.items():
            self.reasons[reason] += count

    def response(self) -> dict[str, Any]:
        """The Lambda response SQS reads (``ReportBatchItemFailures``)."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failed_message_ids]}


class IngestPipeline:
    """The ingest use case: its steps are passed in (the wiring builds them; tests pass failing ones)."""

    def __init__(
        self,
        *,
        verify: VerifyStep,
        store: StoreStep,
        shadow: ShadowStep,
        meter: MeterStep,
        backlog: Backlog,
        score: ScoreStep | None = None,
        queue: QueueStep | None = None,
        parts: PartDeriver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.verify = verify
        self.store = store
        self.shadow = shadow
        self.meter = meter
        self.backlog = backlog
        self.score = score
        self.queue = queue
        self.parts = parts
        self.clock = clock
        self.totals = BatchOutcome()

    # -- one record ---------------------------------------------------------------------------
    def ingest_record(
        self, message_id: str, body: str, outcome: BatchOutcome, verified: Verified | Exception | None = None
    ) -> tuple[Outcome, Segment | None, AnyEnvelope | None, tuple[str, ...]]:
        """Verify and store one SQS record; quarantines bad input, raises only on transient failures.
        ``verified``: the record's result of :meth:`VerifyStep.run_batch` over its batch, if run already."""
        now = self.clock()
        found = self.verify.run_batch([body], now)[0] if verified is None else verified
        try:
            if isinstance(found, Exception):
                raise found
            segment, envelope, tenants = found
        except EnvelopeError as exc:
            self.store.reject(message_id, exc, body, now)
            outcome.quarantined += 1
            outcome.reasons[exc.reason] += 1
            with single_metric(name="QuarantinedByReason", unit=MetricUnit.Count, value=1, namespace="twinledger") as m:
                m.add_dimension(name="reason", value=exc.reason)
            logger.warning("quarantined", extra={"message_id": message_id, "reason": exc.reason, "detail": exc.detail})
            return "quarantined", None, None, ()
        stored = self.store.run(segment, now)
        if stored == "accepted":
            outcome.accepted += 1
            outcome.samples += segment.sample_count
            return "accepted", segment, envelope, tenants
        if stored == "conflicting":
            # the same (machine, seq) with other, validly signed content: a faulty gateway or a cloned key.
            # The stored envelope stays in history; this one is kept in the quarantine; shadow and metering
            # never see it; operators are alerted.
            detail = (
                f"({segment.machine_id}, seq {segment.seq}) is stored with other signed content; "
                f"this envelope's digest {segment.content_hash}; the stored one is in history"
            )
            self.store.reject(message_id, EnvelopeError("conflicting_duplicate", detail), body, now, segment.machine_id)
            outcome.quarantined += 1
            outcome.reasons["conflicting_duplicate"] += 1
            metrics.add_metric(name="ConflictingDuplicates", unit=MetricUnit.Count, value=1)
            logger.error(
                "conflicting duplicate: faulty gateway or cloned key",
                extra={"message_id": message_id, "machine_id": segment.machine_id, "seq": segment.seq},
            )
            return "quarantined", None, None, ()
        outcome.duplicates += 1
        return "duplicate", segment, envelope, tenants

    # -- per machine: a failed later step goes to the backlog, and is caught up from there ---------------
    def _defer(
        self, machine_id: str, records: list[tuple[str, int, str]], error: Exception, outcome: BatchOutcome
    ) -> list[str]:
        """Keep a machine's verified envelopes of this batch for catch-up; the ids SQS must redeliver.

        The envelopes are in history already: SQS redelivering them would only end in the dead-letter
        queue if the step keeps failing. Only if the backlog itself cannot be written are they failed back.
        """
        failed: list[str] = []
        for message_id, seq, body in records:
            try:
                self.backlog.put(machine_id, seq, body.encode(), f"{type(error).__name__}: {error}", self.clock())
                outcome.deferred += 1
            except Exception:
                logger.exception("backlog write failed", extra={"machine_id": machine_id, "seq": seq})
                failed.append(message_id)
        metrics.add_metric(name="IngestDeferred", unit=MetricUnit.Count, value=len(records) - len(failed))
        return failed

    def catch_up(self, limit: int = 100) -> dict[str, Any]:
        """Complete the later steps of backlogged envelopes, machine by machine (the scheduled catch-up).

        The envelopes are verified again, merged into the shadow and metered; the ones done leave the backlog.
        A machine whose step still fails stays for the next run and holds up no other machine. Scoring is not
        repeated: it is advisory, and the samples stay in history.
        """
        report: dict[str, Any] = {"machines": 0, "caught_up": 0, "still_failing": []}
        now = self.clock()
        for machine_id in self.backlog.machines(limit):
            report["machines"] += 1
            entries = self.backlog.entries(machine_id)
            segments: list[Segment] = []
            envelopes: dict[int, AnyEnvelope] = {}
            lookup_failed: Exception | None = None
            for result in self.verify.run_batch([body.decode() for _, body in entries], now):
                if isinstance(result, EnvelopeError):  # cannot happen for a stored envelope unless its key was revoked
                    logger.warning("backlogged envelope no longer verifies", extra={"machine_id": machine_id})
                elif isinstance(result, Exception):
                    lookup_failed = result
                else:
                    segment, envelope, _ = result
                    segments.append(segment)
                    envelopes[envelope.seq] = envelope
            try:
                if lookup_failed is not None:  # the machine waits for the next run, whole
                    raise lookup_failed
                if segments:
                    self.shadow.run(machine_id, segments)
                    self.meter.run(envelopes, {s.seq: s for s in segments})
                    if self.parts is not None:
                        self.parts.run(machine_id, envelopes, {s.seq: s for s in segments}, dict(entries_text(entries)))
            except Exception:
                logger.exception("catch-up still failing", extra={"machine_id": machine_id})
                report["still_failing"].append(machine_id)
                continue
            self.backlog.remove(machine_id, [seq for seq, _ in entries])
            report["caught_up"] += len(entries)
        return report

    def _shadow(self, machine_id: str, segments: list[Segment], outcome: BatchOutcome) -> None:
        if self.shadow.run(machine_id, segments):
            outcome.shadow_updates += 1

    # -- per machine: score and queue ------------------------------------------------------------
    def _score(
        self, new: dict[str, list[AnyEnvelope]], tenants: dict[str, tuple[str, ...]], outcome: BatchOutcome
    ) -> None:
        """Score each machine's newly accepted samples (made into objects here, only when a scorer runs)."""
        if self.score is None:
            return
        for machine_id, accepted in new.items():
            samples = [sample for envelope in accepted for sample in envelope.samples]
            try:
                ticket = self.score.run(machine_id, sorted(samples, key=lambda s: s.ts))
                if ticket is not None and self.queue is not None:
                    self.queue.run(machine_id, tenants.get(machine_id, ()), ticket)
            except Exception:
                logger.exception("health scoring failed", extra={"machine_id": machine_id})
                metrics.add_metric(name="HealthScoringFailures", unit=MetricUnit.Count, value=1)
                continue
            outcome.health_updates += 1
            if ticket is not None:
                outcome.tickets.append(ticket)

    # -- a whole batch ------------------------------------------------------------------------
    def handle_batch(self, event: dict[str, Any]) -> BatchOutcome:
        """Process an SQS event; see the module doc for the guarantees."""
        outcome = BatchOutcome()
        by_machine: dict[str, list[Segment]] = defaultdict(list)
        new_envelopes: dict[str, list[AnyEnvelope]] = defaultdict(list)
        envelopes: dict[str, dict[int, AnyEnvelope]] = defaultdict(dict)
        tenants: dict[str, tuple[str, ...]] = {}
        bodies_by_machine: dict[str, list[tuple[str, int, str]]] = defaultdict(list)

        records = event.get("Records", [])
        # every envelope of the batch verified stage by stage first (VerifyStep.run_batch), then stored one by one
        bodies = list({r["body"]: None for r in records if isinstance(r, dict) and isinstance(r.get("body"), str)})
        verified = dict(zip(bodies, self.verify.run_batch(bodies, self.clock()), strict=True))

        def record_handler(record: SQSRecord) -> str:
            body = record.body
            result, segment, envelope, parties = self.ingest_record(
                record.message_id, body, outcome, verified.get(body) if isinstance(body, str) else None
            )
            if segment is not None:
                by_machine[segment.machine_id].append(segment)
                bodies_by_machine[segment.machine_id].append((record.message_id, segment.seq, body))
            if envelope is not None:
                envelopes[envelope.machine_id][envelope.seq] = envelope
                tenants[envelope.machine_id] = parties
                if result == "accepted":
                    new_envelopes[envelope.machine_id].append(envelope)
            return result

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        with processor(records=records, handler=record_handler):
            processor.process()
        failed = [str(item["itemIdentifier"]) for item in processor.response()["batchItemFailures"]]
        # each later step runs over every machine of the batch before the next step (as verification does:
        # its code stays in the CPU's caches); a machine whose step fails skips its later steps, and its
        # envelopes go to the backlog
        usage: dict[str, list[UsageEvent]] = {}
        steps: list[Callable[[str, list[Segment]], Any]] = [
            lambda machine_id, segments: self._shadow(machine_id, segments, outcome),
            lambda machine_id, segments: usage.update(
                {machine_id: self.meter.events(envelopes[machine_id], {s.seq: s for s in segments})}
            ),
            lambda machine_id, segments: self.meter.store(usage[machine_id]),
        ]
        if self.parts is not None:
            parts = self.parts
            steps.append(
                lambda machine_id, segments: parts.run(machine_id, envelopes[machine_id], {s.seq: s for s in segments},
                                                       {seq: body for _, seq, body in bodies_by_machine[machine_id]})
            )  # fmt: skip
        going = dict(by_machine)
        for step in steps:
            for machine_id, segments in list(going.items()):
                try:
                    step(machine_id, segments)
                except Exception as exc:
                    logger.exception("shadow update or metering failed", extra={"machine_id": machine_id})
                    failed += self._defer(machine_id, bodies_by_machine[machine_id], exc, outcome)
                    del going[machine_id]
        self._score(new_envelopes, tenants, outcome)
        outcome.failed_message_ids = sorted(set(failed))
        self.totals.add(outcome)
        metrics.add_metric(name="EnvelopesAccepted", unit=MetricUnit.Count, value=outcome.accepted)
        metrics.add_metric(name="EnvelopesDuplicate", unit=MetricUnit.Count, value=outcome.duplicates)
        metrics.add_metric(name="EnvelopesQuarantined", unit=MetricUnit.Count, value=outcome.quarantined)
        return outcome


def entries_text(entries: list[tuple[int, bytes]]) -> list[tuple[int, str]]:
    """Backlog entries with their bodies as text (what the steps read)."""
    return [(seq, body.decode()) for seq, body in entries]


def count_shadow_conflict() -> None:
    """The shadow step's conflict counter (a CloudWatch metric)."""
    metrics.add_metric(name="ShadowVersionConflicts", unit=MetricUnit.Count, value=1)
