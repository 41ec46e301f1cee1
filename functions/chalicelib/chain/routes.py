"""HTTP routes and the schedule of the anchoring area.

* ``GET /proofs?record_id=...`` — the caller's record's proof bundle (404 for another tenant's record).
* ``POST /proofs/verify`` — checks a proof bundle (body) against the registry; needs no stored data.
* ``anchor`` — the scheduled Lambda that drains the queue (every ``TWINLEDGER_ANCHOR_EVERY_MIN`` minutes).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.auth import principal_of
from chalicelib.http import query_param

if TYPE_CHECKING:
    from .proofs import ProofQueries

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)
_EVERY_MINUTES = int(os.environ.get("TWINLEDGER_ANCHOR_EVERY_MIN") or "5")


def proofs() -> ProofQueries:
    """The proof queries over the process's anchoring service (web3 loads here, not at import)."""
    from .proofs import ProofQueries
    from .wiring import get_anchoring_service

    return ProofQueries(get_anchoring_service())


@blueprint.route("/proofs", methods=["GET"])
def get_proof() -> dict[str, Any]:
    request = blueprint.current_request
    return proofs().bundle_for(principal_of(request), query_param(request, "record_id") or "")


@blueprint.route("/proofs/verify", methods=["POST"])
def verify_proof() -> dict[str, Any]:
    request = blueprint.current_request
    return proofs().verify(principal_of(request), request.json_body)


@blueprint.schedule(Rate(_EVERY_MINUTES, unit=Rate.MINUTES), name="anchor")
def anchor_pending(event: CloudWatchEvent) -> dict[str, Any]:
    """Drains pending record hashes into anchored batches (stops well within the Lambda's timeout)."""
    from .wiring import get_anchoring_service

    return get_anchoring_service().run_once(time_budget_seconds=_budget_seconds(event)).as_dict()


def _budget_seconds(event: CloudWatchEvent) -> float:
    """Time to start new batches: the Lambda's remaining time less a margin for the last one."""
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return 600.0
    return max(1.0, float(remaining()) / 1000.0 - 30.0)
