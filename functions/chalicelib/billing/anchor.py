"""Posting invoices to the lease's ``PayPerUseLease`` contract: the port and its web3 adapter.

The contract keeps a lease's periods contiguous: period *n* starts where period *n - 1* ended (the
first at the lease's start), so invoices are posted in period order, each once. A period without an
invoice (after the lease's end, when no late usage arrived) is covered by the next posted one. Before posting, the
adapter looks at the chain: a period that already ends where the invoice's period ends is the same
invoice posted by an earlier, interrupted run (same invoice hash) and is recorded instead of posted
again; a different hash there, or a gap before the invoice's period, is an error that leaves the
invoice pending and is reported.

The amount posted is the invoice total in the currency's minor unit (a credit posts 0; the invoice
hash covers the signed total).

Example:
    >>> from decimal import Decimal
    >>> minor_units(Decimal("12396.41"), "EUR"), minor_units(Decimal("-3.00"), "EUR")
    (1239641, 0)
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from twin_models.billing import Invoice, Lease, minor_unit

if TYPE_CHECKING:
    from chalicelib.chain.lease import LeaseClient

__all__ = [
    "AnchorOrderError",
    "AnchorResult",
    "ContractLeaseAnchor",
    "LeaseAnchor",
    "configure_anchor",
    "get_anchor",
    "minor_units",
]


class AnchorOrderError(Exception):
    """The chain is not where this invoice can be posted (an earlier period missing, or another hash)."""


@dataclass(frozen=True)
class AnchorResult:
    """Where an invoice is on chain."""

    index: int
    tx_hash: str
    contract: str
    already_posted: bool


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` as an integer count of the currency's minor unit (negative amounts post 0)."""
    return max(0, int(amount.scaleb(minor_unit(currency))))


def _b32(hex_hash: str) -> bytes:
    return bytes.fromhex(hex_hash.removeprefix("0x"))


class LeaseAnchor(ABC):
    """Posts invoices to lease contracts."""

    @abstractmethod
    def post(self, contract: str, lease: Lease, invoice: Invoice) -> AnchorResult:
        """Post ``invoice`` to the lease contract at ``contract`` (or find it already posted)."""


class ContractLeaseAnchor(LeaseAnchor):
    """The adapter over :class:`chalicelib.chain.lease.LeaseClient`; ``client_for(address)`` builds one."""

    def __init__(self, client_for: Callable[[str], LeaseClient]) -> None:
        self._client_for = client_for

    def post(self, contract: str, lease: Lease, invoice: Invoice) -> AnchorResult:
        client = self._client_for(contract)
        end = invoice.period_end
        count = client.period_count()
        index = count - 1
        while index >= 0:  # walk back from the newest period to where this one would be
            period = client.period(index)
            if period.ends_at == end:
                if period.invoice_hash != _b32(invoice.hash):
                    raise AnchorOrderError(
                        f"{invoice.invoice_id}: the chain holds another invoice for the period ending {end.isoformat()}"
                    )
                return AnchorResult(index, "", client.address, already_posted=True)
            if period.ends_at < end:
                break
            index -= 1
        chain_start = client.period(count - 1).ends_at if count else client.terms().starts_at
        wanted = max(invoice.period_start, lease.start)
        if chain_start > wanted:
            raise AnchorOrderError(
                f"{invoice.invoice_id}: the chain's last period ends {chain_start.isoformat()}, "
                f"after this invoice's period starts ({wanted.isoformat()})"
            )
        # chain_start < wanted: the periods between had no invoice (after the lease's end); the
        # service posts invoices strictly in period order, so none of them is waiting
        posted = client.post_usage(
            ends_at=end,
            usage_root=_b32(invoice.usage.root),
            invoice_hash=_b32(invoice.hash),
            amount=minor_units(invoice.total, invoice.currency),
        )
        return AnchorResult(posted.index, "0x" + posted.tx_hash.hex(), client.address, already_posted=False)


_lock = threading.Lock()
_configured: list[LeaseAnchor | None] = []


def configure_anchor(anchor: LeaseAnchor | None) -> None:
    """Use ``anchor`` from now on (tests and the local stack); ``None`` turns posting off."""
    with _lock:
        _configured[:] = [anchor]


def _default_anchor() -> LeaseAnchor:
    from chalicelib.chain.config import connect, get_chain_settings, load_signer
    from chalicelib.chain.lease import LeaseClient

    settings = get_chain_settings()
    w3 = connect(settings)
    signer: Any = load_signer(settings)
    if signer is None:
        if not settings.local_node:
            raise AnchorOrderError("no chain signing key configured for a remote node")
        signer = str(w3.eth.accounts[0])
    return ContractLeaseAnchor(lambda address: LeaseClient(w3, address, signer, settings.sender_options()))


def get_anchor() -> LeaseAnchor | None:
    """The configured anchor, built on first use from the chain settings (``chalicelib.chain.config``)."""
    with _lock:
        if not _configured:
            _configured.append(_default_anchor())
        return _configured[0]
