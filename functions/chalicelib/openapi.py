"""The OpenAPI 3.1 document of the HTTP API, built from the app's routes and the contracts beside them.

Every Chalice route is an operation: its path parameters, the fields of its query model as query
parameters, its body model as the request body, its response model under its success status, and problem
details (:class:`~chalicelib.problems.Problem`) for every error. The schemas are the pydantic models' own
JSON Schemas (OpenAPI 3.1 is JSON Schema 2020-12), collected under ``components.schemas``. A route without
a contract still appears, marked ``x-undeclared`` (a test refuses that).

Example:
    >>> from chalice.app import Chalice
    >>> doc = document(Chalice(app_name="empty"))
    >>> doc["openapi"], sorted(doc["components"]["securitySchemes"])
    ('3.1.0', ['bearerAuth', 'cognito'])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from chalice.app import Chalice, RouteEntry
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.contract import Contract, contract_of
from chalicelib.problems import MEDIA_TYPE, Problem

__all__ = ["API_VERSION", "document"]

API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)\}")
Mode = Literal["validation", "serialization"]

_SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Locally (`twinledger api`, `twinledger up`): an HS256 token they print, with the claims "
        "`tenant` and `role` (lessor, lessee, technician, service). In AWS: the caller's Cognito ID token.",
    },
    "cognito": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "In AWS: API Gateway's Cognito user pool authorizer; the token's `custom:tenant` and "
        "`custom:role` claims name the caller.",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
    },
}
#: An example of each path parameter (the ids ``twinledger api`` seeds).
_PATH_EXAMPLES = {
    "machine_id": "cnc-01",
    "line_id": "line-a",
    "site_id": "plant-a",
    "lease_id": "toolmaker:lease-demo",
    "invoice_id": "toolmaker:lease-demo@2026-01-05",
    "part_id": "cnc-01:1767592830000:42",
}
_SECURED: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"cognito": []}]


def _area(entry: RouteEntry) -> str:
    module = str(getattr(entry.view_function, "__module__", ""))
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "chalicelib" else "api"


def _models(routes: list[tuple[str, str, RouteEntry, Contract | None]]) -> list[tuple[type[BaseModel], Mode]]:
    wanted: list[tuple[type[BaseModel], Mode]] = [(Problem, "serialization")]
    for _, _, _, declared in routes:
        if declared is None:
            continue
        for model, mode in ((declared.query, "validation"), (declared.body, "validation")):
            if model is not None:
                wanted.append((model, mode))  # type: ignore[arg-type]
        if declared.response is not None:
            wanted.append((declared.response, "serialization"))
    return list(dict.fromkeys(wanted))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without its ``null`` branch (an absent parameter is the null)."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            return {**kept[0], **rest}
    if schema.get("default") is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return schema


def _query_parameters(component: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(component.get("required", []))
    found = []
    for name, schema in component.get("properties", {}).items():
        clean = _without_null(dict(schema))
        parameter = {"name": name, "in": "query", "required": name in required, "schema": clean}
        if "description" in clean:
            parameter["description"] = clean["description"]
        found.append(parameter)
    return found


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}}}}


_ERROR_TEXT = {
    400: "a parameter or the body does not fit (errors name each field)",
    401: "no valid token",
    403: "the caller's role may not do this",
    404: "no such resource for this caller",
    409: "the resource's state does not allow this",
    413: "too large",
    503: "a backing service is unavailable",
}


def _operation(
    path: str, method: str, entry: RouteEntry, declared: Contract | None, refs: Mapping[Any, dict[str, Any]],
    components: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    name = str(getattr(entry.view_function, "__name__", entry.view_name))
    operation: dict[str, Any] = {"operationId": name, "tags": [_area(entry)]}
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        | ({"example": _PATH_EXAMPLES[p]} if p in _PATH_EXAMPLES else {})
        for p in _PARAM.findall(path)
    ]
    responses: dict[str, Any] = {}
    if declared is None:
        operation.update(summary=name, **{"x-undeclared": True})
        responses["200"] = {"description": "undeclared"}
    else:
        operation["summary"] = declared.summary
        if declared.description:
            operation["description"] = declared.description
        if declared.query is not None:
            ref = refs[(declared.query, "validation")]["$ref"].rsplit("/", 1)[-1]
            parameters += _query_parameters(components[ref])
        if declared.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(declared.body, "validation")]}},
            }
        schema = refs[(declared.response, "serialization")] if declared.response is not None else {"type": "object"}
        responses[str(declared.status)] = {
            "description": declared.summary,
            "content": {"application/json": {"schema": schema}},
        }
        for status in declared.errors:
            responses[str(status)] = _problem(_ERROR_TEXT.get(status, "error"))
        operation["security"] = _SECURED if declared.auth else []
    responses["default"] = _problem("any other error (405 method, 415 media type, 500) as problem details")
    if parameters:
        operation["parameters"] = parameters
    operation["responses"] = responses
    return operation


def document(app: Chalice) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``: every route, by path and method, in a stable order."""
    routes = [
        (path, method, entry, contract_of(entry.view_function))
        for path in sorted(app.routes)
        for method, entry in sorted(app.routes[path].items())
    ]
    wanted = _models(routes)
    refs, defs = models_json_schema(wanted, ref_template=_REF)
    components: dict[str, Any] = dict(sorted(defs.get("$defs", {}).items()))
    paths: dict[str, Any] = {}
    for path, method, entry, declared in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, entry, declared, refs, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "twinledger API",
            "version": API_VERSION,
            "description": "Trusted machine data for leased CNC machines: twins, OEE, billing and proofs. "
            "Errors are RFC 9457 problem details; lists page with `?limit=` and the `next` cursor.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": _SECURITY_SCHEMES},
        "security": _SECURED,
    }
