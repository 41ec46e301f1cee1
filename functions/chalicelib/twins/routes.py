"""HTTP routes of the twins: machines, twin (now or at a time), timeline, desired configuration."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.auth import principal_of
from chalicelib.http import query_param, query_time
from chalicelib.twins.service import TwinQueries

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)
_queries: TwinQueries | None = None


def queries() -> TwinQueries:
    """The query service, built on first use."""
    global _queries
    if _queries is None:
        _queries = TwinQueries()
    return _queries


@blueprint.route("/machines", methods=["GET"])
def list_machines() -> dict[str, Any]:
    return {"machines": queries().machines(principal_of(blueprint.current_request))}


@blueprint.route("/machines/{machine_id}/twin", methods=["GET"])
def get_twin(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    at = query_time(request, "at") if query_param(request, "at") else None
    return queries().twin(principal_of(request), machine_id, at)


@blueprint.route("/machines/{machine_id}/timeline", methods=["GET"])
def get_timeline(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return queries().timeline(principal_of(request), machine_id, query_time(request, "from"), query_time(request, "to"))


@blueprint.route("/machines/{machine_id}/desired", methods=["PUT"])
def put_desired(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return queries().set_desired(principal_of(request), machine_id, request.json_body)


@blueprint.route("/fleet", methods=["GET"])
def get_fleet() -> dict[str, Any]:
    request = blueprint.current_request
    return queries().fleet_at(principal_of(request), query_time(request, "at"))
