"""The seeded fleet simulator: deterministic, realistic states, failure modes with precursors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_greengrass.simulator import FailureMode, FleetSimulator, MachineProfile, MachineSimulator, ShiftCalendar
from twin_models.states import DEFAULT_TAXONOMY, StateCategory

START = datetime(2026, 1, 5, tzinfo=UTC)


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    a = FleetSimulator(3, seed=11, start=START).advance(4 * 3600)
    b = FleetSimulator(3, seed=11, start=START).advance(4 * 3600)
    c = FleetSimulator(3, seed=12, start=START).advance(4 * 3600)
    assert a == b
    assert a != c


def test_a_day_has_every_kind_of_state_and_rising_counters() -> None:
    day = FleetSimulator(8, seed=7, start=START).advance(86_400)
    categories: Counter[StateCategory] = Counter()
    for samples in day.values():
        categories.update(DEFAULT_TAXONOMY.category(s.state) for s in samples)
        parts = [s.part_count for s in samples]
        assert parts == sorted(parts) and parts[-1] > 100
        assert all(s.reject_count <= s.part_count for s in samples)
    for expected in (
        StateCategory.RUNNING,
        StateCategory.REDUCED_SPEED,
        StateCategory.IDLE,
        StateCategory.MICRO_STOP,
        StateCategory.SETUP,
        StateCategory.BREAKDOWN,
        StateCategory.PLANNED_STOP,
    ):
        assert categories[expected] > 0, expected


def _run(mode: FailureMode) -> list[tuple[float, float, int]]:
    profile = MachineProfile(
        "cnc-x",
        failure_mode=mode,
        breakdowns_per_h=0.0,
        degradation_onset_h=1.0,
        degradation_h=3.0,
    )
    sim = MachineSimulator(profile, seed=3, start=datetime(2026, 1, 5, 5, tzinfo=UTC))
    return [(s.vibration_rms_mm_s, s.temperature_c, s.state) for s in sim.run(6 * 3600)]


def test_bearing_wear_raises_vibration_before_the_spindle_fault() -> None:
    run = _run("bearing")
    fault_at = next(i for i, (_, _, state) in enumerate(run) if state == 601)
    early = max(v for v, _, s in run[1800:3600] if s == 100)
    before_fault = max(v for v, _, s in run[fault_at - 900 : fault_at] if s == 100)
    assert before_fault > 3 * early


def test_cooling_trouble_raises_temperature_before_the_cooling_fault() -> None:
    run = _run("cooling")
    fault_at = next(i for i, (_, _, state) in enumerate(run) if state == 602)
    healthy = max(t for _, t, _ in run[1800:3600])
    assert run[fault_at - 1][1] > healthy + 10


def test_simulated_samples_pass_the_envelope_schema() -> None:
    from twin_models.telemetry import Sample

    day = FleetSimulator(8, seed=5, start=START).advance(6 * 3600)
    for samples in day.values():
        for sample in samples[::97]:
            assert Sample.model_validate(sample.model_dump()) == sample


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(["Europe/Berlin", "America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]),
)
def test_the_last_shift_start_is_planned_production_and_no_later_shift_start_is_skipped(
    at: datetime, zone: str
) -> None:
    # Given any moment and a plant calendar in any zone (DST changes included)
    calendar = ShiftCalendar(timezone=zone)
    # When a simulation start is asked for
    start = calendar.last_shift_start(at)
    # Then it is not after the moment, production is planned there, and no shift began in between
    assert start.tzinfo is UTC and start <= at
    assert calendar.planned_state(start) is None
    starts = {s for s, _ in calendar.shifts}
    step = start + timedelta(minutes=1)
    while step <= at:
        assert step.astimezone(ZoneInfo(zone)).time() not in starts, f"a shift began at {step}, after {start}"
        step += timedelta(minutes=1)
