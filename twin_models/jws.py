"""Telemetry envelope v2: a JWS (RFC 7515, ES256, compact serialisation) over the envelope's bytes as sent.

The gateway serialises the envelope (schema version 2: :class:`~twin_models.telemetry.TelemetryEnvelope`
with ``v: 2`` and no signature block) once, and signs those bytes. The protected header names what the
signature vouches for, so the cloud can refuse a mismatch before it parses the payload::

    {"alg": "ES256", "kid": "<key id>", "cty": "vnd.twinledger.telemetry.v2+json",
     "machine_id": "<thing>", "seq": <seq>}

Verification decodes the header (strictly), verifies the signature over the exact bytes (RFC 7515 section 5.2
with ES256: ECDSA P-256 over ``header.payload`` as sent, by ``cryptography``, at about a third of a general
JOSE library's cost per envelope; a property test holds it to ``joserfc``'s verdict on every mutation), then
parses those same payload bytes with the strict model. Nothing is
re-serialised, so there is no canonical form to compute and no second reading of the document: a
duplicate key, a number spelling or a parser difference cannot make a signature cover something else.
Any JOSE library verifies an envelope with the thing's public key (a test does it with ``jwcrypto``).

The content digest of a v2 envelope is the SHA-256 of its payload bytes (the signed bytes as sent).

Example:
    >>> from datetime import datetime, timezone
    >>> from twin_models.signing import generate_private_key
    >>> from twin_models.telemetry import Sample
    >>> key = generate_private_key()
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> token = seal_jws("cnc-01", "plant-a", 7, [Sample(ts=t, state=100)], key, "gw/1", sent_at=t)
    >>> header = jws_header(token)
    >>> header.machine_id, header.seq, header.key_id
    ('cnc-01', 7, 'gw/1')
    >>> envelope, digest = open_jws(token, header, key.public_key(), now=t)
    >>> envelope.seq, digest.startswith("sha256:")
    (7, True)
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws as _jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from twin_models import columnar
from twin_models.columnar import AnyEnvelope, encode_columns, parse_columns
from twin_models.signing import build_envelope, verify_envelope
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.telemetry import (
    MAX_ENVELOPE_BYTES,
    MAX_JSON_DEPTH,
    NAME_PATTERN,
    U64_MAX,
    EnvelopeError,
    Sample,
    _key_tokens,
    _nesting_exceeds,
    parse_envelope,
    parse_payload,
    strict_json,
)

__all__ = [
    "CONTENT_TYPE",
    "JwsHeader",
    "envelope_document",
    "is_jws",
    "jws_header",
    "open_envelope",
    "open_jws",
    "payload_of",
    "read_payload",
    "readable_document",
    "seal_jws",
    "verified_payload",
]

#: The content type in the protected header: names the envelope schema version of the payload.
CONTENT_TYPE = "vnd.twinledger.telemetry.v2+json"
#: The content types a JWS envelope may carry: v2 (a list of samples) and v3 (columns, :mod:`twin_models.columnar`).
CONTENT_TYPES = (CONTENT_TYPE, columnar.CONTENT_TYPE)


class _Registry(_jws.JWSRegistry):
    """ES256 only; the private header parameters ``machine_id`` and ``seq`` required; sizes as IoT Core's."""

    max_header_length = 1024
    max_payload_length = MAX_ENVELOPE_BYTES


_REGISTRY = _Registry(
    header_registry={
        "machine_id": HeaderParameter("the thing whose data this is", "str", required=True),
        "seq": HeaderParameter("the envelope's per-thing sequence number", "int", required=True),
        "kid": HeaderParameter("the gateway key id registered for the thing", "str", required=True),
        "cty": HeaderParameter("the envelope schema version of the payload", "str", required=True),
    },
    algorithms=["ES256"],
)


@dataclass(frozen=True)
class JwsHeader:
    """The protected header of a v2 envelope, read (strictly) before the signature is checked."""

    key_id: str
    machine_id: str
    seq: int
    #: the payload's schema: :data:`CONTENT_TYPE` (v2) or :data:`twin_models.columnar.CONTENT_TYPE` (v3)
    content_type: str = CONTENT_TYPE
    #: the header's base64url segment as it was read (what the signature covers)
    segment: bytes = field(default=b"", compare=False, repr=False)


def is_jws(body: bytes | str) -> bool:
    """True when a record's body is a compact JWS (a v2 envelope) rather than a v1 JSON document.

    Example:
        >>> is_jws(b"eyJhbGciOi..x.y"), is_jws(b'{"v": 1}')
        (True, False)
    """
    head = body[:3]
    return head in (b"eyJ", "eyJ")


#: base64url to base64; ``+``, ``/`` and ``=`` become ``*``, outside either alphabet, which strict decoding refuses
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/***")


def _unb64(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): any other byte, and a last character whose
    unused low bits are not zero (a second spelling of the same bytes), is a ``binascii.Error``."""
    decoded = binascii.a2b_base64(segment.translate(_TO_STANDARD) + b"=" * (-len(segment) % 4), strict_mode=True)
    if len(segment) % 4 and _B64URL.index(segment[-1]) & _UNUSED_BITS[len(segment) % 4]:
        raise binascii.Error("not the canonical base64url of its bytes (unused bits set)")
    return decoded


_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: the low bits of a segment's last character that carry no data, by the segment's length modulo 4
_UNUSED_BITS = {2: 0b1111, 3: 0b11}


def _segments(token: bytes | str) -> list[bytes]:
    data = token.encode() if isinstance(token, str) else token
    if len(data) > (MAX_ENVELOPE_BYTES * 4) // 3 + 2048:
        raise EnvelopeError("oversized", f"{len(data)} bytes exceeds the limit of a v2 envelope")
    parts = data.split(b".")
    if len(parts) != 3:
        raise EnvelopeError("malformed_json", f"a compact JWS has 3 parts, this one {len(parts)}")
    return parts


def jws_header(token: bytes | str) -> JwsHeader:
    """The protected header of a v2 envelope, checked strictly (no duplicate keys, the fields it must
    carry, ES256 and the v2 content type); :class:`EnvelopeError` otherwise. Not yet authenticated: it
    only says which key to verify with and what the signature must vouch for."""
    data = token.encode() if isinstance(token, str) else token
    header_segment = data[: data.find(b".")] if data.count(b".") == 2 else _segments(data)[0]
    try:
        raw = _unb64(header_segment)
        # the strict decoder reads a header that may nest deeply or hold NaN or Infinity; any other is read
        # plainly, and again strictly when its key count shows a duplicate key (as for payloads)
        plain = b"N" not in raw and b"I" not in raw and not _nesting_exceeds(raw, MAX_JSON_DEPTH)
        header = json.loads(raw) if plain else strict_json(raw)
        if plain and (not isinstance(header, dict) or _key_tokens(raw) != len(header)):
            header = strict_json(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise EnvelopeError("malformed_json", f"protected header: {exc}") from exc
    if not isinstance(header, dict):
        raise EnvelopeError("malformed_json", "protected header: not a JSON object")
    if "crit" in header or "b64" in header:  # no extension is understood: refuse it rather than ignore it
        raise EnvelopeError("bad_signature", "protected header: crit and b64 are not supported")
    if header.get("alg") != "ES256":
        raise EnvelopeError("bad_signature", f"protected header: unsupported algorithm {header.get('alg')!r}")
    content_type = header.get("cty")
    if content_type not in CONTENT_TYPES:
        raise EnvelopeError("schema_violation", f"protected header: cty must be one of {', '.join(CONTENT_TYPES)}")
    kid, machine_id, seq = header.get("kid"), header.get("machine_id"), header.get("seq")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise EnvelopeError("unsigned", "protected header: no key id (kid)")
    if not isinstance(machine_id, str) or not _name_ok(machine_id):
        raise EnvelopeError("schema_violation", "protected header: machine_id is not a thing name")
    if type(seq) is not int or not 0 <= seq <= U64_MAX:
        raise EnvelopeError("schema_violation", "protected header: seq is not an unsigned 64-bit integer")
    return JwsHeader(key_id=kid, machine_id=machine_id, seq=seq, content_type=content_type, segment=header_segment)


_NAME = re.compile(NAME_PATTERN)


def _name_ok(value: str) -> bool:
    return _NAME.fullmatch(value) is not None


def payload_of(token: bytes | str) -> bytes:
    """The payload bytes of a compact JWS, unverified (for showing a quarantined record).

    Example:
        >>> payload_of(b"e30.eyJhIjoxfQ.c2ln")
        b'{"a":1}'
    """
    try:
        return _unb64(_segments(token)[1])
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("malformed_json", f"payload: {exc}") from exc


def envelope_document(wire: bytes | str) -> dict[str, Any]:
    """The JSON document of an envelope as published, v1 or v2, *unverified* (for tools and logs; ingest
    verifies with :func:`open_jws` or :func:`twin_models.signing.verify_envelope`).

    Example:
        >>> envelope_document(b'{"v": 1, "seq": 3}')["seq"], envelope_document(b"eyJhIjoxfQ.eyJ2IjoyfQ.c2ln")["v"]
        (3, 2)
    """
    raw = payload_of(wire) if is_jws(wire) else wire
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise EnvelopeError("malformed_json", "an envelope is a JSON object")
    return doc


def readable_document(wire: bytes | str) -> dict[str, Any]:
    """An envelope's content in one shape for every version, *unverified* (for tools, logs and tests): the
    document as published, with a v3 envelope's columns read into ``samples`` (one JSON object per sample,
    in time order, as v2 sends them). A v3 payload that does not parse raises :class:`EnvelopeError`.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> raw = encode_columns("m", "s", 0, [Sample(ts=t, state=100)])
        >>> import base64
        >>> token = b"eyJhIjoxfQ." + base64.urlsafe_b64encode(raw).rstrip(b"=") + b".c2ln"
        >>> readable_document(token)["samples"][0]["ts"], "columns" in readable_document(token)
        ('2026-01-05T00:00:00Z', False)
    """
    doc = envelope_document(wire)
    if doc.get("v") != 3:
        return doc
    envelope = parse_columns(payload_of(wire), now=_FAR, max_future=timedelta(0), taxonomy=None)
    rows = [sample.model_dump(mode="json", exclude_none=True) for sample in envelope.samples]
    return {**{k: v for k, v in doc.items() if k not in ("n", "t0", "dt_us", "columns")}, "samples": rows}


#: "now" for reading an unverified document: no time is in its future
_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def open_jws(
    token: bytes | str,
    header: JwsHeader,
    public_key: ec.EllipticCurvePublicKey,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> tuple[AnyEnvelope, str]:
    """Verify a v2 or v3 envelope over its exact bytes, then parse those bytes strictly; returns the envelope and
    its content digest (``sha256:`` + the hex SHA-256 of the payload bytes).

    :class:`EnvelopeError` reasons: ``bad_signature`` (the bytes, the header or the key do not match),
    ``thing_mismatch`` (the payload names another thing or ``seq`` than the signed header), and the
    reasons of :func:`twin_models.telemetry.parse_payload` (``taxonomy``: the plant's state codes).
    """
    return read_payload(verified_payload(token, header, public_key), header, now=now, max_future=max_future,
                        taxonomy=taxonomy)  # fmt: skip


def read_payload(
    payload: bytes,
    header: JwsHeader,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
    validated: columnar.ColumnsPayload | None = None,
) -> tuple[AnyEnvelope, str]:
    """The second half of :func:`open_jws`: the payload bytes whose signature :func:`verified_payload` checked,
    parsed strictly by the schema the header's content type names, and held to the header's thing and ``seq``
    (``thing_mismatch``); returns the envelope and its content digest. Ingest runs each half over a whole batch
    in turn (:meth:`chalicelib.ingest.steps.VerifyStep.run_batch`); ``validated``: a v3 payload's
    :func:`~twin_models.columnar.validate_columns`, when it was run already.

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.signing import generate_private_key
        >>> from twin_models.telemetry import Sample
        >>> key, t = generate_private_key(), datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> token = seal_jws("cnc-01", "plant-a", 7, [Sample(ts=t, state=100)], key, "gw/1", sent_at=t)
        >>> header = jws_header(token)
        >>> read_payload(verified_payload(token, header, key.public_key()), header, now=t)[0].seq
        7
    """
    envelope: AnyEnvelope
    if header.content_type == columnar.CONTENT_TYPE:
        envelope = parse_columns(payload, now=now, max_future=max_future, taxonomy=taxonomy, validated=validated)
    else:
        envelope = parse_payload(payload, now=now, max_future=max_future, taxonomy=taxonomy)
    if envelope.machine_id != header.machine_id or envelope.seq != header.seq:
        raise EnvelopeError(
            "thing_mismatch",
            f"the payload is {envelope.machine_id!r} seq {envelope.seq}, the signed header "
            f"{header.machine_id!r} seq {header.seq}",
        )
    return envelope, "sha256:" + hashlib.sha256(payload).hexdigest()


_ES256 = ec.ECDSA(hashes.SHA256())


def verified_payload(token: bytes | str, header: JwsHeader, public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The first half of :func:`open_jws`: the payload bytes of a compact ES256 JWS whose signature holds for
    ``public_key`` (RFC 7515 5.2), or :class:`EnvelopeError` (``bad_signature``). Not yet parsed.

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.signing import generate_private_key
        >>> from twin_models.telemetry import Sample
        >>> key, t = generate_private_key(), datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> token = seal_jws("cnc-01", "plant-a", 7, [Sample(ts=t, state=100)], key, "gw/1", sent_at=t)
        >>> verified_payload(token, jws_header(token), key.public_key())[:32]
        b'{"v":2,"machine_id":"cnc-01","si'
    """
    data = token.encode() if isinstance(token, str) else token
    header_segment, payload_segment, signature_segment = _segments(data)
    if header_segment != header.segment and jws_header(header_segment + b"..") != header:
        raise EnvelopeError("bad_signature", "the protected header is not the one the key was chosen by")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        raise EnvelopeError("bad_signature", "ES256 needs a P-256 public key")
    try:
        signature, payload = _unb64(signature_segment), _unb64(payload_segment)
    except (ValueError, binascii.Error) as exc:
        raise EnvelopeError("bad_signature", f"undecodable JWS: {exc}") from exc
    if len(signature) != 64:
        raise EnvelopeError("bad_signature", f"an ES256 signature is 64 bytes (r||s), this one {len(signature)}")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, data[: len(header_segment) + 1 + len(payload_segment)], _ES256)
    except InvalidSignature:
        raise EnvelopeError("bad_signature", "the signature does not hold for the registered key") from None
    return payload


def open_envelope(
    body: bytes | str,
    public_key: ec.EllipticCurvePublicKey,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> tuple[AnyEnvelope, str]:
    """Verify one envelope as published, v2 or v3 (a JWS) or v1 (JSON with the signature inside), with one known
    public key: the envelope and its content digest, or :class:`EnvelopeError` with the reason. For a
    verifier that already holds the key (a third party, a log, a test); ingest looks the key up by the
    header's ``kid`` and the machine's window first.

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.signing import generate_private_key, seal_wire
        >>> from twin_models.telemetry import Sample
        >>> key, t = generate_private_key(), datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> for seal in (seal_jws, seal_wire):
        ...     body = seal("m", "s", 1, [Sample(ts=t, state=100)], key, "k")
        ...     print(open_envelope(body, key.public_key(), now=t)[0].v)
        2
        1
    """
    if is_jws(body):
        return open_jws(body, jws_header(body), public_key, now=now, max_future=max_future)
    envelope, document = parse_envelope(body, now=now, max_future=max_future)
    return envelope, verify_envelope(document, public_key)


def seal_jws(
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
    columns: bool = False,
) -> bytes:
    """Build, serialise once and sign one v2 envelope (v3 with ``columns``: :mod:`twin_models.columnar`): the
    compact JWS a gateway spools and publishes.

    ``items`` are the samples' :func:`twin_models.signing.sample_wire_bytes` when already at hand (one per
    sample, in order): a v2 payload is assembled around them instead of serialising every sample again.
    """
    envelope = build_envelope(machine_id, site, seq, samples, sent_at, previous, version=2)
    content_type = CONTENT_TYPE
    if columns:
        content_type = columnar.CONTENT_TYPE
        payload = encode_columns(machine_id, site, seq, envelope.samples, envelope.sent_at, envelope.previous)
    elif items is None:
        payload = envelope.model_dump_json(exclude_none=True).encode()
    else:
        if len(items) != len(samples):
            raise ValueError(f"{len(items)} staged items for {len(samples)} samples")
        head = envelope.model_dump_json(exclude_none=True, exclude={"samples", "previous"}).encode()
        tail = b"" if previous is None else b',"previous":' + previous.model_dump_json(exclude_none=True).encode()
        payload = b"".join((head[:-1], b',"samples":[', b",".join(items), b"]", tail, b"}"))
    protected = {"alg": "ES256", "kid": key_id, "cty": content_type, "machine_id": machine_id, "seq": seq}
    token = _jws.serialize_compact(protected, payload, ECKey.import_key(key), registry=_REGISTRY)
    return token.encode()
