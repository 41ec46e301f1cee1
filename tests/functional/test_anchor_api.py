"""The anchoring routes and schedule through the Chalice test client (moto DynamoDB, in-process chain)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.auth import issue_token
from tests.functional.conftest import JWT_SECRET, reset_services
from twin_models.anchoring import record_hash

SUMMARY = {"machine": "cnc-07", "day": "2026-11-21", "good_parts": 1380, "oee": "0.71"}


@pytest.fixture
def client(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("TWINLEDGER_CHAIN_RPC_URL", "eth-tester")
    monkeypatch.delenv("TWINLEDGER_ANCHOR_REGISTRY", raising=False)
    reset_services()
    with Client(app) as test_client:
        yield test_client
    reset_services()


def headers(tenant: str, role: str = "lessee") -> dict[str, str]:
    token = issue_token(JWT_SECRET, tenant=tenant, role=role, subject=f"user@{tenant}")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def anchor_summary() -> None:
    anchoring = wiring.services().anchoring
    anchoring.submit("summary/cnc-07/2026-11-21", record_hash(SUMMARY), "daily-summary", ("oem", "factory-7"))


def test_scheduled_lambda_anchors_and_the_tenant_reads_a_proof_that_verifies(client: Client) -> None:
    anchor_summary()

    drained = client.lambda_.invoke("anchor", client.events.generate_cw_event("Scheduled Event", "aws.events", {}, []))
    got = client.http.get("/proofs?record_id=summary/cnc-07/2026-11-21", headers=headers("factory-7"))
    bundle: dict[str, Any] = {**got.json_body, "record": SUMMARY}
    checked = client.http.post("/proofs/verify", headers=headers("factory-7"), body=json.dumps(bundle))

    assert drained.payload["anchored"] == 1 and drained.payload["error"] == ""
    assert got.status_code == 200 and got.json_body["root"].startswith("0x")
    assert checked.status_code == 200
    assert checked.json_body["ok"] is True and checked.json_body["on_chain"] is True


def test_another_tenant_sees_nothing(client: Client) -> None:
    anchor_summary()
    wiring.services().anchoring.run_once()

    got = client.http.get("/proofs?record_id=summary/cnc-07/2026-11-21", headers=headers("factory-9"))

    assert got.status_code == 404


def test_a_pending_record_answers_409(client: Client) -> None:
    anchor_summary()

    got = client.http.get("/proofs?record_id=summary/cnc-07/2026-11-21", headers=headers("oem", "lessor"))

    assert got.status_code == 409


def test_a_tampered_record_does_not_verify(client: Client) -> None:
    anchor_summary()
    wiring.services().anchoring.run_once()
    bundle = client.http.get("/proofs?record_id=summary/cnc-07/2026-11-21", headers=headers("oem", "lessor"))

    body = {**bundle.json_body, "record": {**SUMMARY, "good_parts": 1500}}
    checked = client.http.post("/proofs/verify", headers=headers("oem", "lessor"), body=json.dumps(body))

    assert checked.status_code == 200
    assert checked.json_body["ok"] is False and checked.json_body["offline_ok"] is False


def test_bad_requests_answer_400_or_401(client: Client) -> None:
    missing = client.http.get("/proofs", headers=headers("oem", "lessor"))
    garbage = client.http.post("/proofs/verify", headers=headers("oem", "lessor"), body=json.dumps({"root": "0x12"}))
    anonymous = client.http.get("/proofs?record_id=x")

    assert missing.status_code == 400
    assert garbage.status_code == 400
    assert anonymous.status_code == 401
