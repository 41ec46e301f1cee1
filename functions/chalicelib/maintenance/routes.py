"""HTTP routes of the maintenance area and its schedule.

* ``POST /machines/{machine_id}/maintenance`` — record an entry (201);
* ``GET /machines/{machine_id}/maintenance?kind=&from=&to=`` — the entries, paginated (``limit``, ``next``);
* ``GET /machines/{machine_id}/maintenance/export`` — the whole history with hashes, links, anchored heads;
* ``GET /machines/{machine_id}/maintenance/due`` — what the maintenance plan says is due and overdue;
* ``GET /maintenance/{entry_id}`` — one entry with its proof bundle;
* ``GET /machines/{machine_id}/tickets?state=`` — the tickets, paginated;
* ``POST /machines/{machine_id}/tickets`` — an operator opens a ticket by hand (201);
* ``POST /tickets/{ticket_id}/acknowledge``, ``/start``, ``/resolve``, ``/dismiss`` — move a ticket;
* ``GET /machines/{machine_id}/statistics?from=&to=`` — usage, alarms, MTBF/MTTR, the health trend;
* ``PUT /maintenance-plans/{machine_type}`` and ``GET`` — the lessor publishes and reads its plan;
* ``maintenance_heads`` — every five minutes, every machine's new chain head into the anchoring queue
  (the ``anchor`` schedule then puts them all in one Merkle batch).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice.app import Blueprint, Rate, Response

from chalicelib.auth import principal_of
from chalicelib.errors import BadInputError
from chalicelib.http import body_model, json_object, page_request, query_param, query_time
from chalicelib.maintenance.requests import Dismissal, Move, NewEntry, NewTicket, Resolution
from chalicelib.wiring import services
from twin_models.maintenance import ENTRY_KINDS

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(5, unit=Rate.MINUTES), name="maintenance_heads")
def anchor_heads(event: Any) -> dict[str, Any]:
    """Every five minutes: each machine's chain head, if it moved, into the next Merkle batch."""
    return services().maintenance.anchor_heads().as_dict()


@blueprint.route("/machines/{machine_id}/maintenance", methods=["POST"])
def create_entry(machine_id: str) -> Response:
    request = blueprint.current_request
    principal = principal_of(request)
    body = services().maintenance.create_entry(principal, machine_id, body_model(request, NewEntry))
    return Response(status_code=201, body=body)


@blueprint.route("/machines/{machine_id}/maintenance", methods=["GET"])
def list_entries(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    kind = query_param(request, "kind")
    if kind is not None and kind not in ENTRY_KINDS:
        raise BadInputError(f"query parameter 'kind': one of {', '.join(ENTRY_KINDS)}, not {kind!r}")
    start = query_time(request, "from") if query_param(request, "from") else None
    end = query_time(request, "to") if query_param(request, "to") else None
    return services().maintenance.list_entries(principal, machine_id, page_request(request), kind, start, end)


@blueprint.route("/machines/{machine_id}/maintenance/export", methods=["GET"])
def export_history(machine_id: str) -> dict[str, Any]:
    return services().maintenance.export(principal_of(blueprint.current_request), machine_id)


@blueprint.route("/machines/{machine_id}/maintenance/due", methods=["GET"])
def due(machine_id: str) -> dict[str, Any]:
    return services().maintenance.due(principal_of(blueprint.current_request), machine_id)


@blueprint.route("/maintenance/{entry_id}", methods=["GET"])
def get_entry(entry_id: str) -> dict[str, Any]:
    return services().maintenance.entry(principal_of(blueprint.current_request), entry_id)


@blueprint.route("/machines/{machine_id}/tickets", methods=["GET"])
def list_tickets(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.tickets(principal, machine_id, page_request(request), query_param(request, "state"))


@blueprint.route("/machines/{machine_id}/tickets", methods=["POST"])
def open_ticket(machine_id: str) -> Response:
    request = blueprint.current_request
    principal = principal_of(request)
    body = services().maintenance.open_ticket(principal, machine_id, body_model(request, NewTicket))
    return Response(status_code=201, body=body)


@blueprint.route("/tickets/{ticket_id}/acknowledge", methods=["POST"])
def acknowledge(ticket_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.acknowledge(principal, ticket_id, body_model(request, Move))


@blueprint.route("/tickets/{ticket_id}/start", methods=["POST"])
def start(ticket_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.start(principal, ticket_id, body_model(request, Move))


@blueprint.route("/tickets/{ticket_id}/resolve", methods=["POST"])
def resolve(ticket_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.resolve(principal, ticket_id, body_model(request, Resolution))


@blueprint.route("/tickets/{ticket_id}/dismiss", methods=["POST"])
def dismiss(ticket_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.dismiss(principal, ticket_id, body_model(request, Dismissal))


@blueprint.route("/machines/{machine_id}/statistics", methods=["GET"])
def statistics(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    end = query_time(request, "to", services().maintenance.clock())
    start = query_time(request, "from", end - timedelta(days=7))
    return services().maintenance.statistics(principal, machine_id, start, end)


@blueprint.route("/maintenance-plans/{machine_type}", methods=["PUT"])
def publish_plan(machine_type: str) -> dict[str, Any]:
    request = blueprint.current_request
    principal = principal_of(request)
    return services().maintenance.publish_plan(principal, machine_type, json_object(request))


@blueprint.route("/maintenance-plans/{machine_type}", methods=["GET"])
def get_plan(machine_type: str) -> dict[str, Any]:
    return services().maintenance.plan(principal_of(blueprint.current_request), machine_type)
