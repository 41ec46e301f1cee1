"""Proof bundles and record hashes (twin_models.anchoring): JSON form, off-line checks, bad input."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pytest
import rfc8785
from pydantic import ValidationError

from twin_models.anchoring import ProofBundle, bytes32_hex, parse_bytes32, record_hash
from twin_models.merkle import MerkleError, MerkleTree, keccak256

DOC: dict[str, Any] = {"machine": "cnc-01", "day": "2026-11-21", "good_parts": 412, "oee": "0.68"}


def bundle(doc: object = DOC) -> ProofBundle:
    hashes = [record_hash(DOC), keccak256(b"neighbour-1"), keccak256(b"neighbour-2")]
    tree = MerkleTree.build(hashes)
    return ProofBundle(record=doc, record_hash=hashes[0], proof=tree.proof(0), root=tree.root)


def test_record_hash_is_keccak_or_sha256_of_the_canonical_json() -> None:
    canonical = rfc8785.dumps(DOC)

    assert record_hash(DOC) == keccak256(canonical)
    assert record_hash(DOC, "sha256-jcs") == hashlib.sha256(canonical).digest()
    assert record_hash({"b": 1, "a": [1, 2]}) == record_hash({"a": [1, 2], "b": 1})


def test_offline_check_passes_for_the_record_and_fails_for_a_changed_one() -> None:
    assert bundle().verify_offline().ok
    changed = bundle({**DOC, "good_parts": 999}).verify_offline()
    assert not changed.ok and "does not hash" in changed.reason


def test_offline_check_fails_for_a_wrong_proof_or_root() -> None:
    good = bundle()

    assert not good.model_copy(update={"proof": list(reversed(good.proof))}).verify_offline().ok
    assert not good.model_copy(update={"root": keccak256(b"other")}).verify_offline().ok


def test_a_bundle_without_the_record_proves_the_hash() -> None:
    assert bundle(None).verify_offline().ok


def test_json_round_trip_writes_0x_hex() -> None:
    original = bundle().model_copy(update={"anchored_at": datetime.fromisoformat("2026-11-21T23:55:03+00:00")})

    text = original.model_dump_json()

    assert f'"record_hash":"{bytes32_hex(original.record_hash)}"' in text
    assert ProofBundle.model_validate_json(text) == original


@pytest.mark.parametrize(
    "change",
    [
        {"record_hash": "0x1234"},
        {"root": "zz" * 32},
        {"proof": "0x" + "00" * 32},
        {"anchored_at": "2026-11-21T23:55:03"},
        {"unknown_field": 1},
    ],
)
def test_malformed_bundles_are_rejected_with_a_clear_error(change: dict[str, object]) -> None:
    data = {**bundle().model_dump(mode="json"), **change}

    with pytest.raises(ValidationError):
        ProofBundle.model_validate(data)


def test_parse_bytes32_accepts_prefixed_bare_and_raw() -> None:
    raw = keccak256(b"x")

    assert parse_bytes32("0x" + raw.hex()) == parse_bytes32(raw.hex()) == parse_bytes32(raw) == raw
    with pytest.raises(MerkleError):
        parse_bytes32(raw[:31])
