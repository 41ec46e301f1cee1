"""The conventions of docs/oee.md, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twin_models.oee import OeeInputError, OeeReport, Scenario, evaluate_scenario
from twin_models.oee.calendar import PeriodBy

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def state(a: float, b: float, name: str | int, program: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"start": at(a), "end": at(b), "state": name}
    if program:
        out["program"] = program
    return out


def run(
    states: list[dict[str, Any]],
    counts: list[dict[str, Any]] | None = None,
    *,
    minutes: float = 60,
    ideal: Any = 1.0,
    shifts: list[dict[str, Any]] | None = None,
    by: PeriodBy | None = None,
    counters: list[dict[str, Any]] | None = None,
) -> OeeReport:
    scenario = Scenario.model_validate(
        {
            "window": {"start": at(0), "end": at(minutes)},
            "shifts": shifts or [],
            "machines": [
                {
                    "machine_id": "m1",
                    "ideal_cycle_time_s": ideal,
                    "states": states,
                    "counts": counts or [],
                    "counters": counters or [],
                }
            ],
        }
    )
    return evaluate_scenario(scenario, by=by)


def test_uncovered_time_is_unknown_never_running() -> None:
    m = run([state(0, 30, "running")], [{"ts": at(10), "total": 1500}]).total
    assert m.losses_s.unknown == 1800
    assert m.run_time_s == 1800
    assert m.planned_production_time_s == 3600
    assert m.availability == pytest.approx(0.5)
    assert any("no known state" in w for w in m.warnings)


def test_running_during_a_calendar_break_is_planned_production() -> None:
    shifts = [{"name": "s", "start": "06:00", "end": "07:00", "breaks": [["06:20", "06:40"]]}]
    m = run([state(0, 60, "running")], [{"ts": at(1), "total": 3000}], shifts=shifts).total
    assert m.planned_stop_s == 0
    assert m.planned_production_time_s == 3600
    idle = run([state(0, 60, "idle")], shifts=shifts).total
    assert idle.planned_stop_s == 1200
    assert idle.losses_s.idle == 2400


def test_time_outside_shifts_is_a_planned_stop() -> None:
    shifts = [{"name": "s", "start": "06:30", "end": "07:00"}]
    m = run([state(0, 60, "breakdown")], shifts=shifts).total
    assert m.planned_stop_s == 1800
    assert m.losses_s.breakdowns == 1800
    assert m.breakdown_events == 1


def test_planned_stop_and_no_order_states_leave_planned_time() -> None:
    m = run([state(0, 10, "planned_maintenance"), state(10, 20, "no_order"), state(20, 60, "running")]).total
    assert m.planned_stop_s == 1200
    assert m.planned_production_time_s == 2400


def test_micro_stops_and_reduced_speed_are_run_time() -> None:
    m = run(
        [state(0, 20, "running"), state(20, 25, "micro_stop"), state(25, 60, "reduced_speed")],
        [{"ts": at(59), "total": 3000, "reject": 10, "startup_reject": 5}],
    ).total
    assert m.run_time_s == 3600
    assert m.availability == 1.0
    assert m.losses_s.small_stops == 300
    assert m.losses_s.reduced_speed == pytest.approx(3600 - 3000 - 300)
    assert m.losses_s.production_rejects == 10
    assert m.losses_s.startup_rejects == 5
    assert m.quality == pytest.approx(2985 / 3000)


def test_time_buckets_add_up_to_all_time() -> None:
    m = run(
        [state(0, 5, "setup"), state(5, 12, "idle"), state(12, 20, 601), state(20, 50, "running"), state(50, 55, 700)],
        [{"ts": at(30), "total": 1000, "reject": 3}],
    ).total
    loss = m.losses_s
    time_buckets = m.planned_stop_s + loss.breakdowns + loss.setup_adjustments + loss.idle + loss.unknown + m.run_time_s
    assert time_buckets == pytest.approx(m.all_time_s)
    run_parts = loss.small_stops + loss.reduced_speed + loss.startup_rejects + loss.production_rejects
    assert run_parts + m.fully_productive_time_s == pytest.approx(m.run_time_s)


def test_overlap_later_start_wins_and_warns() -> None:
    report = run([state(0, 60, "running"), state(10, 20, "setup")], [{"ts": at(5), "total": 10}])
    m = report.machines[0]
    assert m.losses_s.setup_adjustments == 600
    assert m.run_time_s == 3000
    assert report.warnings == m.warnings
    assert any("overlap" in w and "state 500" in w and "wins over state 100" in w for w in m.warnings)


def test_performance_above_one_is_not_capped_and_warns() -> None:
    m = run([state(0, 60, "running")], [{"ts": at(1), "total": 7200}]).total
    assert m.performance == pytest.approx(2.0)
    assert m.oee == pytest.approx(2.0)
    assert any("ideal cycle time" in w for w in m.warnings)


def test_undefined_ratios_are_null_with_a_warning() -> None:
    m = run([state(0, 60, "planned_break")]).total
    assert m.availability is None and m.oee is None and m.quality is None
    assert any("no planned production time" in w for w in m.warnings)
    m = run([state(0, 60, "running")]).total
    assert m.quality is None and m.performance == 0.0 and m.oee == 0.0
    assert any("no parts" in w for w in m.warnings)


def test_breakdown_events_are_maximal_contiguous_runs() -> None:
    states = [
        state(0, 10, "running"),
        state(10, 15, 601),
        state(15, 20, 603),  # contiguous with the previous breakdown: the same event
        state(20, 40, "running"),
        state(40, 45, "crash"),
        state(45, 60, "running"),
    ]
    m = run(states, [{"ts": at(1), "total": 100}]).total
    assert m.breakdown_events == 2
    assert m.mttr_s == pytest.approx((600 + 300) / 2)
    assert m.mtbf_s == pytest.approx(m.run_time_s / 2)


def test_cumulative_counters_reset_on_decrease() -> None:
    counters = [{"ts": at(0), "total": 500}, {"ts": at(20), "total": 900}, {"ts": at(40), "total": 100}]
    m = run([state(0, 60, "running")], counters=counters).machines[0]
    assert m.total_count == 400 + 100
    assert any("reset" in w for w in m.warnings)


def test_counts_belong_to_the_period_holding_their_timestamp() -> None:
    shifts = [{"name": "a", "start": "06:00", "end": "06:30"}, {"name": "b", "start": "06:30", "end": "07:00"}]
    counts = [{"ts": at(0), "total": 1}, {"ts": at(30), "total": 10}, {"ts": at(60), "total": 100}]
    report = run([state(0, 60, "running")], counts, shifts=shifts, by="shift")
    assert report.periods is not None
    assert [p.total.total_count for p in report.periods] == [1, 10]
    assert report.total.total_count == 11  # the count at the window end belongs to the next window


def test_per_program_ideal_cycle_times_follow_the_running_program() -> None:
    states = [state(0, 30, "running", "P1"), state(30, 35, "setup"), state(35, 60, "running", "P2")]
    counts = [
        {"ts": at(29), "total": 50},
        {"ts": at(33), "total": 2},  # during setup: the last program that ran
        {"ts": at(59), "total": 20},
        {"ts": at(59), "total": 1, "program": "P1"},  # named explicitly
    ]
    m = run(states, counts, ideal={"P1": 30.0, "P2": 60.0}).total
    assert m.net_run_time_s == pytest.approx(50 * 30 + 2 * 30 + 20 * 60 + 1 * 30)


def test_counts_without_a_program_are_an_error() -> None:
    with pytest.raises(OeeInputError, match="cannot be given a program"):
        run([state(0, 60, "running")], [{"ts": at(1), "total": 5}], ideal={"P1": 1.0})


def test_unknown_program_is_rejected() -> None:
    with pytest.raises(ValueError, match="no ideal cycle time for program"):
        run([state(0, 60, "running", "P9")], ideal={"P1": 1.0})


def test_rejects_naive_timestamps_and_bad_windows() -> None:
    with pytest.raises(ValueError):
        Scenario.model_validate(
            {"window": {"start": "2026-01-05T06:00:00", "end": "2026-01-05T07:00:00"}, "machines": []}
        )
    with pytest.raises(ValueError, match="not after its start"):
        Scenario.model_validate(
            {
                "window": {"start": at(10), "end": at(0)},
                "machines": [{"machine_id": "m", "ideal_cycle_time_s": 1}],
            }
        )


def test_default_program_ideal_cycle_time() -> None:
    states = [state(0, 30, "running", "P1"), state(30, 60, "running", "P7")]
    counts = [{"ts": at(10), "total": 10}, {"ts": at(40), "total": 20}]
    m = run(states, counts, ideal={"P1": 30.0, "*": 10.0}).total
    assert m.net_run_time_s == pytest.approx(10 * 30 + 20 * 10)
    m = run([state(0, 60, "running")], [{"ts": at(1), "total": 5}], ideal={"P1": 30.0, "*": 12.0}).total
    assert m.net_run_time_s == pytest.approx(5 * 12)


def test_totals_rows_round_trip_and_rebuild_the_report() -> None:
    from twin_models.oee import build_report, compute_totals, row_from_dict, row_to_dict
    from twin_models.oee.scenario import machine_data

    scenario = Scenario.model_validate(
        {
            "window": {"start": at(0), "end": at(60)},
            "machines": [
                {
                    "machine_id": "m1",
                    "ideal_cycle_time_s": 1.0,
                    "states": [state(0, 50, "running")],
                    "counts": [{"ts": at(5), "total": 2000, "reject": 20}],
                }
            ],
        }
    )
    totals = compute_totals([machine_data(m) for m in scenario.machines], T0, T0 + timedelta(hours=1))
    row = totals.cube[0, 0]
    assert (row_from_dict(row_to_dict(row)) == row).all()
    assert build_report(totals) == evaluate_scenario(scenario)


def test_counts_and_counters_add_up_and_readings_may_omit_rejects() -> None:
    counters = [
        {"ts": at(0), "total": 100, "reject": 5},
        {"ts": at(20), "total": 300},  # reject not read: it keeps its value
        {"ts": at(40), "total": 400, "reject": 9},
    ]
    m = run([state(0, 60, "601")], [{"ts": at(50), "total": 7, "reject": 1}], counters=counters).total
    assert (m.total_count, m.reject_count) == (300 + 7, 4 + 1)
    assert m.losses_s.breakdowns == 3600  # a numeric string is a state code


def test_a_machine_without_states_is_all_unknown() -> None:
    m = run([], [{"ts": at(5), "total": 10}]).total
    assert m.losses_s.unknown == 3600 and m.run_time_s == 0
    assert m.availability == 0.0 and m.performance is None
    assert any("no run time" in w for w in m.warnings)
