"""twinledger's Lambda functions and HTTP API (Chalice).

Routes live in blueprints per area; every route and handler gets its services from
:mod:`chalicelib.wiring`, so the handlers stay one line.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.anchoring.routes import blueprint as anchoring_routes
from chalicelib.billing.routes import blueprint as billing_routes
from chalicelib.ingest.pipeline import logger, metrics
from chalicelib.ingest.routes import blueprint as ingest_routes
from chalicelib.maintenance.routes import blueprint as maintenance_routes
from chalicelib.oee.routes import blueprint as oee_routes
from chalicelib.twins.routes import blueprint as twins_routes
from chalicelib.wiring import services

app = Chalice(app_name="twinledger")
app.register_blueprint(twins_routes)
app.register_blueprint(anchoring_routes)
app.register_blueprint(oee_routes)
app.register_blueprint(billing_routes)
app.register_blueprint(ingest_routes)
app.register_blueprint(maintenance_routes)


@app.lambda_function(name="ingest")
@metrics.log_metrics
@logger.inject_lambda_context
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch of telemetry envelopes (from the IoT topic rule) -> the ingest pipeline; partial failures out."""
    return services().ingest.handle_batch(event).response()
