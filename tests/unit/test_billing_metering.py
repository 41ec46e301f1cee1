"""Meters from telemetry samples: running time, counters with resets, energy, alarm edges."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
    # samples 0..179, each standing for its own second: 0..119 running (120 s), then idle.
    # 120 s = 0.0333333 h -> 0.033333 (6 decimals, half-even)
    rows = samples(180, state=lambda i: 100 if i < 120 else 300)
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.033333")


def test_reduced_speed_runs_but_micro_stops_and_setup_do_not() -> None:
    # 60 s reduced speed (200) + 60 s micro stop (400) + 60 s setup (500)
    rows = samples(180, state=lambda i: (200, 400, 500)[i // 60])
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.016667")  # 60/3600


def test_a_telemetry_gap_is_never_billed() -> None:
    rows = [{"ts": T0, "state": 100}, {"ts": T0 + timedelta(minutes=10), "state": 100}]
    # two samples 600 s apart stand for one second each: 2/3600 = 0.000556 h, not 600 s
    assert totals(derive_usage_events(rows, "m1"))["spindle_hours"] == Decimal("0.000556")
    slow = MeteringConfig(sample_period_s=5)
    every_5s = [{"ts": T0 + timedelta(seconds=5 * i), "state": 100} for i in range(12)]
    # a gateway sampling every 5 s: 12 samples x 5 s = 60 s = 0.016667 h
    assert totals(derive_usage_events(every_5s, "m1", config=slow))["spindle_hours"] == Decimal("0.016667")


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
    rows = [{"ts": start + timedelta(seconds=i) + timedelta(milliseconds=500), "state": 100} for i in range(60)]
    events = [e for e in derive_usage_events(rows, "m1") if e.meter == "spindle_hours"]
    # 06:14:30.5..06:15:30.5: 29.5 s in the 06:00 bucket (0.0081944 h), 30.5 s in the 06:15 bucket (0.0084722 h)
    assert [(e.ts.minute, e.quantity) for e in events] == [(0, Decimal("0.008194")), (15, Decimal("0.008472"))]


def test_a_batch_boundary_loses_nothing_when_previous_is_passed() -> None:
    rows = samples(120, part_count=lambda i: i // 10, power_kw=3.6)
    whole = totals(derive_usage_events(rows, "m1"))
    first = derive_usage_events(rows[:60], "m1", source="seq-1")
    second = derive_usage_events(rows[60:], "m1", previous=rows[59], source="seq-2")
    split = totals(dedupe(first + second))
    # each batch's event is rounded to 6 decimals: 2 x 0.016667 h (60 s) against 0.033333 h (120 s)
    assert (split["spindle_hours"], whole["spindle_hours"]) == (Decimal("0.033334"), Decimal("0.033333"))
    assert (split["energy_kwh"], split["parts"]) == (whole["energy_kwh"], whole["parts"])
    # 120 s x 3.6 kW = 0.12 kWh ; parts 0 -> 11 = 11 (the step at sample 60 is carried by previous)
    assert (whole["energy_kwh"], whole["parts"]) == (Decimal("0.120000"), Decimal(11))
    without = derive_usage_events(rows[60:], "m1", source="seq-2")
    assert totals(dedupe(first + without))["parts"] == Decimal(10)  # the step at the boundary is lost


def test_deriving_the_same_batch_twice_gives_the_same_event_ids() -> None:
    rows = [
        Sample(ts=T0 + timedelta(seconds=i), state=100, part_count=i, power_kw=5.0, spindle_speed_rpm=8000)
        for i in range(30)
    ]
    once = derive_usage_events(rows, "cnc-01", source="seq-9")
    twice = derive_usage_events(list(reversed(rows)), "cnc-01", source="seq-9")
    assert [e.id for e in once] == [e.id for e in twice]
    assert len(dedupe(once + twice)) == len(once) == 3


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=299), max_size=6, unique=True),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_splitting_telemetry_into_batches_keeps_every_meter(cuts: list[int], seed: int) -> None:
    rng = random.Random(seed)
    counts = list(itertools.accumulate(rng.choice([0, 0, 0, 1]) for _ in range(300)))
    states = [rng.choice([100, 100, 200, 300, 604]) for _ in range(300)]
    rows = samples(
        300, state=lambda i: states[i], part_count=lambda i: counts[i], power_kw=lambda i: rng.choice([0.0, 2.5, 7.2])
    )
    whole = totals(derive_usage_events(rows, "m1"))
    bounds = [0, *sorted(cuts), 300]
    parts: list[UsageEvent] = []
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        previous = rows[lo - 1] if lo else None
        parts += derive_usage_events(rows[lo:hi], "m1", previous=previous, source=f"seq-{n}")
    split = totals(dedupe(parts))
    assert split.keys() == whole.keys()
    for meter, value in whole.items():
        # only the 6-decimal rounding of each bucket event may differ
        assert abs(split[meter] - value) <= Decimal("0.000001") * len(bounds), meter


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "state": st.sampled_from([100, 200, 300, 500, 604, 710]),
                "part_step": st.integers(min_value=0, max_value=2),
                "power_kw": st.one_of(st.just(0.0), st.floats(min_value=0, max_value=500, allow_nan=False)),
                "alarm_code": st.sampled_from([0, 0, 3, 7]),
                "gap": st.sampled_from([1, 1, 1, 2, 7]),
            }
        ),
        min_size=1,
        max_size=80,
    )
)
def test_samples_as_models_or_as_dicts_meter_alike(rows: list[dict[str, Any]]) -> None:
    # the ingest path passes validated Sample models (a fast path); files pass dicts
    ts, parts, models = T0, 0, []
    for row in rows:
        parts += row["part_step"]
        models.append(
            Sample(ts=ts, state=row["state"], part_count=parts, power_kw=row["power_kw"], alarm_code=row["alarm_code"])
        )
        ts += timedelta(seconds=row["gap"])
    config = MeteringConfig(overload_alarm_codes=frozenset({7}))
    as_models = derive_usage_events(models, "m1", previous=models[0], config=config)
    as_dicts = derive_usage_events(
        [m.model_dump() for m in models], "m1", previous=models[0].model_dump(), config=config
    )
    assert as_models == as_dicts
