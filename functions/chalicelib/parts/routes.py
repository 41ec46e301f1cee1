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

from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint

from chalicelib.contract import contract
from chalicelib.parts.schemas import EpcisDocument, PartPage, PartsQuery, Share, ShareAnswer
from chalicelib.wiring import services
from twin_models.parts import Inspection, InspectionRecord, PartBundle, PartIdScheme
from twin_models.tenancy import Principal

__all__ = ["Share", "blueprint"]

blueprint = Blueprint(__name__)


def _path_id(value: str) -> str:
    """A part id from the path, whether or not the gateway decoded it (ids hold no ``%``)."""
    return unquote(value)


@blueprint.route("/machines/{machine_id}/parts", methods=["GET"])
@contract(summary="A machine's parts the caller may see, by cycle end", query=PartsQuery, response=PartPage)
def list_parts(machine_id: str, principal: Principal, query: PartsQuery) -> dict[str, Any]:
    return services().parts.list_parts(
        principal, machine_id, query.start, query.end, query.page(), order=query.order, lot=query.lot
    )


@blueprint.route("/parts/{part_id}", methods=["GET"])
@contract(summary="A part's proof bundle", response=PartBundle)
def get_part(part_id: str, principal: Principal) -> dict[str, Any]:
    return services().parts.bundle(principal, _path_id(part_id))


@blueprint.route("/parts/{part_id}/epcis", methods=["GET"])
@contract(summary="A part's events as an EPCIS 2.0 document", response=EpcisDocument)
def get_part_epcis(part_id: str, principal: Principal) -> dict[str, Any]:
    return services().parts.epcis(principal, _path_id(part_id))


@blueprint.route("/parts/{part_id}/inspections", methods=["POST"])
@contract(summary="Record an inspector's result for a part (its producer)", body=Inspection,
          response=InspectionRecord, status=201, errors=(409,))  # fmt: skip
def post_inspection(part_id: str, principal: Principal, body: Inspection) -> dict[str, Any]:
    return services().parts.inspect(principal, _path_id(part_id), body)


@blueprint.route("/parts/{part_id}/share", methods=["POST"])
@contract(summary="Share a part with a tenant, read only (its producer)", body=Share, response=ShareAnswer)
def post_share(part_id: str, principal: Principal, body: Share) -> dict[str, Any]:
    return services().parts.share(principal, _path_id(part_id), body.tenant)


@blueprint.route("/machines/{machine_id}/part-scheme", methods=["PUT"])
@contract(summary="Set how a machine's parts are named from now on (its lessee)", body=PartIdScheme,
          response=PartIdScheme)  # fmt: skip
def put_part_scheme(machine_id: str, principal: Principal, body: PartIdScheme) -> dict[str, Any]:
    return services().parts.set_scheme(principal, machine_id, body)
