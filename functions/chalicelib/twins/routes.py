"""HTTP routes of the twins: machines, twin (now or at a time), timeline, desired configuration, fleet, and
the lessor's registration of machines and gateway keys, and a site's own state codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint

from chalicelib.contract import contract
from chalicelib.http import PageQuery, page, page_body
from chalicelib.twins.schemas import (
    DesiredAnswer,
    FleetPage,
    FleetQuery,
    KeyAddition,
    KeyRetirement,
    MachineKeys,
    MachinePage,
    MachineRegistration,
    SiteStateCodes,
    Timeline,
    TimelineQuery,
    Twin,
    TwinQuery,
)
from chalicelib.wiring import services
from twin_models.device_config import DesiredConfig
from twin_models.states import PlantStateCodes
from twin_models.tenancy import Principal

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


def _machine_id(item: dict[str, Any]) -> str:
    return str(item["machine_id"])


@blueprint.route("/machines", methods=["GET"])
@contract(summary="The caller's machines", query=PageQuery, response=MachinePage)
def list_machines(principal: Principal, query: PageQuery) -> dict[str, Any]:
    return page_body(*page(services().twins.machines(principal), _machine_id, query.page()))


@blueprint.route("/machines", methods=["POST"])
@contract(summary="Register a machine and its gateway keys (lessor)", body=MachineRegistration,
          response=MachineKeys, status=201, errors=(409,))  # fmt: skip
def register_machine(principal: Principal, body: MachineRegistration) -> dict[str, Any]:
    return services().twins.register(principal, body.model_dump())


@blueprint.route("/machines/{machine_id}/keys", methods=["GET"])
@contract(summary="A machine's gateway keys and their retirement times", response=MachineKeys)
def list_keys(machine_id: str, principal: Principal) -> dict[str, Any]:
    return services().twins.keys(principal, machine_id)


@blueprint.route("/machines/{machine_id}/keys", methods=["POST"])
@contract(summary="Add a gateway key (lessor)", body=KeyAddition, response=MachineKeys, errors=(409,))
def add_key(machine_id: str, principal: Principal, body: KeyAddition) -> dict[str, Any]:
    return services().twins.add_key(principal, machine_id, body.key_id, body.public_key_pem)


@blueprint.route("/machines/{machine_id}/keys/retire", methods=["POST"])
@contract(summary="Retire a gateway key from a time (lessor)", body=KeyRetirement, response=MachineKeys)
def retire_key(machine_id: str, principal: Principal, body: KeyRetirement) -> dict[str, Any]:
    return services().twins.retire_key(principal, machine_id, body.key_id, body.at or datetime.now(UTC))


@blueprint.route("/machines/{machine_id}/twin", methods=["GET"])
@contract(summary="A machine's live twin, or its state at a time", query=TwinQuery, response=Twin)
def get_twin(machine_id: str, principal: Principal, query: TwinQuery) -> dict[str, Any]:
    return services().twins.twin(principal, machine_id, query.at)


@blueprint.route("/machines/{machine_id}/timeline", methods=["GET"])
@contract(summary="A machine's state intervals in a window", query=TimelineQuery, response=Timeline)
def get_timeline(machine_id: str, principal: Principal, query: TimelineQuery) -> dict[str, Any]:
    return services().twins.timeline(principal, machine_id, query.start, query.end)


@blueprint.route("/machines/{machine_id}/desired", methods=["PUT"])
@contract(summary="Push configuration to the machine's edge (config shadow, desired)", body=DesiredConfig,
          response=DesiredAnswer, errors=(409, 413))  # fmt: skip
def put_desired(machine_id: str, principal: Principal, body: DesiredConfig) -> dict[str, Any]:
    return services().twins.set_desired(principal, machine_id, body)


@blueprint.route("/fleet", methods=["GET"])
@contract(summary="Every machine of the caller as history shows it at a time", query=FleetQuery, response=FleetPage)
def get_fleet(principal: Principal, query: FleetQuery) -> dict[str, Any]:
    fleet = services().twins.fleet_at(principal, query.at)
    return page_body(*page(fleet["machines"], _machine_id, query.page()), at=fleet["at"])


@blueprint.route("/sites/{site_id}/state-codes", methods=["GET"])
@contract(summary="A site's own state codes mapped onto the categories", response=SiteStateCodes)
def get_state_codes(site_id: str, principal: Principal) -> dict[str, Any]:
    return services().twins.site_state_codes(principal, site_id)


@blueprint.route("/sites/{site_id}/state-codes", methods=["PUT"])
@contract(summary="Map a site's own state codes onto the categories (the lessor of its machines)",
          body=PlantStateCodes, response=SiteStateCodes)  # fmt: skip
def put_state_codes(site_id: str, principal: Principal, body: PlantStateCodes) -> dict[str, Any]:
    return services().twins.set_site_state_codes(principal, site_id, body)
