"""Posting invoices to the lease's ``PayPerUseLease`` contract: the web3 adapter of ``LeaseContracts``.

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

from collections.abc import Callable
from decimal import Decimal

from chalicelib.ports.chain import AnchorOrderError, AnchorResult
from twin_models.billing import Invoice, Lease, minor_unit

from .lease import LeaseClient

__all__ = ["ContractLeaseAnchor", "minor_units"]


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` as an integer count of the currency's minor unit (negative amounts post 0)."""
    return max(0, int(amount.scaleb(minor_unit(currency))))


def _b32(hex_hash: str) -> bytes:
    return bytes.fromhex(hex_hash.removeprefix("0x"))


class ContractLeaseAnchor:
    """The adapter over :class:`chalicelib.adapters.chain.lease.LeaseClient`; ``client_for(address)`` builds one."""

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
