"""Checks an answer of the app against the OpenAPI document it publishes (the schema of its operation and
status, and the media type), with a JSON Schema 2020-12 validator that is not the one the app uses."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import app
from chalicelib.openapi import document

__all__ = ["assert_conforms", "operation_of"]


@cache
def _document() -> dict[str, Any]:
    return document(app)


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:twinledger:openapi", resource)
    return registry


def operation_of(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The document's path template and operation that serve ``method path``."""
    concrete = path.split("?", 1)[0].rstrip("/") or "/"
    parts = concrete.split("/")
    for template, operations in _document()["paths"].items():
        pattern = template.split("/")
        if len(pattern) != len(parts) or method.lower() not in operations:
            continue
        if all(p.startswith("{") or p == c for p, c in zip(pattern, parts, strict=True)):
            return template, operations[method.lower()]
    raise AssertionError(f"no operation for {method} {path}")


def assert_conforms(method: str, path: str, status: int, headers: dict[str, str], body: bytes | str) -> None:
    """The answer has a documented status (or the default), its media type, and fits its schema."""
    _, operation = operation_of(method, path)
    responses = operation["responses"]
    response = responses.get(str(status)) or responses["default"]
    ((media, spec),) = response["content"].items()
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "application/json")
    assert content_type.split(";")[0].strip() == media, (method, path, status, content_type, media)
    schema = (
        {"$ref": "urn:twinledger:openapi#" + _pointer(spec["schema"])} if "$ref" in spec["schema"] else spec["schema"]
    )
    validator = Draft202012Validator(schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
    assert not errors, (method, path, status, [f"{list(e.path)}: {e.message}"[:300] for e in errors[:5]])


def _pointer(schema: dict[str, Any]) -> str:
    ref = str(schema["$ref"])
    assert re.fullmatch(r"#/components/schemas/[\w.-]+", ref), ref
    return ref[1:]
