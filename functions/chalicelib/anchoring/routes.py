"""HTTP routes and the schedule of the anchoring area.

* ``GET /proofs?record_id=...`` — the caller's record's proof bundle (404 for another tenant's record).
* ``POST /proofs/verify`` — checks a proof bundle (body) against the registry; needs no stored data.
* ``anchor`` — the scheduled Lambda that drains the queue (every five minutes).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.auth import principal_of
from chalicelib.http import query_param, remaining_ms
from chalicelib.wiring import services
from twin_models.budget import time_budget_s

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.route("/proofs", methods=["GET"])
def get_proof() -> dict[str, Any]:
    request = blueprint.current_request
    return services().proofs.bundle_for(principal_of(request), query_param(request, "record_id") or "")


@blueprint.route("/proofs/verify", methods=["POST"])
def verify_proof() -> dict[str, Any]:
    request = blueprint.current_request
    return services().proofs.verify(principal_of(request), request.json_body)


@blueprint.schedule(Rate(5, unit=Rate.MINUTES), name="anchor")
def anchor_pending(event: CloudWatchEvent) -> dict[str, Any]:
    """Drains pending record hashes into anchored batches (stops well within the Lambda's timeout)."""
    budget = time_budget_s(remaining_ms(event))
    return services().anchoring.run_once(time_budget_seconds=budget).as_dict()
