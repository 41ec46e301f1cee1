"""Gateway signatures: ECDSA P-256 (ES256) over the RFC 8785 canonical JSON of an envelope.

The gateway signs the envelope without its ``signature`` block; the cloud verifies against
the public key registered for the thing when its gateway was provisioned. The signature is
raw ``r||s`` (64 bytes), base64url without padding, as in JWS.

Example:
    >>> from datetime import datetime, timezone
    >>> from twin_models.telemetry import Sample, TelemetryEnvelope
    >>> key = generate_private_key()
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> env = TelemetryEnvelope(machine_id="cnc-01", site="a", seq=1, sent_at=t,
    ...                         samples=[Sample(ts=t, state=100)])
    >>> signed = sign_envelope(env, key, key_id="cnc-01/1")
    >>> verify_envelope(signed.to_wire(), key.public_key())
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from twin_models.telemetry import EnvelopeError, Sample, Signature, TelemetryEnvelope

__all__ = [
    "build_envelope",
    "canonical_bytes",
    "generate_private_key",
    "load_public_key",
    "private_key_from_pem",
    "public_key_pem",
    "sample_wire_bytes",
    "seal",
    "seal_wire",
    "sign_document",
    "sign_envelope",
    "verify_envelope",
]

_ECDSA = ec.ECDSA(hashes.SHA256())


class _NotFastPath(Exception):
    """A value whose JCS form Python's json module would not write identically."""


_SAFE_INT = 2**53


def _jcs_float(value: float) -> float | int:
    if value.is_integer() and -_SAFE_INT < value < _SAFE_INT:
        return int(value)
    magnitude = abs(value)
    if not 1e-4 <= magnitude < 1e16:  # where repr() switches to exponents unlike ECMAScript
        raise _NotFastPath
    return value


def _jcs_ready(value: Any) -> Any:
    """Rewrite integral floats as ints; refuse what ``json.dumps`` formats unlike RFC 8785."""
    kind = type(value)
    if kind is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not key.isascii():  # JCS sorts by UTF-16 code units, Python by code points
                raise _NotFastPath
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                out[key] = item
            elif item_kind is float:
                if item.is_integer() and -_SAFE_INT < item < _SAFE_INT:
                    out[key] = int(item)
                elif 1e-4 <= (item if item > 0 else -item) < 1e16:
                    out[key] = item
                else:
                    raise _NotFastPath
            elif item_kind is int:
                if not -_SAFE_INT < item < _SAFE_INT:
                    raise _NotFastPath
                out[key] = item
            else:
                out[key] = _jcs_ready(item)
        return out
    if kind is list:
        return [_jcs_ready(item) for item in value]
    if kind is float:
        return _jcs_float(value)
    if kind is int and not -_SAFE_INT < value < _SAFE_INT:
        raise _NotFastPath
    if kind in (str, bool, int) or value is None:
        return value
    raise _NotFastPath  # subclasses and other types: let the general encoder decide


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) canonical form of a JSON object, without its ``signature`` member.

    Telemetry is ASCII keys and plainly sized numbers, for which ``json.dumps`` with sorted keys
    writes exactly the JCS bytes several times faster than a general JCS encoder; anything else
    goes through :mod:`rfc8785`. A property test pins the two paths to the same bytes.

    Example:
        >>> canonical_bytes({"b": 1.0, "a": [0.5, "x"], "signature": {}})
        b'{"a":[0.5,"x"],"b":1}'
    """
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        ready = _jcs_ready(body)
    except _NotFastPath:
        return rfc8785.dumps(body)
    return json.dumps(ready, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 device key."""
    return ec.generate_private_key(ec.SECP256R1())


def private_key_from_pem(data: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in PEM ``data`` (a gateway's device key); ``ValueError`` for any other key.

    Pure: the caller reads the file (``edge_greengrass.pki.load_private_key`` does, for the gateway).

    Example:
        >>> from cryptography.hazmat.primitives import serialization
        >>> key = generate_private_key()
        >>> pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        ...                         serialization.NoEncryption())
        >>> private_key_from_pem(pem).public_key() == key.public_key()
        True
    """
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 EC private key")
    return key


def load_public_key(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """Load a PEM P-256 public key (as registered in the device registry)."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 EC public key")
    return key


def public_key_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The PEM (SubjectPublicKeyInfo) text of a key's public half."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_document(document: dict[str, Any], key: ec.EllipticCurvePrivateKey, key_id: str) -> dict[str, Any]:
    """Add (or replace) the signature block of an envelope in its wire form; returns the same dict.

    For a gateway that already holds the JSON-ready dict it publishes, this saves serialising twice.

    Example:
        >>> doc = {"v": 1, "machine_id": "m", "site": "s", "seq": 0, "sent_at": "2026-01-05T00:00:00Z",
        ...        "samples": [{"ts": "2026-01-05T00:00:00Z", "state": 100}]}
        >>> key = generate_private_key()
        >>> verify_envelope(sign_document(doc, key, "m/1"), key.public_key())
    """
    der = key.sign(canonical_bytes(document), _ECDSA)
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    document["signature"] = {"alg": "ES256", "key_id": key_id, "sig": _b64url(raw)}
    return document


def sign_envelope(envelope: TelemetryEnvelope, key: ec.EllipticCurvePrivateKey, key_id: str) -> TelemetryEnvelope:
    """Return a copy of ``envelope`` with a signature block over its canonical form."""
    block = sign_document(envelope.unsigned_wire(), key, key_id)["signature"]
    return envelope.model_copy(update={"signature": Signature.model_validate(block)})


def verify_envelope(document: dict[str, Any], public_key: ec.EllipticCurvePublicKey) -> str:
    """Check the signature of a decoded envelope; raise :class:`EnvelopeError` if it does not hold.

    Returns the content digest: ``sha256:`` and the hex SHA-256 of the signed canonical form. Two envelopes
    with the same digest carry the same signed content, whatever their (randomised) signatures; a
    redelivery has the digest of the stored envelope, a conflicting duplicate another.
    """
    block = document.get("signature")
    if not isinstance(block, dict) or "sig" not in block:
        raise EnvelopeError("unsigned", "envelope carries no signature block")
    if block.get("alg") != "ES256":
        raise EnvelopeError("bad_signature", f"unsupported algorithm {block.get('alg')!r}")
    try:
        raw = _unb64url(str(block["sig"]))
    except ValueError as exc:
        raise EnvelopeError("bad_signature", "signature is not base64url") from exc
    if len(raw) != 64:
        raise EnvelopeError("bad_signature", f"signature is {len(raw)} bytes, expected 64")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    message = canonical_bytes(document)
    try:
        public_key.verify(der, message, _ECDSA)
    except InvalidSignature as exc:
        raise EnvelopeError("bad_signature", "signature does not match the envelope") from exc
    return "sha256:" + hashlib.sha256(message).hexdigest()


def sample_wire_bytes(sample: Sample) -> bytes:
    """A sample's JSON exactly as it appears inside an envelope's wire bytes (``None`` fields omitted).

    A gateway that keeps these bytes (staged in its spool) hands them to :func:`seal_wire`, which then
    assembles the envelope around them instead of serialising every sample again.

    Example:
        >>> from datetime import datetime, timezone
        >>> sample_wire_bytes(Sample(ts=datetime(2026, 1, 5, tzinfo=timezone.utc), state=100))[:38]
        b'{"ts":"2026-01-05T00:00:00Z","state":1'
    """
    return sample.model_dump_json(exclude_none=True).encode()


def build_envelope(
    machine_id: str,
    site: str,
    seq: int,
    samples: list[Sample],
    sent_at: datetime | None,
    previous: Sample | None,
    version: Literal[1, 2] = 1,
) -> TelemetryEnvelope:
    """The unsigned envelope of one batch, of either schema version: the one place its fields are filled in.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> build_envelope("cnc-01", "a", 3, [Sample(ts=t, state=100)], None, None, version=2).sent_at == t
        True
    """
    return TelemetryEnvelope(
        v=version,
        machine_id=machine_id,
        site=site,
        seq=seq,
        sent_at=sent_at or max(s.ts for s in samples),
        samples=samples,
        previous=previous,
    )


def seal(
    machine_id: str,
    site: str,
    seq: int,
    samples: list[Sample],
    key: ec.EllipticCurvePrivateKey,
    key_id: str,
    sent_at: datetime | None = None,
    previous: Sample | None = None,
) -> TelemetryEnvelope:
    """Build and sign one envelope: what a gateway does per batch.

    ``sent_at`` defaults to the latest sample's timestamp; ``previous`` is the last sample of envelope
    ``seq - 1``. :func:`seal_wire` is the same rule, returning the bytes a gateway publishes.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> env = seal("cnc-01", "plant-a", 0, [Sample(ts=t, state=100)], generate_private_key(), "k1")
        >>> env.signature.key_id
        'k1'
    """
    return sign_envelope(build_envelope(machine_id, site, seq, samples, sent_at, previous), key, key_id)


def seal_wire(
    machine_id: str,
    site: str,
    seq: int,
    samples: list[Sample],
    key: ec.EllipticCurvePrivateKey,
    key_id: str,
    sent_at: datetime | None = None,
    previous: Sample | None = None,
    *,
    items: Sequence[bytes] | None = None,
) -> bytes:
    """:func:`seal`, as the wire bytes a gateway publishes (they decode to exactly ``to_wire()``).

    ``items`` are the samples' :func:`sample_wire_bytes` when already at hand (one per sample, in
    order): the payload is then assembled around them instead of serialising every sample again.

    Example:
        >>> import json
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> key, samples = generate_private_key(), [Sample(ts=t, state=100)]
        >>> wire = seal_wire("cnc-01", "plant-a", 0, samples, key, "k1",
        ...                  items=[sample_wire_bytes(s) for s in samples])
        >>> verify_envelope(json.loads(wire), key.public_key())
    """
    envelope = build_envelope(machine_id, site, seq, samples, sent_at, previous)
    signed = sign_envelope(envelope, key, key_id)
    if items is None or signed.signature is None:
        return signed.model_dump_json(exclude_none=True).encode()
    if len(items) != len(samples):
        raise ValueError(f"{len(items)} staged items for {len(samples)} samples")
    head = envelope.model_dump_json(exclude_none=True, exclude={"samples", "signature"}).encode()
    return b"".join(
        (
            head[:-1],
            b',"samples":[',
            b",".join(items),
            b'],"signature":',
            signed.signature.model_dump_json().encode(),
            b"}",
        )
    )
