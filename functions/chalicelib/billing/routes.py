"""HTTP routes of billing and its hourly schedule.

``GET /leases``, ``POST /leases`` (lessor), ``GET /leases/{id}``, ``GET /leases/{id}/usage?from=&to=[&machine_id=]``,
``GET /leases/{id}/invoices``, ``GET /invoices/{id}[?event=<usage event id>]`` (with evidence),
``POST /invoices/{id}/acknowledge`` and ``POST /invoices/{id}/dispute`` (lessee, body ``{"reason": ...}``).
Every route is scoped to the caller's tenant: a lease is visible to its lessor and its lessee only.
A lease is named by its qualified id ``<lessor>:<reference>`` (``toolmaker:lease-0042``), an invoice by
``<lease id>@<period>``; the ``:`` may come percent-encoded (``%3A``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint, Rate

from chalicelib.billing.schemas import (
    Dispute,
    InvoiceDocument,
    InvoicePage,
    InvoiceQuery,
    InvoiceRecordView,
    LeaseDocument,
    LeasePage,
    LeaseView,
    UsagePage,
    UsageQuery,
)
from chalicelib.contract import contract
from chalicelib.http import PageQuery, page, page_body, remaining_ms
from chalicelib.wiring import services
from twin_models.budget import time_budget_s
from twin_models.tenancy import Principal

__all__ = ["Dispute", "blueprint"]

blueprint = Blueprint(__name__)


def _path_id(value: str) -> str:
    """A lease or invoice id from the path, whether or not the gateway decoded it (ids hold no ``%``)."""
    return unquote(value)


@blueprint.schedule(Rate(1, unit=Rate.HOURS), name="billing_close_periods")
def close_periods(event: Any) -> dict[str, Any]:
    """Every hour: close the periods whose grace time has passed, issue, store and anchor their invoices."""
    return services().billing.run(time_budget_s=time_budget_s(remaining_ms(event))).as_dict()


@blueprint.route("/leases", methods=["GET"])
@contract(summary="The caller's leases", query=PageQuery, response=LeasePage)
def list_leases(principal: Principal, query: PageQuery) -> dict[str, Any]:
    leases = services().billing.leases_for(principal)
    return page_body(*page(leases, lambda lease: str(lease["lease_id"]), query.page()))


@blueprint.route("/leases", methods=["POST"])
@contract(summary="Register a lease (its lessor)", body=LeaseDocument, response=LeaseView, status=201,
          errors=(409,))  # fmt: skip
def create_lease(principal: Principal, body: LeaseDocument) -> dict[str, Any]:
    return services().billing.create_lease(principal, body.model_dump(exclude_unset=True))


@blueprint.route("/leases/{lease_id}", methods=["GET"])
@contract(summary="One lease", response=LeaseView)
def get_lease(lease_id: str, principal: Principal) -> dict[str, Any]:
    return services().billing.lease(principal, _path_id(lease_id))


@blueprint.route("/leases/{lease_id}/usage", methods=["GET"])
@contract(summary="A lease's usage events in a window, with totals per meter", query=UsageQuery,
          response=UsagePage)  # fmt: skip
def get_usage(lease_id: str, principal: Principal, query: UsageQuery) -> dict[str, Any]:
    usage = services().billing.lease_usage(principal, _path_id(lease_id), query.start, query.end, query.machine_id)
    events, cursor = page(usage.pop("events"), lambda e: f"{e['ts']}|{e['id']}", query.page())
    return page_body(events, cursor, **usage)


@blueprint.route("/leases/{lease_id}/invoices", methods=["GET"])
@contract(summary="A lease's invoices, oldest first", query=PageQuery, response=InvoicePage)
def list_invoices(lease_id: str, principal: Principal, query: PageQuery) -> dict[str, Any]:
    invoices = services().billing.lease_invoices(principal, _path_id(lease_id))
    return page_body(*page(invoices, lambda i: str(i["period_start"]), query.page()))


@blueprint.route("/invoices/{invoice_id}", methods=["GET"])
@contract(summary="An invoice with its evidence", query=InvoiceQuery, response=InvoiceDocument)
def get_invoice(invoice_id: str, principal: Principal, query: InvoiceQuery) -> dict[str, Any]:
    return services().billing.invoice(principal, _path_id(invoice_id), query.event)


@blueprint.route("/invoices/{invoice_id}/acknowledge", methods=["POST"])
@contract(summary="The lessee acknowledges an invoice", response=InvoiceRecordView, errors=(409,))
def acknowledge_invoice(invoice_id: str, principal: Principal) -> dict[str, Any]:
    return services().billing.answer(principal, _path_id(invoice_id), "acknowledged")


@blueprint.route("/invoices/{invoice_id}/dispute", methods=["POST"])
@contract(summary="The lessee disputes an invoice", body=Dispute, response=InvoiceRecordView, errors=(409,))
def dispute_invoice(invoice_id: str, principal: Principal, body: Dispute) -> dict[str, Any]:
    return services().billing.answer(principal, _path_id(invoice_id), "disputed", body.reason)
