"""HTTP routes of billing and its hourly schedule.

``GET /leases``, ``POST /leases`` (lessor), ``GET /leases/{id}``, ``GET /leases/{id}/usage?from=&to=``,
``GET /leases/{id}/invoices``, ``GET /invoices/{id}[?event=<usage event id>]`` (with evidence),
``POST /invoices/{id}/acknowledge`` and ``POST /invoices/{id}/dispute`` (lessee, body ``{"reason": ...}``).
Every route is scoped to the caller's tenant: a lease is visible to its lessor and its lessee only.
A lease is named by its qualified id ``<lessor>:<reference>`` (``toolmaker:lease-0042``), an invoice by
``<lease id>@<period>``; the ``:`` may come percent-encoded (``%3A``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from chalice.app import Blueprint, Rate, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.auth import principal_of
from chalicelib.http import body_model, json_object, query_param, query_time, remaining_ms
from chalicelib.wiring import services
from twin_models.budget import time_budget_s

__all__ = ["Dispute", "blueprint"]

blueprint = Blueprint(__name__)


def _path_id(value: str) -> str:
    """A lease or invoice id from the path, whether or not the gateway decoded it (ids hold no ``%``)."""
    return unquote(value)


class Dispute(BaseModel):
    """``POST /invoices/{id}/dispute``: why the lessee disputes the invoice."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


@blueprint.schedule(Rate(1, unit=Rate.HOURS), name="billing_close_periods")
def close_periods(event: Any) -> dict[str, Any]:
    """Every hour: close the periods whose grace time has passed, issue, store and anchor their invoices."""
    return services().billing.run(time_budget_s=time_budget_s(remaining_ms(event))).as_dict()


@blueprint.route("/leases", methods=["GET"])
def list_leases() -> dict[str, Any]:
    return {"leases": services().billing.leases_for(principal_of(blueprint.current_request))}


@blueprint.route("/leases", methods=["POST"])
def create_lease() -> Response:
    request = blueprint.current_request
    principal = principal_of(request)
    lease = services().billing.create_lease(principal, json_object(request))
    return Response(status_code=201, body=lease)


@blueprint.route("/leases/{lease_id}", methods=["GET"])
def get_lease(lease_id: str) -> dict[str, Any]:
    return services().billing.lease(principal_of(blueprint.current_request), _path_id(lease_id))


@blueprint.route("/leases/{lease_id}/usage", methods=["GET"])
def get_usage(lease_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    start, end = query_time(request, "from"), query_time(request, "to")
    return services().billing.lease_usage(principal_of(request), _path_id(lease_id), start, end)


@blueprint.route("/leases/{lease_id}/invoices", methods=["GET"])
def list_invoices(lease_id: str) -> dict[str, Any]:
    principal = principal_of(blueprint.current_request)
    return {"invoices": services().billing.lease_invoices(principal, _path_id(lease_id))}


@blueprint.route("/invoices/{invoice_id}", methods=["GET"])
def get_invoice(invoice_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().billing.invoice(principal_of(request), _path_id(invoice_id), query_param(request, "event"))


@blueprint.route("/invoices/{invoice_id}/acknowledge", methods=["POST"])
def acknowledge_invoice(invoice_id: str) -> dict[str, Any]:
    return services().billing.answer(principal_of(blueprint.current_request), _path_id(invoice_id), "acknowledged")


@blueprint.route("/invoices/{invoice_id}/dispute", methods=["POST"])
def dispute_invoice(invoice_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)  # who asks comes before what they send
    reason = body_model(request, Dispute).reason
    return services().billing.answer(principal, _path_id(invoice_id), "disputed", reason)
