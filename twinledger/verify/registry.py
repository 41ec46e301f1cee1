"""A read-only ``AnchorRegistry`` client over JSON-RPC: the calls a proof check makes, and no others.

It deliberately shares no code with the functions' chain adapter, so that checking a proof depends only on
the published ABI and the chain, not on the software that produced the proof.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from twin_models.anchoring import ProofBundle, Verification, verify_bundle

__all__ = ["AnchoredAt", "LogEntryAt", "RegistryError", "RegistryReader", "load_registry_abi", "verify_file"]


class RegistryError(RuntimeError):
    """The node cannot be reached, or it does not answer as an ``AnchorRegistry`` would."""


@dataclass(frozen=True, slots=True)
class AnchoredAt:
    """When and in which block a root was anchored (``anchorOf``)."""

    anchored_at: datetime
    block_number: int
    record_count: int


@dataclass(frozen=True, slots=True)
class LogEntryAt:
    """The block of the ``LogEntryAppended`` event of an entry."""

    block_number: int


@cache
def load_registry_abi() -> list[dict[str, Any]]:
    """The ``AnchorRegistry`` ABI shipped with the package (written by ``node contracts/compile.js``).

    Example:
        >>> any(item.get("name") == "verifyRecord" for item in load_registry_abi())
        True
    """
    text = resources.files("twinledger.verify").joinpath("artifacts", "AnchorRegistry.json").read_text("utf-8")
    abi: list[dict[str, Any]] = json.loads(text)["abi"]
    return abi


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


class RegistryReader:
    """Reads the registry at ``address`` on the node at ``rpc_url`` (or through a given ``Web3``).

    Every failure to talk to the node is a :class:`RegistryError`; the answers themselves are never
    interpreted here (that is :func:`twin_models.anchoring.verify_bundle`'s job).

    Example:
        >>> reader = RegistryReader("http://127.0.0.1:8545", "0x" + "11" * 20)  # doctest: +SKIP
        >>> reader.chain_id()  # doctest: +SKIP
        1337
    """

    def __init__(self, rpc_url: str, address: str, *, w3: Any = None, timeout_s: float = 10.0) -> None:
        from web3 import Web3

        if w3 is None:
            w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        if not Web3.is_address(address):
            raise RegistryError(f"not an address: {address!r}")
        self.w3 = w3
        self.rpc_url = rpc_url
        self.contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_registry_abi())
        self._chain_id: int | None = None

    @property
    def address(self) -> str:
        """The registry's checksum address."""
        return str(self.contract.address)

    def _ask(self, what: str, call: Any) -> Any:
        from web3.exceptions import Web3Exception

        try:
            return call()
        except (OSError, ValueError, Web3Exception) as exc:
            raise RegistryError(f"{what} failed on {self.rpc_url}: {exc}") from exc

    def chain_id(self) -> int:
        """The node's chain id."""
        if self._chain_id is None:
            self._chain_id = int(self._ask("eth_chainId", lambda: self.w3.eth.chain_id))
        return self._chain_id

    def anchor_of(self, root: bytes) -> AnchoredAt | None:
        """``anchorOf(root)``, or None when the root was never anchored."""
        anchored_at, block_number, count = self._ask("anchorOf", self.contract.functions.anchorOf(root).call)
        if anchored_at == 0:
            return None
        return AnchoredAt(anchored_at=_utc(anchored_at), block_number=int(block_number), record_count=int(count))

    def verify_record(self, root: bytes, record_hash: bytes, proof: Sequence[bytes]) -> bool:
        """``verifyRecord(root, record_hash, proof)``."""
        fn = self.contract.functions.verifyRecord(root, record_hash, list(proof))
        return bool(self._ask("verifyRecord", fn.call))

    def verify_log_entry(self, machine_id: bytes, index: int, previous_head: bytes, entry_hash: bytes) -> bool:
        """``verifyLogEntry(machine_id, index, previous_head, entry_hash)``."""
        fn = self.contract.functions.verifyLogEntry(machine_id, index, previous_head, entry_hash)
        return bool(self._ask("verifyLogEntry", fn.call))

    def log_head_at(self, machine_id: bytes, index: int) -> bytes:
        """The machine's chain head right after entry ``index`` (zero past the end)."""
        return bytes(self._ask("logHeadAt", self.contract.functions.logHeadAt(machine_id, index).call))

    def log_heads(self, machine_id: bytes) -> list[bytes]:
        """Every head of the machine's chain, in order."""
        _, length = self._ask("logHead", self.contract.functions.logHead(machine_id).call)
        return [self.log_head_at(machine_id, i) for i in range(int(length))]

    def find_log_entry(self, machine_id: bytes, entry_hash: bytes, from_block: int = 0) -> LogEntryAt | None:
        """The ``LogEntryAppended`` event that put ``entry_hash`` in the machine's chain, if any."""
        event = self.contract.events.LogEntryAppended
        logs = self._ask(
            "eth_getLogs", lambda: event.get_logs(from_block=from_block, argument_filters={"machineId": machine_id})
        )
        for log in logs:
            if bytes(log["args"]["entryHash"]) == entry_hash:
                return LogEntryAt(block_number=int(log["blockNumber"]))
        return None

    def block_time(self, block_number: int) -> datetime:
        """The timestamp of a block, as UTC."""
        block = self._ask("eth_getBlockByNumber", lambda: self.w3.eth.get_block(block_number))
        return _utc(int(block["timestamp"]))


def verify_file(path: str | Path, rpc_url: str, registry: str | None = None) -> Verification:
    """Reads a proof bundle from ``path`` and checks it against the registry it names (or ``registry``).

    Raises :class:`RegistryError` when there is no registry address or the node does not answer, and
    ``OSError`` / ``pydantic.ValidationError`` when the file is not a proof bundle.

    Example:
        >>> verify_file("proof.json", "http://127.0.0.1:8545").as_dict()["ok"]  # doctest: +SKIP
        True
    """
    bundle = ProofBundle.model_validate_json(Path(path).read_text(encoding="utf-8"))
    address = registry or bundle.contract
    if not address:
        raise RegistryError("no registry address: pass --registry (or use a bundle that names its contract)")
    return verify_bundle(bundle, RegistryReader(rpc_url, address))
