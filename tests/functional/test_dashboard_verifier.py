"""The dashboard's in-browser verifier computes exactly what the domain computes.

``dashboard/src/verify.js`` (run under node through ``dashboard/scripts/verifier-cli.js``, the same module the
browser runs) against ``twin_models.anchoring`` and ``twin_models.merkle``: the keccak-256 of a record's
RFC 8785 form for arbitrary JSON (unicode, numbers, nesting), Merkle proofs of OpenZeppelin-compatible trees,
the maintenance hash-chain link, whole proof bundles checked off line (genuine and tampered), and an
invoice's own hash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.anchoring import ProofBundle, bytes32_hex, record_hash
from twin_models.hashchain import link
from twin_models.merkle import MerkleTree, keccak256

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
CLI = DASHBOARD / "scripts" / "verifier-cli.js"


class Verifier:
    """One node process answering the verifier's line protocol."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(CLI)], cwd=DASHBOARD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def verifier() -> Iterator[Verifier]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (DASHBOARD / "node_modules" / "canonicalize").is_dir():
        pytest.skip("the dashboard's packages are not installed: npm ci --prefix dashboard")
    running = Verifier()
    yield running
    running.close()


text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)  # no lone surrogates: not UTF-8
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=24
)
records = st.dictionaries(text, json_values, max_size=6)
hashes = st.binary(min_size=32, max_size=32)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(value=json_values)
def test_the_canonical_form_and_hash_of_any_json_value_are_the_domains(verifier: Verifier, value: Any) -> None:
    import rfc8785

    sent = json.loads(json.dumps(value))  # what the browser gets: the JSON text the API sends, parsed
    assert verifier.ask(op="canonical", value=sent)["text"].encode() == rfc8785.dumps(value)
    assert verifier.ask(op="hash", record=sent)["hash"] == bytes32_hex(record_hash(value))
    assert verifier.ask(op="hash", record=sent, algorithm="sha256-jcs")["hash"] == bytes32_hex(
        record_hash(value, "sha256-jcs")
    )


@SETTINGS
@given(leaves=st.lists(hashes, min_size=1, max_size=24), pick=st.integers(min_value=0), flip=st.integers(0, 31))
def test_merkle_proofs_lead_to_the_domains_root_and_a_changed_record_does_not(
    verifier: Verifier, leaves: list[bytes], pick: int, flip: int
) -> None:
    tree = MerkleTree.build(leaves)
    index = pick % len(leaves)
    proof = [bytes32_hex(p) for p in tree.proof(index)]
    root = bytes32_hex(tree.root)
    genuine = verifier.ask(op="proof", root=root, hash=bytes32_hex(leaves[index]), proof=proof)
    assert genuine == {"ok": True, "root": root}
    changed = bytearray(leaves[index])
    changed[flip] ^= 0x01
    assert verifier.ask(op="proof", root=root, hash=bytes32_hex(bytes(changed)), proof=proof)["ok"] is False


@SETTINGS
@given(previous=hashes, entry=hashes, index=st.integers(min_value=0, max_value=2**53 - 1))  # a JSON number
def test_the_log_link_is_the_registrys(verifier: Verifier, previous: bytes, entry: bytes, index: int) -> None:
    head = verifier.ask(op="link", previous=bytes32_hex(previous), entry=bytes32_hex(entry), index=index)["head"]
    assert head == bytes32_hex(link(previous, entry, index))


@SETTINGS
@given(batch=st.lists(records, min_size=1, max_size=8), pick=st.integers(min_value=0), data=st.data())
def test_a_bundle_checks_off_line_in_the_browser_as_in_python(
    verifier: Verifier, batch: list[dict[str, Any]], pick: int, data: st.DataObject
) -> None:
    index = pick % len(batch)
    tree = MerkleTree.build([record_hash(r) for r in batch])
    bundle = ProofBundle(
        record=batch[index], record_hash=record_hash(batch[index]), proof=tree.proof(index), root=tree.root
    )
    sent = json.loads(bundle.model_dump_json())
    assert bundle.verify_offline().ok
    assert verifier.ask(op="offline", bundle=sent) == {"ok": True, "reason": ""}
    # tampering with one field of the record: both sides refuse it, for the same reason
    key = data.draw(text, label="key")
    tampered_record = {**batch[index], key: data.draw(json_values, label="value")}
    tampered = bundle.model_copy(update={"record": tampered_record})
    expected = tampered.verify_offline()
    answer = verifier.ask(op="offline", bundle=json.loads(tampered.model_dump_json()))
    assert (answer["ok"], answer["reason"]) == (expected.ok, expected.reason)


def test_a_chained_record_and_a_log_entry_bundle_check_as_in_python(verifier: Verifier) -> None:
    first = {"entry_id": "cnc-01.0", "prev_hash": "0x" + "00" * 32, "text": "inspection ✓"}
    second = {"entry_id": "cnc-01.1", "prev_hash": bytes32_hex(record_hash(first)), "text": "bearing replaced"}
    tree = MerkleTree.build([record_hash(second), keccak256(b"another head")])
    chained = ProofBundle(record=first, record_hash=record_hash(first), proof=tree.proof(0), root=tree.root,
                          chain_after=[second])  # fmt: skip
    previous = keccak256(b"head before")
    logged = ProofBundle(record=first, record_hash=record_hash(first), proof=[previous],
                         root=link(previous, record_hash(first), 3), log_machine="cnc-01", log_index=3)  # fmt: skip
    broken = chained.model_copy(update={"chain_after": [{**second, "prev_hash": "0x" + "11" * 32}]})
    for bundle in (chained, logged, broken, logged.model_copy(update={"log_index": 4})):
        expected = bundle.verify_offline()
        answer = verifier.ask(op="offline", bundle=json.loads(bundle.model_dump_json()))
        assert (answer["ok"], answer["reason"]) == (expected.ok, expected.reason)


def test_an_invoice_hashes_in_the_browser_as_in_the_domain(verifier: Verifier) -> None:
    from datetime import datetime
    from decimal import Decimal

    from twin_models.billing import UsageEvent, compute_invoice, load_lease

    lease = load_lease({
        "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["m1"],
        "start": "2026-01-01T00:00:00+01:00", "billing_interval": "daily", "timezone": "Europe/Berlin",
        "currency": "EUR", "tax_rate": "0.19", "grace_period": "PT2H",
        "tariff": {"components": [{
            "id": "parts", "meter": "parts", "description": "Teile ü", "pricing": "graduated",
            "tiers": [{"up_to": "5", "unit_price": "0.08"}, {"up_to": None, "unit_price": "0.05"}],
        }]},
    })  # fmt: skip
    usage = [UsageEvent(id=f"e{i}", machine_id="m1", meter="parts", quantity=Decimal(3),
                        ts=datetime.fromisoformat(f"2026-01-02T1{i}:00:00+00:00")) for i in range(3)]  # fmt: skip
    invoice = compute_invoice(lease, lease.period("2026-01-02"), usage)
    document = invoice.to_json()
    assert invoice.verify()
    assert verifier.ask(op="invoice", invoice=document)["hash"] == invoice.hash
    changed = {**document, "total": str(Decimal(document["total"]) + 1)}
    assert verifier.ask(op="invoice", invoice=changed)["hash"] != invoice.hash
