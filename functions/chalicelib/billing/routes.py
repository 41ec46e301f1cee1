"""HTTP routes of billing and its hourly schedule.

``GET /leases``, ``POST /leases`` (lessor), ``GET /leases/{id}``, ``GET /leases/{id}/usage?from=&to=``,
``GET /leases/{id}/invoices``, ``GET /invoices/{id}[?event=<usage event id>]`` (with evidence),
``POST /invoices/{id}/acknowledge`` and ``POST /invoices/{id}/dispute`` (lessee, body ``{"reason": ...}``).
Every route is scoped to the caller's tenant: a lease is visible to its lessor and its lessee only.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate, Response

from chalicelib.auth import principal_of
from chalicelib.billing.service import BillingService
from chalicelib.http import query_param, query_time

__all__ = ["blueprint", "service"]

blueprint = Blueprint(__name__)
_service: BillingService | None = None


def service() -> BillingService:
    """The billing service, built on first use (after moto or AWS credentials are in place)."""
    global _service
    if _service is None:
        _service = BillingService()
    return _service


def _body() -> Any:
    return blueprint.current_request.json_body or {}


@blueprint.schedule(Rate(1, unit=Rate.HOURS), name="billing_close_periods")
def close_periods(event: Any) -> dict[str, Any]:
    """Every hour: close the periods whose grace time has passed, issue, store and anchor their invoices."""
    return service().run(time_budget_s=_budget_s(getattr(event, "context", None))).as_dict()


def _budget_s(context: Any) -> float | None:
    """The Lambda's remaining time less a margin for the lease in hand (a fifth, at most a minute)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    left = float(remaining()) / 1000
    return max(0.0, left - min(60.0, left / 5))


@blueprint.route("/leases", methods=["GET"])
def list_leases() -> dict[str, Any]:
    return {"leases": service().leases_for(principal_of(blueprint.current_request))}


@blueprint.route("/leases", methods=["POST"])
def create_lease() -> Response:
    lease = service().create_lease(principal_of(blueprint.current_request), _body())
    return Response(status_code=201, body=lease)


@blueprint.route("/leases/{lease_id}", methods=["GET"])
def get_lease(lease_id: str) -> dict[str, Any]:
    return service().lease(principal_of(blueprint.current_request), lease_id)


@blueprint.route("/leases/{lease_id}/usage", methods=["GET"])
def get_usage(lease_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    start, end = query_time(request, "from"), query_time(request, "to")
    return service().lease_usage(principal_of(request), lease_id, start, end)


@blueprint.route("/leases/{lease_id}/invoices", methods=["GET"])
def list_invoices(lease_id: str) -> dict[str, Any]:
    return {"invoices": service().lease_invoices(principal_of(blueprint.current_request), lease_id)}


@blueprint.route("/invoices/{invoice_id}", methods=["GET"])
def get_invoice(invoice_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return service().invoice(principal_of(request), invoice_id, query_param(request, "event"))


@blueprint.route("/invoices/{invoice_id}/acknowledge", methods=["POST"])
def acknowledge_invoice(invoice_id: str) -> dict[str, Any]:
    return service().answer(principal_of(blueprint.current_request), invoice_id, "acknowledged")


@blueprint.route("/invoices/{invoice_id}/dispute", methods=["POST"])
def dispute_invoice(invoice_id: str) -> dict[str, Any]:
    reason = _body().get("reason")
    return service().answer(principal_of(blueprint.current_request), invoice_id, "disputed", reason)
