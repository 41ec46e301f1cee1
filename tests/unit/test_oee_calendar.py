"""Shift calendars in local time: DST days, night shifts, breaks, period tiling."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from twin_models.oee import CalendarError, ShiftSpec, make_periods, shift_instances
from twin_models.oee.calendar import from_us, scheduled_intervals, to_us

BERLIN = ZoneInfo("Europe/Berlin")
HOUR_US = 3_600_000_000


def local_window(day: str, next_day: str) -> tuple[int, int]:
    a = datetime.fromisoformat(f"{day}T00:00").replace(tzinfo=BERLIN)
    b = datetime.fromisoformat(f"{next_day}T00:00").replace(tzinfo=BERLIN)
    return to_us(a), to_us(b)


@pytest.mark.parametrize(
    ("day", "next_day", "hours"),
    [("2026-03-29", "2026-03-30", 23), ("2026-10-25", "2026-10-26", 25), ("2026-06-01", "2026-06-02", 24)],
)
def test_local_days_have_23_24_or_25_hours(day: str, next_day: str, hours: int) -> None:
    w0, w1 = local_window(day, next_day)
    periods = make_periods("day", w0, w1, BERLIN)
    assert [p.label for p in periods] == [day]
    assert (periods[0].end_us - periods[0].start_us) == hours * HOUR_US


def test_night_shift_over_dst_changes_keeps_local_hours() -> None:
    night = ShiftSpec(name="night", start="22:00", end="06:00")
    spring = shift_instances([night], BERLIN, *local_window("2026-03-28", "2026-03-29"))
    autumn = shift_instances([night], BERLIN, *local_window("2026-10-24", "2026-10-25"))
    spring_28 = next(s for s in spring if s.day.isoformat() == "2026-03-28")
    autumn_24 = next(s for s in autumn if s.day.isoformat() == "2026-10-24")
    assert spring_28.end_us - spring_28.start_us == 7 * HOUR_US
    assert autumn_24.end_us - autumn_24.start_us == 9 * HOUR_US
    assert from_us(spring_28.end_us).astimezone(BERLIN).hour == 6


def test_three_shifts_tile_a_dst_day_and_breaks_cross_midnight() -> None:
    shifts = [
        ShiftSpec(name="early", start="06:00", end="14:00", breaks=[("09:00", "09:15")]),
        ShiftSpec(name="late", start="14:00", end="22:00"),
        ShiftSpec(name="night", start="22:00", end="06:00", breaks=[("23:45", "00:15")]),
    ]
    w0, w1 = local_window("2026-10-25", "2026-10-26")
    inst = shift_instances(shifts, BERLIN, w0, w1)
    periods = make_periods("shift", w0, w1, BERLIN, inst)
    assert periods[0].start_us == w0 and periods[-1].end_us == w1
    assert all(a.end_us == b.start_us for a, b in itertools.pairwise(periods))
    assert all(p.shift is not None for p in periods)  # three shifts leave no gap
    assert sum(p.end_us - p.start_us for p in periods) == 25 * HOUR_US
    night = next(s for s in inst if s.name == "night" and s.day.isoformat() == "2026-10-25")
    ((b0, b1),) = night.breaks
    assert b1 - b0 == HOUR_US // 2
    assert from_us(b1).astimezone(BERLIN).date().isoformat() == "2026-10-26"
    starts, ends = scheduled_intervals(inst, w0, w1)
    scheduled = int((ends - starts).sum())
    # 25 h minus the early break, and the part of the night breaks inside the day
    assert scheduled == 25 * HOUR_US - HOUR_US // 4 - HOUR_US // 4 - HOUR_US // 4


def test_off_shift_time_becomes_its_own_periods() -> None:
    shifts = [ShiftSpec(name="day", start="08:00", end="16:00")]
    w0 = to_us(datetime(2026, 1, 5, tzinfo=UTC))
    w1 = to_us(datetime(2026, 1, 6, tzinfo=UTC))
    periods = make_periods("shift", w0, w1, ZoneInfo("UTC"), shift_instances(shifts, ZoneInfo("UTC"), w0, w1))
    assert [(p.shift, (p.end_us - p.start_us) // HOUR_US) for p in periods] == [(None, 8), ("day", 8), (None, 8)]


def test_weeks_start_on_local_monday() -> None:
    w0 = to_us(datetime(2026, 1, 1, tzinfo=UTC))
    w1 = to_us(datetime(2026, 1, 20, tzinfo=UTC))
    periods = make_periods("week", w0, w1, BERLIN)
    assert [p.label for p in periods] == ["2026-W01", "2026-W02", "2026-W03", "2026-W04"]
    assert from_us(periods[1].start_us).astimezone(BERLIN).isoformat() == "2026-01-05T00:00:00+01:00"


def test_calendar_errors() -> None:
    w0, w1 = local_window("2026-01-05", "2026-01-06")
    with pytest.raises(CalendarError, match="overlap"):
        shift_instances(
            [ShiftSpec(name="a", start="06:00", end="14:00"), ShiftSpec(name="b", start="13:00", end="20:00")],
            BERLIN,
            w0,
            w1,
        )
    with pytest.raises(CalendarError, match="inside shift"):
        shift_instances([ShiftSpec(name="a", start="06:00", end="14:00", breaks=[("15:00", "15:30")])], BERLIN, w0, w1)
    with pytest.raises(CalendarError, match="shift calendar"):
        make_periods("shift", w0, w1, BERLIN, None)
    with pytest.raises(ValueError, match="local time"):
        ShiftSpec(name="a", start="06:00+01:00", end="14:00")


def test_times_in_the_skipped_hour_mean_the_jump() -> None:
    w0, w1 = local_window("2026-03-29", "2026-03-30")
    shift = ShiftSpec(name="odd", start="02:30", end="10:00", breaks=[("02:40", "02:50"), ("05:00", "05:15")])
    (inst,) = shift_instances([shift], BERLIN, w0, w1)
    jump = to_us(datetime(2026, 3, 29, 1, tzinfo=UTC))
    assert inst.start_us == jump
    assert inst.end_us - inst.start_us == 7 * HOUR_US  # 03:00 to 10:00 summer time
    assert inst.breaks[0] == (jump, jump)  # wholly in the skipped hour: it does not happen
    starts, ends = scheduled_intervals([inst], w0, w1)
    assert int((ends - starts).sum()) == 7 * HOUR_US - HOUR_US // 4


def test_times_in_the_repeated_hour_mean_the_first_occurrence() -> None:
    w0, w1 = local_window("2026-10-25", "2026-10-26")
    (inst,) = shift_instances([ShiftSpec(name="odd", start="02:30", end="10:00")], BERLIN, w0, w1)
    assert from_us(inst.start_us).isoformat() == "2026-10-25T00:30:00+00:00"  # 02:30 summer time
    assert inst.end_us - inst.start_us == int(8.5 * HOUR_US)
