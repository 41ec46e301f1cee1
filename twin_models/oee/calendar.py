"""The plant's shift calendar in local time, and the reporting periods.

Shifts repeat every local day; their start and end are wall-clock times in the
plant's time zone, so a shift keeps its local hours across daylight-saving
changes (a night shift over the spring change lasts one hour less). Everything
returned here is in UTC epoch microseconds, the engine's internal time base.

Example:
    >>> from datetime import datetime, timezone
    >>> from zoneinfo import ZoneInfo
    >>> from twin_models.oee.models import ShiftSpec
    >>> night = ShiftSpec(name="night", start="22:00", end="06:00")
    >>> w0 = to_us(datetime(2026, 3, 28, 12, tzinfo=timezone.utc))
    >>> w1 = to_us(datetime(2026, 3, 29, 12, tzinfo=timezone.utc))
    >>> [(s.name, (s.end_us - s.start_us) / 3.6e9) for s in shift_instances([night], ZoneInfo("Europe/Berlin"), w0, w1)]
    [('night', 7.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from twin_models.oee.errors import CalendarError, OeeInputError
from twin_models.oee.models import ShiftSpec
from twin_models.timestamps import TimestampError, from_micros, to_micros

__all__ = [
    "Period",
    "PeriodBy",
    "ShiftInstance",
    "from_us",
    "make_periods",
    "scheduled_intervals",
    "shift_instances",
    "to_us",
]

PeriodBy = Literal["shift", "day", "week"]
_US = 1_000_000
_DAY_S = 86_400


def to_us(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime (:func:`twin_models.timestamps.to_micros`); a naive one is
    refused with :class:`OeeInputError`, the error the engine's callers handle.

    Example:
        >>> to_us(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
        1000000
    """
    try:
        return to_micros(moment)
    except TimestampError as exc:
        raise OeeInputError(str(exc)) from exc


#: The aware UTC datetime of epoch microseconds (:func:`twin_models.timestamps.from_micros`).
from_us = from_micros


def _local_us(day: date, at: time, tz: ZoneInfo) -> int:
    """UTC microseconds of a local wall-clock time.

    A time repeated by an autumn change is taken at its first occurrence; a time skipped by a
    spring change is taken as the moment the clocks jump.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return to_us(first)
    # Skipped: fold=1 reads it with the later offset (an instant before the jump), fold=0 with the
    # earlier one (an instant after it); bisect between the two for the jump itself.
    lo, hi = to_us(naive.replace(tzinfo=tz, fold=1)) // _US, to_us(utc) // _US
    before = from_us(lo * _US).astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if from_us(mid * _US).astimezone(tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi * _US


def _seconds(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


@dataclass(frozen=True)
class ShiftInstance:
    """One occurrence of a shift; ``day`` is the local date it starts on."""

    name: str
    day: date
    start_us: int
    end_us: int
    breaks: tuple[tuple[int, int], ...]


def _instance(shift: ShiftSpec, day: date, tz: ZoneInfo) -> ShiftInstance:
    start_s = _seconds(shift.start)
    length = (_seconds(shift.end) - start_s) % _DAY_S or _DAY_S
    end_day = day + timedelta(days=(start_s + length) // _DAY_S)
    breaks: list[tuple[int, int]] = []
    for b_start, b_end in shift.breaks:
        off_start = (_seconds(b_start) - start_s) % _DAY_S
        off_end = (_seconds(b_end) - start_s) % _DAY_S or _DAY_S
        if not off_start < off_end <= length:
            raise CalendarError(
                f"break {b_start:%H:%M}-{b_end:%H:%M} does not lie inside shift {shift.name!r} "
                f"({shift.start:%H:%M}-{shift.end:%H:%M})"
            )
        b0 = _local_us(day + timedelta(days=(start_s + off_start) // _DAY_S), b_start, tz)
        b1 = _local_us(day + timedelta(days=(start_s + off_end) // _DAY_S), b_end, tz)
        breaks.append((b0, b1))
    return ShiftInstance(
        name=shift.name,
        day=day,
        start_us=_local_us(day, shift.start, tz),
        end_us=_local_us(end_day, shift.end, tz),
        breaks=tuple(sorted(breaks)),
    )


def shift_instances(shifts: Sequence[ShiftSpec], tz: ZoneInfo, w0: int, w1: int) -> list[ShiftInstance]:
    """Every shift occurrence that overlaps ``[w0, w1)``, sorted; overlapping shifts are an error."""
    if not shifts:
        return []
    first = from_us(w0).astimezone(tz).date() - timedelta(days=1)
    last = from_us(w1).astimezone(tz).date()
    found: list[ShiftInstance] = []
    day = first
    while day <= last:
        for shift in shifts:
            inst = _instance(shift, day, tz)
            if inst.end_us > w0 and inst.start_us < w1:
                found.append(inst)
        day += timedelta(days=1)
    found.sort(key=lambda s: s.start_us)
    for a, b in pairwise(found):
        if b.start_us < a.end_us:
            raise CalendarError(f"shifts {a.name!r} ({a.day}) and {b.name!r} ({b.day}) overlap")
    return found


def scheduled_intervals(
    instances: Sequence[ShiftInstance], w0: int, w1: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Scheduled time (shifts minus breaks) clipped to the window, as sorted start and end arrays."""
    starts: list[int] = []
    ends: list[int] = []
    for inst in instances:
        cursor = inst.start_us
        for b0, b1 in (*inst.breaks, (inst.end_us, inst.end_us)):
            lo, hi = max(cursor, w0), min(b0, w1)
            if hi > lo:
                if ends and ends[-1] == lo:
                    ends[-1] = hi
                else:
                    starts.append(lo)
                    ends.append(hi)
            cursor = max(cursor, b1)
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


@dataclass(frozen=True)
class Period:
    """A reporting period ``[start_us, end_us)``; ``shift`` is ``None`` for time between shifts."""

    label: str
    start_us: int
    end_us: int
    shift: str | None = None
    day: date | None = None


def _boundaries(w0: int, w1: int, tz: ZoneInfo, step_days: int) -> list[int]:
    local = from_us(w0).astimezone(tz).date()
    if step_days == 7:
        local -= timedelta(days=local.weekday())
    cuts: list[int] = []
    while True:
        at = _local_us(local, time(0), tz)
        if at >= w1:
            break
        if at > w0:
            cuts.append(at)
        local += timedelta(days=step_days)
    return [w0, *cuts, w1]


def make_periods(
    by: PeriodBy | None, w0: int, w1: int, tz: ZoneInfo, instances: Sequence[ShiftInstance] | None = None
) -> list[Period]:
    """Periods that tile ``[w0, w1)`` exactly: the whole window, local days, ISO weeks or shifts.

    By shift, time between shifts becomes periods of its own (``shift`` is ``None``)
    so that the periods still add up to the window. ``instances`` is ``None`` when the
    plant has no shift calendar (then periods by shift are an error).
    """
    if by is None:
        return [Period(label="window", start_us=w0, end_us=w1)]
    if by in ("day", "week"):
        cuts = _boundaries(w0, w1, tz, 1 if by == "day" else 7)
        periods = []
        for a, b in pairwise(cuts):
            day = from_us(a).astimezone(tz).date()
            if by == "day":
                label = day.isoformat()
            else:
                iso = day.isocalendar()
                label = f"{iso.year}-W{iso.week:02d}"
            periods.append(Period(label=label, start_us=a, end_us=b, day=day))
        return periods
    if by != "shift":
        raise OeeInputError(f"unknown period {by!r}: use shift, day or week")
    if instances is None:
        raise CalendarError("periods by shift need a shift calendar (the scenario has no shifts)")
    periods = []
    cursor = w0
    for inst in instances:
        lo, hi = max(inst.start_us, w0), min(inst.end_us, w1)
        if lo > cursor:
            periods.append(_off_shift(cursor, lo, tz))
        periods.append(
            Period(label=f"{inst.day.isoformat()} {inst.name}", start_us=lo, end_us=hi, shift=inst.name, day=inst.day)
        )
        cursor = hi
    if cursor < w1:
        periods.append(_off_shift(cursor, w1, tz))
    return periods


def _off_shift(a: int, b: int, tz: ZoneInfo) -> Period:
    local = from_us(a).astimezone(tz)
    return Period(label=f"{local:%Y-%m-%d %H:%M} off-shift", start_us=a, end_us=b, day=local.date())
