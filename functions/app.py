"""twinledger's Lambda functions and HTTP API (Chalice).

Routes live in blueprints per concern; event handlers are one-liners into their services.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Request, Response

from chalicelib.chain.routes import blueprint as anchoring_routes
from chalicelib.errors import ServiceError
from chalicelib.twins.ingest import IngestService, logger, metrics
from chalicelib.twins.routes import blueprint as twins_routes

app = Chalice(app_name="twinledger")
app.register_blueprint(twins_routes)
app.register_blueprint(anchoring_routes)

_ingest: IngestService | None = None


def ingest_service() -> IngestService:
    """The ingest service, built on first use (after moto or AWS credentials are in place)."""
    global _ingest
    if _ingest is None:
        _ingest = IngestService()
    return _ingest


@app.middleware("http")
def map_service_errors(event: Request, get_response: Any) -> Response:
    """Turn use-case errors into HTTP statuses with a JSON body."""
    try:
        response: Response = get_response(event)
    except ServiceError as exc:
        return Response(status_code=exc.status, body={"error": type(exc).__name__, "message": str(exc)})
    return response


@app.lambda_function(name="ingest")
@metrics.log_metrics
@logger.inject_lambda_context
def ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch of telemetry envelopes (from the IoT topic rule) -> history, shadows; partial failures out."""
    return ingest_service().handle_batch(event).response()
