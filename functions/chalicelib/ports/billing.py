"""The billing area's ports: leases with their cursors, usage events, invoices and invoice documents.

Every write that must happen once is conditional in every adapter: a usage event is stored once per
(machine, id), an invoice once per (lease, period), a cursor only moves forward from the value it was
read at, and an invoice's posting on chain is claimed before its transaction is sent.

Example:
    >>> PutReport(stored=2).duplicates
    0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from twin_models.billing import Invoice, Lease, UsageEvent

__all__ = ["InvoiceArchive", "InvoiceRecord", "Invoices", "LeaseRecord", "Leases", "PutReport", "Usage"]


@dataclass(frozen=True)
class LeaseRecord:
    """A stored lease with its chain contract and the service's cursors (period keys)."""

    lease: Lease
    contract_address: str | None = None
    billed_through: str | None = None
    anchored_through: str | None = None


@dataclass
class PutReport:
    """What storing a batch of usage events did."""

    stored: int = 0
    duplicates: int = 0
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InvoiceRecord:
    """A stored invoice: the issued document and what happened to it since."""

    invoice: Invoice
    status: str
    issued_at: datetime
    archived: bool = False
    anchor_status: str = "pending"
    anchor: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API returns for it (the invoice document under ``invoice``)."""
        return {
            "invoice_id": self.invoice.invoice_id,
            "status": self.status,
            "issued_at": self.issued_at.isoformat(),
            "archived": self.archived,
            "anchor": {"status": self.anchor_status, **self.anchor},
            "answer": self.answer,
            "invoice": self.invoice.to_json(),
        }


@runtime_checkable
class Leases(Protocol):
    """Leases and the billing service's cursors (period keys), keyed by the lease's qualified id.

    The id is ``<lessor>:<reference>`` (:func:`twin_models.billing.qualified_lease_id`); to a store it is
    an opaque string key, and a stored lease is given back exactly as it was stored.
    """

    def create(self, lease: Lease, contract_address: str | None = None) -> bool:
        """Store a new lease; False when the id is taken (the stored lease is left as it is)."""
        ...

    def get(self, lease_id: str) -> LeaseRecord | None:
        """The lease, or None."""
        ...

    def all(self) -> Iterator[LeaseRecord]:
        """Every lease."""
        ...

    def for_tenant(self, tenant: str) -> list[LeaseRecord]:
        """Leases where the tenant is lessor or lessee, by id."""
        ...

    def advance(self, lease_id: str, cursor: str, old: str | None, new: str) -> bool:
        """Move ``cursor`` (``billed_through`` or ``anchored_through``) from ``old`` to ``new``; False if moved."""
        ...


@runtime_checkable
class Usage(Protocol):
    """Usage events, each stored once, stamped with when it first arrived."""

    def put(self, events: Iterable[UsageEvent], received_at: datetime) -> PutReport:
        """Store events not seen before; an id stored with other content is reported in ``conflicts``."""
        ...

    def between(self, machine_id: str, start: datetime, end: datetime) -> list[UsageEvent]:
        """Events of a machine with ``start <= ts < end``."""
        ...

    def received_between(self, machine_id: str, after: datetime, until: datetime) -> list[UsageEvent]:
        """Events of a machine that arrived in ``(after, until]``."""
        ...


@runtime_checkable
class Invoices(Protocol):
    """Invoices: put once and never rewritten; only their status fields move."""

    def put_new(self, invoice: Invoice, issued_at: datetime) -> bool:
        """Store an issued invoice; False when this lease and period already has one."""
        ...

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        """The invoice, or None."""
        ...

    def for_lease(self, lease_id: str) -> list[InvoiceRecord]:
        """A lease's invoices, oldest period first."""
        ...

    def mark_archived(self, invoice_id: str) -> None:
        """Note that the document is archived."""
        ...

    def claim_anchor(self, invoice_id: str, token: str, now: datetime, ttl_s: int) -> bool:
        """Take the right to post this invoice on chain (pending, or a claim that expired)."""
        ...

    def finish_anchor(self, invoice_id: str, token: str, index: int, tx_hash: str, contract: str) -> bool:
        """Record where the invoice went on chain (only under our claim)."""
        ...

    def release_anchor(self, invoice_id: str, token: str, error: str) -> bool:
        """Give the claim back after a failed attempt, noting why."""
        ...

    def answer(self, invoice_id: str, status: str, by: str, at: datetime, reason: str | None) -> bool:
        """Move an issued invoice to ``acknowledged`` or ``disputed``; False when it was answered before."""
        ...


@runtime_checkable
class InvoiceArchive(Protocol):
    """The issued documents as canonical JSON, one per invoice."""

    def put(self, invoice: Invoice) -> str:
        """Write the document (the same bytes every time); returns its key."""
        ...

    def get(self, invoice: Invoice) -> bytes:
        """The stored document bytes."""
        ...
