"""OEE in the cloud: the scheduled per-shift run, the oee shadow, and the tenant-scoped OEE routes."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.adapters.oee import CalendarStore, OeeResultStore
from chalicelib.adapters.twins import DeviceRegistry, ShadowStore
from chalicelib.auth import issue_token
from chalicelib.oee.service import period_record, period_record_id
from tests.functional.conftest import JWT_SECRET, T0, ingest_service, register, services, sqs_event, wire
from twin_models.anchoring import record_hash
from twin_models.oee import PlantCalendar, ShiftSpec, compute_oee
from twin_models.oee.calendar import to_us
from twin_models.telemetry import Sample
from twin_models.timestamps import to_micros

pytestmark = pytest.mark.usefixtures("moto_aws")

IDEAL_S = 4.0
# Europe/Berlin is UTC+1 in January: shift a is 06:00-07:00Z, shift b 07:00-08:00Z.
CALENDAR = PlantCalendar(
    timezone="Europe/Berlin",
    shifts=[ShiftSpec(name="a", start="07:00", end="08:00"), ShiftSpec(name="b", start="08:00", end="09:00")],
)
# (minutes, state code, seconds per part while in that state or 0)
CNC01 = [(20, 100, 5), (10, 600, 0), (30, 100, 5), (10, 500, 0), (50, 100, 6)]
CNC02 = [(60, 800, 0), (60, 100, 8)]  # no order for an hour: less planned time


def auth(tenant: str, role: str = "lessee") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, tenant=tenant, role=role, subject='tester')}"}


def make_samples(plan: list[tuple[int, int, int]]) -> list[Sample]:
    out: list[Sample] = []
    parts = 0
    t = T0
    for minutes, state, every in plan:
        for i in range(minutes * 60):
            if every and i and i % every == 0:
                parts += 1
            out.append(Sample(ts=t, state=state, part_count=parts, spindle_speed_rpm=8000 if state == 100 else 0))
            t += timedelta(seconds=1)
    return out


def parts_between(samples: list[Sample], a: datetime, b: datetime) -> int:
    """Counter increments whose sample lies in [a, b) (the convention of docs/oee.md)."""
    return sum(cur.part_count - prev.part_count for prev, cur in itertools.pairwise(samples) if a <= cur.ts < b)


def ingest(thing: str, lessee: str, plan: list[tuple[int, int, int]]) -> list[Sample]:
    gw = register(thing, lessee=lessee)
    DeviceRegistry().put(
        gw.device.model_copy(update={"ideal_cycle_times_s": {"*": IDEAL_S}, "timezone": "Europe/Berlin"})
    )
    data = make_samples(plan)
    bodies = [wire(gw.envelope(seq, data[i : i + 300])) for seq, i in enumerate(range(0, len(data), 300))]
    assert ingest_service().handle_batch(sqs_event(bodies)).accepted == len(bodies)
    return data


@pytest.fixture
def plant(moto_aws: None) -> dict[str, list[Sample]]:
    """cnc-01 and cnc-02 leased to factory-1, cnc-03 to factory-2; all on line-a of plant-a; two hours of data."""
    data = {
        "cnc-01": ingest("cnc-01", "factory-1", CNC01),
        "cnc-02": ingest("cnc-02", "factory-1", CNC02),
        "cnc-03": ingest("cnc-03", "factory-2", CNC02),
    }
    CalendarStore().put("plant-a", CALENDAR)
    return data


def get(client: Client, path: str, tenant: str = "factory-1") -> tuple[int, Any]:
    response = client.http.get(path, headers=auth(tenant))
    return response.status_code, json.loads(response.body or b"null")


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def q(a: datetime, b: datetime, by: str | None = None) -> str:
    return f"from={iso(a)}&to={iso(b)}" + (f"&by={by}" if by else "")


def run_schedule(client: Client, at: datetime) -> dict[str, Any]:
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    event["time"] = iso(at)
    result: dict[str, Any] = client.lambda_.invoke("oee_shifts", event).payload
    return result


def test_shift_oee_computed_on_the_fly_from_history(plant: dict[str, list[Sample]]) -> None:
    with Client(app) as client:
        status, body = get(client, f"/machines/cnc-01/oee?{q(T0, T0 + timedelta(hours=2), 'shift')}")
    assert status == 200, body
    assert (body["periods_stored"], body["periods_computed"]) == (0, 2)
    shift_a, shift_b = body["periods"]
    assert (shift_a["label"], shift_b["label"]) == ("2026-01-05 a", "2026-01-05 b")
    a = shift_a["machines"][0]
    assert a["planned_production_time_s"] == 3600
    assert a["losses_s"]["breakdowns"] == 600 and a["breakdown_events"] == 1
    assert a["availability"] == pytest.approx(3000 / 3600)
    parts_a = parts_between(plant["cnc-01"], T0, T0 + timedelta(hours=1))
    assert a["total_count"] == parts_a
    assert a["performance"] == pytest.approx(IDEAL_S * parts_a / 3000)
    b = shift_b["machines"][0]
    assert b["losses_s"]["setup_adjustments"] == 600
    assert b["total_count"] == parts_between(plant["cnc-01"], T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert body["total"]["oee"] == pytest.approx(
        IDEAL_S * (a["good_count"] + b["good_count"]) / (a["planned_production_time_s"] + 3600)
    )


def test_schedule_stores_completed_shifts_and_updates_the_oee_shadow(plant: dict[str, list[Sample]]) -> None:
    path = f"/machines/cnc-01/oee?{q(T0, T0 + timedelta(hours=2), 'shift')}"
    with Client(app) as client:
        fresh = get(client, path)[1]
        summary = run_schedule(client, T0 + timedelta(hours=3))
        assert summary["failed"] == [] and summary["machines"] == 3 and summary["shadows_updated"] == 3
        stored = get(client, path)[1]
    assert (stored["periods_stored"], stored["periods_computed"]) == (2, 0)
    for key in ("periods", "machines", "lines", "total"):
        assert stored[key] == fresh[key]
    labels = [p.label for p in OeeResultStore().between("cnc-01", to_us(T0), to_us(T0 + timedelta(hours=2)))]
    assert labels == ["2026-01-05 a", "2026-01-05 b"]
    found = ShadowStore().get("cnc-01", "oee")
    assert found is not None
    reported = found[0]
    assert reported["latest"]["period"] == "2026-01-05 b"
    assert reported["latest"]["oee"] == pytest.approx(fresh["periods"][1]["total"]["oee"])
    assert reported["current"]["period"].endswith("off-shift")


def test_a_range_mixes_stored_and_computed_periods_with_the_same_result(plant: dict[str, list[Sample]]) -> None:
    a, b = T0 - timedelta(hours=1), T0 + timedelta(hours=3)
    with Client(app) as client:
        run_schedule(client, T0 + timedelta(hours=2, minutes=30))
        status, body = get(client, f"/machines/cnc-01/oee?{q(a, b, 'shift')}")
    assert status == 200
    assert (body["periods_stored"], body["periods_computed"]) == (2, 2)
    service = services().oee
    device = service.devices.get("cnc-01")
    assert device is not None
    direct = compute_oee(
        [service.machine_data(device, a, b)], a, b, shifts=CALENDAR.shifts, timezone=CALENDAR.timezone, by="shift"
    ).model_dump(mode="json")
    assert [p["label"] for p in body["periods"]] == [p["label"] for p in direct["periods"]]
    for key in ("oee", "availability", "performance", "quality", "run_time_s", "total_count"):
        assert body["total"][key] == pytest.approx(direct["total"][key])


def test_line_rollup_is_scoped_to_the_callers_machines(plant: dict[str, list[Sample]]) -> None:
    window = q(T0, T0 + timedelta(hours=2))
    with Client(app) as client:
        status, mine = get(client, f"/lines/line-a/oee?{window}")
        theirs = get(client, f"/lines/line-a/oee?{window}", tenant="factory-2")[1]
        one = get(client, f"/machines/cnc-01/oee?{window}")[1]["total"]
        two = get(client, f"/machines/cnc-02/oee?{window}")[1]["total"]
    assert status == 200
    assert mine["lines"][0]["machine_ids"] == ["cnc-01", "cnc-02"]
    assert theirs["lines"][0]["machine_ids"] == ["cnc-03"]
    pooled = (one["fully_productive_time_s"] + two["fully_productive_time_s"]) / (
        one["planned_production_time_s"] + two["planned_production_time_s"]
    )
    assert mine["lines"][0]["oee"] == pytest.approx(pooled)
    assert abs(mine["lines"][0]["oee"] - (one["oee"] + two["oee"]) / 2) > 1e-3


@pytest.mark.usefixtures("plant")
def test_bad_requests_and_other_tenants() -> None:
    window = q(T0, T0 + timedelta(hours=2))
    with Client(app) as client:
        assert get(client, f"/machines/cnc-03/oee?{window}")[0] == 404
        assert get(client, f"/lines/line-z/oee?{window}")[0] == 404
        status, body = get(client, f"/machines/cnc-01/oee?{window}&by=month")
        assert status == 400 and [e["path"] for e in body["errors"]] == ["query.by"]
        assert get(client, f"/machines/cnc-01/oee?{q(T0, T0 - timedelta(hours=1))}")[0] == 400
        CalendarStore().put("plant-a", PlantCalendar(timezone="Europe/Berlin"))
        status, body = get(client, f"/machines/cnc-01/oee?{window}&by=shift")
        assert status == 400 and "shift calendar" in body["detail"]
        assert get(client, f"/machines/cnc-01/oee?{window}&by=day")[0] == 200


def test_schedule_reports_a_machine_it_cannot_evaluate_and_carries_on(plant: dict[str, list[Sample]]) -> None:
    device = DeviceRegistry().get("cnc-02")
    assert device is not None
    DeviceRegistry().put(device.model_copy(update={"ideal_cycle_times_s": {}}))
    summary = services().oee.run_schedule(T0 + timedelta(hours=3))
    assert summary["machines"] == 2
    assert [f["machine_id"] for f in summary["failed"]] == ["cnc-02"]
    assert "ideal cycle time" in summary["failed"][0]["error"]
    assert ShadowStore().get("cnc-02", "oee") is None
    assert ShadowStore().get("cnc-01", "oee") is not None


def test_the_schedule_anchors_each_closed_shift_once_and_its_proof_checks(
    plant: dict[str, list[Sample]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the in-memory anchoring queue and the in-process chain
    monkeypatch.setenv("TWINLEDGER_ANCHOR_STORE", "memory")
    built = services()
    with wiring.override(anchor_store=built.adapters.anchor_store):
        oee = wiring.services().oee
        # When the schedule runs at T0 + 3 h (shift a ended two hours before), at T0 + 5 h and again after
        early = oee.run_schedule(T0 + timedelta(hours=3))
        later = oee.run_schedule(T0 + timedelta(hours=5))
        again = oee.run_schedule(T0 + timedelta(hours=5, minutes=30))
        anchoring = wiring.services().anchoring
        # Then shift a (06-07Z) is anchored at the first run, shift b (07-08Z) at the second, nothing twice,
        # and the time between shifts is not anchored
        assert early["periods_anchored"] == 3  # shift a of the three machines
        assert later["periods_anchored"] == 3 and again["periods_anchored"] == 0
        record = period_record_id("cnc-01", T0)
        assert anchoring.store.get(record) is not None
        assert anchoring.store.get(period_record_id("cnc-01", T0 + timedelta(hours=2))) is None
        # And the record's hash is the stored period's figures; its proof checks on chain
        stored = OeeResultStore().between("cnc-01", to_micros(T0), to_micros(T0 + timedelta(hours=1)))
        queued = anchoring.store.get(record)
        assert queued is not None and queued.record_hash == record_hash(period_record(stored[0]))
        assert queued.tenants == ("toolmaker", "factory-1")
        assert anchoring.run_once().anchored == 6
        assert anchoring.verify(anchoring.bundle(record)).ok


def test_a_shift_recomputed_with_other_figures_is_anchored_again_under_a_revision(
    plant: dict[str, list[Sample]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINLEDGER_ANCHOR_STORE", "memory")
    with wiring.override() as built:
        assert built.oee.run_schedule(T0 + timedelta(hours=3))["periods_anchored"] == 3
        # Given cnc-01's ideal cycle time was corrected after shift a was anchored: its figures change
        device = DeviceRegistry().get("cnc-01", max_age_s=0)
        assert device is not None
        DeviceRegistry().put(device.model_copy(update={"ideal_cycle_times_s": {"*": IDEAL_S / 2}}))
        # When the schedule recomputes it
        rerun = built.oee.run_schedule(T0 + timedelta(hours=3, minutes=10))
        # Then the new version is queued under a revision id; the first stays as it was
        assert rerun["periods_anchored"] == 1
        first = period_record_id("cnc-01", T0)
        queued = sorted(r.record_id for r in built.anchoring.store.pending(100) if r.record_id.startswith(first))
        assert len(queued) == 2 and queued[0] == first and queued[1].startswith(first + "#")
