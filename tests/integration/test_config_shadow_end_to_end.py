"""The config shadow end to end, driven by moto's own delta: ``PUT /desired`` over HTTP (chalice local) ->
moto's shadow document and delta -> the shadow relay on mosquitto (mTLS) -> the gateway process applies it
and reports -> the delta closes -> the gateway's samples -> ingest -> the twin, the timeline and OEE.

Covered: a nested delta (one program added keeps the others), deletion by ``null``, ``lease_lock`` from the
lessor all the way to OEE, and the ideal cycle times in effect reaching OEE.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws_servers import chalice_local, moto_server
from tests.integration.twin_reads import reported_state
from twinledger.local.broker import find_mosquitto, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]
SECRET = "integration-secret-that-is-long-enough-for-hs256"
REGISTERED_IDEAL = 1000.0  # deliberately wrong: OEE must use what the gateway applied, not this


@pytest.fixture
def stack_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from chalicelib import wiring
    from chalicelib.adapters import aws
    from chalicelib.adapters.tables import create_resources

    with moto_server() as endpoint:
        env = {
            "TWINLEDGER_AWS_ENDPOINT_URL": endpoint,
            "TWINLEDGER_JWT_SECRET": SECRET,
            "TWINLEDGER_AUTH_MODE": "jwt",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        aws.reset_clients()
        wiring.reset()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        yield env
    aws.reset_clients()
    wiring.reset()


def _call(method: str, url: str, tenant: str, role: str, body: Any = None) -> tuple[int, Any]:
    from chalicelib.auth import issue_token

    token = issue_token(SECRET, tenant=tenant, role=role, subject="it")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _until(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_desired_configuration_from_the_api_to_the_machine_and_into_oee(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    from app import ingest
    from chalicelib.adapters import aws
    from chalicelib.adapters.twins import DeviceRegistry
    from edge_greengrass.simulator import ShiftCalendar, default_profiles
    from twin_models.tenancy import Device
    from twinledger.local.edge_stack import LocalEdgeStack

    # Given: one simulated machine behind a gateway, the shadow relay on moto, the API on chalice local
    programs = default_profiles(1, seed=7)[0].programs  # the machine's true ideal cycle times
    # the simulation starts at a shift start, so the machine makes parts whatever the time of day
    start = ShiftCalendar().last_shift_start(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8))
    stack = LocalEdgeStack(
        tmp_path / "edge",
        ingest=ingest,
        port=free_port(),
        machines=1,
        speed=240,
        start=start,
        shadows=aws.client("iot-data"),
    )
    aws.client("iot").create_thing(thingName="cnc-01")
    DeviceRegistry().put(
        Device(
            machine_id="cnc-01",
            site=stack.site,
            line="line-a",
            lessor="toolmaker",
            lessee="factory-1",
            keys={stack.key_id: stack.signing_public_key_pem()},
            ideal_cycle_times_s={"*": REGISTERED_IDEAL},
        )
    )
    iot = aws.client("iot-data")

    def config() -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(
            iot.get_thing_shadow(thingName="cnc-01", shadowName="config")["payload"].read()
        )
        state: dict[str, Any] = doc["state"]
        return state

    def closed(ideal: dict[str, float]) -> dict[str, Any] | None:
        state = config()
        done = state.get("reported", {}).get("ideal_cycle_times_s") == ideal and "delta" not in state
        return state if done else None

    def locked_twin() -> dict[str, Any] | None:
        twin: dict[str, Any] = _call("GET", f"{api}/machines/cnc-01/twin", "factory-1", "lessee")[1]
        return twin if twin["lease_lock"]["machine_locked"] else None

    def parts_under_stated() -> int:
        _, line = _call(
            "GET", f"{api}/machines/cnc-01/timeline?from={_z(start)}&to={_z(datetime.now(UTC))}", "factory-1", "lessee"
        )
        stated = [i for i in line.get("intervals", []) if i.get("ideal_cycle_time_s") is not None]
        if not stated:
            return 0
        _, oee = _call(
            "GET", f"{api}/machines/cnc-01/oee?from={stated[0]['start']}&to={stated[-1]['end']}", "factory-1", "lessee"
        )
        return int(oee.get("total", {}).get("total_count", 0))

    with chalice_local(stack_env) as api:
        stack.start()
        try:
            machine = f"{api}/machines/cnc-01"
            _until(
                "the first telemetry",
                lambda: reported_state(_call("GET", f"{machine}/twin", "factory-1", "lessee")[1]),
            )
            # When: the lessee sets two programs' ideal cycle times, then adds a third (a nested delta)
            first = {name: float(value) for name, value in sorted(programs.items())}
            assert _call("PUT", f"{machine}/desired", "factory-1", "lessee", {"ideal_cycle_times_s": first})[0] == 200
            _until("the first report", lambda: config().get("reported", {}).get("ideal_cycle_times_s") == first)
            assert (
                _call("PUT", f"{machine}/desired", "factory-1", "lessee", {"ideal_cycle_times_s": {"P900": 50}})[0]
                == 200
            )
            # Then: the edge merged it (the others kept) and the delta closed
            state = _until("the nested delta to close", lambda: closed({**first, "P900": 50.0}))
            assert state["desired"]["ideal_cycle_times_s"] == {**first, "P900": 50}
            # When: the lessee deletes the third by null
            assert (
                _call("PUT", f"{machine}/desired", "factory-1", "lessee", {"ideal_cycle_times_s": {"P900": None}})[0]
                == 200
            )
            # Then: gone from desired at once, and from reported once the edge applied it
            state = _until("the deletion to reach the edge", lambda: closed(first))
            assert state["desired"]["ideal_cycle_times_s"] == first and "delta" not in state
            # (the machine makes parts under the applied values for a while)
            _until("parts made under the applied ideal cycle times", lambda: parts_under_stated() >= 5)
            # A lessee may not lock the machine, whatever role it claims
            assert _call("PUT", f"{machine}/desired", "factory-1", "lessor", {"lease_lock": True})[0] == 403
            # When: the lessor locks it
            assert _call("PUT", f"{machine}/desired", "toolmaker", "lessor", {"lease_lock": True})[0] == 200
            # Then: applied, reported, the delta closed, and the twin shows the machine held
            _until("the lock report", lambda: config().get("reported", {}).get("lease_lock") is True)
            twin = _until("the locked state in the twin", locked_twin)
            assert twin["lease_lock"] == {"desired": True, "reported": True, "pending": False, "machine_locked": True}
            assert twin["shadows"]["state"]["reported"]["state"] == 710
            time.sleep(3)  # a few more simulated minutes of the lock
            assert stack.bridge is not None and stack.bridge.wait_idle(30)
            assert stack.bridge.inbox.dead_letters() == 0
        finally:
            stack.stop()

        # And: the timeline and OEE, read back through the API
        _, line = _call("GET", f"{machine}/timeline?from={_z(start)}&to={_z(datetime.now(UTC))}", "factory-1", "lessee")
        intervals = line["intervals"]
        stated = [i for i in intervals if i.get("ideal_cycle_time_s") is not None]
        locked = [i for i in intervals if i["state"] == 710]
        assert stated and locked, "the gateway stated ideal cycle times and the lock"
        assert {i["ideal_cycle_time_s"] for i in stated if i["program"] in first} <= set(first.values())
        lock_from, lock_to = locked[0]["start"], locked[-1]["end"]
        assert all(i["state"] == 710 for i in intervals if lock_from <= i["start"] < lock_to)
        _, oee = _call("GET", f"{machine}/oee?from={lock_from}&to={lock_to}", "factory-1", "lessee")
        total = oee["total"]
        assert total["planned_production_time_s"] == 0 and total["planned_stop_s"] > 0
        # the parts made between the first stated interval and the lock, rated with the values applied
        _, oee = _call("GET", f"{machine}/oee?from={stated[0]['start']}&to={lock_from}", "factory-1", "lessee")
        performance = oee["total"]["performance"]
        assert oee["total"]["total_count"] > 0 and 0.3 < performance < 1.2, oee["total"]


def _z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
