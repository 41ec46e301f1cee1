"""Errors of the chain client, all derived from :class:`ChainError`."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChainConfigurationError",
    "ChainError",
    "ChainUnavailableError",
    "ContractRevertError",
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
