"""OEE routes (``/machines/{id}/oee``, ``/lines/{id}/oee``, ``/fleet/oee``), a site's shift calendar
(``/sites/{site_id}/calendar``) and the scheduled per-shift run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.contract import contract
from chalicelib.oee.schemas import FleetOee, LineOee, MachineOee, OeeQuery, SiteCalendar
from chalicelib.wiring import services
from twin_models.oee import PeriodBy, PlantCalendar
from twin_models.tenancy import Principal

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


def _range(query: OeeQuery) -> tuple[datetime, datetime, PeriodBy | None]:
    end = query.end or datetime.now(UTC)
    return query.start or end - timedelta(days=1), end, query.by


@blueprint.route("/machines/{machine_id}/oee", methods=["GET"])
@contract(summary="One machine's OEE in a window", query=OeeQuery, response=MachineOee)
def machine_oee(machine_id: str, principal: Principal, query: OeeQuery) -> dict[str, Any]:
    return services().oee.machine_oee(principal, machine_id, *_range(query))


@blueprint.route("/lines/{line_id}/oee", methods=["GET"])
@contract(summary="One line's OEE in a window", query=OeeQuery, response=LineOee)
def line_oee(line_id: str, principal: Principal, query: OeeQuery) -> dict[str, Any]:
    return services().oee.line_oee(principal, line_id, *_range(query))


@blueprint.route("/fleet/oee", methods=["GET"])
@contract(summary="OEE of every machine of the caller (one site)", query=OeeQuery, response=FleetOee)
def fleet_oee(principal: Principal, query: OeeQuery) -> dict[str, Any]:
    return services().oee.fleet_oee(principal, *_range(query))


@blueprint.route("/sites/{site_id}/calendar", methods=["GET"])
@contract(summary="A site's shift calendar", response=SiteCalendar)
def get_calendar(site_id: str, principal: Principal) -> dict[str, Any]:
    return services().oee.site_calendar(principal, site_id)


@blueprint.route("/sites/{site_id}/calendar", methods=["PUT"])
@contract(summary="Set a site's shift calendar (its lessor or lessee)", body=PlantCalendar, response=SiteCalendar)
def put_calendar(site_id: str, principal: Principal, body: PlantCalendar) -> dict[str, Any]:
    return services().oee.set_calendar(principal, site_id, body)


@blueprint.schedule(Rate(1, unit=Rate.HOURS), name="oee_shifts")
def oee_shifts(event: CloudWatchEvent) -> dict[str, Any]:
    """Hourly: store every machine's completed shifts of the look-back window, update ``oee`` shadows,
    and queue closed periods for anchoring.

    "Now" is the event's scheduled time, so a delayed or replayed event computes what it was due to.
    """
    try:
        now = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        now = datetime.now(UTC)
    return services().oee.run_schedule(now if now.tzinfo else now.replace(tzinfo=UTC))
