"""Property tests: bucket coverage against a per-second reference, identities and exact roll-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.oee import OeeMetrics, Scenario, evaluate_scenario
from twin_models.oee.calendar import from_us, to_us
from twin_models.states import DEFAULT_TAXONOMY, StateCategory

ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
# DST change days in Berlin / New York, and an ordinary day.
DAYS = ["2026-03-29", "2026-10-25", "2026-03-08", "2026-11-01", "2026-06-10"]
CALENDARS: list[list[dict[str, Any]]] = [
    [],
    [{"name": "day", "start": "06:00", "end": "18:00", "breaks": [["12:00", "12:30"]]}],
    [
        {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["09:00", "09:15"]]},
        {"name": "late", "start": "14:00", "end": "22:00"},
        {"name": "night", "start": "22:00", "end": "06:00", "breaks": [["23:50", "00:20"]]},
    ],
    [{"name": "night", "start": "20:00", "end": "04:00", "breaks": [["01:00", "01:45"]]}],
]
STATES = ["running", "reduced_speed", "micro_stop", "idle", "setup", 601, "breakdown", "planned_break", "no_order", 0]
BUCKET_OF = {
    StateCategory.RUNNING: "run",
    StateCategory.REDUCED_SPEED: "run",
    StateCategory.MICRO_STOP: "small_stop",
    StateCategory.IDLE: "idle",
    StateCategory.SETUP: "setup",
    StateCategory.BREAKDOWN: "breakdown",
    StateCategory.UNKNOWN: "unknown",
    StateCategory.PLANNED_STOP: "planned_stop",
    StateCategory.NO_ORDER: "planned_stop",
}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    start_hour = draw(st.integers(0, 23))
    tz = ZoneInfo(zone)
    w0 = datetime.fromisoformat(day).replace(tzinfo=tz) + timedelta(hours=start_hour)
    length = draw(st.integers(600, 4 * 3600))
    w0_utc = from_us(to_us(w0))
    states = []
    for _ in range(draw(st.integers(0, 12))):
        a = draw(st.integers(-300, length))
        b = a + draw(st.integers(1, 3600))
        states.append(
            {
                "start": (w0_utc + timedelta(seconds=a)).isoformat(),
                "end": (w0_utc + timedelta(seconds=b)).isoformat(),
                "state": draw(st.sampled_from(STATES)),
            }
        )
    counts = [
        {
            "ts": (w0_utc + timedelta(seconds=draw(st.integers(0, length - 1)))).isoformat(),
            "total": draw(st.integers(0, 500)),
            "reject": draw(st.integers(0, 5)),
            "startup_reject": draw(st.integers(0, 5)),
        }
        for _ in range(draw(st.integers(0, 8)))
    ]
    return {
        "timezone": zone,
        "window": {"start": w0_utc.isoformat(), "end": (w0_utc + timedelta(seconds=length)).isoformat()},
        "shifts": draw(st.sampled_from(CALENDARS)),
        "machines": [
            {
                "machine_id": "m1",
                "line": "l",
                "ideal_cycle_time_s": draw(st.sampled_from([0.5, 1.0, 7.5])),
                "states": states,
                "counts": counts,
            },
            {"machine_id": "m2", "line": "l", "ideal_cycle_time_s": 2.0, "states": states[::-1], "counts": counts[:2]},
        ],
    }


def _hms(text: str) -> int:
    h, m = text.split(":")
    return (int(h) % 24) * 3600 + int(m) * 60


def _instant(day: date, wall: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time, by the calendar's convention, worked out minute by minute: a
    time the autumn change repeats is its first occurrence (``fold=0``); a time the spring change skips is
    the moment the clocks jump (the first instant whose wall time is past it)."""
    h, m = (int(x) for x in wall.split(":"))
    naive = datetime.combine(day, time(h % 24, m))
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    probe = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the jump
    while probe.astimezone(zone).replace(tzinfo=None) < naive:
        probe += timedelta(seconds=1)
    return probe


def scheduled_at(moment: datetime, zone: str, shifts: list[dict[str, Any]]) -> bool:
    """Whether production is planned at ``moment``: each shift and break as its own instants on the local
    days around it, independent of the engine's shift instances."""
    if not shifts:
        return True
    tz = ZoneInfo(zone)
    today = moment.astimezone(tz).date()
    for shift in shifts:
        overnight = _hms(shift["end"]) <= _hms(shift["start"])
        for day in (today - timedelta(days=1), today):
            start = _instant(day, shift["start"], tz)
            end = _instant(day + timedelta(days=int(overnight)), shift["end"], tz)
            if not start <= moment < end:
                continue
            for b0, b1 in shift.get("breaks", []):
                d0 = day + timedelta(days=int(_hms(b0) < _hms(shift["start"])))
                d1 = day + timedelta(days=int(_hms(b1) <= _hms(shift["start"])))
                if _instant(d0, b0, tz) <= moment < _instant(d1, b1, tz):
                    return False
            return True
    return False


def per_second_buckets(raw: dict[str, Any], machine: dict[str, Any]) -> dict[str, int]:
    """Classify every second of the window one at a time (the reference)."""
    w0 = datetime.fromisoformat(raw["window"]["start"])
    w1 = datetime.fromisoformat(raw["window"]["end"])
    spans = [
        (datetime.fromisoformat(s["start"]), i, datetime.fromisoformat(s["end"]), s["state"])
        for i, s in enumerate(machine["states"])
    ]
    spans.sort(key=lambda x: (x[0], x[1]))
    out = dict.fromkeys(["run", "small_stop", "idle", "setup", "breakdown", "unknown", "planned_stop"], 0)
    for k in range(int((w1 - w0).total_seconds())):
        t = w0 + timedelta(seconds=k)
        winner = None
        for start, _, end, name in spans:
            if start <= t < end:
                winner = name
        category = StateCategory.UNKNOWN if winner is None else DEFAULT_TAXONOMY.category_of(winner)
        if not category.is_run and not scheduled_at(t, raw["timezone"], raw["shifts"]):
            out["planned_stop"] += 1
        else:
            out[BUCKET_OF[category]] += 1
    return out


def engine_buckets(m: OeeMetrics) -> dict[str, float]:
    return {
        "run": m.run_time_s - m.losses_s.small_stops,
        "small_stop": m.losses_s.small_stops,
        "idle": m.losses_s.idle,
        "setup": m.losses_s.setup_adjustments,
        "breakdown": m.losses_s.breakdowns,
        "unknown": m.losses_s.unknown,
        "planned_stop": m.planned_stop_s,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=scenarios())
def test_every_second_lands_in_exactly_one_bucket(raw: dict[str, Any]) -> None:
    report = evaluate_scenario(Scenario.model_validate(raw))
    m = report.machines[0]
    expected = per_second_buckets(raw, raw["machines"][0])
    assert engine_buckets(m) == pytest.approx(expected, abs=1e-6)
    assert sum(expected.values()) == m.all_time_s


def _identity(m: OeeMetrics) -> None:
    if None not in (m.availability, m.performance, m.quality, m.oee):
        assert m.availability is not None and m.performance is not None and m.quality is not None
        assert m.availability * m.performance * m.quality == pytest.approx(m.oee, rel=1e-9, abs=1e-12)
    if m.oee is not None and m.teep is not None:
        assert m.teep == pytest.approx(m.oee * m.planned_production_time_s / m.all_time_s, rel=1e-9, abs=1e-12)


SUMMED = [
    "all_time_s",
    "planned_production_time_s",
    "run_time_s",
    "net_run_time_s",
    "fully_productive_time_s",
    "total_count",
    "good_count",
    "breakdown_events",
]


@settings(max_examples=60, deadline=None)
@given(raw=scenarios(), by=st.sampled_from(["shift", "day", "week"]))
def test_splitting_into_periods_rolls_back_up_to_the_window(raw: dict[str, Any], by: str) -> None:
    if by == "shift" and not raw["shifts"]:
        by = "day"
    scenario = Scenario.model_validate(raw)
    whole = evaluate_scenario(scenario)
    split = evaluate_scenario(scenario, by=by)  # type: ignore[arg-type]
    assert split.periods is not None
    assert split.periods[0].start == whole.window_start and split.periods[-1].end == whole.window_end
    for a, b in zip(split.periods, split.periods[1:], strict=False):
        assert a.end == b.start
    for name in SUMMED:
        assert sum(getattr(p.total, name) for p in split.periods) == pytest.approx(getattr(whole.total, name))
    for key in ("oee", "availability", "performance", "quality", "teep", "mtbf_s", "mttr_s"):
        assert getattr(split.total, key) == pytest.approx(getattr(whole.total, key))
    planned = sum(p.total.planned_production_time_s for p in split.periods)
    if planned > 0:
        assert whole.total.oee == pytest.approx(sum(p.total.fully_productive_time_s for p in split.periods) / planned)
    for m in [whole.total, *whole.machines, *whole.lines, *(p.total for p in split.periods)]:
        _identity(m)
