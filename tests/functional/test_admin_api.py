"""The admin routes a deployment needs, under the tenant and role rules: registering a machine with its
gateway keys, adding and retiring a key (refused after its retirement, within the registry cache's bound),
and a site's shift calendar."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.adapters.twins import DeviceRegistry
from chalicelib.auth import issue_token
from chalicelib.ports.twins import DEVICE_CACHE_MAX_AGE_S
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from tests.functional.conftest import JWT_SECRET, register, samples, sqs_event
from tests.functional.openapi_conformance import assert_conforms
from twin_models.jws import seal_jws
from twin_models.signing import generate_private_key, public_key_pem, seal_wire

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Services]:
    monkeypatch.setenv("TWINLEDGER_AUTH_MODE", "jwt")
    monkeypatch.setenv("TWINLEDGER_JWT_SECRET", JWT_SECRET)
    services = wiring.build(Settings(adapters="memory", jwt_secret=JWT_SECRET), clock=clock, lease_contracts=None)
    wiring.use(services)
    yield services
    wiring.reset()


def _as(role: str, tenant: str) -> dict[str, str]:
    token = issue_token(JWT_SECRET, tenant=tenant, role=role, subject=f"{role}@{tenant}")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


LESSOR = _as("lessor", "toolmaker")
OTHER_LESSOR = _as("lessor", "othermaker")
LESSEE = _as("lessee", "factory-1")
STRANGER = _as("lessee", "factory-2")
TECHNICIAN = _as("technician", "toolmaker")


def call(client: Client, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = getattr(client.http, method.lower())(path, **kwargs)
    assert_conforms(method, path, response.status_code, response.headers, response.body)
    return response.status_code, json.loads(response.body)


def _registration(machine_id: str = "cnc-01", key: Any = None) -> dict[str, Any]:
    key = key or generate_private_key()
    return {
        "machine_id": machine_id, "site": "plant-a", "line": "line-a", "lessee": "factory-1",
        "timezone": "Europe/Berlin", "keys": {f"{machine_id}/1": public_key_pem(key)},
        "ideal_cycle_times_s": {"*": 4.0},
    }  # fmt: skip


@pytest.mark.usefixtures("built")
def test_a_lessor_registers_a_machine_its_lessee_sees_and_no_one_else_may_register() -> None:
    with Client(app) as client:
        status, machine = call(client, "POST", "/machines", LESSOR, _registration())
        assert status == 201 and machine["lessor"] == "toolmaker"
        assert machine["keys"] == [{"key_id": "cnc-01/1", "retired_from": None}]
        assert [m["machine_id"] for m in call(client, "GET", "/machines", LESSEE)[1]["items"]] == ["cnc-01"]
        assert call(client, "GET", "/machines", STRANGER)[1]["items"] == []
        for refused in (LESSEE, TECHNICIAN):
            status, problem = call(client, "POST", "/machines", refused, _registration("cnc-02"))
            assert status == 403 and problem["type"] == "urn:twinledger:problem:not-allowed"
        status, problem = call(client, "POST", "/machines", OTHER_LESSOR, _registration())
        assert status == 409 and "toolmaker" not in problem["detail"]  # names no owner
        assert call(client, "POST", "/machines", LESSOR, _registration())[0] == 201  # again: the same entry


@pytest.mark.usefixtures("built")
def test_a_registration_that_does_not_fit_names_every_field() -> None:
    body = {**_registration(), "keys": {"cnc-01/1": "-----BEGIN PUBLIC KEY-----\nnope"}, "timezone": "Mars/Olympus"}
    with Client(app) as client:
        status, problem = call(client, "POST", "/machines", LESSOR, body)
    assert status == 400
    assert {e["path"] for e in problem["errors"]} == {"body.keys.cnc-01/1", "body.timezone"}


@pytest.mark.usefixtures("built")
def test_only_the_machines_lessor_adds_keys() -> None:
    with Client(app) as client:
        call(client, "POST", "/machines", LESSOR, _registration())
        second = {"key_id": "cnc-01/2", "public_key_pem": public_key_pem(generate_private_key())}
        status, machine = call(client, "POST", "/machines/cnc-01/keys", LESSOR, second)
        assert status == 200 and [k["key_id"] for k in machine["keys"]] == ["cnc-01/1", "cnc-01/2"]
        assert call(client, "POST", "/machines/cnc-01/keys", LESSEE, second)[0] == 403
        assert call(client, "POST", "/machines/cnc-01/keys", TECHNICIAN, second)[0] == 403
        assert call(client, "POST", "/machines/cnc-01/keys", OTHER_LESSOR, second)[0] == 404
        other = {**second, "public_key_pem": public_key_pem(generate_private_key())}
        assert call(client, "POST", "/machines/cnc-01/keys", LESSOR, other)[0] == 409
        assert call(client, "GET", "/machines/cnc-01/keys", LESSEE)[0] == 200


def _deliver(built: Services, machine_id: str, key: Any, key_id: str, seq: int, at: datetime) -> str:
    wire = seal_wire(machine_id, "plant-a", seq, samples(at - timedelta(seconds=10), 10), key, key_id, at)
    before = built.ingest.totals.accepted
    built.ingest.handle_batch(sqs_event([wire.decode()], [f"m-{seq}"]))
    if built.ingest.totals.accepted > before:
        return "accepted"
    reasons = [q["reason"] for q in built.adapters.quarantine.list_day(at.strftime("%Y-%m-%d"))]
    return reasons[-1] if reasons else "lost"


def test_a_retired_key_is_refused_from_its_retirement_time_and_not_before(built: Services, clock: Clock) -> None:
    key = generate_private_key()
    with Client(app) as client:
        call(client, "POST", "/machines", LESSOR, _registration(key=key))
        retire_at = T0 + timedelta(minutes=10)
        body = {"key_id": "cnc-01/1", "at": retire_at.isoformat()}
        assert call(client, "POST", "/machines/cnc-01/keys/retire", LESSEE, body)[0] == 403
        status, machine = call(client, "POST", "/machines/cnc-01/keys/retire", LESSOR, body)
        assert status == 200 and machine["keys"][0]["retired_from"] == "2026-03-02T06:10:00Z"
        clock.now = retire_at - timedelta(seconds=1)
        assert _deliver(built, "cnc-01", key, "cnc-01/1", 0, clock.now) == "accepted"
        clock.now = retire_at
        assert _deliver(built, "cnc-01", key, "cnc-01/1", 1, clock.now) == "unknown_key"
        # registering the machine again does not revive the key, and a retired id is not reused
        call(client, "POST", "/machines", LESSOR, _registration(key=key))
        assert _deliver(built, "cnc-01", key, "cnc-01/1", 2, clock.now + timedelta(seconds=5)) == "unknown_key"
        again = {"key_id": "cnc-01/1", "public_key_pem": public_key_pem(key)}
        assert call(client, "POST", "/machines/cnc-01/keys", LESSOR, again)[0] == 409
        assert call(client, "POST", "/machines/cnc-01/keys/retire", LESSOR, {"key_id": "cnc-01/9"})[0] == 404


def test_the_registry_cache_lets_a_retired_key_through_for_at_most_its_bound(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = register("cnc-01")
    ingest_container, api_container = DeviceRegistry(), DeviceRegistry()  # two Lambda containers
    now = [1000.0]
    monkeypatch.setattr("chalicelib.adapters.twins.time.monotonic", lambda: now[0])
    assert ingest_container.get("cnc-01") is not None  # cached
    retired = gateway.device.model_copy(update={"retired_keys": {gateway.key_id: T0}})
    api_container.put(retired)
    now[0] += DEVICE_CACHE_MAX_AGE_S - 0.001
    cached = ingest_container.get("cnc-01")
    assert cached is not None and cached.key_at(gateway.key_id, T0) is not None  # still the old entry
    now[0] += 0.001
    fresh = ingest_container.get("cnc-01")
    assert fresh is not None and fresh.key_at(gateway.key_id, T0) is None  # refused once the bound has passed


@pytest.mark.usefixtures("built")
def test_the_plants_calendar_is_set_by_its_lessor_or_lessee_and_makes_shifts_answerable() -> None:
    calendar = {"timezone": "Europe/Berlin", "shifts": [{"name": "early", "start": "06:00", "end": "14:00"}]}
    window = "from=2026-03-02T05:00:00Z&to=2026-03-02T13:00:00Z"
    with Client(app) as client:
        call(client, "POST", "/machines", LESSOR, _registration())
        assert call(client, "GET", f"/machines/cnc-01/oee?{window}&by=shift", LESSEE)[0] == 400  # no shifts yet
        assert call(client, "PUT", "/sites/plant-a/calendar", TECHNICIAN, calendar)[0] == 403
        assert call(client, "PUT", "/sites/plant-a/calendar", STRANGER, calendar)[0] == 404
        status, problem = call(client, "PUT", "/sites/plant-a/calendar", LESSEE, {**calendar, "timezone": "Nowhere"})
        assert status == 400 and [e["path"] for e in problem["errors"]] == ["body.timezone"]
        status, problem = call(client, "PUT", "/sites/plant-a/calendar", LESSEE)  # no body: nothing is reset
        assert status == 400 and [e["path"] for e in problem["errors"]] == ["body"]
        status, stored = call(client, "PUT", "/sites/plant-a/calendar", LESSEE, calendar)
        assert status == 200 and stored["calendar"]["shifts"][0]["name"] == "early"
        assert call(client, "GET", "/sites/plant-a/calendar", LESSOR)[1] == stored
        status, report = call(client, "GET", f"/machines/cnc-01/oee?{window}&by=shift", LESSEE)
        assert status == 200 and [p["shift"] for p in report["periods"]] == ["early"]


def test_a_plants_own_state_codes_are_mapped_by_its_lessor_and_read_by_ingest_metering_twin_and_oee(
    built: Services, clock: Clock
) -> None:
    key = generate_private_key()
    with Client(app) as client:
        call(client, "POST", "/machines", LESSOR, _registration(key=key))
        # Given a controller that reports its own code 1500 for cutting: unknown, so quarantined with its reason
        assert _deliver_states(built, key, 0, clock.now, 1500) == "schema_violation"
        assert call(client, "GET", "/sites/plant-a/state-codes", LESSEE)[1] == {"site": "plant-a", "codes": {}}
        mapping = {"codes": {"1500": "running", "1600": "breakdown"}}
        # only the lessor of the site's machines maps them: metering bills running time with the mapping
        assert call(client, "PUT", "/sites/plant-a/state-codes", LESSEE, mapping)[0] == 403
        assert call(client, "PUT", "/sites/plant-a/state-codes", TECHNICIAN, mapping)[0] == 403
        assert call(client, "PUT", "/sites/plant-a/state-codes", STRANGER, mapping)[0] == 404
        status, problem = call(client, "PUT", "/sites/plant-a/state-codes", LESSOR, {"codes": {"710": "running"}})
        assert status == 400 and [e["path"] for e in problem["errors"]] == ["body.codes"]
        assert "lease_locked" in problem["errors"][0]["message"]
        status, problem = call(client, "PUT", "/sites/plant-a/state-codes", LESSOR, {"codes": {"1500": "cutting"}})
        assert status == 400 and [e["path"] for e in problem["errors"]] == ["body.codes.1500"]
        status, problem = call(client, "PUT", "/sites/plant-a/state-codes", LESSOR, {"codes": {"10000": "running"}})
        assert status == 400 and problem["errors"][0]["path"].startswith("body.codes.10000")
        # When the lessor maps the plant's codes
        status, stored = call(client, "PUT", "/sites/plant-a/state-codes", LESSOR, mapping)
        assert status == 200 and stored == {"site": "plant-a", **mapping}
        assert call(client, "GET", "/sites/plant-a/state-codes", LESSEE)[1] == stored
        # Then the codes are ingested (v1 and v2 alike), and read as what they were mapped to
        clock.now += timedelta(minutes=1)
        assert _deliver_states(built, key, 1, clock.now, 1500) == "accepted"
        twin = call(client, "GET", "/machines/cnc-01/twin", LESSEE)[1]
        assert twin["shadows"]["state"]["reported"]["category"] == "running"
        clock.now += timedelta(minutes=1)
        assert _deliver_states(built, key, 2, clock.now, 1600, v2=True) == "accepted"
        window = f"from={_z(T0)}&to={_z(clock.now + timedelta(minutes=1))}"
        line = call(client, "GET", f"/machines/cnc-01/timeline?{window}", LESSEE)[1]
        assert {(i["state"], i["category"]) for i in line["intervals"]} == {(1500, "running"), (1600, "breakdown")}
        oee = call(client, "GET", f"/machines/cnc-01/oee?{window}", LESSEE)[1]["total"]
        assert oee["run_time_s"] > 0 and oee["losses_s"]["breakdowns"] > 0
        spindle = [e for e in built.adapters.usage.between("cnc-01", T0, clock.now) if e.meter == "spindle_hours"]
        assert spindle and sum(e.quantity for e in spindle) > 0  # the mapped running code is billed running time
        # and no lessor maps a site it shares with another lessor's machines
        other = {**_registration("cnc-09"), "lessee": "factory-1"}
        assert call(client, "POST", "/machines", OTHER_LESSOR, other)[0] == 201
        assert call(client, "PUT", "/sites/plant-a/state-codes", LESSOR, mapping)[0] == 403


def _deliver_states(built: Services, key: Any, seq: int, at: datetime, state: int, v2: bool = False) -> str:
    rows = samples(at - timedelta(seconds=10), 10, state=state)
    if v2:
        body = seal_jws("cnc-01", "plant-a", seq, rows, key, "cnc-01/1", sent_at=at).decode()
    else:
        body = seal_wire("cnc-01", "plant-a", seq, rows, key, "cnc-01/1", at).decode()
    before = built.ingest.totals.accepted
    built.ingest.handle_batch(sqs_event([body], [f"s-{seq}"]))
    if built.ingest.totals.accepted > before:
        return "accepted"
    reasons = [q["reason"] for q in built.adapters.quarantine.list_day(at.strftime("%Y-%m-%d"))]
    return reasons[-1] if reasons else "lost"


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
