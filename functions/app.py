"""twinledger's Lambda functions and HTTP API (Chalice).

Routes live in blueprints per area; every route and handler gets its services from
:mod:`chalicelib.wiring`, so the handlers stay one line. Every error answer is problem details
(:mod:`chalicelib.problems`), and ``GET /openapi.json`` is the contract the routes declare
(:mod:`chalicelib.openapi`).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib import contract, problems
from chalicelib.anchoring.routes import blueprint as anchoring_routes
from chalicelib.billing.routes import blueprint as billing_routes
from chalicelib.ingest.pipeline import logger, metrics
from chalicelib.ingest.routes import blueprint as ingest_routes
from chalicelib.maintenance.routes import blueprint as maintenance_routes
from chalicelib.observability import observe
from chalicelib.oee.routes import blueprint as oee_routes
from chalicelib.openapi import document
from chalicelib.parts.routes import blueprint as parts_routes
from chalicelib.twins.routes import blueprint as twins_routes
from chalicelib.wiring import services

app = Chalice(app_name="twinledger")
problems.install(app)
contract.bind(app)
app.register_middleware(observe, "all")  # JSON logs with the Lambda context, X-Ray subsegments
app.register_blueprint(twins_routes)
app.register_blueprint(anchoring_routes)
app.register_blueprint(oee_routes)
app.register_blueprint(billing_routes)
app.register_blueprint(ingest_routes)
app.register_blueprint(maintenance_routes)
app.register_blueprint(parts_routes)


@app.route("/openapi.json", methods=["GET"])
@contract.contract(summary="This API's OpenAPI 3.1 document (no token needed)", auth=False)
def openapi_document() -> dict[str, Any]:
    return document(app)


@app.lambda_function(name="ingest")
@metrics.log_metrics
@logger.inject_lambda_context
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch of telemetry envelopes (from the IoT topic rule) -> the ingest pipeline; partial failures out."""
    return services().ingest.handle_batch(event).response()
