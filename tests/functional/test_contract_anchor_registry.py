"""AnchorRegistry on eth-tester (py-evm) in process: roles, anchoring, proofs, the maintenance hash chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.chain import (
    ANCHORER_ROLE,
    AnchorClient,
    ContractRevertError,
    RootAlreadyAnchoredError,
    deploy_anchor_registry,
)
from twin_models.hashchain import chain_heads, first_mismatch
from twin_models.merkle import MerkleTree, keccak256

DEFAULT_ADMIN_ROLE = bytes(32)
OZ_ROOT = bytes.fromhex("c6610e8b0e53692aa5a711595a976a9754eb084ae11312591fb754084738affd")
OZ_PROOF_3 = [
    bytes.fromhex("f2170a6446a71d600db43805ec8d26f7512e502a86919dba094f6637ed8f30b6"),
    bytes.fromhex("c88e8e0d8c5f01270cbbc43df41de583458dce03eb991e6dff9f29f4f114dbe5"),
]


@pytest.fixture
def w3() -> Iterator[Web3]:
    yield Web3(EthereumTesterProvider())


@pytest.fixture
def owner(w3: Web3) -> str:
    return str(w3.eth.accounts[0])


@pytest.fixture
def stranger(w3: Web3) -> str:
    return str(w3.eth.accounts[1])  # type: ignore[misc]


@pytest.fixture
def registry(w3: Web3, owner: str) -> AnchorClient:
    return AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)


@pytest.fixture
def as_stranger(w3: Web3, registry: AnchorClient, stranger: str) -> AnchorClient:
    return AnchorClient(w3, registry.address, stranger)


def records(n: int, tag: str = "record") -> list[bytes]:
    return [keccak256(f"{tag}-{i}".encode()) for i in range(n)]


def test_deployer_is_admin_and_anchorer(registry: AnchorClient, owner: str, stranger: str) -> None:
    assert registry.contract.functions.hasRole(DEFAULT_ADMIN_ROLE, owner).call()
    assert registry.is_anchorer(owner)
    assert not registry.is_anchorer(stranger)


def test_stranger_cannot_anchor(as_stranger: AnchorClient, stranger: str) -> None:
    with pytest.raises(ContractRevertError) as caught:
        as_stranger.anchor_batch(records(2), kind="telemetry")

    assert caught.value.name == "AccessControlUnauthorizedAccount"
    assert caught.value.error_args == (stranger, ANCHORER_ROLE)


def test_stranger_cannot_grant_itself_the_role(as_stranger: AnchorClient, stranger: str) -> None:
    with pytest.raises(ContractRevertError) as caught:
        as_stranger.grant_anchorer(stranger)

    assert caught.value.name == "AccessControlUnauthorizedAccount"
    assert caught.value.error_args == (stranger, DEFAULT_ADMIN_ROLE)


def test_admin_grants_and_revokes_the_anchorer_role(
    registry: AnchorClient, as_stranger: AnchorClient, stranger: str
) -> None:
    registry.grant_anchorer(stranger)
    granted = as_stranger.anchor_batch(records(1, "granted"), kind="quality")
    registry.revoke_anchorer(stranger)

    assert registry.anchor_of(granted.root) is not None
    with pytest.raises(ContractRevertError) as caught:
        as_stranger.anchor_batch(records(1, "revoked"), kind="quality")
    assert caught.value.name == "AccessControlUnauthorizedAccount"


def test_anchor_stores_root_with_block_time_and_emits_event(w3: Web3, registry: AnchorClient, owner: str) -> None:
    batch = records(5)
    receipt = registry.anchor_batch(batch, kind="daily-summary", metadata='{"day":"2026-11-21"}')

    stored = registry.anchor_of(receipt.root)
    assert stored is not None
    assert stored.block_number == receipt.block_number
    assert int(stored.anchored_at.timestamp()) == w3.eth.get_block(receipt.block_number)["timestamp"]
    assert stored.record_count == 5
    tx = w3.eth.get_transaction_receipt(HexBytes(receipt.tx_hash))
    (event,) = registry.contract.events.RootAnchored().process_receipt(tx)
    assert event["args"]["root"] == receipt.root == MerkleTree.build(batch).root
    assert event["args"]["anchorer"] == owner
    assert event["args"]["recordCount"] == 5
    assert event["args"]["kind"] == "daily-summary"
    assert event["args"]["metadata"] == '{"day":"2026-11-21"}'
    assert registry.find_anchor_tx(receipt.root) == (receipt.tx_hash, receipt.block_number)


def test_a_root_is_stored_once(registry: AnchorClient) -> None:
    first = registry.anchor_batch(records(3), kind="telemetry")

    with pytest.raises(RootAlreadyAnchoredError) as caught:
        registry.anchor_batch(records(3), kind="telemetry")
    assert caught.value.root == first.root
    assert caught.value.anchored_at == first.anchored_at


@pytest.mark.parametrize(
    ("root", "count", "error"),
    [(bytes(32), 1, "AnchorRegistryEmptyRoot"), (b"\x01" * 32, 0, "AnchorRegistryEmptyBatch")],
)
def test_empty_root_or_batch_reverts(registry: AnchorClient, root: bytes, count: int, error: str) -> None:
    sender = registry.sender
    assert sender is not None
    with pytest.raises(ContractRevertError) as caught:
        sender.transact(registry.contract.functions.anchor(root, count, "k", ""), registry.abi)

    assert caught.value.name == error


def test_every_record_of_a_batch_verifies_on_chain(registry: AnchorClient) -> None:
    batch = records(16)
    receipt = registry.anchor_batch(batch, kind="telemetry")

    assert all(registry.verify_record(receipt.root, r, p) for r, p in zip(batch, receipt.proofs, strict=True))


def test_tampered_record_or_wrong_root_fails(registry: AnchorClient) -> None:
    batch = records(7)
    receipt = registry.anchor_batch(batch, kind="telemetry")
    other = registry.anchor_batch(records(7, "other"), kind="telemetry")

    assert not registry.verify_record(receipt.root, keccak256(b"tampered"), receipt.proofs[3])
    assert not registry.verify_record(other.root, batch[3], receipt.proofs[3])
    assert not registry.verify_record(receipt.root, batch[3], receipt.proofs[4])


def test_valid_proof_of_a_root_never_anchored_fails(registry: AnchorClient) -> None:
    tree = MerkleTree.build(records(4))

    assert not registry.verify_record(tree.root, records(4)[0], tree.proof(0))


def test_contract_accepts_openzeppelin_js_proof(registry: AnchorClient) -> None:
    registry.anchor_batch(records(5), kind="telemetry")

    assert registry.verify_record(OZ_ROOT, records(5)[3], OZ_PROOF_3)


def test_maintenance_chain_matches_python_and_shows_a_removed_entry(registry: AnchorClient) -> None:
    machine = keccak256(b"machine-7")
    entries = records(4, "maintenance")
    appended = [registry.append_log_entry(machine, e) for e in entries]

    on_chain = registry.log_heads(machine)
    assert on_chain == chain_heads(entries) == [a.new_head for a in appended]
    assert registry.log_head(machine) == (on_chain[-1], 4)
    assert first_mismatch(entries[:1] + entries[2:], on_chain) == 1
    assert registry.verify_log_entry(machine, 2, on_chain[1], entries[2])
    assert not registry.verify_log_entry(machine, 2, on_chain[0], entries[2])
    assert not registry.verify_log_entry(machine, 9, on_chain[3], entries[3])


def test_append_on_a_stale_head_reverts(registry: AnchorClient) -> None:
    machine = keccak256(b"machine-8")
    first = registry.append_log_entry(machine, keccak256(b"a"))
    registry.append_log_entry(machine, keccak256(b"b"))

    with pytest.raises(ContractRevertError) as caught:
        registry.append_log_entry(machine, keccak256(b"c"), expected_head=first.new_head)
    assert caught.value.name == "AnchorRegistryStaleLogHead"
    assert caught.value.error_args[1] == first.new_head


def test_log_entry_event_decodes(w3: Web3, registry: AnchorClient) -> None:
    machine = keccak256(b"machine-9")
    appended = registry.append_log_entry(machine, keccak256(b"a"))

    (event,) = registry.contract.events.LogEntryAppended().process_receipt(
        w3.eth.get_transaction_receipt(HexBytes(appended.tx_hash))
    )
    assert event["args"]["machineId"] == machine
    assert event["args"]["index"] == 0
    assert event["args"]["previousHead"] == bytes(32)
    assert event["args"]["newHead"] == appended.new_head
