"""The steps of the ingest pipeline, in order: verify -> store -> shadow -> meter -> score -> queue for anchoring.

Each step takes the ports it needs and imports no other area; :mod:`chalicelib.wiring` builds them and
:class:`chalicelib.ingest.pipeline.IngestPipeline` runs them.

* :class:`VerifyStep` — strict parse, time window, the machine's registered key and site, the signature.
* :class:`StoreStep` — the segment into history with one conditional write on ``(machine, seq)``; a
  rejected record into the quarantine with its reason and raw payload.
* :class:`ShadowStep` — one coalesced, version-locked ``state`` shadow update per machine and batch.
* :class:`MeterStep` — usage events for pay-per-use billing, idempotent by event id.
* :class:`ScoreStep` — the new samples on the anomaly endpoint; the ``health`` shadow (kept for the trend).
* :class:`QueueStep` — an alarm's onset or escalation to the maintenance log (its ticket, anchored there).

Example:
    >>> from chalicelib.adapters.memory import MemoryDevices
    >>> VerifyStep(MemoryDevices()).max_future.total_seconds()
    300.0
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from chalicelib.ports.billing import Usage
from chalicelib.ports.maintenance import MaintenanceInbox
from chalicelib.ports.twins import (
    Devices,
    History,
    Quarantine,
    Shadows,
    ShadowVersionConflictError,
    StateCodes,
    site_taxonomy,
)
from twin_models.billing import MeteringConfig, UsageEvent, derive_usage_events
from twin_models.columnar import CONTENT_TYPE as COLUMNS_TYPE
from twin_models.columnar import AnyEnvelope, ColumnsPayload, validate_columns
from twin_models.history import Segment, segment_from_envelope
from twin_models.jws import JwsHeader, is_jws, jws_header, payload_of, read_payload, verified_payload
from twin_models.shadow import merge_state, update_payload
from twin_models.signing import load_public_key, verify_envelope
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.telemetry import EnvelopeError, Sample, check_states, parse_envelope
from twin_models.tenancy import Device, parties
from twin_models.timestamps import format_utc

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "MeterStep",
    "QueueStep",
    "ScoreOutcome",
    "ScoreStep",
    "Scorer",
    "ShadowStep",
    "ShadowUpdateError",
    "StoreStep",
    "Stored",
    "Verified",
    "VerifyStep",
    "machine_hint",
]


#: What storing a segment found: new, the same content again, or other content under the same key.
Stored = Literal["accepted", "duplicate", "conflicting"]


class ShadowUpdateError(Exception):
    """A machine's shadow could not be updated within the retry budget."""


class VerifyStep:
    """Parse, check and verify records, a batch at a time: each one's envelope and segment, or why it is refused."""

    def __init__(
        self, devices: Devices, max_future: timedelta = timedelta(seconds=300), state_codes: StateCodes | None = None
    ) -> None:
        self.devices = devices
        self.max_future = max_future
        self.state_codes = state_codes

    def taxonomy(self, site: str) -> StateTaxonomy:
        """The state codes the site's samples are read with (its own mapping, else the default)."""
        return DEFAULT_TAXONOMY if self.state_codes is None else site_taxonomy(self.state_codes, site)

    def run_batch(self, bodies: Sequence[str], now: datetime) -> list[Verified | Exception]:
        """For every body of a batch, in the bodies' order: its segment, envelope and machine's parties; or the
        :class:`EnvelopeError` with the reason it is refused; or the error of a lookup that failed (transient:
        the record is to be delivered again). A body that is a compact JWS is a v2 or v3 envelope
        (:mod:`twin_models.jws`); any other is v1, accepted until the machine's transition window ends
        (``Device.envelope_v1_until``).

        Each stage runs over the whole batch before the next: the protected headers and the machines' keys, then
        the signatures, then the model validation of the verified v3 bytes, then the rest of the strict parse,
        then the segments. A stage's code and
        tables stay in the CPU's caches from one envelope to the next; record by record, every envelope paid
        for fetching them again (15 % of the handler's CPU for 60-sample envelopes, ``benchmarks/ingest.py``).
        An error stops only its own envelope.

        Example:
            >>> from datetime import UTC, datetime
            >>> from chalicelib.adapters.memory import MemoryDevices
            >>> found = VerifyStep(MemoryDevices()).run_batch(["eyJhbGciOi..x.y", "eyJ.torn"], datetime.now(UTC))
            >>> [error.reason for error in found]
            ['malformed_json', 'malformed_json']
        """
        out: dict[int, Verified | Exception] = {}
        keyed: list[tuple[int, bytes, JwsHeader, Device, str]] = []
        for i, body in enumerate(bodies):
            try:
                if not is_jws(body):
                    out[i] = self._run_v1(body, now)
                    continue
                token = body.encode()
                header = _unreadable_as_schema(jws_header, token)  # which key, what the signature must vouch for
            except Exception as exc:
                out[i] = exc
                continue
            try:  # a failed lookup is not the envelope's fault: its error is kept as it is (redelivery)
                device, pem = _registered_key(
                    self.devices.get(header.machine_id), header.machine_id, header.key_id, now
                )
            except Exception as exc:
                out[i] = exc
                continue
            keyed.append((i, token, header, device, pem))
        signed: list[tuple[int, JwsHeader, Device, bytes]] = []
        for i, token, header, device, pem in keyed:
            try:
                signed.append((i, header, device, _unreadable_as_schema(_signed_payload, token, header, pem)))
            except Exception as exc:
                out[i] = exc
        validated: list[tuple[int, JwsHeader, Device, bytes, ColumnsPayload | None]] = []
        for i, header, device, payload in signed:
            try:
                columns = header.content_type == COLUMNS_TYPE
                model = _unreadable_as_schema(validate_columns, payload) if columns else None
                validated.append((i, header, device, payload, model))
            except Exception as exc:
                out[i] = exc
        opened: list[tuple[int, AnyEnvelope, str, Device]] = []
        for i, header, device, payload, model in validated:
            try:
                envelope, digest = _unreadable_as_schema(self._read, payload, header, device, now, model)
                opened.append((i, envelope, digest, device))
            except Exception as exc:
                out[i] = exc
        for i, envelope, digest, device in opened:
            try:
                segment = _unreadable_as_schema(segment_from_envelope, envelope, content_hash=digest)
                out[i] = (segment, envelope, parties(device))
            except Exception as exc:
                out[i] = exc
        return [out[i] for i in range(len(bodies))]

    def _read(
        self, payload: bytes, header: JwsHeader, device: Device, now: datetime, validated: ColumnsPayload | None
    ) -> tuple[AnyEnvelope, str]:
        envelope, digest = read_payload(
            payload, header, now=now, max_future=self.max_future, taxonomy=self.taxonomy(device.site),
            validated=validated,
        )  # fmt: skip
        _check_site(envelope, device)
        return envelope, digest

    def _run_v1(self, body: str, now: datetime) -> Verified:
        envelope, document = _unreadable_as_schema(
            parse_envelope, body, now=now, max_future=self.max_future, taxonomy=None
        )
        device = self.devices.get(envelope.machine_id)
        if device is not None and not device.accepts_v1(now):
            raise EnvelopeError(
                "v1_retired",
                f"machine {device.machine_id!r} takes v2 envelopes (JWS) only since "
                f"{format_utc(device.envelope_v1_until) if device.envelope_v1_until else ''}",
            )
        signature = envelope.signature
        if signature is None:  # parse_envelope refuses it already; the type checker cannot know
            raise EnvelopeError("unsigned", "envelope carries no signature block")
        device, pem = _registered_key(device, envelope.machine_id, signature.key_id, now)
        _check_site(envelope, device)
        check_states(envelope, self.taxonomy(device.site))
        digest = verify_envelope(document, _public_key(pem))
        return segment_from_envelope(envelope, content_hash=digest), envelope, parties(device)


def _signed_payload(token: bytes, header: JwsHeader, pem: str) -> bytes:
    return verified_payload(token, header, _public_key(pem))


#: what verifying one record gives: its segment, its envelope and its machine's parties
Verified = tuple[Segment, AnyEnvelope, tuple[str, ...]]

_T = TypeVar("_T")


def _unreadable_as_schema(read: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``read(*args, **kwargs)``; whatever else than :class:`EnvelopeError` a parser raises is one too
    (``schema_violation``): nothing a parser raises may escape the quarantine."""
    try:
        return read(*args, **kwargs)
    except EnvelopeError:
        raise
    except Exception as exc:
        raise EnvelopeError("schema_violation", f"unreadable envelope: {type(exc).__name__}: {exc}") from exc


def _registered_key(device: Device | None, machine_id: str, key_id: str, now: datetime) -> tuple[Device, str]:
    """The machine and the PEM of its key ``key_id``; ``unknown_key`` when either is not registered, or the
    key is retired at ``now`` (:meth:`~twin_models.tenancy.Device.key_at`)."""
    if device is None:
        raise EnvelopeError("unknown_key", f"machine {machine_id!r} is not registered")
    pem = device.key_at(key_id, now)
    if pem is None:
        retired = device.retired_keys.get(key_id)
        state = f"retired since {format_utc(retired)}" if retired is not None else "not registered"
        raise EnvelopeError("unknown_key", f"key {key_id!r} is {state} for {device.machine_id}")
    return device, pem


def _check_site(envelope: AnyEnvelope, device: Device) -> None:
    if envelope.site != device.site:
        raise EnvelopeError("thing_mismatch", f"site {envelope.site!r} is not the machine's site {device.site!r}")


@functools.lru_cache(maxsize=4096)
def _public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """A registered key, parsed once per container."""
    return load_public_key(pem)


class StoreStep:
    """History (dedup on ``(machine, seq)`` in the same write as the data) and the quarantine."""

    def __init__(self, history: History, quarantine: Quarantine) -> None:
        self.history = history
        self.quarantine = quarantine

    def run(self, segment: Segment, received_at: datetime) -> Stored:
        """Store the segment: ``accepted``; ``duplicate`` when ``(machine, seq)`` holds the same signed content
        (a redelivery); ``conflicting`` when it holds other content under the same ``(machine, seq)`` (a faulty
        gateway or a cloned key: the stored envelope stays, this one must be quarantined)."""
        if self.history.put_segment(segment, received_at):
            return "accepted"
        stored = self.history.get_segment(segment.machine_id, segment.seq)
        if stored is not None and stored.content_hash and segment.content_hash != stored.content_hash:
            return "conflicting"
        return "duplicate"

    def reject(
        self, record_id: str, error: EnvelopeError, body: str, received_at: datetime, machine_id: str | None = None
    ) -> str:
        """Keep a rejected record with its reason; returns where its raw payload is kept."""
        return self.quarantine.put(
            record_id, error.reason, error.detail, body.encode(), machine_id or machine_hint(body), received_at
        )


class ShadowStep:
    """One coalesced ``state`` update per machine and batch, version-locked, retried on conflict.

    Because the merge only moves forward in time, a redelivery after a crash between the history write
    and this step completes the twin without counting anything twice.
    """

    def __init__(
        self,
        shadows: Shadows,
        retries: int = 5,
        on_conflict: Callable[[], None] = lambda: None,
        state_codes: StateCodes | None = None,
    ) -> None:
        self.shadows = shadows
        self.retries = retries
        self.on_conflict = on_conflict
        self.state_codes = state_codes

    def run(self, machine_id: str, segments: Sequence[Segment]) -> bool:
        """Merge the batch's segments into the ``state`` shadow; False when nothing was newer."""
        for attempt in range(self.retries + 1):
            current = self.shadows.get(machine_id, "state")
            if current is None:
                # create it first, so that every merge below is a version-locked update
                self.shadows.update(machine_id, "state", update_payload({"schema": 1}))
                continue
            reported, version = current
            taxonomy = DEFAULT_TAXONOMY
            if self.state_codes is not None and segments:
                taxonomy = site_taxonomy(self.state_codes, segments[0].site)
            merged = merge_state(reported, list(segments), taxonomy)
            if merged is None:
                return False
            try:
                self.shadows.update(machine_id, "state", update_payload(merged, version))
                return True
            except ShadowVersionConflictError:
                self.on_conflict()
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise ShadowUpdateError(f"{machine_id}: shadow still conflicting after {self.retries} retries")


class MeterStep:
    """Usage events for pay-per-use billing from each envelope, idempotent by event id.

    Called for new and redelivered envelopes alike (a redelivery after a crash must still meter; stored
    events are deduplicated by id). The sample before an envelope's first makes the counter increment and
    alarm edge across the boundary count: the envelope carries it (``previous``, set by the gateway), or
    else it comes from envelope ``seq - 1`` in the same batch or in history.
    """

    def __init__(
        self, usage: Usage, history: History, clock: Callable[[], datetime], state_codes: StateCodes | None = None
    ) -> None:
        self.usage = usage
        self.history = history
        self.clock = clock
        self.state_codes = state_codes

    def run(self, envelopes: Mapping[int, AnyEnvelope], segments: Mapping[int, Segment]) -> int:
        """Meter one machine's envelopes of a batch (by seq), stored in one go; returns the events stored."""
        return self.store(self.events(envelopes, segments))

    def store(self, events: list[UsageEvent]) -> int:
        """Store usage events (idempotent by id); returns how many were new."""
        if not events:
            return 0
        return self.usage.put(events, self.clock()).stored

    def events(self, envelopes: Mapping[int, AnyEnvelope], segments: Mapping[int, Segment]) -> list[UsageEvent]:
        """The usage events of one machine's envelopes of a batch (by seq), not yet stored."""
        events: list[UsageEvent] = []
        for seq in sorted(envelopes):
            envelope = envelopes[seq]
            config = None
            if self.state_codes is not None:
                taxonomy = site_taxonomy(self.state_codes, envelope.site)
                config = None if taxonomy is DEFAULT_TAXONOMY else MeteringConfig(taxonomy=taxonomy)
            events += derive_usage_events(
                envelope.columns,
                envelope.machine_id,
                config=config,
                previous=self._previous(envelope, segments),
                source=f"seq-{seq}",
            )
        return events

    def _previous(self, envelope: AnyEnvelope, segments: Mapping[int, Segment]) -> Sample | None:
        """The sample before this envelope's first: carried by the envelope, else from seq - 1."""
        first = envelope.first_ts
        if envelope.previous is not None and envelope.previous.ts < first:
            return envelope.previous
        if envelope.seq == 0:
            return None
        before = segments.get(envelope.seq - 1) or self.history.get_segment(envelope.machine_id, envelope.seq - 1)
        return before.last if before else None


class ScoreOutcome(Protocol):
    """What scoring a machine's samples gives: the ``health`` shadow update and, maybe, a ticket."""

    @property
    def shadow(self) -> dict[str, Any]:
        """The ``health`` named-shadow update document."""
        ...

    @property
    def ticket(self) -> dict[str, Any] | None:
        """The maintenance ticket a raised alarm opened (with ``ticket_id`` and ``content_hash``)."""
        ...

    @property
    def escalation(self) -> dict[str, Any] | None:
        """The alarm's rise to a higher severity within its episode (it updates the episode's ticket)."""
        ...


class Scorer(Protocol):
    """The anomaly area's use case as ingest sees it (the wiring passes the anomaly service)."""

    def handle_samples(
        self, machine_id: str, samples: Sequence[Any], previous_reported: Mapping[str, Any] | None = None
    ) -> ScoreOutcome | None:
        """Score one machine's samples (oldest first); None when there are too few to score."""
        ...


class ScoreStep:
    """Score a machine's new samples and write its ``health`` shadow; returns the alarm raised or escalated,
    if any (``on_health`` gets the shadow's reported section: the maintenance health history).

    Scoring is advisory: the pipeline logs and counts a failure and the batch still succeeds (the samples
    are safe in history and can be scored again from there).
    """

    def __init__(
        self,
        scorer: Scorer,
        shadows: Shadows,
        on_health: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.shadows = shadows
        self.on_health = on_health

    def run(self, machine_id: str, samples: Sequence[Sample]) -> dict[str, Any] | None:
        """Score ``samples`` (oldest first) against the machine's previous health."""
        found = self.shadows.get(machine_id, "health")
        outcome = self.scorer.handle_samples(machine_id, samples, found[0] if found else None)
        if outcome is None:
            return None
        self.shadows.update(machine_id, "health", json.dumps(outcome.shadow, separators=(",", ":")).encode())
        if self.on_health is not None:
            self.on_health(machine_id, outcome.shadow["state"]["reported"])
        return outcome.ticket if outcome.ticket is not None else outcome.escalation


class QueueStep:
    """An alarm's onset (its ticket) or escalation into the machine's maintenance log, which keeps one ticket
    per fault episode and anchors the log's head with the machine's parties."""

    def __init__(self, inbox: MaintenanceInbox) -> None:
        self.inbox = inbox

    def run(self, machine_id: str, tenants: tuple[str, ...], ticket: Mapping[str, Any]) -> bool:
        """Record one alarm; False when it was recorded before."""
        return self.inbox.record_alarm(machine_id, tenants, ticket)


def machine_hint(body: str) -> str | None:
    """The machine id of an unreadable record, if one can be seen (for the quarantine index).

    Example:
        >>> machine_hint('{"v": 1, "machine_id": "cnc-01", "seq": "x"}')
        'cnc-01'
        >>> machine_hint("not json") is None
        True
    """
    if is_jws(body):
        try:
            return jws_header(body).machine_id
        except EnvelopeError:
            try:
                body = payload_of(body).decode(errors="replace")
            except EnvelopeError:
                return None
    marker = '"machine_id":'
    at = body.find(marker)
    if at < 0:
        return None
    rest = body[at + len(marker) :].lstrip()
    if not rest.startswith('"'):
        return None
    end = rest.find('"', 1)
    return rest[1:end][:128] if end > 0 else None
