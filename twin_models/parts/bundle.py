"""A part's proof bundle and the checks anyone can run on it without our database.

A :class:`PartBundle` carries the part record, its EPCIS events, the record's :class:`ProofBundle` (the
record hash's Merkle proof and where its root is anchored), each inspection's proof bundle, the raw
envelopes the cycle came from (``envelopes``: compact JWS) and the proof bundle of the device key's
registration (``key``: a :class:`KeyRecord`, itself anchored).

The checks, in order; the first that fails is named:

1. ``record_hash`` — the record hashes to the proof's ``record_hash``;
2. ``epcis_event_ids`` — every event's ``eventID`` is its recomputed Event Hash ID, the record's
   ``event_ids`` are those of the events its own values make, and every inspection's event is in the bundle;
3. ``merkle_proof`` — each proof leads from its record hash to its root;
4. ``envelope_signatures`` — each envelope verifies against the registered device key, and together they
   are exactly the record's evidence (machine, seq, content hash);
5. on chain (:func:`chalicelib.parts.verify.verify_part_bundle`): ``anchored_root`` — the roots are
   anchored in the registry; ``key_registered_before_data`` — the key's registration was anchored before
   the first envelope was sent.

Example:
    >>> check_offline(PartBundle(part_id="x", record={})).failed
    'record_hash'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from twin_models.anchoring import ProofBundle, record_hash
from twin_models.errors import TwinModelsError
from twin_models.jws import envelope_document, is_jws, jws_header, open_jws
from twin_models.parts.epcis import NAMESPACES
from twin_models.parts.hashid import event_hash_id
from twin_models.parts.record import InspectionRecord, PartRecord
from twin_models.signing import load_public_key, verify_envelope
from twin_models.telemetry import EnvelopeError, UtcDatetime, parse_envelope

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "CHECKS",
    "BundleCheck",
    "ChainAnswer",
    "KeyRecord",
    "PartBundle",
    "SignedCheck",
    "check",
    "check_offline",
    "earliest_sent",
    "key_record",
]

#: Every check of a part bundle, in the order they run.
CHECKS = (
    "record_hash",
    "epcis_event_ids",
    "merkle_proof",
    "envelope_signatures",
    "anchored_root",
    "key_registered_before_data",
)


class KeyRecord(BaseModel):
    """A gateway key's registration, as anchored (``keys/<machine>/<key id>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["device_key"] = "device_key"
    machine_id: str
    key_id: str
    public_key: str = Field(description="PEM")


def key_record(machine_id: str, key_id: str, public_key_pem: str) -> KeyRecord:
    """The registration record of a device key.

    Example:
        >>> key_record("cnc-01", "k1", "PEM").kind
        'device_key'
    """
    return KeyRecord(machine_id=machine_id, key_id=key_id, public_key=public_key_pem)


class PartBundle(BaseModel):
    """Everything needed to check one part (see the module documentation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    part_id: str
    record: dict[str, Any]
    events: list[dict[str, Any]] = Field(default_factory=list)
    proof: ProofBundle | None = None
    inspections: list[ProofBundle] = Field(default_factory=list)
    envelopes: list[str] = Field(default_factory=list)
    key: ProofBundle | None = None


class SignedCheck(BaseModel):
    """One check's outcome."""

    name: str
    ok: bool
    detail: str = ""


class BundleCheck(BaseModel):
    """The outcome of every check run; ``failed`` names the first that failed (None: all passed)."""

    checks: list[SignedCheck] = Field(default_factory=list)

    @property
    def failed(self) -> str | None:
        """The first failing check's name."""
        return next((c.name for c in self.checks if not c.ok), None)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.failed is None

    def add(self, name: str, problem: str | None) -> bool:
        """Record a check (``problem`` None: passed); returns whether it passed."""
        self.checks.append(SignedCheck(name=name, ok=problem is None, detail=problem or ""))
        return problem is None


def _record_hash(bundle: PartBundle) -> tuple[PartRecord | None, str | None]:
    try:
        record = PartRecord.model_validate(bundle.record)
    except ValidationError as exc:
        return None, f"not a part record: {exc.errors()[0]['msg']}"
    if bundle.proof is None:
        return record, "the bundle carries no proof of the record (not anchored yet)"
    if bundle.proof.record is not None and bundle.proof.record != bundle.record:
        return record, "the proof's record is not the bundle's record"
    if record_hash(bundle.record) != bundle.proof.record_hash:
        return record, "the record does not hash to the proof's record_hash"
    return record, None


def _event_ids(bundle: PartBundle, record: PartRecord) -> str | None:
    for index, event in enumerate(bundle.events):
        if event_hash_id(event, NAMESPACES) != event.get("eventID"):
            return f"event {index} ({event.get('bizStep')}): its eventID is not its recomputed Event Hash ID"
    problem = record.verify_events(bundle.events[: len(record.event_ids)])
    if problem:
        return problem
    ids = {e.get("eventID") for e in bundle.events}
    for proof in bundle.inspections:
        try:
            inspection = InspectionRecord.model_validate(proof.record)
        except ValidationError as exc:
            return f"not an inspection record: {exc.errors()[0]['msg']}"
        if inspection.event(record)["eventID"] != inspection.event_id:
            return f"inspection {inspection.number}: its event_id is not the hash id of its inspection's event"
        if inspection.event_id not in ids:
            return f"inspection {inspection.number}: its event is not in the bundle"
        if inspection.part_record_hash != "0x" + record_hash(bundle.record).hex():
            return f"inspection {inspection.number}: recorded for another version of the part record"
    return None


def _proofs(bundle: PartBundle) -> str | None:
    named: list[tuple[str, ProofBundle | None]] = [("record", bundle.proof), ("key", bundle.key)]
    named += [(f"inspection {i + 1}", p) for i, p in enumerate(bundle.inspections)]
    for name, proof in named:
        if proof is None:
            continue
        check = proof.verify_offline()
        if not check.ok:
            return f"{name}: {check.reason}"
    return None


def _envelopes(bundle: PartBundle, record: PartRecord) -> str | None:
    if not bundle.envelopes:
        return None
    if bundle.key is None:
        return "the bundle carries envelopes but no key registration"
    try:
        key = KeyRecord.model_validate(bundle.key.record)
        public_key = load_public_key(key.public_key)
    except (ValidationError, ValueError, TwinModelsError) as exc:
        return f"the key registration is unreadable: {exc}"
    seen: dict[tuple[str, int], str] = {}
    for index, token in enumerate(bundle.envelopes):
        try:
            machine_id, seq, key_id, digest = _open(token, public_key)
        except EnvelopeError as exc:
            return f"envelope {index}: {exc.reason}: {exc.detail}"
        if key_id != key.key_id or machine_id != key.machine_id:
            return f"envelope {index}: signed with key {key_id!r} of {machine_id!r}, not the registered one"
        seen[(machine_id, seq)] = digest
    wanted = {(e.machine_id, e.seq): e.content_hash for e in record.evidence}
    if seen != wanted:
        missing = sorted(set(wanted.items()) - set(seen.items()))
        return f"the envelopes are not the record's evidence (unmatched: {missing[:3]})"
    return None


def _open(token: str, public_key: ec.EllipticCurvePublicKey) -> tuple[str, int, str, str]:
    """``(machine, seq, key id, content digest)`` of a verified envelope: v2 (a JWS) or v1 (signed JSON)."""
    if is_jws(token):
        header = jws_header(token)
        envelope, digest = open_jws(token, header, public_key)
        return envelope.machine_id, envelope.seq, header.key_id, digest
    envelope, document = parse_envelope(token)
    digest = verify_envelope(document, public_key)
    return envelope.machine_id, envelope.seq, envelope.signature.key_id if envelope.signature else "", digest


_SENT_AT: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)


def _sent_at(token: str) -> datetime:
    """When the envelope says it was sent (v1, v2 or v3), read without verifying."""
    return _SENT_AT.validate_python(envelope_document(token).get("sent_at"))


def earliest_sent(bundle: PartBundle) -> datetime | None:
    """When the first of the bundle's envelopes was sent (what the key must be registered before)."""
    times = []
    for token in bundle.envelopes:
        try:
            times.append(_sent_at(token))
        except (EnvelopeError, ValidationError, ValueError):
            continue
    return min(times) if times else None


def check_offline(bundle: PartBundle) -> BundleCheck:
    """Checks 1–4 (see the module documentation); stops at the first that fails."""
    result = BundleCheck()
    record, problem = _record_hash(bundle)
    if not result.add("record_hash", problem) or record is None:
        return result
    if not result.add("epcis_event_ids", _event_ids(bundle, record)):
        return result
    if not result.add("merkle_proof", _proofs(bundle)):
        return result
    result.add("envelope_signatures", _envelopes(bundle, record))
    return result


class ChainAnswer(BaseModel):
    """What the chain says of one proof bundle: whether its root holds the record, and when it was anchored."""

    ok: bool
    anchored_at: datetime | None = None
    reason: str = ""


def check(bundle: PartBundle, on_chain: Callable[[ProofBundle], ChainAnswer]) -> BundleCheck:
    """Every check (see the module documentation); ``on_chain`` asks the registry about one proof bundle.

    Example:
        >>> check(PartBundle(part_id="x", record={}), lambda proof: ChainAnswer(ok=True)).failed
        'record_hash'
    """
    result = check_offline(bundle)
    if not result.ok or bundle.proof is None:
        return result
    named = [("record", bundle.proof), *((f"inspection {i + 1}", p) for i, p in enumerate(bundle.inspections))]
    key_answer = on_chain(bundle.key) if bundle.key is not None else None
    problem = None
    for name, proof in named:
        answer = on_chain(proof)
        if not answer.ok:
            problem = f"{name}: {answer.reason or 'not anchored in this registry'}"
            break
    if problem is None and key_answer is not None and not key_answer.ok:
        problem = f"key registration: {key_answer.reason or 'not anchored in this registry'}"
    if not result.add("anchored_root", problem):
        return result
    result.add("key_registered_before_data", _key_first(bundle, key_answer))
    return result


def _key_first(bundle: PartBundle, key_answer: ChainAnswer | None) -> str | None:
    if not bundle.envelopes:
        return None
    sent = earliest_sent(bundle)
    if key_answer is None or key_answer.anchored_at is None or sent is None:
        return "the key's registration is not anchored"
    if key_answer.anchored_at > sent:
        return (
            f"the key was registered (anchored {key_answer.anchored_at.isoformat()}) after the data was sent "
            f"({sent.isoformat()})"
        )
    return None


def names(checks: Iterable[SignedCheck]) -> list[str]:
    """The names of checks, in order."""
    return [c.name for c in checks]
