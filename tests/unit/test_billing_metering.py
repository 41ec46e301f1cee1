"""Meters from telemetry samples: running time, counters with resets, energy, alarm edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from twin_models.billing import MeteringConfig, UsageEvent, dedupe, derive_usage_events
from twin_models.telemetry import Sample

T0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


def samples(n: int, **columns: Any) -> list[dict[str, Any]]:
    """n samples at 1 Hz from T0; a column is a constant or a function of the index."""
    out = []
    for i in range(n):
        row: dict[str, Any] = {"ts": T0 + timedelta(seconds=i), "state": 100}
        for name, value in columns.items():
            row[name] = value(i) if callable(value) else value
        out.append(row)
    return out


def totals(events: list[UsageEvent]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for e in events:
        out[e.meter] = out.get(e.meter, Decimal(0)) + e.quantity
    return out


def test_spindle_hours_count_running_states_only() -> None:
    # samples 0..179; the state of sample i holds until sample i+1: 120 running seconds (0..119),
    # then idle. 120 s = 0.0333333 h -> 0.033333 (6 decimals, half-even)
    rows = samples(180, state=lambda i: 100 if i < 120 else 300)
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.033333")


def test_reduced_speed_runs_but_micro_stops_and_setup_do_not() -> None:
    # 60 s reduced speed (200) + 60 s micro stop (400) + 60 s setup (500) + one closing sample
    rows = samples(181, state=lambda i: (200, 400, 500, 300)[i // 60])
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.016667")  # 60/3600


def test_a_telemetry_gap_is_never_billed_beyond_max_gap() -> None:
    rows = [{"ts": T0, "state": 100}, {"ts": T0 + timedelta(minutes=10), "state": 100}]
    # 600 s between samples, but only max_gap_s = 60 s are counted: 60/3600 = 0.016667 h
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.016667")
    wide = MeteringConfig(max_gap_s=900)
    # with a 900 s allowance the 600 s count: 600/3600 = 0.166667 h
    assert totals(derive_usage_events(rows, "m1", config=wide))["spindle_hours"] == Decimal("0.166667")


def test_part_counter_resets_are_handled() -> None:
    counts = [10, 11, 12, 3, 4, 4, 0, 2]
    rows = samples(len(counts), part_count=lambda i: counts[i], reject_count=lambda i: 1 if i >= 5 else 0)
    # deltas: +1 +1, reset 12 -> 3 counts 3, +1, +0, reset 4 -> 0 counts 0, +2 -> 8 parts
    # rejects 0 -> 1 at sample 5: 1
    got = totals(derive_usage_events(rows, "m1"))
    assert (got["parts"], got["rejected_parts"]) == (Decimal(8), Decimal(1))


def test_energy_is_power_times_time() -> None:
    # 10 kW held for 360 s = 10 x 0.1 h = 1 kWh; then 0 kW
    rows = samples(400, power_kw=lambda i: 10.0 if i < 360 else 0.0)
    assert totals(derive_usage_events(rows, "m1"))["energy_kwh"] == Decimal("1.000000")


def test_crashes_and_overloads_are_rising_edges() -> None:
    alarms = [0, 0, 9001, 9001, 0, 9001, 7, 7, 0, 7]
    states = [100, 100, 100, 100, 100, 100, 100, 604, 604, 100]
    rows = samples(len(alarms), alarm_code=lambda i: alarms[i], state=lambda i: states[i])
    cfg = MeteringConfig(crash_alarm_codes=frozenset({9001}), overload_alarm_codes=frozenset({7}))
    events = derive_usage_events(rows, "m1", config=cfg)
    crashes = [e for e in events if e.meter == "crash_events"]
    # crash = alarm 9001 or state 604: on at i=2..3, off at 4, on at 5, off at 6, on at 7..8 -> 3 edges
    assert [e.ts for e in crashes] == [T0 + timedelta(seconds=s) for s in (2, 5, 7)]
    # overload alarm 7 starts at i=6 and at i=9 -> 2 edges
    assert totals(events)["overload_events"] == Decimal(2)


def test_intervals_are_split_at_bucket_boundaries() -> None:
    start = datetime(2026, 10, 1, 6, 14, 30, tzinfo=UTC)
    rows = [{"ts": start + timedelta(seconds=i), "state": 100} for i in range(61)]
    events = [e for e in derive_usage_events(rows, "m1") if e.meter == "spindle_hours"]
    # 06:14:30..06:15:00 (30 s) in the 06:00 bucket, 06:15:00..06:15:30 (30 s) in the 06:15 bucket
    assert [(e.ts.minute, e.quantity) for e in events] == [(0, Decimal("0.008333")), (15, Decimal("0.008333"))]


def test_a_batch_boundary_loses_nothing_when_previous_is_passed() -> None:
    rows = samples(120, part_count=lambda i: i // 10, power_kw=3.6)
    whole = totals(derive_usage_events(rows, "m1"))
    first = derive_usage_events(rows[:60], "m1", source="seq-1")
    second = derive_usage_events(rows[60:], "m1", previous=rows[59], source="seq-2")
    assert totals(dedupe(first + second)) == whole
    # 119 s x 3.6 kW = 0.119 kWh ; parts 0 -> 11 = 11
    assert (whole["energy_kwh"], whole["parts"]) == (Decimal("0.119000"), Decimal(11))


def test_deriving_the_same_batch_twice_gives_the_same_event_ids() -> None:
    rows = [
        Sample(ts=T0 + timedelta(seconds=i), state=100, part_count=i, power_kw=5.0, spindle_speed_rpm=8000)
        for i in range(30)
    ]
    once = derive_usage_events(rows, "cnc-01", source="seq-9")
    twice = derive_usage_events(list(reversed(rows)), "cnc-01", source="seq-9")
    assert [e.id for e in once] == [e.id for e in twice]
    assert len(dedupe(once + twice)) == len(once) == 3
