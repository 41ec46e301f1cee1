"""The twin API: every route scoped to the caller's tenant; twin now, at a time, and timelines."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.auth import issue_token
from tests.functional.conftest import JWT_SECRET, T0, ingest_service, register, samples, sqs_event, wire

pytestmark = pytest.mark.usefixtures("moto_aws")


def auth(tenant: str, role: str = "lessee") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, tenant=tenant, role=role, subject='tester')}"}


@pytest.fixture
def fleet(moto_aws: None) -> None:
    """cnc-01 leased to factory-1, cnc-02 leased to factory-2; both owned by toolmaker; a minute of data each."""
    bodies = []
    for thing, lessee in (("cnc-01", "factory-1"), ("cnc-02", "factory-2")):
        gw = register(thing, lessee=lessee)
        bodies.append(wire(gw.envelope(0, samples(T0, 30, state=100) + samples(T0 + timedelta(seconds=30), 30, 600))))
    assert ingest_service().handle_batch(sqs_event(bodies)).accepted == 2


def get(client: Client, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body or b"null")


@pytest.mark.usefixtures("fleet")
def test_each_tenant_sees_only_its_machines() -> None:
    with Client(app) as client:
        assert [m["machine_id"] for m in get(client, "/machines", auth("factory-1"))[1]["items"]] == ["cnc-01"]
        assert [m["machine_id"] for m in get(client, "/machines", auth("factory-2"))[1]["items"]] == ["cnc-02"]
        lessor = get(client, "/machines", auth("toolmaker", "lessor"))[1]["items"]
        assert [m["machine_id"] for m in lessor] == ["cnc-01", "cnc-02"]


@pytest.mark.usefixtures("fleet")
def test_another_tenants_machine_is_404_on_every_route() -> None:
    with Client(app) as client:
        for path in (
            "/machines/cnc-02/twin",
            "/machines/cnc-02/twin?at=2026-01-05T06:00:10Z",
            "/machines/cnc-02/timeline?from=2026-01-05T06:00:00Z&to=2026-01-05T07:00:00Z",
        ):
            status, body = get(client, path, auth("factory-1"))
            assert status == 404, path
            assert body["type"] == "urn:twinledger:problem:not-visible" and "cnc-02" in body["detail"]
        assert get(client, "/machines/cnc-02/twin", auth("factory-2"))[0] == 200


@pytest.mark.usefixtures("fleet")
def test_without_a_valid_token_nothing_is_served() -> None:
    forged = issue_token("not-our-secret-but-also-32-bytes-long", tenant="factory-1", role="lessee", subject="mallory")
    with Client(app) as client:
        assert get(client, "/machines", {})[0] == 401
        assert get(client, "/machines", {"Authorization": f"Bearer {forged}"})[0] == 401
        assert get(client, "/machines", {"Authorization": "Basic abc"})[0] == 401


@pytest.mark.usefixtures("fleet")
def test_live_twin_history_twin_and_timeline() -> None:
    with Client(app) as client:
        status, twin = get(client, "/machines/cnc-01/twin", auth("factory-1"))
        assert status == 200
        reported = twin["shadows"]["state"]["reported"]
        assert (reported["state"], reported["category"]) == (600, "breakdown")
        status, past = get(client, "/machines/cnc-01/twin?at=2026-01-05T06:00:10Z", auth("factory-1"))
        assert status == 200 and past["state"]["state"] == 100 and past["source"] == "history"
        status, line = get(
            client, "/machines/cnc-01/timeline?from=2026-01-05T05:59:00Z&to=2026-01-05T06:02:00Z", auth("factory-1")
        )
        assert status == 200
        assert [(i["state"], i["start"], i["end"]) for i in line["intervals"]] == [
            (100, "2026-01-05T06:00:00Z", "2026-01-05T06:00:30Z"),
            (600, "2026-01-05T06:00:30Z", "2026-01-05T06:01:00Z"),
        ]
        assert (line["covered_s"], line["unknown_s"]) == (60.0, 120.0)


@pytest.mark.usefixtures("fleet")
def test_bad_query_parameters_are_400() -> None:
    with Client(app) as client:
        assert (
            get(client, "/machines/cnc-01/timeline?from=yesterday&to=2026-01-05T07:00:00Z", auth("factory-1"))[0] == 400
        )
        assert get(client, "/machines/cnc-01/timeline?to=2026-01-05T07:00:00Z", auth("factory-1"))[0] == 400
        assert get(client, "/machines/cnc-01/twin?at=2026-01-05T06:00:10", auth("factory-1"))[0] == 400


@pytest.mark.usefixtures("fleet")
def test_desired_configuration_goes_to_the_shadow_with_role_rules() -> None:
    with Client(app) as client:
        body = json.dumps({"ideal_cycle_times_s": {"P100": 28.5}, "maintenance_mode": True})
        headers = {**auth("factory-1"), "Content-Type": "application/json"}
        response = client.http.put("/machines/cnc-01/desired", headers=headers, body=body)
        assert response.status_code == 200
        twin = get(client, "/machines/cnc-01/twin", auth("factory-1"))[1]
        state = twin["shadows"]["config"]  # the shadow the edge's shadow sync subscribes to
        assert state["desired"] == {"ideal_cycle_times_s": {"P100": 28.5}, "maintenance_mode": True}
        assert state["delta"]["maintenance_mode"] is True  # the edge has not applied it yet
        lock = json.dumps({"lease_lock": True})
        assert client.http.put("/machines/cnc-01/desired", headers=headers, body=lock).status_code == 403
        lessor = {**auth("toolmaker", "lessor"), "Content-Type": "application/json"}
        assert client.http.put("/machines/cnc-01/desired", headers=lessor, body=lock).status_code == 200
        bad = json.dumps({"sampling_interval_s": 0})
        assert client.http.put("/machines/cnc-01/desired", headers=lessor, body=bad).status_code == 400
        other = {**auth("factory-2"), "Content-Type": "application/json"}
        assert client.http.put("/machines/cnc-01/desired", headers=other, body=lock).status_code == 404
        # a "lessor" role claim from the machine's lessee is not the machine's lessor: lease_lock stays refused
        posing = {**auth("factory-1", "lessor"), "Content-Type": "application/json"}
        refused = client.http.put("/machines/cnc-01/desired", headers=posing, body=lock)
        assert refused.status_code == 403 and "factory-1" in json.loads(refused.body)["detail"]


@pytest.mark.usefixtures("fleet")
def test_fleet_at_a_time_from_history() -> None:
    with Client(app) as client:
        status, body = get(client, "/fleet?at=2026-01-05T06:00:45Z", auth("toolmaker", "lessor"))
        assert status == 200
        assert [(m["machine_id"], m["category"], m["covered"]) for m in body["items"]] == [
            ("cnc-01", "breakdown", True),
            ("cnc-02", "breakdown", True),
        ]
        status, before = get(client, "/fleet?at=2026-01-05T05:00:00Z", auth("factory-1"))
        assert [(m["machine_id"], m["category"], m["covered"]) for m in before["items"]] == [
            ("cnc-01", "unknown", False)
        ]
