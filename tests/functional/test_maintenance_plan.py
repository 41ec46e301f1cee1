"""The lessor's maintenance plan, what is due and overdue, the instruction an alarm gets, and the usage
statistics with MTBF/MTTR and the health trend (moto DynamoDB; usage and history written as ingest
writes them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.ports.maintenance import HealthPoint
from tests.functional.conftest import T0
from tests.functional.maintenance_support import MACHINE, PLAN, Api, api, fields, open_ticket
from twin_models.billing import parse_usage_event
from twin_models.history import segment_from_envelope
from twin_models.telemetry import Sample, TelemetryEnvelope

__all__ = ["api"]

DUE = f"/machines/{MACHINE}/maintenance/due"


def publish(api: Api, plan: dict[str, Any] = PLAN, who: str = "lessor") -> tuple[int, Any]:
    return api.call("PUT", "/maintenance-plans/vmc-800", who, plan)


def meter(api: Api, at: datetime, spindle_hours: float = 0.0, parts: int = 0) -> None:
    """Usage as the ingest meter step stores it."""
    events: list[dict[str, object]] = []
    if spindle_hours:
        events.append({"id": f"s-{at.timestamp():.0f}", "meter": "spindle_hours", "quantity": str(spindle_hours)})
    if parts:
        events.append({"id": f"p-{at.timestamp():.0f}", "meter": "parts", "quantity": parts})
    usage = [parse_usage_event({**e, "machine_id": MACHINE, "ts": at.isoformat()}) for e in events]
    api.services.adapters.usage.put(usage, at)


def due_items(api: Api) -> dict[str, dict[str, Any]]:
    return {item["task"]: item for item in api.ok("GET", DUE, "operator")["items"]}


# -- the plan ---------------------------------------------------------------------------------------------------


def test_the_lessor_publishes_the_plan_of_a_machine_type_and_reads_it_back(api: Api) -> None:
    status, published = publish(api)
    assert status == 200 and published["plan"]["version"] == 3 and published["lessor"] == "toolmaker"
    assert api.ok("GET", "/maintenance-plans/vmc-800", "lessor")["plan"]["tasks"][0]["id"] == "spindle-bearings"
    assert api.call("GET", "/maintenance-plans/vmc-800", "stranger_lessor")[0] == 404


@pytest.mark.parametrize("who", ["operator", "technician", "integration", "lessee_technician"])
def test_only_a_lessor_publishes_a_plan(api: Api, who: str) -> None:
    status, answer = publish(api, who=who)
    assert status == 403 and "lessor" in answer["detail"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"tasks": []}, "tasks"),
        ({"tasks": [{**PLAN["tasks"][0], "every": {}}]}, "tasks.0.every"),
        ({"tasks": [{**PLAN["tasks"][0], "every": {"spindle_hours": -5}}]}, "tasks.0.every.spindle_hours"),
        ({"tasks": [{**PLAN["tasks"][0], "id": "Bad Id"}]}, "tasks.0.id"),
        ({"triggers": [{**PLAN["triggers"][0], "task": "nothing"}]}, "plan"),
        ({"triggers": [{**PLAN["triggers"][0], "severity": "fatal"}]}, "triggers.0.severity"),
        ({"machine_type": "vmc-900"}, "machine_type"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_a_plan_that_does_not_fit_the_schema_is_a_400_naming_the_field(
    api: Api, change: dict[str, Any], where: str
) -> None:
    status, answer = publish(api, {**PLAN, **change})
    assert status == 400 and fields(answer)[0] == ("body" if where == "plan" else f"body.{where}"), answer


def test_a_machine_without_a_plan_has_an_empty_due_list(api: Api) -> None:
    empty: dict[str, object] = {"machine_id": MACHINE, "plan": None, "items": [], "at": "2026-01-05T06:00:00Z"}
    assert api.ok("GET", DUE, "operator") == empty


# -- due and overdue ----------------------------------------------------------------------------------------------


def test_usage_intervals_make_tasks_due_then_overdue_until_performed(api: Api) -> None:
    publish(api)
    api.ok("POST", f"/machines/{MACHINE}/maintenance", "technician", {"kind": "note", "text": "commissioned"})
    meter(api, T0 + timedelta(hours=1), spindle_hours=3.7, parts=20)
    api.clock.advance(hours=2)
    items = due_items(api)
    assert (items["lubrication"]["status"], items["way-covers"]["status"]) == ("due", "ok")
    assert items["lubrication"]["usage"]["spindle_hours"] == {"since": 3.7, "every": 4.0}

    meter(api, T0 + timedelta(hours=2, minutes=30), spindle_hours=0.5, parts=35)
    api.clock.advance(hours=1)
    items = due_items(api)
    assert (items["lubrication"]["status"], items["way-covers"]["status"]) == ("overdue", "overdue")
    assert list(items)[:2] == ["lubrication", "way-covers"] or list(items)[:2] == ["way-covers", "lubrication"]

    api.ok(
        "POST",
        f"/machines/{MACHINE}/maintenance",
        "technician",
        {"kind": "inspection", "task": "lubrication", "text": "spindle lubricated"},
    )
    items = due_items(api)
    assert items["lubrication"]["status"] == "ok" and items["lubrication"]["last_entry"] == f"{MACHINE}.1"
    assert items["way-covers"]["status"] == "overdue"


def test_a_calendar_interval_counts_days(api: Api) -> None:
    publish(api)
    api.ok(
        "POST",
        f"/machines/{MACHINE}/maintenance",
        "technician",
        {"kind": "inspection", "task": "coolant", "text": "coolant 8 %"},
    )
    api.clock.advance(days=28)
    assert due_items(api)["coolant"]["status"] == "due"
    api.clock.advance(days=3)
    assert due_items(api)["coolant"]["status"] == "overdue"


def test_an_alarm_triggers_its_task_within_the_plans_days_and_words_the_instruction(api: Api) -> None:
    publish(api)
    api.ok(
        "POST",
        f"/machines/{MACHINE}/maintenance",
        "technician",
        {"kind": "inspection", "task": "spindle-bearings", "text": "bearings ok"},
    )
    meter(api, T0 + timedelta(hours=1), spindle_hours=1850.0)
    api.clock.advance(hours=2)
    ticket = open_ticket(api, component="spindle_bearings", severity="warning")
    served = api.ok("GET", f"/machines/{MACHINE}/tickets", "operator")["items"][0]
    assert served["ticket_id"] == ticket
    assert served["instruction"] == (
        "spindle bearing vibration rising; 1,850 of 2,000 h since the last spindle bearing inspection: "
        "inspect within 3 days"
    )
    item = due_items(api)["spindle-bearings"]
    assert item["status"] == "due" and item["ticket"] == ticket and item["due_by"] == "2026-01-08T08:00:00Z"
    api.clock.advance(days=3, minutes=1)
    assert due_items(api)["spindle-bearings"]["status"] == "overdue"


def test_a_task_performed_after_the_alarm_is_no_longer_triggered(api: Api) -> None:
    publish(api)
    open_ticket(api, component="spindle_bearings")
    api.clock.advance(hours=4)
    api.ok(
        "POST",
        f"/machines/{MACHINE}/maintenance",
        "technician",
        {"kind": "inspection", "task": "spindle-bearings", "text": "bearing play 4 µm"},
    )
    assert due_items(api)["spindle-bearings"]["status"] == "ok"


def test_an_entry_naming_a_task_the_plan_lacks_is_a_400(api: Api) -> None:
    publish(api)
    status, answer = api.call(
        "POST", f"/machines/{MACHINE}/maintenance", "technician", {"kind": "inspection", "task": "ballscrews"}
    )
    assert status == 400 and fields(answer) == ["body.task"]


# -- statistics ---------------------------------------------------------------------------------------------------


def history(api: Api, start: datetime, minutes: int) -> None:
    """An hour of telemetry as the store step writes it: running at 45 % load and 8,000 rpm, one part every
    30 s (every tenth rejected), an alarm code at minute 20."""
    for m in range(minutes):
        rows = [
            Sample(
                ts=start + timedelta(minutes=m, seconds=s),
                state=100 if m < 50 else 300,
                spindle_speed_rpm=8000 if m < 50 else 0,
                spindle_load_pct=45 if m < 50 else 0,
                power_kw=12.0,
                part_count=(m * 60 + s) // 30,
                reject_count=(m * 60 + s) // 300,
                alarm_code=1040 if m == 20 else 0,
            )
            for s in range(60)
        ]
        envelope = TelemetryEnvelope(machine_id=MACHINE, site="plant-a", seq=m, sent_at=rows[-1].ts, samples=rows)
        api.services.adapters.history.put_segment(segment_from_envelope(envelope), rows[-1].ts)


def test_statistics_of_a_period(api: Api) -> None:
    history(api, T0, 60)
    ticket = open_ticket(api)
    api.clock.advance(minutes=15)
    api.ok("POST", f"/tickets/{ticket}/acknowledge", "operator")
    api.ok("POST", f"/tickets/{ticket}/start", "technician")
    api.clock.advance(minutes=45)
    api.ok("POST", f"/tickets/{ticket}/resolve", "technician", {"entry": {"kind": "repair", "text": "done"}})
    api.clock.advance(hours=1)
    stats = api.ok(
        "GET",
        f"/machines/{MACHINE}/statistics",
        "lessor",
        query={"from": "2026-01-05T06:00:00Z", "to": "2026-01-05T07:30:00Z"},
    )

    usage = stats["usage"]
    assert usage["spindle_hours"] == pytest.approx(50 / 60, abs=1e-6)
    assert usage["parts"] == {"total": 119, "good": 108, "rejected": 11}
    assert usage["energy_kwh"] == pytest.approx(12.0, rel=1e-6)
    spectrum = usage["load_spectrum"]
    assert spectrum["seconds"][2][3] == 3000.0 and spectrum["seconds"][0][0] == 600.0  # 40-60 % at 6-9k; stopped
    assert spectrum["load_bands"][2] == "40-60 %" and spectrum["speed_bands"][3] == "6000-9000 rpm"
    assert usage["machine_alarms"] == {"1040": 1}
    assert stats["alarms"]["by_code"] == {"spindle_bearings": 1}
    assert stats["tickets"] == {"opened": 1, "dismissed": 0, "open": 0, "resolved": 1}
    assert (stats["mtta_h"], stats["mttr_h"]) == (0.25, 1.0)
    assert stats["mtbf_h"] == pytest.approx(50 / 60, abs=1e-4)


def test_the_health_trend_projects_the_time_to_critical_with_an_interval(api: Api) -> None:
    store = api.services.maintenance.store
    for i in range(20):  # a bearing score rising 8 % per 10 minutes for three hours
        at = T0 + timedelta(minutes=10 * i)
        score = 0.6 * 1.08**i
        store.observe(
            HealthPoint(
                MACHINE,
                at,
                "warning" if score > 1.5 else "ok",
                score,
                1.5,
                3.0,
                {"spindle_bearings": 0.9, "cooling_system": 0.1},
                "spindle_bearings",
            )
        )
    api.clock.now = T0 + timedelta(minutes=190)
    stats = api.ok("GET", f"/machines/{MACHINE}/statistics", "operator")
    (trend,) = stats["health_trend"]
    assert trend["component"] == "spindle_bearings" and trend["status"] == "rising"
    assert trend["model"] == "log-linear" and trend["slope_per_h"] > 0
    low, high = trend["interval_h"]
    assert low is not None and high is not None and low <= trend["hours_to_critical"] <= high
    # 0.6 * 1.08 ** i * 0.9 reaches 3.0 at i = 22.3: 33 minutes after the last scoring (i = 19)
    assert trend["hours_to_critical"] == pytest.approx(0.55, abs=0.05)
    assert trend["projected_critical_at"].startswith("2026-01-05T09:4")


def test_a_bad_statistics_range_is_a_400(api: Api) -> None:
    for query in (
        {"from": "2026-01-05T07:00:00Z", "to": "2026-01-05T06:00:00Z"},
        {"from": "2025-01-01T00:00:00Z", "to": "2026-01-05T06:00:00Z"},
        {"from": "yesterday"},
    ):
        assert api.call("GET", f"/machines/{MACHINE}/statistics", "operator", query=query)[0] == 400
