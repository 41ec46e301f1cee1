"""The telemetry envelope v1, its canonical form and the gateway signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.signing import (
    canonical_bytes,
    generate_private_key,
    sample_wire_bytes,
    seal,
    seal_wire,
    verify_envelope,
)
from twin_models.telemetry import EnvelopeError, Sample, TelemetryEnvelope, parse_envelope, topic_for

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
KEY = generate_private_key()


def _signed(n: int = 60) -> TelemetryEnvelope:
    samples = [
        Sample(ts=T0 + timedelta(seconds=i), state=100, spindle_speed_rpm=8000.5, part_count=i, tool_id="T7")
        for i in range(n)
    ]
    return seal("cnc-01", "plant-a", 42, samples, KEY, "cnc-01/1")


def test_round_trip_through_the_wire_verifies() -> None:
    raw = json.dumps(_signed().to_wire())
    envelope, document = parse_envelope(raw, now=T0 + timedelta(hours=1))
    verify_envelope(document, KEY.public_key())
    assert envelope.seq == 42 and envelope.samples[5].ts == T0 + timedelta(seconds=5)
    assert topic_for(envelope.site, envelope.machine_id) == "dt/twinledger/plant-a/cnc-01/telemetry"


def test_any_changed_value_breaks_the_signature() -> None:
    doc = _signed().to_wire()
    doc["samples"][3]["spindle_speed_rpm"] = 8000.6
    with pytest.raises(EnvelopeError) as caught:
        verify_envelope(doc, KEY.public_key())
    assert caught.value.reason == "bad_signature"


def test_key_order_and_whitespace_do_not_matter() -> None:
    doc = _signed(3).to_wire()
    reordered = json.loads(json.dumps(doc, indent=3, sort_keys=False))
    reordered = dict(reversed(list(reordered.items())))
    verify_envelope(reordered, KEY.public_key())


def test_a_signature_by_another_key_is_refused() -> None:
    other = generate_private_key()
    with pytest.raises(EnvelopeError, match="bad_signature"):
        verify_envelope(_signed(2).to_wire(), other.public_key())


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("signature"), "unsigned"),
        (lambda d: d.__setitem__("seq", -1), "schema_violation"),
        (lambda d: d["samples"][0].__setitem__("ts", "2026-01-05T06:00:00"), "schema_violation"),
        (lambda d: d.__setitem__("extra_field", 1), "schema_violation"),
        (lambda d: d.__setitem__("samples", []), "schema_violation"),
        (lambda d: d.__setitem__("sent_at", "2027-01-01T00:00:00Z"), "future_timestamp"),
    ],
)
def test_invalid_envelopes_name_their_reason(mutate: Any, reason: str) -> None:
    doc = _signed(2).to_wire()
    mutate(doc)
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(json.dumps(doc), now=T0)
    assert caught.value.reason == reason


def test_malformed_and_oversized_payloads() -> None:
    with pytest.raises(EnvelopeError, match="malformed_json"):
        parse_envelope(b"\xff\xfe{", now=T0)
    with pytest.raises(EnvelopeError, match="malformed_json"):
        parse_envelope(b"[1, 2]", now=T0)
    with pytest.raises(EnvelopeError, match="oversized"):
        parse_envelope(b" " * 200_000, now=T0)


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),  # JSON numbers are IEEE doubles
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_fast_canonical_form_equals_rfc8785(document: dict[str, Any]) -> None:
    document.pop("signature", None)
    assert canonical_bytes(document) == rfc8785.dumps(document)


def test_seal_wire_is_seal_as_bytes_with_or_without_staged_items() -> None:
    samples = [
        Sample(ts=T0 + timedelta(seconds=i), state=100, spindle_speed_rpm=8000.5, part_count=i) for i in range(3)
    ]
    previous = Sample(ts=T0 - timedelta(seconds=1), state=100, part_count=0, spindle_current_a=3.5)
    sent = T0 + timedelta(minutes=1)
    model = seal("cnc-01", "plant-a", 7, samples, KEY, "cnc-01/1", sent_at=sent, previous=previous)
    items = [sample_wire_bytes(s) for s in samples]
    for wire in (
        seal_wire("cnc-01", "plant-a", 7, samples, KEY, "cnc-01/1", sent_at=sent, previous=previous),
        seal_wire("cnc-01", "plant-a", 7, samples, KEY, "cnc-01/1", sent_at=sent, previous=previous, items=items),
    ):
        document = json.loads(wire)
        verify_envelope(document, KEY.public_key())
        assert {k: v for k, v in document.items() if k != "signature"} == model.unsigned_wire()
        assert document["signature"]["key_id"] == "cnc-01/1"
    # the same default for sent_at: the latest sample
    assert json.loads(seal_wire("cnc-01", "plant-a", 7, samples, KEY, "k"))["sent_at"] == "2026-01-05T06:00:02Z"
    with pytest.raises(ValueError, match="2 staged items for 3 samples"):
        seal_wire("cnc-01", "plant-a", 7, samples, KEY, "k", items=items[:2])


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=1, max_size=70),
    st.sampled_from(list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")),
)
def test_only_the_canonical_base64url_spelling_of_a_segment_is_read(data: bytes, last: int) -> None:
    """A JWS segment has one spelling (RFC 4648 section 3.5): a last character differing only in unused bits
    would let the same signature travel under several tokens, which other JOSE libraries refuse."""
    import base64
    import binascii

    from twin_models.jws import _unb64

    canonical = base64.urlsafe_b64encode(data).rstrip(b"=")
    assert _unb64(canonical) == data
    other = canonical[:-1] + bytes([last])
    try:
        decoded = _unb64(other)
    except binascii.Error:
        return
    assert other == canonical or decoded != data  # a second spelling of the same bytes is never read
