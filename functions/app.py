"""twinledger's Lambda functions and HTTP API (Chalice).

Routes live in blueprints per concern; event handlers are one-liners into their services.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.billing.routes import blueprint as billing_routes
from chalicelib.chain.routes import blueprint as anchoring_routes
from chalicelib.oee.routes import blueprint as oee_routes
from chalicelib.twins.ingest import IngestService, logger, metrics
from chalicelib.twins.routes import blueprint as twins_routes

app = Chalice(app_name="twinledger")
app.register_blueprint(twins_routes)
app.register_blueprint(anchoring_routes)
app.register_blueprint(oee_routes)
app.register_blueprint(billing_routes)

_ingest: IngestService | None = None


def ingest_service() -> IngestService:
    """The ingest service, built on first use (after moto or AWS credentials are in place)."""
    global _ingest
    if _ingest is None:
        _ingest = IngestService()
    return _ingest


@app.lambda_function(name="ingest")
@metrics.log_metrics
@logger.inject_lambda_context
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch of telemetry envelopes (from the IoT topic rule) -> history, shadows; partial failures out."""
    return ingest_service().handle_batch(event).response()
