"""Anchoring on a real Ganache devnet: signed transactions, custom errors, concurrent senders, confirmation
depth, a chain outage while records arrive, and the ``twinledger verify`` command."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from moto import mock_aws
from web3 import Web3

from chalicelib.adapters import aws
from chalicelib.adapters.anchoring import DynamoAnchorStore
from chalicelib.adapters.chain import (
    ANCHORER_ROLE,
    AnchorClient,
    ContractRevertError,
    LeaseClient,
    LeaseTerms,
    NonceManager,
    PeriodStatus,
    SenderOptions,
    deploy_anchor_registry,
    deploy_lease,
    load_artifact,
)
from chalicelib.adapters.memory import InMemoryAnchorStore
from chalicelib.adapters.tables import create_resources
from chalicelib.anchoring.service import AnchoringService, verify_bundle
from chalicelib.ports.anchoring import AnchorStore
from twin_models.anchoring import record_hash
from twin_models.hashchain import machine_key
from twin_models.merkle import MerkleTree, keccak256
from twinledger.cli import main as cli
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache

pytestmark = pytest.mark.integration


@pytest.fixture
def admin() -> LocalAccount:
    account: LocalAccount = Account.from_key(DETERMINISTIC_KEYS[0])
    return account


@pytest.fixture
def stranger() -> LocalAccount:
    account: LocalAccount = Account.from_key(DETERMINISTIC_KEYS[1])
    return account


@pytest.fixture
def registry(ganache_w3: Web3, admin: LocalAccount) -> AnchorClient:
    return AnchorClient(ganache_w3, deploy_anchor_registry(ganache_w3, admin), admin)


def hashes(n: int, tag: str) -> list[bytes]:
    return [keccak256(f"{tag}-{i}".encode()) for i in range(n)]


def test_signed_anchoring_proofs_and_tampering(registry: AnchorClient, ganache_w3: Web3) -> None:
    # Given a batch anchored with a locally signed EIP-1559 transaction
    batch = hashes(33, "ganache")
    receipt = registry.anchor_batch(batch, kind="telemetry", metadata='{"site":"plant-1"}')

    # Then every proof verifies on chain and a tampered record or a wrong root does not
    tx = ganache_w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
    assert tx["type"] == 2 and tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"]
    assert all(registry.verify_record(receipt.root, r, p) for r, p in zip(batch, receipt.proofs, strict=True))
    assert not registry.verify_record(receipt.root, keccak256(b"tampered"), receipt.proofs[0])
    assert not registry.verify_record(keccak256(b"other root"), batch[0], receipt.proofs[0])
    (event,) = registry.contract.events.RootAnchored().process_receipt(
        ganache_w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
    )
    assert event["args"]["recordCount"] == 33 and event["args"]["metadata"] == '{"site":"plant-1"}'


def test_stranger_reverts_with_the_custom_error(
    registry: AnchorClient, ganache_w3: Web3, stranger: LocalAccount
) -> None:
    with pytest.raises(ContractRevertError) as caught:
        AnchorClient(ganache_w3, registry.address, stranger).anchor_batch(hashes(2, "stranger"), kind="x")

    assert caught.value.name == "AccessControlUnauthorizedAccount"
    assert caught.value.error_args[0] == stranger.address


def test_maintenance_chain_detects_a_removed_entry(registry: AnchorClient, tmp_path: Path, ganache: Ganache) -> None:
    entries = [{"machine": "cnc-03", "n": i, "work": f"job {i}"} for i in range(4)]
    for entry in entries:
        registry.append_log_entry(machine_key("cnc-03"), record_hash(entry))
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in entries))
    trimmed = tmp_path / "trimmed.jsonl"
    trimmed.write_text("\n".join(json.dumps(e) for e in entries[:1] + entries[2:]))
    base = ["anchor", "log-check", "--machine", "cnc-03", "--registry", registry.address, "--rpc", ganache.url]

    assert cli([*base, "--entries", str(log)]) == 0
    assert cli([*base, "--entries", str(trimmed)]) == 1


def test_concurrent_senders_with_one_key(registry: AnchorClient, ganache_w3: Web3, admin: LocalAccount) -> None:
    # Given eight threads, half sharing this process's nonce manager and half acting as separate processes
    results: list[bytes] = []
    errors: list[BaseException] = []

    def send(i: int) -> None:
        nonces = None if i % 2 else NonceManager()
        client = AnchorClient(registry.w3, registry.address, admin)
        if nonces is not None:
            client.sender.nonces = nonces  # type: ignore[union-attr]
        try:
            results.append(client.anchor_batch(hashes(3, f"thread-{i}"), kind="telemetry").tx_hash)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every batch is anchored exactly once, each in its own transaction
    assert errors == []
    assert len(set(results)) == 8
    nonces = {ganache_w3.eth.get_transaction(h)["nonce"] for h in results}  # type: ignore[arg-type]
    assert len(nonces) == 8


def test_receipt_waits_for_the_confirmation_depth(ganache_factory: Callable[..., Ganache], admin: LocalAccount) -> None:
    node = ganache_factory(block_time=1)
    w3 = node.w3()
    options = SenderOptions(confirmations=3, poll_seconds=0.2, receipt_timeout_seconds=60)
    client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin, options)

    receipt = client.anchor_batch(hashes(4, "deep"), kind="quality")

    assert w3.eth.block_number - receipt.block_number + 1 >= 3


@pytest.fixture(params=["memory", "dynamodb"])
def anchor_store(request: pytest.FixtureRequest) -> Iterator[AnchorStore]:
    """The anchor store: in memory, or DynamoDB (moto in process)."""
    if request.param == "memory":
        yield InMemoryAnchorStore()
        return
    request.getfixturevalue("aws_env")
    with mock_aws():
        aws.reset_clients()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        yield DynamoAnchorStore()
    aws.reset_clients()


def test_outage_while_records_arrive_then_all_anchored_once(
    ganache_factory: Callable[..., Ganache], admin: LocalAccount, anchor_store: AnchorStore
) -> None:
    # Given a drain anchoring to a devnet
    node = ganache_factory()
    w3 = node.w3(timeout=2)
    address = deploy_anchor_registry(w3, admin)
    client = AnchorClient(w3, address, admin, SenderOptions(retries=2, backoff_seconds=0.05))
    service = AnchoringService(anchor_store, lambda: client, batch_size=4)
    documents = [{"machine": "cnc-05", "seq": i} for i in range(15)]

    def arrive(start: int, stop: int) -> None:
        for i in range(start, stop):
            service.submit(f"rec-{i}", record_hash(documents[i]), "telemetry", ("oem",))

    arrive(0, 5)
    before = service.run_once()

    # When the chain goes down while more records arrive, and comes back
    node.stop()
    arrive(5, 12)
    during = service.run_once()
    arrive(12, 15)
    node.start()
    after = service.run_once()

    # Then nothing was lost and every record was anchored exactly once
    assert (before.anchored, before.pending_left) == (5, 0)
    assert during.anchored == 0 and during.error and during.pending_left + during.in_flight == 7
    assert (after.pending_left, after.in_flight, after.error) == (0, 0, "")
    assert before.anchored + after.anchored == 15
    events = client.contract.events.RootAnchored.get_logs(from_block=0)
    assert sum(e["args"]["recordCount"] for e in events) == 15
    for i in range(15):
        assert verify_bundle(service.bundle(f"rec-{i}", record=documents[i]), client).ok


def test_cli_verify_trusts_only_the_chain(registry: AnchorClient, ganache: Ganache, tmp_path: Path) -> None:
    document = {"invoice": "2026-11/lease-0042", "total": "1234.50", "currency": "EUR"}
    service = AnchoringService(InMemoryAnchorStore(), lambda: registry, batch_size=16)
    service.submit("invoice/0042/2026-11", record_hash(document), "billing")
    service.submit("invoice/0043/2026-11", record_hash({"other": 1}), "billing")
    service.run_once()
    good = tmp_path / "proof.json"
    good.write_text(service.bundle("invoice/0042/2026-11", record=document).model_dump_json())
    forged = tmp_path / "forged.json"
    forged.write_text(service.bundle("invoice/0042/2026-11", record={**document, "total": "234.50"}).model_dump_json())

    assert cli(["verify", "--record", str(good), "--rpc", ganache.url]) == 0
    assert cli(["verify", "--record", str(forged), "--rpc", ganache.url]) == 1


def test_transaction_not_mined_in_time_is_recognised_later(
    ganache_factory: Callable[..., Ganache], admin: LocalAccount
) -> None:
    # Given a devnet that mines only on request, and a drain that stops waiting after two seconds
    node = ganache_factory(block_time=3600)
    w3 = node.w3()
    artifact = load_artifact("AnchorRegistry")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deploy_hash = factory.constructor(admin.address).transact({"from": admin.address})
    node.mine()
    address = w3.eth.get_transaction_receipt(deploy_hash)["contractAddress"]
    registry = w3.eth.contract(address=address, abi=artifact["abi"])
    registry.functions.grantRole(ANCHORER_ROLE, admin.address).transact({"from": admin.address})
    node.mine()
    client = AnchorClient(w3, address, admin, SenderOptions(receipt_timeout_seconds=2, poll_seconds=0.1))
    service = AnchoringService(InMemoryAnchorStore(), lambda: client, batch_size=8)
    for i in range(5):
        service.submit(f"slow-{i}", keccak256(f"slow-{i}".encode()), "quality")

    # When the transaction is sent but not mined before the drain gives up
    first = service.run_once()
    node.mine()
    second = service.run_once()

    # Then the records stay in their batch, and the next run finds the root on chain instead of re-sending
    assert first.anchored == 0 and first.in_flight == 5 and "not 1 deep" in first.error
    assert (second.recovered, second.in_flight, second.pending_left) == (5, 0, 0)
    assert len(client.contract.events.RootAnchored.get_logs(from_block=0)) == 1


def test_lease_cycle_on_ganache(ganache_factory: Callable[..., Ganache], admin: LocalAccount) -> None:
    # Given a devnet of its own (the test moves its clock; the session devnet's clock stays with the wall
    # clock for the tests that sign data "now"), and a lease whose lessee is Ganache's second account
    ganache = ganache_factory()
    ganache_w3 = ganache.w3()
    lessee: LocalAccount = Account.from_key(DETERMINISTIC_KEYS[1])
    now = datetime.fromtimestamp(ganache_w3.eth.get_block("latest")["timestamp"], tz=UTC)
    terms = LeaseTerms(
        lessor=admin.address,
        lessee=lessee.address,
        operator=admin.address,
        tariff_hash=keccak256(b"tariff"),
        machine_ids=(machine_key("cnc-11"),),
        starts_at=now - timedelta(days=31),
        dispute_window_seconds=3600,
    )
    address = deploy_lease(ganache_w3, admin, terms)
    usage = MerkleTree.build(hashes(12, "usage"))

    # When a period is posted, disputed, revised, and left unanswered past the window
    posted = LeaseClient(ganache_w3, address, admin).post_usage(now, usage.root, keccak256(b"inv-1"), 4200)
    LeaseClient(ganache_w3, address, lessee).dispute(posted.index, keccak256(b"reason"))
    LeaseClient(ganache_w3, address, admin).revise_usage(posted.index, usage.root, keccak256(b"inv-2"), 4100)
    ganache_w3.provider.make_request("evm_increaseTime", [3601])
    ganache.mine()
    final = LeaseClient(ganache_w3, address, lessee).finalize(posted.index)

    # Then the period is accepted with the revised invoice, and each usage record verifies
    assert (final.status, final.revision, final.amount) == (PeriodStatus.DEEMED_ACCEPTED, 1, 4100)
    assert LeaseClient(ganache_w3, address).verify_usage_record(posted.index, hashes(12, "usage")[5], usage.proof(5))
