"""The parts API over the DynamoDB adapter (moto): tenant-scoped, paginated lists (``{"items", "next"}``); the
proof bundle and the EPCIS document; inspections and shares by the producer only; bad input answered 400
problem details naming the field's path. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from app import app
from chalicelib.auth import issue_token
from tests.functional.conftest import JWT_SECRET, T0, ingest_service, register, sqs_event
from tests.functional.openapi_conformance import assert_conforms
from twin_models.jws import seal_jws
from twin_models.parts import event_hash_id
from twin_models.parts.epcis import NAMESPACES
from twin_models.telemetry import Sample

pytestmark = pytest.mark.usefixtures("moto_aws")


def auth(tenant: str, role: str = "lessee") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, tenant=tenant, role=role, subject='tester')}"}


def call(client: Client, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    if method == "GET":
        response = client.http.get(path, headers=headers)
    else:
        response = client.http.request(
            method, path, headers={**headers, "Content-Type": "application/json"}, body=json.dumps(body).encode()
        )
    assert_conforms(method, path, response.status_code, response.headers, response.body)  # as documented
    return response.status_code, json.loads(response.body or b"null")


@pytest.fixture
def produced(moto_aws: None) -> list[str]:
    """cnc-01 (leased to factory-1) made 14 parts in two lots; the ids of its parts, by time."""
    gw = register("cnc-01", lessee="factory-1")
    made = [
        Sample(
            ts=T0 + timedelta(seconds=i),
            state=100,
            part_count=i // 4,
            reject_count=int(i >= 30),
            program="P1",
            order_id="O-1",
            material_lot="L-1" if i < 32 else "L-2",
        )
        for i in range(60)
    ]
    bodies = [
        seal_jws(
            "cnc-01",
            "plant-a",
            s,
            made[s * 20 : s * 20 + 20],
            gw.key,
            gw.key_id,
            previous=made[s * 20 - 1] if s else None,
        ).decode()
        for s in range(3)
    ]
    ingest_service().handle_batch(sqs_event(bodies))
    with Client(app) as client:
        status, page = call(client, "GET", "/machines/cnc-01/parts", auth("factory-1"))
    assert status == 200
    return [p["part_id"] for p in page["items"]]


def test_the_producer_lists_its_parts_page_by_page_and_filters_by_lot(produced: list[str]) -> None:
    assert len(produced) == 14
    with Client(app) as client:
        seen, cursor = [], None
        while True:
            query = "?limit=5" + (f"&next={cursor}" if cursor else "")
            status, page = call(client, "GET", f"/machines/cnc-01/parts{query}", auth("factory-1"))
            assert status == 200 and len(page["items"]) <= 5
            seen += [p["part_id"] for p in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == produced
        status, page = call(client, "GET", "/machines/cnc-01/parts?lot=L-2&order=O-1", auth("factory-1"))
        assert {p["material_lot"] for p in page["items"]} == {"L-2"} and len(page["items"]) == 7
        window = "?from=2026-01-05T06:00:10Z&to=2026-01-05T06:00:20Z"
        status, page = call(client, "GET", f"/machines/cnc-01/parts{window}", auth("factory-1"))
        assert [p["cycle_end"] for p in page["items"]] == [f"2026-01-05T06:00:{s}Z" for s in (12, 16)]


def test_bundle_and_epcis_document(produced: list[str]) -> None:
    part = quote(produced[0], safe="")
    with Client(app) as client:
        status, bundle = call(client, "GET", f"/parts/{part}", auth("factory-1"))
        assert status == 200
        assert bundle["record"]["part_id"] == produced[0] and bundle["proof"] is None  # not anchored yet
        assert len(bundle["envelopes"]) >= 1 and [e["bizStep"] for e in bundle["events"]] == [
            "commissioning",
            "inspecting",
        ]
        status, document = call(client, "GET", f"/parts/{part}/epcis", auth("factory-1"))
    assert status == 200 and document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    for event in document["epcisBody"]["eventList"]:
        assert event["eventID"] == event_hash_id(event, NAMESPACES)
    assert document["epcisBody"]["eventList"][0]["ilmd"]["cbvmda:lotNumber"] == "L-1"


def test_only_the_producer_and_whom_it_shares_with_see_a_part(produced: list[str]) -> None:
    part = quote(produced[3], safe="")
    with Client(app) as client:
        for tenant, role in (("customer-9", "lessee"), ("toolmaker", "lessor"), ("factory-2", "lessee")):
            status, problem = call(client, "GET", f"/parts/{part}", auth(tenant, role))
            assert (status, problem["type"]) == (404, "urn:twinledger:problem:not-visible")
            assert call(client, "GET", "/machines/cnc-01/parts", auth(tenant, role))[1]["items"] == []
        assert call(client, "POST", f"/parts/{part}/share", auth("customer-9"), {"tenant": "customer-9"})[0] == 404
        status, shared = call(client, "POST", f"/parts/{part}/share", auth("factory-1"), {"tenant": "customer-9"})
        assert status == 200 and shared["shared_with"] == ["customer-9"]
        assert call(client, "GET", f"/parts/{part}", auth("customer-9"))[0] == 200
        assert call(client, "GET", f"/parts/{part}/epcis", auth("customer-9"))[0] == 200
        listed = call(client, "GET", "/machines/cnc-01/parts", auth("customer-9"))[1]["items"]
        assert [p["part_id"] for p in listed] == [produced[3]]
        # a customer reads, it does not inspect or share further
        status, problem = call(client, "POST", f"/parts/{part}/share", auth("customer-9"), {"tenant": "x"})
        assert (status, problem["type"]) == (403, "urn:twinledger:problem:not-allowed")


def test_inspections_are_numbered_anchored_and_in_the_bundle(produced: list[str]) -> None:
    part = quote(produced[0], safe="")
    body = {
        "inspected_at": "2026-01-05T07:00:00Z",
        "inspector": "qa-1",
        "result": "non_conformant",
        "measurements": [{"characteristic": "bore", "value": 12.2, "uom": "MMT"}],
    }
    with Client(app) as client:
        first = call(client, "POST", f"/parts/{part}/inspections", auth("factory-1"), body)
        second = call(client, "POST", f"/parts/{part}/inspections", auth("factory-1"), {**body, "result": "conformant"})
        assert (first[0], second[0]) == (201, 201) and (first[1]["number"], second[1]["number"]) == (1, 2)
        status, bundle = call(client, "GET", f"/parts/{part}", auth("factory-1"))
    assert status == 200
    assert [e.get("disposition") for e in bundle["events"]] == ["active", "conformant", "non_conformant", "conformant"]
    assert bundle["events"][2]["eventID"] == first[1]["event_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inspector": "qa-1", "result": "conformant"}, "inspected_at"),
        ({"inspected_at": "2026-01-05T07:00:00", "inspector": "qa-1", "result": "conformant"}, "inspected_at"),
        ({"inspected_at": "2026-01-05T07:00:00Z", "inspector": "qa-1", "result": "fine"}, "result"),
        (
            {
                "inspected_at": "2026-01-05T07:00:00Z",
                "inspector": "qa-1",
                "result": "conformant",
                "measurements": [{"characteristic": "bore", "value": "NaN", "uom": "MMT"}],
            },
            "measurements.0.value",
        ),
        ({"inspected_at": "2026-01-05T07:00:00Z", "inspector": "qa 1", "result": "conformant"}, "inspector"),
    ],
)
def test_bad_inspections_are_400_naming_the_field(produced: list[str], body: dict[str, Any], field: str) -> None:
    with Client(app) as client:
        status, answer = call(
            client, "POST", f"/parts/{quote(produced[0], safe='')}/inspections", auth("factory-1"), body
        )
    assert status == 400 and [e["path"] for e in answer["errors"]] == [f"body.{field}"], answer
    assert answer["type"] == "urn:twinledger:problem:bad-input" and answer["detail"].startswith(f"body.{field}:")


def test_bad_list_parameters_are_400_naming_the_parameter(produced: list[str]) -> None:
    cases = (
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?from=yesterday", "from"),
        ("?to=2026-01-05T06:00:00", "to"),  # no zone
        ("?from=2026-01-05T07:00:00Z&to=2026-01-05T06:00:00Z", "to"),  # not after from
        ("?next=__8", "next"),
        (f"?lot={'L' * 65}", "lot"),
    )
    with Client(app) as client:
        for query, name in cases:
            status, answer = call(client, "GET", f"/machines/cnc-01/parts{query}", auth("factory-1"))
            assert status == 400 and [e["path"] for e in answer["errors"]] == [f"query.{name}"], (query, answer)
            assert name in answer["detail"], query


def test_the_lessee_sets_a_gs1_scheme_for_parts_made_from_then_on(moto_aws: None) -> None:
    register("cnc-02", lessee="factory-1")
    scheme = {
        "kind": "sgtin",
        "machine_code": "C02",
        "programs": {"P1": {"company_prefix": "4012345", "item_reference": "011111"}},
    }
    with Client(app) as client:
        assert call(client, "PUT", "/machines/cnc-02/part-scheme", auth("toolmaker", "lessor"), scheme)[0] == 403
        assert call(client, "PUT", "/machines/cnc-02/part-scheme", auth("factory-2"), scheme)[0] == 404
        status, answer = call(client, "PUT", "/machines/cnc-02/part-scheme", auth("factory-1"), {"kind": "sgtin"})
        assert status == 400 and [e["path"] for e in answer["errors"]] == ["body.machine_code"], answer
        assert "machine_code is required" in answer["errors"][0]["message"]
        wrong = {**scheme, "programs": {"P1": {"company_prefix": "4012345", "item_reference": "01111"}}}
        status, answer = call(client, "PUT", "/machines/cnc-02/part-scheme", auth("factory-1"), wrong)
        assert status == 400 and [e["path"] for e in answer["errors"]] == ["body.programs.P1"], answer
        assert call(client, "PUT", "/machines/cnc-02/part-scheme", auth("factory-1"), scheme) == (200, {
            "kind": "sgtin", "machine_code": "C02", "default": None,
            "programs": {"P1": {"company_prefix": "4012345", "item_reference": "011111"}},
        })  # fmt: skip
