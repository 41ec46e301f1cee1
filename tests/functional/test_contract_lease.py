"""PayPerUseLease on eth-tester: roles, contiguous periods, acknowledge / dispute / revise / deem accepted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.chain import (
    ContractRevertError,
    LeaseClient,
    LeaseTerms,
    PeriodStatus,
    deploy_lease,
)
from twin_models.merkle import MerkleTree, keccak256

DAY = 86_400


@pytest.fixture
def w3() -> Iterator[Web3]:
    yield Web3(EthereumTesterProvider())


@pytest.fixture
def lessor(w3: Web3) -> str:
    return str(w3.eth.accounts[0])


@pytest.fixture
def lessee(w3: Web3) -> str:
    return str(w3.eth.accounts[1])  # type: ignore[misc]


@pytest.fixture
def operator(w3: Web3) -> str:
    return str(w3.eth.accounts[2])  # type: ignore[misc]


@pytest.fixture
def stranger(w3: Web3) -> str:
    return str(w3.eth.accounts[3])  # type: ignore[misc]


def chain_now(w3: Web3) -> datetime:
    return datetime.fromtimestamp(w3.eth.get_block("latest")["timestamp"], tz=UTC)


def advance(w3: Web3, seconds: int) -> None:
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.time_travel(w3.eth.get_block("latest")["timestamp"] + seconds)


@pytest.fixture
def terms(w3: Web3, lessor: str, lessee: str, operator: str) -> LeaseTerms:
    return LeaseTerms(
        lessor=lessor,
        lessee=lessee,
        operator=operator,
        tariff_hash=keccak256(b"tariff-v1"),
        machine_ids=(keccak256(b"cnc-01"), keccak256(b"cnc-02")),
        starts_at=chain_now(w3) - timedelta(days=60),
        dispute_window_seconds=DAY,
    )


@pytest.fixture
def lease_address(w3: Web3, lessor: str, terms: LeaseTerms) -> str:
    return deploy_lease(w3, lessor, terms)


@pytest.fixture
def as_operator(w3: Web3, lease_address: str, operator: str) -> LeaseClient:
    return LeaseClient(w3, lease_address, operator)


@pytest.fixture
def as_lessee(w3: Web3, lease_address: str, lessee: str) -> LeaseClient:
    return LeaseClient(w3, lease_address, lessee)


@pytest.fixture
def as_stranger(w3: Web3, lease_address: str, stranger: str) -> LeaseClient:
    return LeaseClient(w3, lease_address, stranger)


def usage(n: int, tag: str) -> MerkleTree:
    return MerkleTree.build([keccak256(f"{tag}-{i}".encode()) for i in range(n)])


def post_first(lease: LeaseClient, terms: LeaseTerms, tag: str = "m1") -> int:
    tree = usage(4, tag)
    return lease.post_usage(terms.starts_at + timedelta(days=30), tree.root, keccak256(f"inv-{tag}".encode()), 1).index


def test_terms_round_trip(w3: Web3, lease_address: str, terms: LeaseTerms) -> None:
    got = LeaseClient(w3, lease_address).terms()

    assert got == replace(terms, starts_at=terms.starts_at.replace(microsecond=0))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"lessee": "0x0000000000000000000000000000000000000000"}, "PayPerUseLeaseZeroAddress"),
        ({"machine_ids": ()}, "PayPerUseLeaseNoMachines"),
        ({"dispute_window_seconds": 0}, "PayPerUseLeaseZeroDisputeWindow"),
    ],
)
def test_invalid_terms_revert(w3: Web3, lessor: str, terms: LeaseTerms, change: dict[str, object], error: str) -> None:
    with pytest.raises(ContractRevertError) as caught:
        deploy_lease(w3, lessor, replace(terms, **change))  # type: ignore[arg-type]

    assert caught.value.name == error


def test_only_the_lessor_side_posts(
    as_stranger: LeaseClient, as_lessee: LeaseClient, terms: LeaseTerms, stranger: str, lessee: str
) -> None:
    for client, account in ((as_stranger, stranger), (as_lessee, lessee)):
        with pytest.raises(ContractRevertError) as caught:
            post_first(client, terms)
        assert caught.value.name == "PayPerUseLeaseUnauthorizedAccount"
        assert caught.value.error_args == (account,)


def test_periods_are_contiguous_and_the_event_decodes(w3: Web3, as_operator: LeaseClient, terms: LeaseTerms) -> None:
    tree = usage(3, "m1")
    first = as_operator.post_usage(terms.starts_at + timedelta(days=30), tree.root, keccak256(b"inv-1"), 125_00)
    second = as_operator.post_usage(terms.starts_at + timedelta(days=59), usage(2, "m2").root, keccak256(b"inv-2"), 1)

    assert (first.index, second.index) == (0, 1)
    assert first.starts_at == terms.starts_at.replace(microsecond=0)
    assert second.starts_at == first.ends_at
    assert first.status is PeriodStatus.POSTED and first.amount == 125_00
    receipt = w3.eth.get_transaction_receipt(HexBytes(first.tx_hash))
    (event,) = as_operator.contract.events.UsagePosted().process_receipt(receipt)
    assert event["args"]["usageRoot"] == tree.root
    assert event["args"]["invoiceHash"] == keccak256(b"inv-1")
    assert event["args"]["revision"] == 0


def test_period_must_be_over_and_non_empty(w3: Web3, as_operator: LeaseClient, terms: LeaseTerms) -> None:
    root, invoice = usage(1, "x").root, keccak256(b"inv")
    cases = [
        (chain_now(w3) + timedelta(hours=1), root, invoice, "PayPerUseLeasePeriodNotEnded"),
        (terms.starts_at - timedelta(days=1), root, invoice, "PayPerUseLeaseInvalidPeriodEnd"),
        (terms.starts_at + timedelta(days=1), bytes(32), invoice, "PayPerUseLeaseEmptyHash"),
    ]
    for ends_at, usage_root, invoice_hash, error in cases:
        with pytest.raises(ContractRevertError) as caught:
            as_operator.post_usage(ends_at, usage_root, invoice_hash, 1)
        assert caught.value.name == error


def test_lessee_acknowledges_once(as_operator: LeaseClient, as_lessee: LeaseClient, terms: LeaseTerms) -> None:
    index = post_first(as_operator, terms)

    assert as_lessee.acknowledge(index).status is PeriodStatus.ACKNOWLEDGED
    with pytest.raises(ContractRevertError) as caught:
        as_lessee.acknowledge(index)
    assert caught.value.name == "PayPerUseLeaseUnexpectedStatus"
    assert caught.value.error_args == (index, PeriodStatus.ACKNOWLEDGED)


def test_only_the_lessee_answers(as_operator: LeaseClient, terms: LeaseTerms, operator: str) -> None:
    index = post_first(as_operator, terms)

    with pytest.raises(ContractRevertError) as caught:
        as_operator.dispute(index, keccak256(b"self-dispute"))
    assert caught.value.name == "PayPerUseLeaseUnauthorizedAccount"
    assert caught.value.error_args == (operator,)


def test_dispute_then_revision_then_acknowledge(
    w3: Web3, as_operator: LeaseClient, as_lessee: LeaseClient, terms: LeaseTerms
) -> None:
    index = post_first(as_operator, terms)
    disputed = as_lessee.dispute(index, keccak256(b"meter 2 double counted"))
    corrected = usage(3, "m1-corrected")
    revised = as_operator.revise_usage(index, corrected.root, keccak256(b"inv-m1-r1"), 99)
    acknowledged = as_lessee.acknowledge(index)

    assert disputed.status is PeriodStatus.DISPUTED
    assert disputed.dispute_reason == keccak256(b"meter 2 double counted")
    (event,) = as_lessee.contract.events.UsageDisputed().process_receipt(
        w3.eth.get_transaction_receipt(HexBytes(disputed.tx_hash))
    )
    assert event["args"]["reasonHash"] == keccak256(b"meter 2 double counted")
    assert (revised.revision, revised.status, revised.usage_root) == (1, PeriodStatus.POSTED, corrected.root)
    assert acknowledged.status is PeriodStatus.ACKNOWLEDGED and acknowledged.amount == 99


def test_revision_needs_a_dispute(as_operator: LeaseClient, terms: LeaseTerms) -> None:
    index = post_first(as_operator, terms)

    with pytest.raises(ContractRevertError) as caught:
        as_operator.revise_usage(index, usage(1, "r").root, keccak256(b"inv"), 1)
    assert caught.value.name == "PayPerUseLeaseUnexpectedStatus"


def test_silence_past_the_window_means_accepted(
    w3: Web3, as_operator: LeaseClient, as_lessee: LeaseClient, as_stranger: LeaseClient, terms: LeaseTerms
) -> None:
    index = post_first(as_operator, terms)
    with pytest.raises(ContractRevertError) as early:
        as_stranger.finalize(index)
    advance(w3, DAY + 60)

    assert early.value.name == "PayPerUseLeaseDisputeWindowOpen"
    assert as_lessee.effective_status(index) is PeriodStatus.DEEMED_ACCEPTED
    with pytest.raises(ContractRevertError) as late:
        as_lessee.dispute(index, keccak256(b"too late"))
    assert late.value.name == "PayPerUseLeaseDisputeWindowClosed"
    assert as_stranger.finalize(index).status is PeriodStatus.DEEMED_ACCEPTED


def test_unknown_period_reverts(as_lessee: LeaseClient) -> None:
    with pytest.raises(ContractRevertError) as caught:
        as_lessee.acknowledge(7)

    assert caught.value.name == "PayPerUseLeaseUnknownPeriod"
    assert caught.value.error_args == (7,)


def test_usage_records_verify_against_the_posted_root(as_operator: LeaseClient, terms: LeaseTerms) -> None:
    records = [keccak256(f"usage-{i}".encode()) for i in range(9)]
    tree = MerkleTree.build(records)
    index = as_operator.post_usage(terms.starts_at + timedelta(days=30), tree.root, keccak256(b"inv"), 1).index

    assert all(as_operator.verify_usage_record(index, r, tree.proof(i)) for i, r in enumerate(records))
    assert not as_operator.verify_usage_record(index, keccak256(b"forged"), tree.proof(0))
    assert not as_operator.verify_usage_record(index + 1, records[0], tree.proof(0))


def test_lessor_changes_the_operator(
    w3: Web3, lease_address: str, lessor: str, stranger: str, as_operator: LeaseClient, terms: LeaseTerms
) -> None:
    with pytest.raises(ContractRevertError) as caught:
        as_operator.set_operator(stranger)
    LeaseClient(w3, lease_address, lessor).set_operator(stranger)

    assert caught.value.name == "PayPerUseLeaseUnauthorizedAccount"
    assert as_operator.terms().operator == stranger
    with pytest.raises(ContractRevertError):
        post_first(as_operator, terms)
    assert post_first(LeaseClient(w3, lease_address, stranger), terms) == 0
