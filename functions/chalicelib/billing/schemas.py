"""The HTTP contract of billing: leases, usage, invoices and the lessee's answers.

A lease document is the lease file (``docs/examples/lease-daily.json``), validated by the billing domain
(:func:`twin_models.billing.load_lease`), which names the field at fault; the models here carry what the
API adds around it.

Example:
    >>> Dispute.model_validate({"reason": "meter reset"}).reason
    'meter reset'
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import PageQuery, QueryTime

__all__ = [
    "Dispute",
    "InvoiceDocument",
    "InvoicePage",
    "InvoiceQuery",
    "InvoiceRecordView",
    "InvoiceSummary",
    "LeaseDocument",
    "LeasePage",
    "LeaseView",
    "UsagePage",
    "UsageQuery",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Dispute(BaseModel):
    """``POST /invoices/{id}/dispute``: why the lessee disputes the invoice."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class LeaseDocument(BaseModel):
    """``POST /leases``: the lease file (its terms are checked by the billing domain) and, optionally, the
    address of its ``PayPerUseLease`` contract."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["lease_id", "lessor", "machine_ids"]})

    contract_address: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")] | None = None


class LeaseView(_Out):
    """A lease: its qualified id (``<lessor>:<reference>``), its terms and the billing cursors."""

    lease_id: str
    lease: dict[str, Any]
    contract_address: str | None
    billed_through: str | None
    anchored_through: str | None


class LeasePage(_Out):
    """``GET /leases``: the caller's leases (as lessor or lessee), by id."""

    items: list[LeaseView]
    next: str | None


class UsageQuery(PageQuery):
    """``?from=&to=`` (at most the service's range), optionally one machine's (``?machine_id=``), and the page
    of events."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    start: Annotated[QueryTime, Field(alias="from")]
    end: Annotated[QueryTime, Field(alias="to")]
    machine_id: Annotated[
        str | None,
        Field(min_length=1, max_length=128, description="only this machine's events, and its totals"),
    ] = None


class UsageEvent(_Out):
    """One usage event with its hash (the leaf of the invoice's usage Merkle tree)."""

    id: str
    machine_id: str
    meter: str
    ts: str
    quantity: str
    hash: str
    received_at: str | None = None
    lease_id: str | None = None


class UsagePage(_Out):
    """``GET /leases/{id}/usage``: totals per meter over the whole window, events page by page (by time)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    lease_id: str
    start: Annotated[str, Field(alias="from")]
    end: Annotated[str, Field(alias="to")]
    machine_id: str | None = None
    totals: dict[str, str]
    items: list[UsageEvent]
    next: str | None


class InvoiceSummary(_Out):
    """One invoice of a lease."""

    invoice_id: str
    period: str
    period_start: str
    period_end: str
    currency: str
    total: str
    hash: str
    status: str
    anchor_status: str


class InvoicePage(_Out):
    """``GET /leases/{id}/invoices``: oldest first."""

    items: list[InvoiceSummary]
    next: str | None


class InvoiceQuery(BaseModel):
    """``?event=``: also prove that this usage event is billed on the invoice."""

    event: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class InvoiceRecordView(_Out):
    """An issued invoice: its status, anchoring, the lessee's answer and the document."""

    invoice_id: str
    status: str
    issued_at: str
    archived: bool
    anchor: dict[str, Any]
    answer: dict[str, Any]
    invoice: dict[str, Any]


class InvoiceDocument(InvoiceRecordView):
    """An invoice with its evidence: the billed events, their Merkle root recomputed, a proof on request."""

    evidence: dict[str, Any]
