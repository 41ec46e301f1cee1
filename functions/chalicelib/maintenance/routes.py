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

from chalice.app import Blueprint, Rate

from chalicelib.contract import contract
from chalicelib.maintenance.requests import Dismissal, Move, NewEntry, NewTicket, Resolution
from chalicelib.maintenance.schemas import (
    DueView,
    EntryPage,
    EntryQuery,
    EntryView,
    EntryWithProof,
    ExportView,
    PlanDocument,
    PlanView,
    StatisticsQuery,
    StatisticsView,
    TicketMove,
    TicketPage,
    TicketQuery,
)
from chalicelib.wiring import services
from twin_models.tenancy import Principal

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(5, unit=Rate.MINUTES), name="maintenance_heads")
def anchor_heads(event: Any) -> dict[str, Any]:
    """Every five minutes: each machine's chain head, if it moved, into the next Merkle batch."""
    return services().maintenance.anchor_heads().as_dict()


@blueprint.route("/machines/{machine_id}/maintenance", methods=["POST"])
@contract(summary="Record a maintenance-log entry (its kind by the caller's role)", body=NewEntry,
          response=EntryView, status=201, errors=(503,))  # fmt: skip
def create_entry(machine_id: str, principal: Principal, body: NewEntry) -> dict[str, Any]:
    return services().maintenance.create_entry(principal, machine_id, body)


@blueprint.route("/machines/{machine_id}/maintenance", methods=["GET"])
@contract(summary="A machine's maintenance-log entries, in log order", query=EntryQuery, response=EntryPage)
def list_entries(machine_id: str, principal: Principal, query: EntryQuery) -> dict[str, Any]:
    return services().maintenance.list_entries(principal, machine_id, query.page(), query.kind, query.start, query.end)


@blueprint.route("/machines/{machine_id}/maintenance/export", methods=["GET"])
@contract(summary="A machine's whole maintenance history: entries, hashes, links, anchored heads with proofs",
          response=ExportView)  # fmt: skip
def export_history(machine_id: str, principal: Principal) -> dict[str, Any]:
    return services().maintenance.export(principal, machine_id)


@blueprint.route("/machines/{machine_id}/maintenance/due", methods=["GET"])
@contract(summary="What the machine's maintenance plan says is due and overdue", response=DueView)
def due(machine_id: str, principal: Principal) -> dict[str, Any]:
    return services().maintenance.due(principal, machine_id)


@blueprint.route("/maintenance/{entry_id}", methods=["GET"])
@contract(summary="One maintenance-log entry with its proof bundle", response=EntryWithProof)
def get_entry(entry_id: str, principal: Principal) -> dict[str, Any]:
    return services().maintenance.entry(principal, entry_id)


@blueprint.route("/machines/{machine_id}/tickets", methods=["GET"])
@contract(summary="A machine's tickets, in the order they were opened", query=TicketQuery, response=TicketPage)
def list_tickets(machine_id: str, principal: Principal, query: TicketQuery) -> dict[str, Any]:
    return services().maintenance.tickets(principal, machine_id, query.page(), query.state)


@blueprint.route("/machines/{machine_id}/tickets", methods=["POST"])
@contract(summary="The lessee's operator opens a ticket for a fault the sensors do not see", body=NewTicket,
          response=TicketMove, status=201, errors=(409, 503))  # fmt: skip
def open_ticket(machine_id: str, principal: Principal, body: NewTicket) -> dict[str, Any]:
    return services().maintenance.open_ticket(principal, machine_id, body)


@blueprint.route("/tickets/{ticket_id}/acknowledge", methods=["POST"])
@contract(summary="The lessee's operator acknowledges a ticket", body=Move, response=TicketMove,
          errors=(409, 503))  # fmt: skip
def acknowledge(ticket_id: str, principal: Principal, body: Move) -> dict[str, Any]:
    return services().maintenance.acknowledge(principal, ticket_id, body)


@blueprint.route("/tickets/{ticket_id}/start", methods=["POST"])
@contract(summary="The lessor's service technician starts work on a ticket", body=Move, response=TicketMove,
          errors=(409, 503))  # fmt: skip
def start(ticket_id: str, principal: Principal, body: Move) -> dict[str, Any]:
    return services().maintenance.start(principal, ticket_id, body)


@blueprint.route("/tickets/{ticket_id}/resolve", methods=["POST"])
@contract(summary="The lessor's service technician resolves a ticket with the entry that resolves it",
          body=Resolution, response=TicketMove, errors=(409, 503))  # fmt: skip
def resolve(ticket_id: str, principal: Principal, body: Resolution) -> dict[str, Any]:
    return services().maintenance.resolve(principal, ticket_id, body)


@blueprint.route("/tickets/{ticket_id}/dismiss", methods=["POST"])
@contract(summary="The lessor's service technician dismisses a ticket, with a reason", body=Dismissal,
          response=TicketMove, errors=(409, 503))  # fmt: skip
def dismiss(ticket_id: str, principal: Principal, body: Dismissal) -> dict[str, Any]:
    return services().maintenance.dismiss(principal, ticket_id, body)


@blueprint.route("/machines/{machine_id}/statistics", methods=["GET"])
@contract(summary="A machine's usage statistics, alarms, MTBF/MTTA/MTTR and health trend in a period",
          query=StatisticsQuery, response=StatisticsView)  # fmt: skip
def statistics(machine_id: str, principal: Principal, query: StatisticsQuery) -> dict[str, Any]:
    maintenance = services().maintenance
    end = query.end or maintenance.clock()
    start = query.start or end - timedelta(days=7)
    return maintenance.statistics(principal, machine_id, start, end)


@blueprint.route("/maintenance-plans/{machine_type}", methods=["PUT"])
@contract(summary="The lessor publishes its maintenance plan for a machine type", body=PlanDocument,
          response=PlanView)  # fmt: skip
def publish_plan(machine_type: str, principal: Principal, body: PlanDocument) -> dict[str, Any]:
    return services().maintenance.publish_plan(principal, machine_type, body.model_dump())


@blueprint.route("/maintenance-plans/{machine_type}", methods=["GET"])
@contract(summary="The lessor's maintenance plan for a machine type", response=PlanView)
def get_plan(machine_type: str, principal: Principal) -> dict[str, Any]:
    return services().maintenance.plan(principal, machine_type)
