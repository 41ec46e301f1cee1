"""The ingest area's schedule: ``ingest_catch_up`` completes the later steps of envelopes in the backlog.

(The ingest handler itself is a ``lambda_function`` in ``app.py``: Chalice has no IoT event source, and the
SQS event source mapping with partial-batch reporting is declared in the CDK app.)
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.wiring import services

__all__ = ["blueprint"]

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(1, unit=Rate.MINUTES), name="ingest_catch_up")
def ingest_catch_up(event: CloudWatchEvent) -> dict[str, Any]:
    """Every minute: shadow and metering for backlogged envelopes (a failed step retried from history)."""
    return services().ingest.catch_up()
