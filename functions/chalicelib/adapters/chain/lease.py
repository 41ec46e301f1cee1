"""The ``PayPerUseLease`` contract from Python: open a lease, post usage, acknowledge, dispute, finalize.

Billing posts one period per invoice: the Merkle root of the period's usage-record hashes
(``twin_models.merkle``) and the hash of the invoice's canonical form; the lessee's side answers.

Example:
    >>> from datetime import UTC, datetime
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from twin_models.merkle import MerkleTree, keccak256
    >>> w3 = Web3(EthereumTesterProvider())
    >>> lessor, lessee = w3.eth.accounts[0], w3.eth.accounts[1]
    >>> now = datetime.fromtimestamp(w3.eth.get_block("latest")["timestamp"], tz=UTC)
    >>> terms = LeaseTerms(lessor=lessor, lessee=lessee, operator=lessor, tariff_hash=keccak256(b"tariff"),
    ...                    machine_ids=(keccak256(b"cnc-01"),), starts_at=now, dispute_window_seconds=86400)
    >>> lease = LeaseClient(w3, deploy_lease(w3, lessor, terms), lessor)
    >>> usage = MerkleTree.build([keccak256(b"usage-1"), keccak256(b"usage-2")])
    >>> w3.provider.ethereum_tester.time_travel(int(now.timestamp()) + 3600)
    >>> posted = lease.post_usage(ends_at=now.replace(microsecond=0).timestamp() + 3600,
    ...                           usage_root=usage.root, invoice_hash=keccak256(b"invoice"), amount=12_50)
    >>> LeaseClient(w3, lease.address, lessee).acknowledge(posted.index).status
    <PeriodStatus.ACKNOWLEDGED: 2>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from chalicelib.ports.chain import ChainError

from .artifacts import load_artifact
from .client import ContractClient
from .sender import SenderOptions, TransactionSender

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

__all__ = ["LeaseClient", "LeasePeriod", "LeaseTerms", "PeriodStatus", "deploy_lease"]


class PeriodStatus(IntEnum):
    """A billing period's status, as the contract's ``PeriodStatus`` enum."""

    NONE = 0
    POSTED = 1
    ACKNOWLEDGED = 2
    DISPUTED = 3
    DEEMED_ACCEPTED = 4


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    """What a lease is opened with; ``starts_at`` is timezone-aware UTC."""

    lessor: str
    lessee: str
    operator: str
    tariff_hash: bytes
    machine_ids: tuple[bytes, ...]
    starts_at: datetime
    dispute_window_seconds: int


@dataclass(frozen=True, slots=True)
class LeasePeriod:
    """One posted billing period, as the contract stores it."""

    index: int
    starts_at: datetime
    ends_at: datetime
    posted_at: datetime
    revision: int
    status: PeriodStatus
    usage_root: bytes
    invoice_hash: bytes
    amount: int
    dispute_reason: bytes
    tx_hash: bytes = b""


def _lease_abi() -> list[dict[str, Any]]:
    abi: list[dict[str, Any]] = load_artifact("PayPerUseLease")["abi"]
    return abi


def _seconds(value: datetime | float) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ChainError(f"naive datetime {value.isoformat()}: pass a timezone-aware UTC time")
        return int(value.timestamp())
    return int(value)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def deploy_lease(w3: Web3, account: LocalAccount | str, terms: LeaseTerms, options: SenderOptions | None = None) -> str:
    """Deploys a ``PayPerUseLease`` with ``terms`` from ``account`` and returns its checksum address."""
    from web3 import Web3

    artifact = load_artifact("PayPerUseLease")
    sender = TransactionSender(w3, account, options)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    constructor = factory.constructor(
        Web3.to_checksum_address(terms.lessor),
        Web3.to_checksum_address(terms.lessee),
        Web3.to_checksum_address(terms.operator),
        terms.tariff_hash,
        list(terms.machine_ids),
        _seconds(terms.starts_at),
        terms.dispute_window_seconds,
    )
    receipt = sender.transact(constructor, artifact["abi"])
    if receipt["contractAddress"] is None:
        raise ChainError("the lease deployment created no contract")
    return Web3.to_checksum_address(receipt["contractAddress"])


class LeaseClient(ContractClient):
    """Calls a ``PayPerUseLease`` at ``address`` as ``account`` (lessor, operator or lessee)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        account: LocalAccount | str | None = None,
        options: SenderOptions | None = None,
    ) -> None:
        super().__init__(w3, address, _lease_abi(), account, options)

    def _send(self, fn: Any) -> Any:
        return self._sender().transact(fn, self.abi)

    def _read(self, name: str, *args: Any) -> Any:
        fn = getattr(self.contract.functions, name)(*args)
        return self._io.retrying(name, fn.call)

    # -- reads ---------------------------------------------------------------------------------------
    def terms(self) -> LeaseTerms:
        """The lease's parties, tariff hash, machines, start and dispute window."""
        return LeaseTerms(
            lessor=self._read("lessor"),
            lessee=self._read("lessee"),
            operator=self._read("operator"),
            tariff_hash=bytes(self._read("tariffHash")),
            machine_ids=tuple(bytes(m) for m in self._read("machineIds")),
            starts_at=_utc(self._read("startsAt")),
            dispute_window_seconds=int(self._read("disputeWindow")),
        )

    def period_count(self) -> int:
        """How many periods were posted."""
        return int(self._read("periodCount"))

    def period(self, index: int) -> LeasePeriod:
        """The posted period ``index`` (the stored status; see :meth:`effective_status`)."""
        raw = self._read("period", index)
        return LeasePeriod(
            index=index,
            starts_at=_utc(raw[0]),
            ends_at=_utc(raw[1]),
            posted_at=_utc(raw[2]),
            revision=int(raw[3]),
            status=PeriodStatus(raw[4]),
            usage_root=bytes(raw[5]),
            invoice_hash=bytes(raw[6]),
            amount=int(raw[7]),
            dispute_reason=bytes(raw[8]),
        )

    def periods(self) -> list[LeasePeriod]:
        """Every posted period, in order."""
        return [self.period(i) for i in range(self.period_count())]

    def effective_status(self, index: int) -> PeriodStatus:
        """The period's status, ``DEEMED_ACCEPTED`` as soon as its window passed without an answer."""
        return PeriodStatus(self._read("effectiveStatus", index))

    def verify_usage_record(self, index: int, record_hash: bytes, proof: Sequence[bytes]) -> bool:
        """Asks the contract whether a usage record belongs to period ``index``'s usage root."""
        return bool(self._read("verifyUsageRecord", index, record_hash, list(proof)))

    # -- writes --------------------------------------------------------------------------------------
    def _after(self, index: int, receipt: Any) -> LeasePeriod:
        period = self.period(index)
        return LeasePeriod(**{**_fields(period), "tx_hash": bytes(receipt["transactionHash"])})

    def post_usage(self, ends_at: datetime | float, usage_root: bytes, invoice_hash: bytes, amount: int) -> LeasePeriod:
        """Posts the next period (ending at ``ends_at``, not in the future) with its usage root and invoice."""
        fn = self.contract.functions.postUsage(_seconds(ends_at), usage_root, invoice_hash, amount)
        receipt = self._send(fn)
        (event,) = self.contract.events.UsagePosted().process_receipt(receipt)
        return self._after(int(event["args"]["index"]), receipt)

    def revise_usage(self, index: int, usage_root: bytes, invoice_hash: bytes, amount: int) -> LeasePeriod:
        """Re-posts a disputed period with corrected usage and invoice."""
        return self._after(
            index, self._send(self.contract.functions.reviseUsage(index, usage_root, invoice_hash, amount))
        )

    def acknowledge(self, index: int) -> LeasePeriod:
        """The lessee acknowledges period ``index``."""
        return self._after(index, self._send(self.contract.functions.acknowledge(index)))

    def dispute(self, index: int, reason_hash: bytes) -> LeasePeriod:
        """The lessee disputes period ``index`` with the hash of its written reason."""
        return self._after(index, self._send(self.contract.functions.dispute(index, reason_hash)))

    def finalize(self, index: int) -> LeasePeriod:
        """Marks period ``index`` accepted after its dispute window passed."""
        return self._after(index, self._send(self.contract.functions.finalize(index)))

    def set_operator(self, operator: str) -> None:
        """The lessor lets ``operator`` post usage."""
        from web3 import Web3

        self._send(self.contract.functions.setOperator(Web3.to_checksum_address(operator)))


def _fields(period: LeasePeriod) -> dict[str, Any]:
    return {name: getattr(period, name) for name in LeasePeriod.__slots__}
