"""The ``AnchorRegistry`` contract from Python: deploy, anchor batches, verify records, maintenance chains.

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from twin_models.merkle import keccak256
    >>> w3 = Web3(EthereumTesterProvider())
    >>> owner = w3.eth.accounts[0]
    >>> address = deploy_anchor_registry(w3, owner)
    >>> client = AnchorClient(w3, address, owner)
    >>> records = [keccak256(f"summary-{i}".encode()) for i in range(3)]
    >>> receipt = client.anchor_batch(records, kind="daily-summary", metadata='{"day": "2026-11-21"}')
    >>> client.verify_record(receipt.root, records[1], receipt.proofs[1])
    True
    >>> ANCHORER_ROLE == Web3.keccak(text="ANCHORER_ROLE") == client.contract.functions.ANCHORER_ROLE().call()
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.ports.chain import (
    AnchorReceipt,
    AnchorRecord,
    ChainError,
    ContractRevertError,
    LogEntryReceipt,
    RootAlreadyAnchoredError,
)
from twin_models.merkle import MerkleTree, keccak256

from .artifacts import load_artifact
from .client import ContractClient
from .sender import SenderOptions, TransactionSender

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

__all__ = [
    "ANCHORER_ROLE",
    "AnchorClient",
    "AnchorReceipt",
    "AnchorRecord",
    "LogEntryReceipt",
    "RootAlreadyAnchoredError",
    "deploy_anchor_registry",
]

ANCHORER_ROLE = keccak256(b"ANCHORER_ROLE")  # == Web3.keccak(text="ANCHORER_ROLE"), without importing web3
_ZERO = bytes(32)


def _registry_abi() -> list[dict[str, Any]]:
    abi: list[dict[str, Any]] = load_artifact("AnchorRegistry")["abi"]
    return abi


def deploy_anchor_registry(
    w3: Web3,
    account: LocalAccount | str,
    anchorers: Sequence[str] | None = None,
    options: SenderOptions | None = None,
) -> str:
    """Deploys an ``AnchorRegistry`` administered by ``account`` and returns its checksum address.

    ``anchorers`` get ``ANCHORER_ROLE``; by default ``account`` itself does (pass ``[]`` for none).

    Example:
        >>> from web3 import Web3, EthereumTesterProvider
        >>> w3 = Web3(EthereumTesterProvider())
        >>> deploy_anchor_registry(w3, w3.eth.accounts[0]).startswith("0x")
        True
    """
    from web3 import Web3

    artifact = load_artifact("AnchorRegistry")
    sender = TransactionSender(w3, account, options)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = sender.transact(factory.constructor(sender.address), artifact["abi"])
    if receipt["contractAddress"] is None:
        raise ChainError(f"deployment 0x{bytes(receipt['transactionHash']).hex()} created no contract")
    address = Web3.to_checksum_address(receipt["contractAddress"])
    client = AnchorClient(w3, address, account, options)
    for anchorer in [sender.address] if anchorers is None else anchorers:
        client.grant_anchorer(anchorer)
    return address


class AnchorClient(ContractClient):
    """Calls an ``AnchorRegistry`` at ``address`` as ``account`` (a ``LocalAccount`` or unlocked address)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        account: LocalAccount | str | None = None,
        options: SenderOptions | None = None,
    ) -> None:
        super().__init__(w3, address, _registry_abi(), account, options)
        self._chain_id: int | None = None

    def _read(self, what: str, call: Any) -> Any:
        return self._io.retrying(what, call.call)

    def chain_id(self) -> int:
        """The chain id of the node (cached after the first answer)."""
        if self._chain_id is None:
            self._chain_id = int(self._io.retrying("chain id", lambda: self.w3.eth.chain_id))
        return self._chain_id

    # -- roles ---------------------------------------------------------------------------------------
    def grant_anchorer(self, address: str) -> None:
        """Grants ``ANCHORER_ROLE`` (the sender must be the admin)."""
        from web3 import Web3

        fn = self.contract.functions.grantRole(ANCHORER_ROLE, Web3.to_checksum_address(address))
        self._sender().transact(fn, self.abi)

    def revoke_anchorer(self, address: str) -> None:
        """Revokes ``ANCHORER_ROLE`` (the sender must be the admin)."""
        from web3 import Web3

        fn = self.contract.functions.revokeRole(ANCHORER_ROLE, Web3.to_checksum_address(address))
        self._sender().transact(fn, self.abi)

    def is_anchorer(self, address: str) -> bool:
        """Whether ``address`` holds ``ANCHORER_ROLE``."""
        from web3 import Web3

        return bool(
            self._read("hasRole", self.contract.functions.hasRole(ANCHORER_ROLE, Web3.to_checksum_address(address)))
        )

    # -- batches -------------------------------------------------------------------------------------
    def anchor_batch(self, record_hashes: Sequence[bytes], kind: str, metadata: str = "") -> AnchorReceipt:
        """Builds the batch's Merkle tree, anchors its root in one transaction, returns root and proofs.

        Raises :class:`RootAlreadyAnchoredError` when the same batch is already on chain (see
        :meth:`find_anchor` to recover its receipt), :class:`ContractRevertError` for other reverts and
        :class:`ChainUnavailableError` when the node cannot be reached.
        """
        tree = MerkleTree.build(record_hashes)
        fn = self.contract.functions.anchor(tree.root, len(tree), kind, metadata)
        try:
            receipt = self._sender().transact(fn, self.abi)
        except ContractRevertError as exc:
            if exc.name == "AnchorRegistryRootAlreadyAnchored":
                raise RootAlreadyAnchoredError(tree.root, _utc(int(exc.error_args[1]))) from exc
            raise
        block = self._io.retrying("block", lambda: self.w3.eth.get_block(receipt["blockNumber"]))
        return AnchorReceipt(
            root=tree.root,
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            anchored_at=_utc(int(block["timestamp"])),
            record_hashes=tree.record_hashes,
            proofs=tuple(tuple(p) for p in tree.proofs()),
            kind=kind,
            metadata=metadata,
            gas_used=int(receipt["gasUsed"]),
            contract_address=self.address,
            chain_id=self.chain_id(),
        )

    def anchor_of(self, root: bytes) -> AnchorRecord | None:
        """What the registry stores about ``root``, or None when it was never anchored."""
        stored = self._read("anchorOf", self.contract.functions.anchorOf(root))
        anchored_at, block_number, count = stored
        if anchored_at == 0:
            return None
        return AnchorRecord(root=root, anchored_at=_utc(anchored_at), block_number=block_number, record_count=count)

    def find_anchor_tx(self, root: bytes, from_block: int = 0) -> tuple[bytes, int] | None:
        """The ``(tx_hash, block_number)`` of the ``RootAnchored`` event of ``root``, from the chain's logs."""
        event = self.contract.events.RootAnchored
        logs = self._io.retrying("logs", lambda: event.get_logs(from_block=from_block, argument_filters={"root": root}))
        if not logs:
            return None
        return bytes(logs[0]["transactionHash"]), int(logs[0]["blockNumber"])

    def verify_record(self, root: bytes, record_hash: bytes, proof: Sequence[bytes]) -> bool:
        """Asks the contract whether ``record_hash`` belongs to the anchored batch ``root``."""
        return bool(self._read("verifyRecord", self.contract.functions.verifyRecord(root, record_hash, list(proof))))

    # -- maintenance-log hash chain ------------------------------------------------------------------
    def append_log_entry(
        self, machine_id: bytes, entry_hash: bytes, expected_head: bytes | None = None
    ) -> LogEntryReceipt:
        """Appends ``entry_hash`` to the chain of ``machine_id`` (``expected_head`` defaults to the current head).

        A concurrent append makes the contract revert with ``AnchorRegistryStaleLogHead``.
        """
        if expected_head is None:
            expected_head, _ = self.log_head(machine_id)
        fn = self.contract.functions.appendLogEntry(machine_id, entry_hash, expected_head)
        receipt = self._sender().transact(fn, self.abi)
        (event,) = self.contract.events.LogEntryAppended().process_receipt(receipt)
        return LogEntryReceipt.from_event(event["args"], receipt, gas_used=int(receipt["gasUsed"]))

    def log_head(self, machine_id: bytes) -> tuple[bytes, int]:
        """The machine's current chain head and its number of entries."""
        head, length = self._read("logHead", self.contract.functions.logHead(machine_id))
        return bytes(head), int(length)

    def log_head_at(self, machine_id: bytes, index: int) -> bytes:
        """The machine's chain head right after entry ``index`` (zero past the end)."""
        return bytes(self._read("logHeadAt", self.contract.functions.logHeadAt(machine_id, index)))

    def find_log_entry(self, machine_id: bytes, entry_hash: bytes, from_block: int = 0) -> LogEntryReceipt | None:
        """The ``LogEntryAppended`` event that put ``entry_hash`` in the machine's chain, if any."""
        event = self.contract.events.LogEntryAppended
        logs = self._io.retrying(
            "logs", lambda: event.get_logs(from_block=from_block, argument_filters={"machineId": machine_id})
        )
        for log in logs:
            if bytes(log["args"]["entryHash"]) == entry_hash:
                return LogEntryReceipt.from_event(log["args"], log)
        return None

    def block_time(self, block_number: int) -> datetime:
        """The timestamp of a block, as UTC."""
        block = self._io.retrying("block", lambda: self.w3.eth.get_block(block_number))
        return _utc(int(block["timestamp"]))

    def log_heads(self, machine_id: bytes) -> list[bytes]:
        """Every head of the machine's chain, in order (compare with ``twin_models.hashchain.chain_heads``)."""
        _, length = self.log_head(machine_id)
        return [bytes(self._read("logHeadAt", self.contract.functions.logHeadAt(machine_id, i))) for i in range(length)]

    def verify_log_entry(self, machine_id: bytes, index: int, previous_head: bytes, entry_hash: bytes) -> bool:
        """Asks the contract whether ``entry_hash`` sits at ``index`` right after ``previous_head``."""
        fn = self.contract.functions.verifyLogEntry(machine_id, index, previous_head, entry_hash)
        return bool(self._read("verifyLogEntry", fn))


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
