"""Maintenance-log entries through the anchoring service: appended to each machine's on-chain hash chain
in queued order, once, with a bundle that verifies, also after an outage or a lost answer."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.chain import AnchorClient, SenderOptions, deploy_anchor_registry
from chalicelib.adapters.memory import InMemoryAnchorStore
from chalicelib.anchoring.service import AnchoringService, verify_bundle
from twin_models.anchoring import record_hash
from twin_models.hashchain import chain_heads, first_mismatch, machine_key

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> AnchorClient:
    w3 = Web3(EthereumTesterProvider())
    owner = w3.eth.accounts[0]
    return AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)


@pytest.fixture
def make_service(registry: AnchorClient) -> Callable[..., AnchoringService]:
    store = InMemoryAnchorStore()
    ticks = iter(range(10_000))

    def make(chain: Callable[[], AnchorClient] | None = None) -> AnchoringService:
        clock = lambda: T0 + timedelta(seconds=next(ticks))  # noqa: E731
        return AnchoringService(store, chain or (lambda: registry), batch_size=16, clock=clock)

    return make


def entry(thing: str, n: int) -> dict[str, object]:
    return {"entry_id": f"{thing}/{n}", "thing": thing, "work": f"service visit {n}", "at": f"2026-11-21T0{n}:00Z"}


def test_entries_join_each_machine_chain_in_order(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    service = make_service()
    a = [entry("cnc-01", i) for i in range(4)]
    b = [entry("cnc-02", i) for i in range(2)]
    for doc in (a[0], b[0], a[1], a[2], b[1], a[3]):
        service.submit_log_entry(str(doc["thing"]), str(doc["entry_id"]), record_hash(doc), ("oem",))
    service.submit("quality/x", record_hash({"q": 1}), "quality")

    report = service.run_once()

    assert report.anchored == 7 and report.pending_left == 0
    for docs, thing in ((a, "cnc-01"), (b, "cnc-02")):
        on_chain = registry.log_heads(machine_key(thing))
        assert on_chain == chain_heads([record_hash(d) for d in docs])
        assert first_mismatch([record_hash(d) for d in docs[:1] + docs[2:]], on_chain) == 1
    bundle = service.bundle("cnc-01/2", record=a[2])
    assert (bundle.log_machine, bundle.log_index) == ("cnc-01", 2)
    assert bundle.verify_offline().ok and verify_bundle(bundle, registry).ok


def test_a_changed_entry_or_wrong_position_does_not_verify(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    service = make_service()
    docs = [entry("cnc-03", i) for i in range(3)]
    for doc in docs:
        service.submit_log_entry("cnc-03", str(doc["entry_id"]), record_hash(doc))
    service.run_once()
    bundle = service.bundle("cnc-03/1", record=docs[1])

    changed = verify_bundle(bundle.model_copy(update={"record": {**docs[1], "work": "nothing"}}), registry)
    moved = verify_bundle(bundle.model_copy(update={"log_index": 2}), registry)

    assert not changed.ok and not changed.offline_ok
    assert not moved.ok and not moved.on_chain


def test_outage_then_lost_answer_append_each_entry_once(
    make_service: Callable[..., AnchoringService], registry: AnchorClient
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", exception_retry_configuration=None))
    sender = registry.sender
    assert sender is not None
    down = make_service(lambda: AnchorClient(dead, registry.address, sender.address, SenderOptions(retries=0)))
    docs = [entry("cnc-04", i) for i in range(3)]
    for doc in docs:
        down.submit_log_entry("cnc-04", str(doc["entry_id"]), record_hash(doc))

    outage = down.run_once()  # entry 0 waits in its batch, the others stay queued
    (open_batch,) = down.store.open_batches()
    registry.append_log_entry(machine_key("cnc-04"), open_batch.record_hashes[0])  # sent, answer lost
    recovered = make_service().run_once()

    assert outage.anchored == 0 and outage.error
    assert recovered.anchored == 3 and recovered.recovered == 1
    assert registry.log_heads(machine_key("cnc-04")) == chain_heads([record_hash(d) for d in docs])
