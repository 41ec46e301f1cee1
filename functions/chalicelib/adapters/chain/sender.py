"""Sending contract transactions: nonces, EIP-1559 fees, retries with backoff, confirmation depth.

One :class:`TransactionSender` per signing account. Nonces come from a :class:`NonceManager` that hands
each concurrent sender of the process its own nonce and resynchronises from the node's pending count when
the node says a nonce is used (another process sharing the key). A signed transaction is re-sent
unchanged when the node cannot be reached, so a retry never creates a second transaction.

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> w3 = Web3(EthereumTesterProvider())
    >>> sender = TransactionSender(w3, w3.eth.accounts[0])
    >>> sender.address == w3.eth.accounts[0]
    True
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from chalicelib.ports.chain import ChainUnavailableError, ContractRevertError, TransactionRevertedError

from .reverts import decode_revert

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from hexbytes import HexBytes
    from web3 import Web3
    from web3.types import TxParams, TxReceipt

__all__ = ["NonceManager", "SenderOptions", "TransactionSender", "is_unreachable"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What nodes answer when another sender used the nonce first (geth, Ganache, eth-tester).
_NONCE_MESSAGES = (
    "nonce too low",
    "already known",
    "underpriced",
    "can't be replaced",
    "correct nonce",
    "transaction nonce",
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the node could not be reached (as opposed to a node answering with an error).

    Example:
        >>> is_unreachable(ConnectionRefusedError()), is_unreachable(ValueError("execution reverted"))
        (True, False)
    """
    from web3.exceptions import ProviderConnectionError  # web3 is imported lazily (Lambda cold starts)

    return isinstance(exc, (OSError, ProviderConnectionError, TimeoutError))


class NonceManager:
    """Hands out nonces per address, safe under concurrent senders in one process.

    The next nonce is ``max(node's pending count, last nonce handed out + 1)``, so transactions sent by
    other processes with the same key are seen; :meth:`resync` forgets the local view after the node
    rejected a nonce.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: weakref.WeakKeyDictionary[Web3, dict[str, int]] = weakref.WeakKeyDictionary()

    def reserve(self, w3: Web3, address: str) -> int:
        """The nonce for the next transaction of ``address`` on the chain ``w3`` talks to."""
        from web3 import Web3

        with self._lock:
            pending = w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")
            known = self._next.setdefault(w3, {})
            nonce = max(pending, known.get(address, 0))
            known[address] = nonce + 1
            return nonce

    def resync(self, w3: Web3, address: str) -> None:
        """Forget the local view of ``address``; the next reservation asks the node."""
        with self._lock:
            self._next.get(w3, {}).pop(address, None)


_DEFAULT_NONCES = NonceManager()


@dataclass(frozen=True, slots=True)
class SenderOptions:
    """Tuning of a :class:`TransactionSender`.

    ``confirmations`` is the depth a receipt must reach (1 = mined in a block); ``retries`` and
    ``backoff_seconds`` (doubling) apply to an unreachable node and to a rejected nonce.
    """

    confirmations: int = 1
    receipt_timeout_seconds: float = 120.0
    poll_seconds: float = 0.05
    retries: int = 4
    backoff_seconds: float = 0.25
    gas_margin: float = 1.2
    priority_fee_wei: int | None = None
    base_fee_multiplier: int = 2


class TransactionSender:
    """Signs (with a local key) or asks the node to sign (an unlocked address), sends and waits.

    ``account`` is a ``LocalAccount`` (production: the key comes from Secrets Manager) or the address of
    an account the node unlocks (eth-tester, Ganache).
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | str,
        options: SenderOptions | None = None,
        nonces: NonceManager | None = None,
    ) -> None:
        from eth_account.signers.local import LocalAccount
        from web3 import Web3

        self.w3 = w3
        self.account = account
        self.options = options or SenderOptions()
        self.nonces = nonces or _DEFAULT_NONCES
        self.address = Web3.to_checksum_address(account.address if isinstance(account, LocalAccount) else account)

    # -- retries -------------------------------------------------------------------------------------
    def retrying(self, what: str, operation: Callable[[], T]) -> T:
        """Runs ``operation``, retrying with exponential backoff while the node is unreachable."""
        delay = self.options.backoff_seconds
        for attempt in range(self.options.retries + 1):
            try:
                return operation()
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                if attempt == self.options.retries:
                    raise ChainUnavailableError(f"{what}: node unreachable after {attempt + 1} attempts") from exc
                logger.warning("%s: node unreachable (%s), retry in %.2fs", what, exc, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    # -- fees ----------------------------------------------------------------------------------------
    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields: twice the latest base fee plus the priority fee."""
        block = self.w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas", 0) or 0)
        priority = self.options.priority_fee_wei
        if priority is None:
            try:
                priority = int(self.w3.eth.max_priority_fee)
            except Exception as exc:  # some nodes lack eth_maxPriorityFeePerGas
                if is_unreachable(exc):
                    raise
                priority = 1_000_000_000
        return {
            "maxPriorityFeePerGas": priority,
            "maxFeePerGas": base_fee * self.options.base_fee_multiplier + priority,
        }

    # -- sending -------------------------------------------------------------------------------------
    def transact(self, call: Any, abi: Sequence[dict[str, Any]] = (), value: int = 0) -> TxReceipt:
        """Sends a contract call (``contract.functions.f(...)`` or ``Contract.constructor(...)``).

        The call is simulated first, so a revert raises :class:`ContractRevertError` with the custom error
        decoded from ``abi`` before any gas is spent; the receipt is returned once it reached the
        configured confirmation depth.
        """
        from web3.types import Wei

        base: TxParams = {"from": self.address, "value": Wei(value)}
        try:
            gas = self.retrying("estimate gas", lambda: call.estimate_gas(base))
        except ContractRevertError:
            raise
        except ChainUnavailableError:
            raise
        except Exception as exc:
            raise decode_revert(abi, exc) from exc
        gas_limit = int(gas * self.options.gas_margin) + 10_000
        return self._send_with_nonce(
            lambda nonce, fees: call.build_transaction(
                {**base, "gas": gas_limit, "nonce": nonce, "chainId": self._chain_id(), **fees}
            ),
            abi,
        )

    def _chain_id(self) -> int:
        return int(self.retrying("chain id", lambda: self.w3.eth.chain_id))

    def _send_with_nonce(
        self, build: Callable[[int, dict[str, int]], TxParams], abi: Sequence[dict[str, Any]]
    ) -> TxReceipt:
        delay = self.options.backoff_seconds
        for attempt in range(self.options.retries + 1):
            nonce = self.retrying("nonce", lambda: self.nonces.reserve(self.w3, self.address))
            tx = build(nonce, self.retrying("fees", self.fees))
            try:
                tx_hash = self._submit(tx)
            except ChainUnavailableError:
                self.nonces.resync(self.w3, self.address)
                raise
            except Exception as exc:
                message = str(exc).lower()
                if any(m in message for m in _NONCE_MESSAGES) and attempt < self.options.retries:
                    logger.info("nonce %d rejected (%s); resynchronising", nonce, exc)
                    self.nonces.resync(self.w3, self.address)
                    time.sleep(delay)
                    delay *= 2
                    continue
                self.nonces.resync(self.w3, self.address)
                raise decode_revert(abi, exc) from exc
            try:
                return self.wait(tx_hash)
            except ChainUnavailableError:
                # Not mined in time (or the node went away): the node's pending count is the truth again,
                # so a dropped transaction cannot leave a gap in the nonces.
                self.nonces.resync(self.w3, self.address)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _submit(self, tx: TxParams) -> HexBytes:
        from eth_account.signers.local import LocalAccount
        from hexbytes import HexBytes
        from web3 import Web3

        if isinstance(self.account, LocalAccount):
            raw = self.account.sign_transaction(cast(dict[str, Any], tx)).raw_transaction
            expected = HexBytes(Web3.keccak(raw))

            def send_raw() -> HexBytes:
                try:
                    return HexBytes(self.w3.eth.send_raw_transaction(raw))
                except Exception as exc:
                    if "already known" in str(exc).lower():  # an earlier attempt got through
                        return expected
                    raise

            return self.retrying("send transaction", send_raw)
        # The node signs: a lost answer may hide a sent transaction, but its nonce is then used, so the
        # retry fails with a nonce error instead of sending twice.
        return HexBytes(self.retrying("send transaction", lambda: self.w3.eth.send_transaction(tx)))

    def wait(self, tx_hash: bytes) -> TxReceipt:
        """Waits until ``tx_hash`` is mined and ``confirmations`` deep; raises if it reverted."""
        deadline = time.monotonic() + self.options.receipt_timeout_seconds
        while True:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                depth = self.retrying("block number", lambda: self.w3.eth.block_number) - receipt["blockNumber"] + 1
                if depth >= self.options.confirmations:
                    again = self._receipt(tx_hash)  # still in the same block after the wait (no re-org)?
                    if again is not None and again["blockHash"] == receipt["blockHash"]:
                        if again["status"] != 1:
                            raise TransactionRevertedError(bytes(tx_hash), int(again["blockNumber"]))
                        return again
            if time.monotonic() > deadline:
                raise ChainUnavailableError(
                    f"transaction 0x{bytes(tx_hash).hex()} not {self.options.confirmations} deep "
                    f"after {self.options.receipt_timeout_seconds}s"
                )
            time.sleep(self.options.poll_seconds)

    def _receipt(self, tx_hash: bytes) -> TxReceipt | None:
        from hexbytes import HexBytes
        from web3.exceptions import TransactionNotFound

        def get() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None

        return self.retrying("receipt", get)
