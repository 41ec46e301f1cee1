"""What every contract client shares: the bound contract, a sender for writes, retried reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.ports.chain import ChainError

from .sender import SenderOptions, TransactionSender

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.contract import Contract

__all__ = ["ContractClient"]

_ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class ContractClient:
    """A contract at ``address`` called as ``account``; without an account the client only reads.

    Example:
        >>> # LeaseClient(w3, address, lessee).acknowledge(0); AnchorClient(w3, address).anchor_of(root)
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        abi: list[dict[str, Any]],
        account: LocalAccount | str | None = None,
        options: SenderOptions | None = None,
    ) -> None:
        from web3 import Web3

        self.w3 = w3
        self.abi = abi
        self.contract: Contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        self.sender = TransactionSender(w3, account, options) if account is not None else None
        self._io = self.sender or TransactionSender(w3, _ZERO_ADDRESS, options)  # retries for reads

    @property
    def address(self) -> str:
        """The contract's checksum address."""
        return str(self.contract.address)

    def _sender(self) -> TransactionSender:
        if self.sender is None:
            raise ChainError(f"this {type(self).__name__} is read-only: pass an account to send transactions")
        return self.sender
