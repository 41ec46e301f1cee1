"""The anchoring service on eth-tester with both stores (in memory, DynamoDB on moto): batches, proofs,
idempotency, an unreachable chain, and recovery after a crash at each step."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.anchoring import DynamoAnchorStore
from chalicelib.adapters.chain import AnchorClient, SenderOptions, deploy_anchor_registry
from chalicelib.adapters.memory import InMemoryAnchorStore
from chalicelib.anchoring.service import AnchoringService, NotAnchoredError, verify_bundle
from chalicelib.ports.anchoring import (
    AnchorStore,
    Batch,
    BatchState,
    RecordConflictError,
    RecordStatus,
)
from twin_models.anchoring import ProofBundle, record_hash
from twin_models.merkle import MerkleTree, keccak256

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def w3() -> Web3:
    return Web3(EthereumTesterProvider())


@pytest.fixture
def owner(w3: Web3) -> str:
    return str(w3.eth.accounts[0])


@pytest.fixture
def registry(w3: Web3, owner: str) -> AnchorClient:
    return AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[AnchorStore]:
    if request.param == "memory":
        yield InMemoryAnchorStore()
    else:
        request.getfixturevalue("moto_aws")
        yield DynamoAnchorStore()


@pytest.fixture
def make_service(store: AnchorStore, registry: AnchorClient) -> Callable[..., AnchoringService]:
    def make(batch_size: int = 4, chain: Callable[[], AnchorClient] | None = None, **kw: object) -> AnchoringService:
        return AnchoringService(store, chain or (lambda: registry), batch_size=batch_size, clock=Clock(), **kw)  # type: ignore[arg-type]

    return make


def docs(n: int, machine: str = "cnc-01") -> list[dict[str, object]]:
    return [{"machine": machine, "entry": i, "action": "spindle bearing replaced"} for i in range(n)]


def submit_all(service: AnchoringService, documents: list[dict[str, object]], kind: str = "maintenance") -> None:
    for i, doc in enumerate(documents):
        service.submit(f"{kind}/{doc['machine']}/{i}", record_hash(doc), kind, tenants=("oem", "factory-1"))


def anchored_events(registry: AnchorClient) -> list[object]:
    return list(registry.contract.events.RootAnchored.get_logs(from_block=0))


def test_records_are_anchored_in_batches_and_each_proof_verifies(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    service = make_service(batch_size=4)
    documents = docs(10)
    submit_all(service, documents)

    report = service.run_once()

    assert (report.batches, report.anchored, report.pending_left, report.error) == (3, 10, 0, "")
    assert len(anchored_events(registry)) == 3
    for i, doc in enumerate(documents):
        bundle = service.bundle(f"maintenance/cnc-01/{i}", record=doc)
        assert bundle.verify_offline().ok
        assert verify_bundle(bundle, registry).ok
    assert service.run_once().batches == 0


def test_submit_is_idempotent_and_a_changed_hash_is_refused(make_service: Callable[..., AnchoringService]) -> None:
    service = make_service()

    assert service.submit("r-1", keccak256(b"a"), "quality")
    assert not service.submit("r-1", keccak256(b"a"), "quality")
    with pytest.raises(RecordConflictError):
        service.submit("r-1", keccak256(b"b"), "quality")
    assert service.run_once().anchored == 1


def test_each_kind_gets_its_own_batch(make_service: Callable[..., AnchoringService], registry: AnchorClient) -> None:
    service = make_service(batch_size=100)
    submit_all(service, docs(3), kind="maintenance")
    submit_all(service, docs(2), kind="quality")

    report = service.run_once()

    kinds = sorted(e["args"]["kind"] for e in anchored_events(registry))  # type: ignore[index]
    assert report.batches == 2 and kinds == ["maintenance", "quality"]


def test_unreachable_chain_keeps_records_queued_then_anchors_them_once(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    dead = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{dead_port}", exception_retry_configuration=None))
    fast = SenderOptions(retries=1, backoff_seconds=0.01)
    down = make_service(batch_size=4, chain=lambda: AnchorClient(dead, registry.address, registry.sender.address, fast))  # type: ignore[union-attr]
    submit_all(down, docs(6))

    outage = down.run_once()
    recovered = make_service(batch_size=4).run_once()

    assert outage.anchored == 0 and outage.error
    assert (outage.pending_left, outage.in_flight) == (2, 4)
    assert (recovered.anchored, recovered.recovered, recovered.pending_left) == (6, 4, 0)
    assert sum(e["args"]["recordCount"] for e in anchored_events(registry)) == 6  # type: ignore[index]


def test_batch_sent_but_answer_lost_is_recognised_on_chain(
    make_service: Callable[..., AnchoringService], registry: AnchorClient, store: AnchorStore
) -> None:
    service = make_service(batch_size=8)
    submit_all(service, docs(5))
    batch = service._next_batch()  # the drain crashed right after sending this batch's transaction
    assert batch is not None
    sent = registry.anchor_batch(batch.record_hashes, kind=batch.kind, metadata=batch.metadata)

    report = service.run_once()

    assert (report.recovered, report.pending_left) == (5, 0)
    assert len(anchored_events(registry)) == 1
    bundle = service.bundle("maintenance/cnc-01/2")
    assert bundle.tx_hash == sent.tx_hash and bundle.block_number == sent.block_number
    assert verify_bundle(bundle, registry).ok


def test_crash_while_claiming_releases_the_records(
    make_service: Callable[..., AnchoringService], registry: AnchorClient, store: AnchorStore
) -> None:
    service = make_service(batch_size=8)
    submit_all(service, docs(3))
    ids = [r.record_id for r in store.pending(10)]
    half = Batch(batch_id="b-crashed", kind="maintenance", created_at=T0, record_ids=tuple(ids))
    store.put_batch(half)
    store.claim(half.batch_id, ids[:2])  # crashed before sealing the batch

    report = service.run_once()

    assert (report.anchored, report.pending_left) == (3, 0)
    assert [b.batch_id for b in store.open_batches()] == []
    assert sum(e["args"]["recordCount"] for e in anchored_events(registry)) == 3  # type: ignore[index]


def test_a_held_lock_skips_the_run(make_service: Callable[..., AnchoringService], store: AnchorStore) -> None:
    service = make_service()
    submit_all(service, docs(2))
    assert store.acquire_lock("other-drain", datetime.now(UTC), 600)

    report = service.run_once()

    assert report.skipped and report.anchored == 0 and report.pending_left == 2


def test_bundle_of_a_pending_or_unknown_record_is_refused(make_service: Callable[..., AnchoringService]) -> None:
    service = make_service()
    service.submit("q-1", keccak256(b"q"), "quality")

    with pytest.raises(NotAnchoredError, match="pending"):
        service.bundle("q-1")
    with pytest.raises(NotAnchoredError, match="unknown"):
        service.bundle("nope")


def test_tampered_record_wrong_registry_or_foreign_root_fail_verification(
    make_service: Callable[..., AnchoringService], registry: AnchorClient, w3: Web3, owner: str
) -> None:
    service = make_service()
    documents = docs(3)
    submit_all(service, documents)
    service.run_once()
    bundle = service.bundle("maintenance/cnc-01/1", record=documents[1])
    other_registry = AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)
    foreign = MerkleTree.build([keccak256(b"x"), bundle.record_hash])

    tampered = verify_bundle(bundle.model_copy(update={"record": {**documents[1], "entry": 99}}), registry)
    elsewhere = verify_bundle(bundle, other_registry)
    unanchored = verify_bundle(bundle.model_copy(update={"root": foreign.root, "proof": foreign.proof(1)}), registry)

    assert not tampered.ok and not tampered.offline_ok and tampered.on_chain
    assert not elsewhere.ok and not elsewhere.on_chain
    assert not unanchored.ok and "not anchored" in " ".join(unanchored.reasons)


def test_bundle_round_trips_through_json(make_service: Callable[..., AnchoringService], registry: AnchorClient) -> None:
    service = make_service()
    documents = docs(2)
    submit_all(service, documents)
    service.run_once()
    bundle = service.bundle("maintenance/cnc-01/0", record=documents[0])

    again = ProofBundle.model_validate(json.loads(bundle.model_dump_json()))

    assert again == bundle and verify_bundle(again, registry).ok


def test_stored_state_after_anchoring(make_service: Callable[..., AnchoringService], store: AnchorStore) -> None:
    service = make_service(batch_size=2)
    submit_all(service, docs(2))
    service.run_once()

    record = store.get("maintenance/cnc-01/1")

    assert record is not None and record.status is RecordStatus.ANCHORED
    assert record.anchored is not None and record.anchored.block_number > 0
    assert record.tenants == ("oem", "factory-1")
    assert store.count_pending() == 0


def test_open_batch_state_is_kept_until_anchored(store: AnchorStore) -> None:
    batch = Batch(batch_id="b-1", kind="k", created_at=T0, state=BatchState.SENDING, record_ids=("a",))

    store.put_batch(batch)
    store.put_batch(replace(batch, batch_id="b-2", created_at=T0 + timedelta(seconds=1)))

    assert [b.batch_id for b in store.open_batches()] == ["b-1", "b-2"]


def test_log_entries_round_trip_through_the_store(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    service = make_service()
    docs = [{"entry_id": f"cnc-09/{i}", "work": f"visit {i}"} for i in range(2)]
    for doc in docs:
        service.submit_log_entry("cnc-09", str(doc["entry_id"]), record_hash(doc), ("oem",))

    service.run_once()
    bundle = service.bundle("cnc-09/1", record=docs[1])

    assert (bundle.log_machine, bundle.log_index) == ("cnc-09", 1)
    assert verify_bundle(ProofBundle.model_validate_json(bundle.model_dump_json()), registry).ok
