"""The OpenAPI document: valid OpenAPI 3.1, complete (every Chalice route, each with a declared contract),
committed as generated, served at ``GET /openapi.json`` without a token; and the error model: every error
the app answers is problem details, whoever raised it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from app import app
from chalicelib.openapi import document
from tests.functional.openapi_conformance import assert_conforms

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document(app)
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_chalice_route_is_in_the_document_with_its_contract() -> None:
    doc = document(app)
    routes = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert routes == documented
    undeclared = sorted(
        f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m, op in ops.items() if op.get("x-undeclared")
    )
    assert undeclared == [], f"routes without @contract(...): {undeclared}"


def test_every_parameter_of_a_path_and_of_a_query_model_is_declared() -> None:
    doc = document(app)
    fleet = doc["paths"]["/fleet"]["get"]
    assert {(p["name"], p["in"], p["required"]) for p in fleet["parameters"]} == {
        ("at", "query", True), ("limit", "query", False), ("next", "query", False)
    }  # fmt: skip
    usage = doc["paths"]["/leases/{lease_id}/usage"]["get"]
    assert {p["name"] for p in usage["parameters"]} == {"lease_id", "from", "to", "machine_id", "limit", "next"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == {part[1:-1] for part in path.split("/") if part.startswith("{")}, (method, path)
            assert "default" in operation["responses"], (method, path)


def test_the_committed_document_is_the_generated_one() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == document(app), (
        "docs/openapi.json is stale: run `twinledger api openapi --out docs/openapi.json`"
    )


def test_the_document_is_served_without_a_token() -> None:
    with Client(app) as client:
        response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.body) == document(app)


@pytest.fixture
def jwt_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINLEDGER_AUTH_MODE", "jwt")
    monkeypatch.setenv("TWINLEDGER_JWT_SECRET", "openapi-test-secret-of-32-bytes-or-more")


@pytest.mark.usefixtures("jwt_env")
@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "paths"),
    [
        ("GET", "/machines", {}, None, 401, []),  # Chalice's UnauthorizedError
        ("DELETE", "/machines", {}, None, 405, []),  # Chalice's router
        ("TRACE", "/fleet", {}, None, 405, []),
        ("POST", "/leases", {"Content-Type": "text/plain"}, "x", 415, []),  # Chalice's media type check
    ],
)
def test_chalices_own_errors_are_problem_details(
    method: str, path: str, headers: dict[str, str], body: str | None, status: int, paths: list[str]
) -> None:
    with Client(app) as client:
        response = client.http.request(method, path, headers=headers, body=(body or "").encode())
    assert response.status_code == status, response.body
    problem = json.loads(response.body)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == status and problem["type"].startswith("urn:twinledger:problem:")
    assert [e["path"] for e in problem["errors"]] == paths
    if status != 405:  # an undeclared method has no operation to conform to; its body is checked above
        assert_conforms(method, path, status, response.headers, response.body)


def test_a_body_that_is_not_json_and_every_field_at_fault_are_named(jwt_env: None) -> None:
    from chalicelib.auth import issue_token

    token = issue_token("openapi-test-secret-of-32-bytes-or-more", tenant="toolmaker", role="lessor", subject="t")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Client(app) as client:
        broken = client.http.post("/machines", headers=headers, body="{not json")
        fields = client.http.post(
            "/machines", headers=headers, body=json.dumps({"machine_id": "bad id", "site": 5, "keys": {}, "x": 1})
        )
    assert broken.status_code == 400 and json.loads(broken.body)["errors"][0]["path"] == "body"
    problem: dict[str, Any] = json.loads(fields.body)
    assert fields.status_code == 400
    assert {e["path"] for e in problem["errors"]} == {"body.machine_id", "body.site", "body.keys", "body.x"}


def test_an_unexpected_exception_is_a_500_problem_without_internals(
    jwt_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import wiring
    from chalicelib.auth import issue_token

    class Broken:
        def machines(self, principal: Any) -> Any:
            raise RuntimeError("secret internals: /var/task/db.sqlite")

    class Services:
        twins = Broken()

    monkeypatch.setattr("chalicelib.twins.routes.services", lambda: Services())
    token = issue_token("openapi-test-secret-of-32-bytes-or-more", tenant="factory-1", role="lessee", subject="t")
    with Client(app) as client:
        response = client.http.get("/machines", headers={"Authorization": f"Bearer {token}"})
    wiring.reset()
    assert response.status_code == 500
    problem = json.loads(response.body)
    assert problem["type"] == "urn:twinledger:problem:internal" and "secret" not in response.body.decode()
