"""Envelope v3 through the ingest Lambda's pipeline: the same JWS checks as v2, the same stored facts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.wiring import Services
from edge_greengrass.simulator import FleetSimulator
from tests.functional.conftest import T0, Gateway, samples, sqs_event
from tests.functional.test_ingest_envelope_v2 import _b64, _unb64, build, outcome, quarantine, sign_raw
from twin_models import columnar
from twin_models.jws import seal_jws
from twin_models.signing import generate_private_key


def token(gw: Gateway, seq: int = 0, machine: str = "cnc-01", columns: bool = True) -> str:
    rows = samples(T0 + timedelta(minutes=seq), 60)
    return seal_jws(machine, "plant-a", seq, rows, gw.key, gw.key_id, columns=columns).decode()


def header_of(gw: Gateway, **changes: Any) -> dict[str, Any]:
    cty = columnar.CONTENT_TYPE
    return {"alg": "ES256", "kid": gw.key_id, "cty": cty, "machine_id": "cnc-01", "seq": 0, **changes}


def stored_facts(built: Services) -> tuple[Any, ...]:
    history, usage = built.adapters.history, built.adapters.usage
    segments = [
        s.model_dump(exclude={"content_hash"})
        for s in history.segments("cnc-01", T0 - timedelta(days=1), T0 + timedelta(days=1))
    ]
    events = sorted((e.id, e.meter, e.ts, e.quantity) for e in usage.between("cnc-01", T0, T0 + timedelta(days=1)))
    state = built.adapters.shadows.get("cnc-01", "state")
    assert state is not None
    return segments, events, state[0]


def test_v3_and_v2_of_the_same_samples_store_the_same_history_usage_and_twin() -> None:
    facts = []
    for columns in (False, True):
        built, gw = build()
        bodies = [token(gw, seq, columns=columns) for seq in range(3)]
        seqs, reasons = outcome(built, [bodies[2], bodies[0], bodies[1], bodies[1]])  # out of order, redelivered
        assert seqs == ["0", "1", "2"] and reasons == []
        stored = built.adapters.history.get_segment("cnc-01", 1)
        assert stored is not None
        assert stored.content_hash == "sha256:" + hashlib.sha256(_unb64(bodies[1].split(".")[1])).hexdigest()
        facts.append(stored_facts(built))
    assert facts[0] == facts[1]
    assert facts[0][1]  # something was metered


def test_a_changed_byte_or_a_header_naming_something_else_is_quarantined_for_v3_too() -> None:
    built, gw = build()
    good = token(gw, 0)
    head, payload, sig = good.split(".")
    raw = _unb64(payload)
    flipped = raw.replace(b'"rle":[[100,60]]', b'"rle":[[101,60]]', 1)
    assert flipped != raw
    cases = [
        f"{head}.{_b64(flipped)}.{sig}",
        f"{_b64(json.dumps(header_of(gw, seq=1)).encode())}.{payload}.{sig}",
        sign_raw(gw, header_of(gw, machine_id="cnc-02"), raw),
        sign_raw(gw, header_of(gw, seq=5), raw),
        sign_raw(gw, header_of(gw, kid="gw/2"), raw),
        sign_raw(gw, header_of(gw, cty="vnd.twinledger.telemetry.v2+json"), raw),  # a v3 payload read as v2
    ]
    built.ingest.handle_batch(sqs_event(cases))
    reasons = sorted(q["reason"] for q in quarantine(built))
    assert reasons == sorted(
        ["bad_signature", "bad_signature", "thing_mismatch", "thing_mismatch", "unknown_key", "schema_violation"]
    )
    assert built.adapters.history.get_segment("cnc-01", 0) is None


def test_duplicate_keys_under_a_valid_v3_signature_are_quarantined() -> None:
    built, gw = build()
    raw = _unb64(token(gw, 0).split(".")[1])
    doubled_column = raw.replace(b'"columns":{', b'"columns":{"state":{"rle":[[600,60]]},', 1)
    doubled_runs = raw.replace(b'"dt_us":{"rle":', b'"dt_us":{"rle":[[1,59]],"rle":', 1)
    assert doubled_column != raw and doubled_runs != raw
    seqs, reasons = outcome(built, [sign_raw(gw, header_of(gw), body) for body in (doubled_column, doubled_runs)])
    assert seqs == [] and reasons == ["malformed_json"] * 2
    assert all("duplicate key" in q["detail"] for q in quarantine(built))


def test_a_third_party_verifies_a_v3_envelope_with_its_own_jose_library() -> None:
    from jwcrypto import jwk, jws  # a JOSE library this project does not use itself

    from twin_models.signing import public_key_pem

    _, gw = build()
    body = token(gw, 4)
    verifier = jws.JWS()
    verifier.deserialize(body)
    verifier.verify(jwk.JWK.from_pem(public_key_pem(gw.key).encode()), alg="ES256")
    header, payload = json.loads(verifier.objects["protected"]), json.loads(verifier.payload)
    assert header["cty"] == columnar.CONTENT_TYPE and payload["v"] == 3 and payload["n"] == 60


def test_a_running_machines_minute_fits_one_iot_core_message() -> None:
    """IoT Core meters a message per 5 KB: a v3 minute of a simulated machine, JWS and all, is one (v2: five)."""
    key = generate_private_key()
    fleet = FleetSimulator(4, seed=11, start=datetime(2026, 1, 5, 6, tzinfo=UTC))
    data = fleet.advance(3600)
    sizes = {
        version: [
            len(seal_jws(t, "plant-a", i, rows[i * 60 : i * 60 + 60], key, "gw/1", columns=version == 3))
            for t, rows in data.items()
            for i in range(60)
        ]
        for version in (2, 3)
    }
    assert max(sizes[3]) <= 5 * 1024 < min(sizes[2]), (max(sizes[3]), min(sizes[2]))
