"""HTTP routes and the schedule of the anchoring area.

* ``GET /proofs?record_id=...`` — the caller's record's proof bundle (404 for another tenant's record).
* ``POST /proofs/verify`` — checks a proof bundle (body) against the registry; needs no stored data.
* ``anchor`` — the scheduled Lambda that drains the queue (every five minutes).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.anchoring.schemas import ProofQuery, VerificationView
from chalicelib.contract import contract
from chalicelib.http import remaining_ms
from chalicelib.wiring import services
from twin_models.anchoring import ProofBundle
from twin_models.budget import time_budget_s
from twin_models.tenancy import Principal

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.route("/proofs", methods=["GET"])
@contract(summary="A record's proof bundle", query=ProofQuery, response=ProofBundle, errors=(409, 503))
def get_proof(principal: Principal, query: ProofQuery) -> dict[str, Any]:
    return services().proofs.bundle_for(principal, query.record_id)


@blueprint.route("/proofs/verify", methods=["POST"])
@contract(summary="Verify a proof bundle off line and against the registry", body=ProofBundle,
          response=VerificationView, errors=(503,))  # fmt: skip
def verify_proof(principal: Principal, body: ProofBundle) -> dict[str, Any]:
    return services().proofs.verify(principal, body.model_dump(mode="json"))


@blueprint.schedule(Rate(5, unit=Rate.MINUTES), name="anchor")
def anchor_pending(event: CloudWatchEvent) -> dict[str, Any]:
    """Drains pending record hashes into anchored batches (stops well within the Lambda's timeout)."""
    budget = time_budget_s(remaining_ms(event))
    return services().anchoring.run_once(time_budget_seconds=budget).as_dict()
