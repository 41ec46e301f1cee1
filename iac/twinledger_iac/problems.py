"""API Gateway's own errors as RFC 9457 problem details, like the app's: ``application/problem+json`` with
``type``, ``title``, ``status``, ``detail`` and ``errors`` (a list of ``{"path", "message"}``).

Two pieces, both written into the OpenAPI body Chalice generates:

* **Gateway responses** (``x-amazon-apigateway-gateway-responses``) for every error API Gateway answers
  before a function runs: 401 (no or bad token), 403, 429 (throttled), 413, 415, the 5xx of a failed
  integration or authorizer, and the ``DEFAULT_4XX`` / ``DEFAULT_5XX`` catch-alls.
* **405 for methods a route does not declare**: every path gets an ``x-amazon-apigateway-any-method``
  with a mock integration that answers 405 and an ``Allow`` header; API Gateway routes a request to a
  declared method first, so only the undeclared ones (PUT on a GET-only path, ...) reach it.

What API Gateway cannot do: a method it does not support at all (TRACE, CONNECT, QUERY: it accepts only
DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT) never reaches a resource, and neither does an unknown
path; both are API Gateway's ``MISSING_AUTHENTICATION_TOKEN`` response, which is mapped here to a **404**
problem ("no such route"). The Cognito authorizer answers a missing token with ``UNAUTHORIZED`` (401), so
that response type means "unknown route" in this API.

``type`` is ``about:blank`` (RFC 9457 section 4.2.1): the problem is what the HTTP status says, and
``title`` is the status phrase.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = [
    "GATEWAY_PROBLEMS",
    "PROBLEM_CONTENT_TYPE",
    "GatewayProblem",
    "gateway_responses",
    "method_not_allowed",
    "problem_template",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
#: The methods API Gateway routes to an OpenAPI operation.
OPENAPI_METHODS = ("delete", "get", "head", "options", "patch", "post", "put")


@dataclass(frozen=True)
class GatewayProblem:
    """One gateway response type, the status it answers with and the ``detail`` (a VTL expression)."""

    response_type: str
    status: int
    detail: str = "$context.error.messageString"

    @property
    def title(self) -> str:
        """The status phrase (``Too Many Requests``)."""
        return HTTPStatus(self.status).phrase


#: Every gateway response type the API answers with a problem; ``detail`` defaults to API Gateway's message.
GATEWAY_PROBLEMS = (
    GatewayProblem("UNAUTHORIZED", 401, '"a valid bearer token (Cognito ID token) is required"'),
    GatewayProblem("EXPIRED_TOKEN", 401, '"the token has expired"'),
    GatewayProblem("INVALID_SIGNATURE", 403),
    GatewayProblem("ACCESS_DENIED", 403),
    GatewayProblem("WAF_FILTERED", 403),
    GatewayProblem("MISSING_AUTHENTICATION_TOKEN", 404, '"no such route: $context.httpMethod $context.path"'),
    GatewayProblem("RESOURCE_NOT_FOUND", 404),
    GatewayProblem("BAD_REQUEST_BODY", 400),
    GatewayProblem("BAD_REQUEST_PARAMETERS", 400),
    GatewayProblem("REQUEST_TOO_LARGE", 413),
    GatewayProblem("UNSUPPORTED_MEDIA_TYPE", 415),
    GatewayProblem("THROTTLED", 429, '"too many requests: retry after a pause"'),
    GatewayProblem("QUOTA_EXCEEDED", 429),
    GatewayProblem("AUTHORIZER_FAILURE", 500),
    GatewayProblem("AUTHORIZER_CONFIGURATION_ERROR", 500),
    GatewayProblem("API_CONFIGURATION_ERROR", 500),
    GatewayProblem("INTEGRATION_FAILURE", 502),
    GatewayProblem("INTEGRATION_TIMEOUT", 504),
    GatewayProblem("DEFAULT_4XX", 400),
    GatewayProblem("DEFAULT_5XX", 500),
)


def problem_template(status: int, detail: str) -> str:
    """The VTL mapping template of a problem document; ``detail`` is a VTL expression yielding a JSON string.

    Example:
        >>> doc = json.loads(problem_template(404, '"no such route"'))
        >>> doc["type"], doc["title"], doc["status"], doc["detail"], doc["errors"]
        ('about:blank', 'Not Found', 404, 'no such route', [])
    """
    phrase = json.dumps(HTTPStatus(status).phrase)
    return (
        f'{{"type":"about:blank","title":{phrase},"status":{status},"detail":{detail},"errors":[],'
        '"instance":"$context.path","request_id":"$context.requestId"}'
    )


def gateway_responses() -> dict[str, Any]:
    """``x-amazon-apigateway-gateway-responses``: one problem response per :data:`GATEWAY_PROBLEMS` entry."""
    responses: dict[str, Any] = {}
    for problem in GATEWAY_PROBLEMS:
        template = problem_template(problem.status, problem.detail)
        responses[problem.response_type] = {
            "statusCode": str(problem.status),
            "responseParameters": {"gatewayresponse.header.Content-Type": f"'{PROBLEM_CONTENT_TYPE}'"},
            # API Gateway picks the template by the request's Accept; the same document for every type.
            "responseTemplates": {"application/json": template, PROBLEM_CONTENT_TYPE: template, "*/*": template},
        }
    return responses


def method_not_allowed(declared: list[str]) -> dict[str, Any]:
    """The ``x-amazon-apigateway-any-method`` of a path whose operations are ``declared`` (``get``, ...)."""
    allow = ", ".join(sorted(m.upper() for m in declared if m in OPENAPI_METHODS))
    detail = json.dumps(f"this route allows {allow}")[:-1] + ', not $context.httpMethod"'
    template = problem_template(405, detail)
    return {
        "summary": "Any method the route does not declare: 405 with problem details",
        "consumes": ["application/json"],
        "produces": [PROBLEM_CONTENT_TYPE],
        "responses": {
            "405": {
                "description": "Method Not Allowed",
                "headers": {"Allow": {"type": "string"}, "Content-Type": {"type": "string"}},
            }
        },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "passthroughBehavior": "when_no_templates",
            "requestTemplates": {"application/json": '{"statusCode": 405}'},
            "responses": {
                "default": {
                    "statusCode": "405",
                    "responseParameters": {
                        "method.response.header.Allow": f"'{allow}'",
                        "method.response.header.Content-Type": f"'{PROBLEM_CONTENT_TYPE}'",
                    },
                    "responseTemplates": {"application/json": template},
                }
            },
        },
    }
