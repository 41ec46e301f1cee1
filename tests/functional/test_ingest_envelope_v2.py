"""Envelope v2 at ingest: a JWS over the bytes as sent. Tampered bytes, a header that names something else,
duplicate keys under a valid signature and v1 after its window are quarantined, each with its reason;
any JOSE library verifies an envelope."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from chalicelib import wiring
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from tests.functional.conftest import T0, Gateway, samples, sqs_event, wire
from twin_models.jws import _REGISTRY, CONTENT_TYPE, jws_header, payload_of, seal_jws, verified_payload
from twin_models.signing import generate_private_key, public_key_pem
from twin_models.telemetry import EnvelopeError
from twin_models.tenancy import Device

NOW = T0 + timedelta(hours=2)


def build(**device: Any) -> tuple[Services, Gateway]:
    """In-memory services with cnc-01 and cnc-02 behind one gateway key (as one gateway serves several)."""
    built = wiring.build(Settings(adapters="memory"), clock=lambda: NOW)
    key = generate_private_key()
    for machine in ("cnc-01", "cnc-02"):
        built.adapters.devices.put(
            Device(
                machine_id=machine,
                site="plant-a",
                lessor="toolmaker",
                lessee="factory-1",
                keys={"gw/1": public_key_pem(key)},
                **device,
            )
        )
    gw = Gateway(built.adapters.devices.get("cnc-01"), key, "gw/1")  # type: ignore[arg-type]
    return built, gw


def token(gw: Gateway, seq: int = 0, machine: str = "cnc-01") -> str:
    return seal_jws(machine, "plant-a", seq, samples(T0 + timedelta(minutes=seq), 60), gw.key, gw.key_id).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_raw(gw: Gateway, header: dict[str, Any], payload: bytes) -> str:
    """A compact JWS with any header and payload bytes, validly signed with the gateway's key (what a
    compromised or faulty gateway could send); signed with joserfc's primitives, not the project's sealing."""
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{head}.{_b64(payload)}".encode()
    from joserfc._rfc7518.jws_algs import ECAlgModel  # the library's own ES256

    alg = ECAlgModel("ES256", "P-256", 256)
    return f"{head}.{_b64(payload)}.{_b64(alg.sign(signing_input, ECKey.import_key(gw.key)))}"


def header_of(gw: Gateway, **changes: Any) -> dict[str, Any]:
    return {"alg": "ES256", "kid": gw.key_id, "cty": CONTENT_TYPE, "machine_id": "cnc-01", "seq": 0, **changes}


def quarantine(built: Services) -> list[dict[str, str]]:
    found: list[dict[str, str]] = built.adapters.quarantine.list_day(f"{NOW:%Y-%m-%d}")
    return found


def outcome(built: Services, bodies: list[str]) -> tuple[list[str], list[str]]:
    """Accepted seqs of cnc-01 and the quarantine reasons, after one SQS batch."""
    built.ingest.handle_batch(sqs_event(bodies))
    history = built.adapters.history
    seqs = [str(s.seq) for s in history.segments("cnc-01", T0 - timedelta(days=1), T0 + timedelta(days=1))]
    return seqs, [q["reason"] for q in quarantine(built)]


def test_a_v2_envelope_is_accepted_and_its_digest_is_that_of_the_bytes_as_sent() -> None:
    built, gw = build()
    body = token(gw, 3)
    seqs, reasons = outcome(built, [body, body])
    assert seqs == ["3"] and reasons == []
    stored = built.adapters.history.get_segment("cnc-01", 3)
    assert stored is not None
    import hashlib

    assert stored.content_hash == "sha256:" + hashlib.sha256(_unb64(body.split(".")[1])).hexdigest()


def test_one_changed_byte_or_a_header_naming_something_else_is_quarantined() -> None:
    built, gw = build()
    good = token(gw, 0)
    head, payload, sig = good.split(".")
    raw = _unb64(payload)
    flipped = raw.replace(b'"state":100', b'"state":101', 1)
    assert flipped != raw
    cases = {
        "payload byte changed": f"{head}.{_b64(flipped)}.{sig}",
        "header changed after signing": f"{_b64(json.dumps(header_of(gw, seq=1)).encode())}.{payload}.{sig}",
        "signed header names another thing": sign_raw(gw, header_of(gw, machine_id="cnc-02"), raw),
        "signed header names another seq": sign_raw(gw, header_of(gw, seq=5), raw),
        "signed header names another key": sign_raw(gw, header_of(gw, kid="gw/2"), raw),
    }
    built.ingest.handle_batch(sqs_event(list(cases.values())))
    reasons = {q["record_id"]: q["reason"] for q in quarantine(built)}
    assert sorted(reasons.values()) == sorted(
        ["bad_signature", "bad_signature", "thing_mismatch", "thing_mismatch", "unknown_key"]
    )
    assert built.adapters.history.get_segment("cnc-01", 0) is None


def test_duplicate_keys_under_a_valid_signature_are_quarantined() -> None:
    built, gw = build()
    raw = _unb64(token(gw, 0).split(".")[1])
    doubled = raw.replace(b'"seq":0', b'"seq":0,"seq":7', 1)
    sample_doubled = raw.replace(b'"state":100', b'"state":100,"state":600', 1)
    spaced = raw.replace(b'"seq":0', b'"seq" : 0 ,\n "seq":7', 1)  # whitespace: the other way of counting keys
    bodies = [sign_raw(gw, header_of(gw), body) for body in (doubled, sample_doubled, spaced)]
    seqs, reasons = outcome(built, bodies)
    assert seqs == [] and reasons == ["malformed_json"] * 3
    details = [q["detail"] for q in quarantine(built)]
    assert all("duplicate key" in d for d in details)


def test_a_colon_inside_a_string_is_not_taken_for_a_duplicate() -> None:
    built, gw = build()
    raw = _unb64(token(gw, 0).split(".")[1])
    assert b'"tool_id":""' in raw and b'"program":""' in raw
    tricky = raw.replace(b'"tool_id":""', b'"tool_id":"T\\":x"', 1).replace(b'"program":""', b'"program":"P\\" : 1"', 1)
    seqs, reasons = outcome(built, [sign_raw(gw, header_of(gw), tricky)])
    assert seqs == ["0"] and reasons == []


def test_v1_is_accepted_inside_the_window_and_refused_after_it_with_its_own_reason() -> None:
    open_window, gw = build(envelope_v1_until=NOW + timedelta(days=30))
    assert outcome(open_window, [wire(gw.envelope(0, samples(T0, 60)))]) == (["0"], [])
    closed, gw = build(envelope_v1_until=NOW - timedelta(seconds=1))
    seqs, reasons = outcome(closed, [wire(gw.envelope(0, samples(T0, 60))), token(gw, 1)])
    assert seqs == ["1"] and reasons == ["v1_retired"]


def test_a_third_party_verifies_an_envelope_with_its_own_jose_library() -> None:
    from jwcrypto import jwk, jws  # a JOSE library this project does not use itself

    _, gw = build()
    body = token(gw, 4)
    key = jwk.JWK.from_pem(public_key_pem(gw.key).encode())
    verifier = jws.JWS()
    verifier.deserialize(body)
    verifier.verify(key, alg="ES256")
    header = json.loads(verifier.objects["protected"])
    payload = json.loads(verifier.payload)
    assert header["machine_id"] == payload["machine_id"] == "cnc-01" and header["seq"] == payload["seq"] == 4
    assert header["cty"] == CONTENT_TYPE and payload["v"] == 2
    tampered = body[:-3] + ("AAA" if body[-3:] != "AAA" else "BBB")
    other = jws.JWS()
    other.deserialize(tampered)
    with pytest.raises(jws.InvalidJWSSignature):
        other.verify(key, alg="ES256")
    # the bytes it verified are the very payload ingest parses
    assert payload_of(body) == verifier.payload


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_arbitrary_v2_bytes_never_escape_the_quarantine(data: st.DataObject) -> None:
    built, gw = build()
    raw = _unb64(token(gw, 0).split(".")[1])
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    replacement = data.draw(st.binary(min_size=0, max_size=8))
    mutated = raw[:position] + replacement + raw[position + 1 :]
    header = data.draw(
        st.sampled_from(
            [header_of(gw), header_of(gw, seq=2**70), header_of(gw, cty="x"), header_of(gw, machine_id=None)]
        )
    )
    signed_validly = data.draw(st.booleans())
    body = sign_raw(gw, header, mutated) if signed_validly else token(gw, 0)[:-10] + _b64(replacement)[:10]
    report = built.ingest.handle_batch(sqs_event([body, token(gw, 9)]))
    assert report.failed_message_ids == []
    assert built.adapters.history.get_segment("cnc-01", 9) is not None  # the neighbour went through
    stored = built.adapters.history.get_segment("cnc-01", 0)
    quarantined = quarantine(built)
    assert (stored is not None) != bool(quarantined)  # exactly one outcome for the mutated record
    assert all(q["reason"] and q["detail"] for q in quarantined)


def test_the_command_line_verifies_an_envelope_as_published(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from twinledger.cli import main

    _, gw = build()
    key = tmp_path / "cnc-01.pub.pem"
    key.write_text(public_key_pem(gw.key))
    good, v1 = tmp_path / "good.jws", tmp_path / "v1.json"
    good.write_bytes(token(gw, 12).encode())
    v1.write_text(wire(gw.envelope(3, samples(T0, 60))))
    assert main(["envelope", "verify", str(good), "--key", str(key)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] and verdict["version"] == 2 and verdict["seq"] == 12
    assert main(["envelope", "verify", str(v1), "--key", str(key)]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    head, payload, sig = token(gw, 12).split(".")
    bad = tmp_path / "bad.jws"
    bad.write_text(f"{head}.{_b64(_unb64(payload).replace(b'cnc-01', b'cnc-02'))}.{sig}")
    assert main(["envelope", "verify", str(bad), "--key", str(key)]) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "bad_signature"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_signature_check_agrees_with_a_maintained_jose_library_on_any_mutation(data: st.DataObject) -> None:
    # Given a sealed envelope, and the same token after one mutation of its characters
    _, gw = build()
    original = token(gw)
    position = data.draw(st.integers(0, len(original) - 1))
    kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    char = data.draw(st.sampled_from(list("AQgw-_=+/.a9 ")))
    mutated = {
        "replace": original[:position] + char + original[position + 1 :],
        "delete": original[:position] + original[position + 1 :],
        "insert": original[:position] + char + original[position:],
    }[kind]
    public = gw.key.public_key()
    # When both our check and joserfc's verify it
    try:
        ours: bytes | None = verified_payload(mutated.encode(), jws_header(mutated), public)
    except EnvelopeError:
        ours = None
    try:
        theirs: bytes | None = jose_jws.deserialize_compact(
            mutated, ECKey.import_key(public), registry=_REGISTRY
        ).payload
    except (JoseError, ValueError):
        theirs = None
    # Then they accept exactly the same tokens, with the same payload bytes
    assert ours == theirs
    if mutated == original:
        assert ours is not None
