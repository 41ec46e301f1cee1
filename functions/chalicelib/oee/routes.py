"""OEE routes (``/machines/{id}/oee``, ``/lines/{id}/oee``, ``/fleet/oee``) and the scheduled per-shift run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate, Request

from chalicelib.auth import principal_of
from chalicelib.http import query_param, query_time
from chalicelib.oee.service import parse_by
from chalicelib.wiring import services
from twin_models.oee import PeriodBy

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


def _range(request: Request) -> tuple[datetime, datetime, PeriodBy | None]:
    end = query_time(request, "to", datetime.now(UTC))
    return query_time(request, "from", end - timedelta(days=1)), end, parse_by(query_param(request, "by"))


@blueprint.route("/machines/{machine_id}/oee", methods=["GET"])
def machine_oee(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().oee.machine_oee(principal_of(request), machine_id, *_range(request))


@blueprint.route("/lines/{line_id}/oee", methods=["GET"])
def line_oee(line_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().oee.line_oee(principal_of(request), line_id, *_range(request))


@blueprint.route("/fleet/oee", methods=["GET"])
def fleet_oee() -> dict[str, Any]:
    request = blueprint.current_request
    return services().oee.fleet_oee(principal_of(request), *_range(request))


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
