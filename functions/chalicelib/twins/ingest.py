"""Telemetry ingest: an SQS batch of signed envelopes in, history and coalesced shadows out.

Per record: parse, check schema and time, verify the gateway signature against the thing's
registered key, and write the envelope's segment with a conditional put on ``(thing, seq)``
(the dedup key and the data in one write). A record that fails validation goes to the
quarantine with its reason and raw payload; it does not fail the batch. A transient AWS
error fails only that record, which SQS delivers again (partial batch response).

Per thing, once per batch: one ``state`` shadow update built from all its envelopes in the
batch, duplicates included, with optimistic locking on the shadow version and bounded
retries on 409. Because the merge only moves forward in time, a redelivery after a crash
between the history write and the shadow update completes the twin without double counting.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import aws
from chalicelib.settings import get_settings
from chalicelib.twins.dal import (
    DeviceRegistry,
    HistoryStore,
    QuarantineStore,
    ShadowStore,
    ShadowVersionConflictError,
)
from twin_models.billing.metering import derive_usage_events
from twin_models.history import Segment, segment_from_envelope
from twin_models.shadow import merge_state, update_payload
from twin_models.signing import load_public_key, verify_envelope
from twin_models.telemetry import EnvelopeError, Sample, TelemetryEnvelope, parse_envelope
from twin_models.tenancy import Device

__all__ = ["BatchOutcome", "HealthStep", "IngestService", "MeteringStep", "ShadowUpdateError", "health_configured"]

logger = Logger(service="twinledger-ingest")
metrics = Metrics(namespace="twinledger", service="ingest")

Outcome = Literal["accepted", "duplicate", "quarantined"]


class ShadowUpdateError(Exception):
    """A thing's shadow could not be updated within the retry budget."""


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
        self.tickets.extend(other.tickets)
        for reason, count in other.reasons.items():
            self.reasons[reason] += count

    def response(self) -> dict[str, Any]:
        """The Lambda response SQS reads (``ReportBatchItemFailures``)."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failed_message_ids]}


def health_configured() -> bool:
    """True where an anomaly endpoint (or an in-process model) is configured for ingest to call."""
    return bool(os.environ.get("TWINLEDGER_ANOMALY_ENDPOINT") or os.environ.get("TWINLEDGER_ANOMALY_MODEL_DIR"))


class HealthStep:
    """After the state update: score the batch's new samples, update ``health``, open and anchor tickets.

    Scoring is advisory: if the endpoint fails, the failure is logged and counted and the batch
    still succeeds (the samples are safe in history and can be scored again from there).
    """

    def __init__(self, shadows: ShadowStore, service: Any = None) -> None:
        from chalicelib.health.service import HealthService

        self.shadows = shadows
        self.service = service or HealthService()

    def run(self, device_tenants: tuple[str, ...], thing_name: str, samples: list[Sample]) -> dict[str, Any] | None:
        """Score one thing's new samples; returns the maintenance ticket opened, if any."""
        found = self.shadows.get(thing_name, "health")
        previous = found[0] if found else None
        outcome = self.service.handle_samples(thing_name, samples, previous)
        if outcome is None:
            return None
        self.shadows.update(thing_name, "health", json.dumps(outcome.shadow, separators=(",", ":")).encode())
        ticket: dict[str, Any] | None = outcome.ticket
        if ticket is not None:
            from chalicelib.chain.wiring import submit_for_anchoring
            from chalicelib.tables import bucket_name

            aws.client("s3").put_object(
                Bucket=bucket_name("archive"),
                Key=f"maintenance/{thing_name}/{ticket['ticket_id']}.json",
                Body=json.dumps(ticket, separators=(",", ":")).encode(),
                ContentType="application/json",
            )
            submit_for_anchoring(
                f"maintenance/{thing_name}/{ticket['ticket_id']}",
                bytes.fromhex(str(ticket["content_hash"])[2:]),
                kind="maintenance",
                tenants=device_tenants,
            )
        return ticket


class MeteringStep:
    """Usage events for pay-per-use billing from each envelope, idempotent by event id.

    Called for new and redelivered envelopes alike (a redelivery after a crash must still meter;
    stored events are deduplicated by id). The sample before an envelope's first makes the counter
    increment and alarm edge across the boundary count: the envelope carries it (``previous``, set by
    the gateway), or else it comes from envelope ``seq - 1`` in the same batch or in history.
    """

    def __init__(self, history: HistoryStore, billing: Any = None) -> None:
        if billing is None:
            from chalicelib.billing.service import BillingService

            billing = BillingService()
        self.history = history
        self.billing = billing

    def run(self, envelopes: dict[int, TelemetryEnvelope], segments: dict[int, Segment]) -> None:
        """Meter one thing's envelopes of a batch (by seq); their events are stored in one go."""
        events = []
        for seq in sorted(envelopes):
            envelope = envelopes[seq]
            events += derive_usage_events(
                envelope.samples, envelope.thing_name, previous=self._previous(envelope, segments), source=f"seq-{seq}"
            )
        if events:
            self.billing.record_usage(events)

    def _previous(self, envelope: TelemetryEnvelope, segments: dict[int, Segment]) -> Sample | None:
        """The sample before this envelope's first: carried by the envelope, else from seq - 1."""
        first = min(s.ts for s in envelope.samples)
        if envelope.previous is not None and envelope.previous.ts < first:
            return envelope.previous
        if envelope.seq == 0:
            return None
        before = segments.get(envelope.seq - 1) or self.history.get_segment(envelope.thing_name, envelope.seq - 1)
        return before.last if before else None


class IngestService:
    """The ingest use case, with its adapters passed in (tests pass wrappers that fail on purpose)."""

    def __init__(
        self,
        registry: DeviceRegistry | None = None,
        history: HistoryStore | None = None,
        quarantine: QuarantineStore | None = None,
        shadows: ShadowStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        health: HealthStep | None = None,
        metering: MeteringStep | None = None,
    ) -> None:
        self.registry = registry or DeviceRegistry()
        self.history = history or HistoryStore()
        self.quarantine = quarantine or QuarantineStore()
        self.shadows = shadows or ShadowStore()
        self.clock = clock
        self.totals = BatchOutcome()
        self.health = health if health is not None else (HealthStep(self.shadows) if health_configured() else None)
        self._metering = metering

    # -- one record ---------------------------------------------------------------------------
    def _verified(self, body: str, now: datetime) -> tuple[Segment, TelemetryEnvelope]:
        settings = get_settings()
        envelope, document = parse_envelope(body, now=now, max_future=timedelta(seconds=settings.max_future_s))
        device = self.registry.get(envelope.thing_name)
        signature = envelope.signature
        if device is None or signature is None:
            raise EnvelopeError("unknown_key", f"thing {envelope.thing_name!r} is not registered")
        pem = device.keys.get(signature.key_id)
        if pem is None:
            raise EnvelopeError("unknown_key", f"key {signature.key_id!r} is not registered for {device.thing_name}")
        if envelope.site != device.site:
            raise EnvelopeError("thing_mismatch", f"site {envelope.site!r} is not the thing's site {device.site!r}")
        verify_envelope(document, load_public_key(pem))
        return segment_from_envelope(envelope), envelope

    def ingest_record(
        self, message_id: str, body: str, outcome: BatchOutcome
    ) -> tuple[Outcome, Segment | None, TelemetryEnvelope | None]:
        """Handle one SQS record; quarantines bad input, raises only on transient failures."""
        now = self.clock()
        try:
            segment, envelope = self._verified(body, now)
        except EnvelopeError as exc:
            self.quarantine.put(message_id, exc.reason, exc.detail, body.encode(), _thing_hint(body), now)
            outcome.quarantined += 1
            outcome.reasons[exc.reason] += 1
            with single_metric(name="QuarantinedByReason", unit=MetricUnit.Count, value=1, namespace="twinledger") as m:
                m.add_dimension(name="reason", value=exc.reason)
            logger.warning("quarantined", extra={"message_id": message_id, "reason": exc.reason, "detail": exc.detail})
            return "quarantined", None, None
        if self.history.put_segment(segment, now):
            outcome.accepted += 1
            outcome.samples += segment.sample_count
            return "accepted", segment, envelope
        outcome.duplicates += 1
        return "duplicate", segment, envelope

    # -- one thing's shadow -------------------------------------------------------------------
    def update_state_shadow(self, thing_name: str, segments: list[Segment]) -> bool:
        """One coalesced ``state`` update with optimistic locking; False when nothing was newer."""
        retries = get_settings().shadow_retries
        for attempt in range(retries + 1):
            current = self.shadows.get(thing_name, "state")
            if current is None:
                # create it first, so that every merge below is a version-locked update
                self.shadows.update(thing_name, "state", update_payload({"schema": 1}))
                continue
            reported, version = current
            merged = merge_state(reported, segments)
            if merged is None:
                return False
            try:
                self.shadows.update(thing_name, "state", update_payload(merged, version))
                return True
            except ShadowVersionConflictError:
                metrics.add_metric(name="ShadowVersionConflicts", unit=MetricUnit.Count, value=1)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise ShadowUpdateError(f"{thing_name}: shadow still conflicting after {retries} retries")

    @property
    def metering(self) -> MeteringStep:
        """The metering step, built on first use."""
        if self._metering is None:
            self._metering = MeteringStep(self.history)
        return self._metering

    def _score_health(self, new_samples: dict[str, list[Sample]], outcome: BatchOutcome) -> None:
        assert self.health is not None
        for thing_name, samples in new_samples.items():
            try:
                ticket = self.health.run(
                    _tenants(self.registry.get(thing_name)), thing_name, sorted(samples, key=lambda s: s.ts)
                )
            except Exception:
                logger.exception("health scoring failed", extra={"thing_name": thing_name})
                metrics.add_metric(name="HealthScoringFailures", unit=MetricUnit.Count, value=1)
                continue
            outcome.health_updates += 1
            if ticket is not None:
                outcome.tickets.append(ticket)

    # -- a whole batch ------------------------------------------------------------------------
    def handle_batch(self, event: dict[str, Any]) -> BatchOutcome:
        """Process an SQS event; see the module doc for the guarantees."""
        outcome = BatchOutcome()
        by_thing: dict[str, list[Segment]] = defaultdict(list)
        ids_by_thing: dict[str, list[str]] = defaultdict(list)
        new_samples: dict[str, list[Sample]] = defaultdict(list)
        envelopes: dict[str, dict[int, TelemetryEnvelope]] = defaultdict(dict)

        def record_handler(record: SQSRecord) -> str:
            result, segment, envelope = self.ingest_record(record.message_id, record.body, outcome)
            if segment is not None:
                by_thing[segment.thing_name].append(segment)
                ids_by_thing[segment.thing_name].append(record.message_id)
            if envelope is not None:
                envelopes[envelope.thing_name][envelope.seq] = envelope
                if result == "accepted":
                    new_samples[envelope.thing_name].extend(envelope.samples)
            return result

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        with processor(records=event.get("Records", []), handler=record_handler):
            processor.process()
        failed = [str(item["itemIdentifier"]) for item in processor.response()["batchItemFailures"]]
        for thing_name, segments in by_thing.items():
            try:
                if self.update_state_shadow(thing_name, segments):
                    outcome.shadow_updates += 1
                self.metering.run(envelopes[thing_name], {s.seq: s for s in segments})
            except Exception:
                logger.exception("shadow update or metering failed", extra={"thing_name": thing_name})
                failed.extend(ids_by_thing[thing_name])
        if self.health is not None:
            self._score_health(new_samples, outcome)
        outcome.failed_message_ids = sorted(set(failed))
        self.totals.add(outcome)
        metrics.add_metric(name="EnvelopesAccepted", unit=MetricUnit.Count, value=outcome.accepted)
        metrics.add_metric(name="EnvelopesDuplicate", unit=MetricUnit.Count, value=outcome.duplicates)
        metrics.add_metric(name="EnvelopesQuarantined", unit=MetricUnit.Count, value=outcome.quarantined)
        return outcome


def _tenants(device: Device | None) -> tuple[str, ...]:
    return tuple(t for t in (device.lessor, device.lessee) if t) if device else ()


def _thing_hint(body: str) -> str | None:
    """The thing name of an unreadable record, if one can be seen (for the quarantine index)."""
    marker = '"thing_name":'
    at = body.find(marker)
    if at < 0:
        return None
    rest = body[at + len(marker) :].lstrip()
    if not rest.startswith('"'):
        return None
    end = rest.find('"', 1)
    return rest[1:end][:128] if end > 0 else None
