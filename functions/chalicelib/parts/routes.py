"""HTTP routes of the parts area (tenant-scoped: a part is visible to its producer and whom it is shared with).

* ``GET /machines/{machine_id}/parts?from=&to=&order=&lot=&limit=&next=`` — the machine's parts, paginated;
* ``GET /parts/{part_id}`` — the part's proof bundle (record, EPCIS events, the record's ``ProofBundle``,
  inspections, envelopes, the device key's registration);
* ``GET /parts/{part_id}/epcis`` — the part's events as an EPCIS 2.0 ``EPCISDocument``;
* ``POST /parts/{part_id}/inspections`` — a quality inspector's result (body: an ``Inspection``);
* ``POST /parts/{part_id}/share`` — a read grant for the lessee's customer (body ``{"tenant": ...}``);
* ``PUT /machines/{machine_id}/part-scheme`` — the lessee's part id scheme (body: a ``PartIdScheme``).

A part id holds ``:``; it may come percent-encoded (``%3A``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.auth import principal_of
from chalicelib.http import API_TIMES, body_model, page_request, query_param, query_time
from chalicelib.wiring import services
from twin_models.parts import Inspection, PartIdScheme

__all__ = ["Share", "blueprint"]

blueprint = Blueprint(__name__)


class Share(BaseModel):
    """``POST /parts/{id}/share``: the tenant to grant read access to."""

    model_config = ConfigDict(extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=128)]


@blueprint.route("/machines/{machine_id}/parts", methods=["GET"])
def list_parts(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().parts.list_parts(
        principal_of(request),
        machine_id,
        query_time(request, "from", API_TIMES[0]),
        query_time(request, "to", API_TIMES[1]),
        page_request(request),
        order=query_param(request, "order"),
        lot=query_param(request, "lot"),
    )


@blueprint.route("/parts/{part_id}", methods=["GET"])
def get_part(part_id: str) -> dict[str, Any]:
    return services().parts.bundle(principal_of(blueprint.current_request), unquote(part_id))


@blueprint.route("/parts/{part_id}/epcis", methods=["GET"])
def get_part_epcis(part_id: str) -> dict[str, Any]:
    return services().parts.epcis(principal_of(blueprint.current_request), unquote(part_id))


@blueprint.route("/parts/{part_id}/inspections", methods=["POST"])
def post_inspection(part_id: str) -> Response:
    request = blueprint.current_request
    record = services().parts.inspect(principal_of(request), unquote(part_id), body_model(request, Inspection))
    return Response(status_code=201, body=record)


@blueprint.route("/parts/{part_id}/share", methods=["POST"])
def post_share(part_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().parts.share(principal_of(request), unquote(part_id), body_model(request, Share).tenant)


@blueprint.route("/machines/{machine_id}/part-scheme", methods=["PUT"])
def put_part_scheme(machine_id: str) -> dict[str, Any]:
    request = blueprint.current_request
    return services().parts.set_scheme(principal_of(request), machine_id, body_model(request, PartIdScheme))
