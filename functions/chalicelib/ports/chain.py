"""The chain's port: what the anchoring and billing areas ask of the ``AnchorRegistry`` and
``PayPerUseLease`` contracts, the receipts they get back, and every chain error.

The web3 adapters (``chalicelib.adapters.chain``) implement :class:`AnchorChain` and
:class:`LeaseContracts`; tests may pass any object with the same methods.

Example:
    >>> issubclass(ChainUnavailableError, ChainError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from twin_models.billing import Invoice, Lease

__all__ = [
    "AnchorChain",
    "AnchorOrderError",
    "AnchorReceipt",
    "AnchorRecord",
    "AnchorResult",
    "ChainConfigurationError",
    "ChainError",
    "ChainUnavailableError",
    "ContractRevertError",
    "LeaseContracts",
    "LogEntryReceipt",
    "RootAlreadyAnchoredError",
    "TransactionRevertedError",
]


class ChainError(Exception):
    """Base of every chain-client error."""


class ChainConfigurationError(ChainError):
    """A missing or malformed setting: RPC URL, contract address, signing key."""


class ChainUnavailableError(ChainError):
    """The node did not answer (after the retries); nothing was lost, the caller may try again later."""


class ContractRevertError(ChainError):
    """A call or transaction reverted; ``name`` and ``args`` decode the contract's custom error.

    ``name`` is ``"Error"`` for a ``require`` message, ``"Panic"`` for a panic code, and empty when the
    revert carried no data the contract's ABI knows.
    """

    def __init__(self, name: str, args: tuple[Any, ...] = (), data: bytes = b"") -> None:
        self.name = name
        self.error_args = args
        self.data = data
        shown = ", ".join(a.hex() if isinstance(a, bytes) else str(a) for a in args)
        super().__init__(f"{name or 'revert'}({shown})")


class TransactionRevertedError(ChainError):
    """A mined transaction has status 0."""

    def __init__(self, tx_hash: bytes, block_number: int) -> None:
        self.tx_hash = tx_hash
        self.block_number = block_number
        super().__init__(f"transaction 0x{tx_hash.hex()} reverted in block {block_number}")


class RootAlreadyAnchoredError(ChainError):
    """The batch root is already on chain (the registry stores a root once)."""

    def __init__(self, root: bytes, anchored_at: datetime) -> None:
        self.root = root
        self.anchored_at = anchored_at
        super().__init__(f"root 0x{root.hex()} already anchored at {anchored_at.isoformat()}")


@dataclass(frozen=True, slots=True)
class AnchorRecord:
    """What the registry stores about a root."""

    root: bytes
    anchored_at: datetime
    block_number: int
    record_count: int


@dataclass(frozen=True, slots=True)
class AnchorReceipt:
    """One anchored batch: its root, where it went on chain, and each record's proof (input order)."""

    root: bytes
    tx_hash: bytes
    block_number: int
    anchored_at: datetime
    record_hashes: tuple[bytes, ...]
    proofs: tuple[tuple[bytes, ...], ...]
    kind: str
    metadata: str
    gas_used: int
    contract_address: str = ""
    chain_id: int = 0

    def proof_for(self, record_hash: bytes) -> tuple[bytes, ...]:
        """The proof of ``record_hash`` (the first occurrence when a hash repeats)."""
        return self.proofs[self.record_hashes.index(record_hash)]


@dataclass(frozen=True, slots=True)
class LogEntryReceipt:
    """One maintenance-log entry appended to a machine's chain."""

    machine_id: bytes
    index: int
    entry_hash: bytes
    previous_head: bytes
    new_head: bytes
    tx_hash: bytes
    block_number: int
    gas_used: int = 0

    @classmethod
    def from_event(cls, args: Any, where: Any, gas_used: int = 0) -> LogEntryReceipt:
        """From a ``LogEntryAppended`` event's arguments and the receipt or log that carries it."""
        return cls(
            machine_id=bytes(args["machineId"]),
            index=int(args["index"]),
            entry_hash=bytes(args["entryHash"]),
            previous_head=bytes(args["previousHead"]),
            new_head=bytes(args["newHead"]),
            tx_hash=bytes(where["transactionHash"]),
            block_number=int(where["blockNumber"]),
            gas_used=gas_used,
        )


class AnchorOrderError(Exception):
    """The chain is not where this invoice can be posted (an earlier period missing, or another hash)."""


@dataclass(frozen=True)
class AnchorResult:
    """Where an invoice is on chain."""

    index: int
    tx_hash: str
    contract: str
    already_posted: bool


class LeaseContracts(Protocol):
    """Posts invoices to lease contracts."""

    def post(self, contract: str, lease: Lease, invoice: Invoice) -> AnchorResult:
        """Post ``invoice`` to the lease contract at ``contract`` (or find it already posted)."""
        ...


class AnchorChain(Protocol):
    """The ``AnchorRegistry`` as the anchoring service uses it."""

    @property
    def address(self) -> str:
        """The registry's address."""
        ...

    def chain_id(self) -> int:
        """The chain's id."""
        ...

    def anchor_batch(self, record_hashes: Sequence[bytes], kind: str, metadata: str = "") -> AnchorReceipt:
        """Anchor one Merkle batch of record hashes in one transaction."""
        ...

    def anchor_of(self, root: bytes) -> AnchorRecord | None:
        """What the registry stores about ``root``."""
        ...

    def find_anchor_tx(self, root: bytes, from_block: int = 0) -> tuple[bytes, int] | None:
        """The transaction and block that anchored ``root``."""
        ...

    def verify_record(self, root: bytes, record_hash: bytes, proof: Sequence[bytes]) -> bool:
        """The registry's own check of a Merkle proof."""
        ...

    def append_log_entry(
        self, machine_id: bytes, entry_hash: bytes, expected_head: bytes | None = None
    ) -> LogEntryReceipt:
        """Append one maintenance-log entry to a machine's hash chain."""
        ...

    def find_log_entry(self, machine_id: bytes, entry_hash: bytes, from_block: int = 0) -> LogEntryReceipt | None:
        """The append of ``entry_hash`` to the machine's chain, if it happened."""
        ...

    def log_head_at(self, machine_id: bytes, index: int) -> bytes:
        """The machine's chain head right after entry ``index``."""
        ...

    def verify_log_entry(self, machine_id: bytes, index: int, previous_head: bytes, entry_hash: bytes) -> bool:
        """The registry's own check of one hash-chain link."""
        ...

    def block_time(self, block_number: int) -> datetime:
        """When a block was made (UTC)."""
        ...
