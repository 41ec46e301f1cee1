"""HTTP routes of the twins: machines, twin (now or at a time), timeline, desired configuration."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.auth import principal_of
from chalicelib.http import query_param, query_time
from chalicelib.wiring import services

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.route("/machines", methods=["GET"])
def list_machines() -> dict[str, Any]:
    return {"machines": services().twins.machines(principal_of(blueprint.current_request))}


@blueprint.route("/machines/{machine_id}/twin", methods=["GET"])
def get_twin(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    at = query_time(request, "at") if query_param(request, "at") else None
    return services().twins.twin(principal_of(request), machine_id, at)


@blueprint.route("/machines/{machine_id}/timeline", methods=["GET"])
def get_timeline(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    start, end = query_time(request, "from"), query_time(request, "to")
    return services().twins.timeline(principal_of(request), machine_id, start, end)


@blueprint.route("/machines/{machine_id}/desired", methods=["PUT"])
def put_desired(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().twins.set_desired(principal_of(request), machine_id, request.json_body)


@blueprint.route("/fleet", methods=["GET"])
def get_fleet() -> dict[str, Any]:
    request = blueprint.current_request
    return services().twins.fleet_at(principal_of(request), query_time(request, "at"))
