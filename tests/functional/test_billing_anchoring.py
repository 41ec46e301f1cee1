"""Invoices posted to the lease's PayPerUseLease on eth-tester: once, in order, recoverable after a crash,
and every billed usage event provable on chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.billing import InvoiceStore, LeaseStore
from chalicelib.adapters.chain import LeaseClient, LeaseTerms, PeriodStatus, deploy_lease
from chalicelib.adapters.chain.lease_anchor import ContractLeaseAnchor
from chalicelib.billing.service import BillingService
from tests.functional.conftest import billing_service
from tests.functional.test_billing_service import AFTER_NOV, AFTER_OCT, LEASE_DOC, ev
from twin_models.billing import Lease, load_lease, merkle_proof, select_usage
from twin_models.merkle import keccak256

pytestmark = pytest.mark.usefixtures("moto_aws")


class Chain:
    def __init__(self) -> None:
        self.w3 = Web3(EthereumTesterProvider())
        self.lessor, self.lessee, self.operator = (str(a) for a in self.w3.eth.accounts[:3])

    def at_least(self, when: datetime) -> None:
        """Let chain time reach ``when`` (a period can be posted only after it ended)."""
        now = self.w3.eth.get_block("latest")["timestamp"]
        if now < when.timestamp():
            self.w3.provider.ethereum_tester.time_travel(int(when.timestamp()))  # type: ignore[attr-defined]

    def client(self, address: str, account: str | None = None) -> LeaseClient:
        return LeaseClient(self.w3, address, account or self.operator)


@pytest.fixture
def chain() -> Chain:
    return Chain()


def deploy(chain: Chain, lease: Lease) -> str:
    """The lease's PayPerUseLease (operator = the billing service's account), registered with the lease."""
    terms = LeaseTerms(
        lessor=chain.lessor,
        lessee=chain.lessee,
        operator=chain.operator,
        tariff_hash=keccak256(lease.tariff.model_dump_json().encode()),
        machine_ids=tuple(keccak256(m.encode()) for m in lease.machine_ids),
        starts_at=lease.start,
        dispute_window_seconds=7 * 86_400,
    )
    address = deploy_lease(chain.w3, chain.lessor, terms)
    assert LeaseStore().create(lease, contract_address=address)
    return address


@pytest.fixture
def contract(chain: Chain, moto_aws: None) -> str:
    address = deploy(chain, load_lease(LEASE_DOC))
    october = datetime(2026, 10, 10, 8, tzinfo=UTC)
    billing_service().record_usage(
        [ev("a1", "cnc-01", october, "60"), ev("b1", "cnc-02", october, "30")], received_at=october
    )
    return address


def service(chain: Chain, **kwargs: Any) -> BillingService:
    return billing_service(anchor=ContractLeaseAnchor(lambda address: chain.client(address)), **kwargs)


def test_an_invoice_is_posted_once_and_its_usage_is_provable_on_chain(chain: Chain, contract: str) -> None:
    chain.at_least(AFTER_OCT)
    report = service(chain).run(AFTER_OCT)
    assert report.anchored == ["toolmaker:lease-7@2026-10"] and report.errors == []
    record = InvoiceStore().get("toolmaker:lease-7@2026-10")
    assert record is not None and record.anchor_status == "posted" and record.anchor["index"] == 0
    period = chain.client(contract).period(0)
    invoice = record.invoice
    assert period.invoice_hash.hex() == invoice.hash[2:]
    assert period.usage_root.hex() == invoice.usage.root[2:]
    assert period.amount == 119_000  # 1190.00 EUR in cents
    assert period.ends_at == invoice.period_end and period.status is PeriodStatus.POSTED
    # a billed usage event verifies against the posted root with the contract's own check
    lease = load_lease(LEASE_DOC)
    october = lease.period("2026-10")
    billed = select_usage(lease, october, billing_service()._usage_for(lease, october)).billed
    hashes = [e.hash for e in billed]
    proof = [bytes.fromhex(p[2:]) for p in merkle_proof(hashes, hashes[0])]
    assert chain.client(contract).verify_usage_record(0, bytes.fromhex(hashes[0][2:]), proof)
    assert not chain.client(contract).verify_usage_record(0, keccak256(b"forged"), proof)
    # running again posts nothing more
    assert service(chain).run(AFTER_OCT + timedelta(hours=1)).anchored == []
    assert chain.client(contract).period_count() == 1


class CrashAfterPosting(InvoiceStore):
    """The Lambda dies after the transaction was mined, before the invoice notes it."""

    crashed = False

    def finish_anchor(self, invoice_id: str, token: str, index: int, tx_hash: str, contract: str) -> bool:
        if not CrashAfterPosting.crashed:
            CrashAfterPosting.crashed = True
            raise RuntimeError("Lambda timed out")
        return super().finish_anchor(invoice_id, token, index, tx_hash, contract)


def test_a_crash_after_posting_is_recognised_not_posted_twice(chain: Chain, contract: str) -> None:
    chain.at_least(AFTER_OCT)
    crashed = service(chain, invoices=CrashAfterPosting()).run(AFTER_OCT)
    assert "Lambda timed out" in crashed.errors[0]
    assert chain.client(contract).period_count() == 1
    assert InvoiceStore().get("toolmaker:lease-7@2026-10").anchor_status == "posting"  # type: ignore[union-attr]
    # within the claim's lifetime another run keeps its hands off
    assert service(chain).run(AFTER_OCT + timedelta(minutes=1)).anchored == []
    recovered = service(chain).run(AFTER_OCT + timedelta(minutes=10))
    assert recovered.anchored == ["toolmaker:lease-7@2026-10"] and recovered.errors == []
    assert chain.client(contract).period_count() == 1
    record = InvoiceStore().get("toolmaker:lease-7@2026-10")
    assert record is not None and record.anchor_status == "posted" and record.anchor["index"] == 0


def test_periods_are_posted_in_order_and_the_lessee_answers_on_chain(chain: Chain, contract: str) -> None:
    # October is invoiced while the chain is down, November when it is back: both go up, in order
    assert billing_service().run(AFTER_OCT).issued == ["toolmaker:lease-7@2026-10"]
    billing_service().record_usage(
        [ev("n1", "cnc-01", datetime(2026, 11, 3, tzinfo=UTC), "7")], received_at=datetime(2026, 11, 3, tzinfo=UTC)
    )
    chain.at_least(AFTER_NOV)
    report = service(chain).run(AFTER_NOV)
    assert report.issued == ["toolmaker:lease-7@2026-11"]
    assert report.anchored == ["toolmaker:lease-7@2026-10", "toolmaker:lease-7@2026-11"]
    periods = chain.client(contract).periods()
    assert [p.amount for p in periods] == [119_000, 20_230]  # (100.00 + 7 x 10.00) x 1.19 = 202.30
    assert periods[1].starts_at == periods[0].ends_at
    answered = chain.client(contract, chain.lessee).acknowledge(1)
    assert answered.status is PeriodStatus.ACKNOWLEDGED
    assert Decimal(periods[1].amount) / 100 == InvoiceStore().get("toolmaker:lease-7@2026-11").invoice.total  # type: ignore[union-attr]


def test_after_the_lease_ended_a_late_invoice_is_posted_over_the_empty_periods(chain: Chain, moto_aws: None) -> None:
    # the lease's term on chain is open; off chain it ended on 1 November
    lease = load_lease({**LEASE_DOC, "lease_id": "lease-9", "end": "2026-11-01T00:00:00+01:00"})
    contract = deploy(chain, lease)
    october = datetime(2026, 10, 10, 8, tzinfo=UTC)
    billing_service().record_usage([ev("z1", "cnc-01", october, "10")], received_at=october)
    chain.at_least(datetime(2027, 1, 5, tzinfo=UTC))
    assert "toolmaker:lease-9@2026-10" in service(chain).run(AFTER_NOV).anchored  # November: nothing late, no invoice
    billing_service().record_usage([ev("z2", "cnc-01", october, "5")], received_at=datetime(2026, 12, 20, tzinfo=UTC))
    report = service(chain).run(datetime(2027, 1, 3, tzinfo=UTC))
    assert "toolmaker:lease-9@2026-12" in report.anchored and report.errors == []
    december = chain.client(contract).periods()[-1]
    # the posted period runs from October's end over the invoice-less November to December's end
    assert (december.starts_at, december.ends_at) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )
