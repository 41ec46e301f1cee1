"""What the twin's history keeps of each envelope: state intervals, counter points and stats.

An envelope's samples are run-length encoded into :class:`StateInterval` s (one per
stretch of equal state and program; each sample covers one sampling interval, so a gap
in the samples is left uncovered and counts as *unknown* downstream) and the points
where the cumulative counters changed. A :class:`Segment` is what the ingest path stores,
one per ``(thing, seq)``; the OEE engine and the meters read segments back.

Example:
    >>> from datetime import UTC, datetime, timedelta, timezone
    >>> from twin_models.telemetry import Sample, TelemetryEnvelope
    >>> t = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
    >>> samples = [Sample(ts=t + timedelta(seconds=i), state=100 if i < 3 else 600, part_count=i // 2)
    ...            for i in range(5)]
    >>> seg = segment_from_envelope(TelemetryEnvelope(machine_id="cnc-01", site="a", seq=4,
    ...                                               sent_at=t, samples=samples))
    >>> [(i.code, i.seconds) for i in seg.intervals]
    [(100, 3.0), (600, 2.0)]
    >>> [(p.part_count) for p in seg.counters]
    [0, 1, 2]
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from twin_models.columnar import AnyEnvelope
from twin_models.columns import SampleColumns
from twin_models.construct import constructed
from twin_models.counters import counter_delta
from twin_models.oee import MachineData, StateIntervals, counters_to_counts
from twin_models.telemetry import Sample, UtcDatetime
from twin_models.timestamps import from_micros, from_seconds, to_seconds

__all__ = [
    "LOAD_BAND_EDGES_PCT",
    "SPEED_BAND_EDGES_RPM",
    "CounterPoint",
    "Segment",
    "StateInterval",
    "count_increments",
    "load_spectrum",
    "oee_input",
    "segment_from_envelope",
    "state_at",
    "timeline",
]

#: The spindle-load band edges (% of rated load) and spindle-speed band edges (rpm) of a segment's load
#: spectrum: band ``i`` of a value is the number of edges at or below it (0 below the first edge).
LOAD_BAND_EDGES_PCT: tuple[float, ...] = (20.0, 40.0, 60.0, 80.0, 100.0)
SPEED_BAND_EDGES_RPM: tuple[float, ...] = (1.0, 3000.0, 6000.0, 9000.0, 12000.0)


class StateInterval(BaseModel):
    """``[start, end)`` in one state code and program, with the ideal cycle time the gateway applied then
    (``None`` when the envelope did not say; OEE then uses the machine's registered value)."""

    model_config = ConfigDict(frozen=True)

    start: UtcDatetime
    end: UtcDatetime
    code: int
    program: str = ""
    ideal_cycle_time_s: float | None = None

    @property
    def key(self) -> tuple[int, str, float | None]:
        """What makes two touching intervals one: state, program and ideal cycle time."""
        return self.code, self.program, self.ideal_cycle_time_s

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


class CounterPoint(BaseModel):
    """The controller's cumulative counters at one instant."""

    model_config = ConfigDict(frozen=True)

    ts: UtcDatetime
    part_count: int
    reject_count: int


class Segment(BaseModel):
    """The history record of one envelope."""

    model_config = ConfigDict(frozen=True)

    machine_id: str
    site: str
    seq: int
    start: UtcDatetime
    end: UtcDatetime
    sample_count: int
    intervals: list[StateInterval]
    counters: list[CounterPoint]
    alarms: list[tuple[UtcDatetime, int]]
    energy_kwh: float
    vibration_max: float
    temperature_max: float
    last: Sample
    content_hash: str = ""  # the envelope's signed-content digest (twin_models.signing.verify_envelope)
    #: seconds at each (spindle-load band, spindle-speed band), keyed ``"<load band><speed band>"``
    load_spectrum: dict[str, float] = {}

    def to_item(self) -> dict[str, Any]:
        """A compact, JSON-ready form for storage (epoch seconds, lists instead of objects)."""
        return {
            "machine_id": self.machine_id,
            "site": self.site,
            "seq": self.seq,
            "start": to_seconds(self.start),
            "end": to_seconds(self.end),
            "sample_count": self.sample_count,
            "intervals": [_interval_item(i) for i in self.intervals],
            "counters": [[to_seconds(c.ts), c.part_count, c.reject_count] for c in self.counters],
            "alarms": [[to_seconds(ts), code] for ts, code in self.alarms],
            "energy_kwh": self.energy_kwh,
            "vibration_max": self.vibration_max,
            "temperature_max": self.temperature_max,
            "last": self.last.model_dump(mode="json", exclude_none=True),
            "content_hash": self.content_hash,
            **({"load_spectrum": self.load_spectrum} if self.load_spectrum else {}),
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Segment:
        """Inverse of :meth:`to_item`."""
        return cls(
            machine_id=item["machine_id"],
            site=item["site"],
            seq=int(item["seq"]),
            start=from_seconds(item["start"]),
            end=from_seconds(item["end"]),
            sample_count=int(item["sample_count"]),
            intervals=[_interval_from_item(row) for row in item["intervals"]],
            counters=[
                CounterPoint(ts=from_seconds(t), part_count=int(p), reject_count=int(r)) for t, p, r in item["counters"]
            ],
            alarms=[(from_seconds(t), int(c)) for t, c in item["alarms"]],
            energy_kwh=float(item["energy_kwh"]),
            vibration_max=float(item["vibration_max"]),
            temperature_max=float(item["temperature_max"]),
            last=Sample.model_validate(item["last"]),
            content_hash=str(item.get("content_hash", "")),
            load_spectrum={str(k): float(v) for k, v in item.get("load_spectrum", {}).items()},
        )


def _interval_item(interval: StateInterval) -> list[Any]:
    row: list[Any] = [to_seconds(interval.start), to_seconds(interval.end), interval.code, interval.program]
    if interval.ideal_cycle_time_s is not None:
        row.append(interval.ideal_cycle_time_s)
    return row


def _interval_from_item(row: list[Any]) -> StateInterval:
    """A stored interval: ``[start, end, code, program]`` and, when the gateway stated it, the ideal cycle time."""
    ideal = float(row[4]) if len(row) > 4 and row[4] is not None else None
    return StateInterval(
        start=from_seconds(row[0]),
        end=from_seconds(row[1]),
        code=int(row[2]),
        program=str(row[3]),
        ideal_cycle_time_s=ideal,
    )


def _run_starts(columns: SampleColumns, step_us: int) -> list[int]:
    """Where a run of equal state, program and ideal cycle time starts: the first sample, and every sample
    whose key differs from its predecessor's or that comes more than one sampling interval after it."""
    ts, ideal, uniform, step = columns.ts_us, columns.ideal, columns.uniform, columns.step_us
    if step is not None and step <= step_us:  # evenly sampled without gaps: only a change of key breaks a run
        if {"state", "program", "ideal"} <= uniform:
            return [0]
        breaks = np.zeros(len(ts) - 1, dtype=bool)
    elif step is not None:  # every sample comes after a gap
        return list(range(len(ts)))
    else:
        breaks = ts[1:] - ts[:-1] > step_us
    if "state" not in uniform:
        breaks |= columns.state[1:] != columns.state[:-1]
    program = columns.program
    if "program" not in uniform and (program[0] != program[-1] or (program[1:] != program[:-1]).any()):
        breaks |= program[1:] != program[:-1]
    if "ideal" not in uniform:
        stated = ~np.isnan(ideal)
        if stated.all():
            breaks |= ideal[1:] != ideal[:-1]
        elif stated.any():  # NaN is "none stated": equal to itself here
            breaks |= (ideal[1:] != ideal[:-1]) & (stated[1:] | stated[:-1])
    return [0, *(breaks.nonzero()[0] + 1).tolist()]


def _intervals(columns: SampleColumns, starts: list[int], step_us: int) -> list[StateInterval]:
    """The state intervals of the runs that start at ``starts``."""
    ts = columns.ts_us
    if len(starts) == 1:  # one run: read as scalars
        firsts, lasts = [int(ts[0])], [int(ts[-1])]
        states, programs, ideals = [int(columns.state[0])], [columns.program[0]], [float(columns.ideal[0])]
    else:
        firsts = ts[starts].tolist()
        lasts = ts[[*(b - 1 for b in starts[1:]), len(ts) - 1]].tolist()
        states, programs = columns.state[starts].tolist(), columns.program[starts].tolist()
        ideals = columns.ideal[starts].tolist()
    return [
        constructed(
            StateInterval,
            {
                "start": from_micros(first),
                "end": from_micros(last + step_us),
                "code": code,
                "program": program,
                "ideal_cycle_time_s": None if ideal != ideal else ideal,  # NaN: none stated
            },
        )
        for first, last, code, program, ideal in zip(firsts, lasts, states, programs, ideals, strict=True)
    ]


def _changes(columns: SampleColumns) -> list[int]:
    """The first sample and every sample whose part or reject counter differs from its predecessor's."""
    parts, rejects, uniform = columns.part_count, columns.reject_count, columns.uniform
    if "part_count" in uniform:
        if "reject_count" in uniform:
            return [0]
        moved = rejects[1:] != rejects[:-1]
    elif "reject_count" in uniform:
        moved = parts[1:] != parts[:-1]
    else:
        moved = (parts[1:] != parts[:-1]) | (rejects[1:] != rejects[:-1])
    return [0, *(moved.nonzero()[0] + 1).tolist()]


_NO_ALARM = np.zeros(1, dtype=np.uint64)
_add, _maximum = np.add.reduce, np.maximum.reduce


def segment_from_envelope(envelope: AnyEnvelope, sample_interval_s: float = 1.0, content_hash: str = "") -> Segment:
    """Run-length encode an envelope's samples (sorted by time) into a :class:`Segment`; ``content_hash`` is
    the envelope's signed-content digest, which tells a redelivery from a conflicting duplicate.

    Works on the envelope's columns (:mod:`twin_models.columns`): one vectorised pass finds the runs, the
    counter changes and the alarm onsets; only those become objects. A column known to hold one value
    (``SampleColumns.uniform``) and evenly spaced times (``step_us``) are not searched for changes."""
    columns = envelope.columns
    step_us = round(sample_interval_s * 1_000_000)
    ts = columns.ts_us
    n = len(columns)
    uniform = columns.uniform
    times = columns.times
    changed = _changes(columns)
    parts, rejects = columns.part_count, columns.reject_count
    if len(changed) == 1:
        readings = [(int(parts[0]), int(rejects[0]))]
    else:
        readings = list(zip(parts[changed].tolist(), rejects[changed].tolist(), strict=True))
    counters = [
        constructed(CounterPoint, {"ts": times[i], "part_count": p, "reject_count": r})
        for i, (p, r) in zip(changed, readings, strict=True)
    ]
    alarm = columns.alarm_code
    alarms: list[tuple[datetime, int]] = []
    if "alarm_code" in uniform:
        alarms = [(times[0], int(alarm[0]))] if alarm[0] else []
    elif alarm.any():
        onsets = ((alarm != 0) & (alarm != np.concatenate((_NO_ALARM, alarm[:-1])))).nonzero()[0].tolist()
        alarms = [(times[i], code) for i, code in zip(onsets, alarm[onsets].tolist(), strict=True)]
    vibration, temperature = columns.vibration, columns.temperature
    return constructed(  # every value below is derived from validated columns: nothing to check again
        Segment,
        {
            "machine_id": envelope.machine_id,
            "site": envelope.site,
            "seq": envelope.seq,
            "start": times[0],
            "end": from_micros(int(ts[-1]) + step_us),
            "sample_count": n,
            "intervals": _intervals(columns, _run_starts(columns, step_us), step_us),
            "counters": counters,
            "alarms": alarms,
            "energy_kwh": float(_add(columns.power_kw)) * sample_interval_s / 3600.0,
            "vibration_max": float(vibration[0] if "vibration" in uniform else _maximum(vibration)),
            "temperature_max": float(temperature[0] if "temperature" in uniform else _maximum(temperature)),
            "last": columns.sample_at(-1),
            "content_hash": content_hash,
            "load_spectrum": _spectrum(
                columns.spindle_load,
                columns.spindle_speed,
                sample_interval_s,
                {"spindle_load", "spindle_speed"} <= uniform,
            ),
        },
    )


_LOAD_EDGES = np.asarray(LOAD_BAND_EDGES_PCT, dtype=np.float64)
_SPEED_EDGES = np.asarray(SPEED_BAND_EDGES_RPM, dtype=np.float64)


def _spectrum(
    load: npt.NDArray[np.float64], speed: npt.NDArray[np.float64], sample_interval_s: float, uniform: bool = False
) -> dict[str, float]:
    """The one banding rule of :func:`load_spectrum`, over arrays of spindle load and speed (``searchsorted``
    on the right is ``bisect_right``: a value on an edge belongs to the band above it); ``uniform``: every
    sample has the first one's load and speed."""
    speed_bands = len(SPEED_BAND_EDGES_RPM) + 1
    if uniform:
        band = bisect_right(LOAD_BAND_EDGES_PCT, float(load[0])), bisect_right(SPEED_BAND_EDGES_RPM, float(speed[0]))
        return {f"{band[0]}{band[1]}": len(load) * sample_interval_s}
    cells = _LOAD_EDGES.searchsorted(load, side="right") * speed_bands
    cells += _SPEED_EDGES.searchsorted(speed, side="right")
    counts = np.bincount(cells)
    found = counts.nonzero()[0].tolist()
    return {
        f"{cell // speed_bands}{cell % speed_bands}": n * sample_interval_s
        for cell, n in zip(found, counts[found].tolist(), strict=True)
    }


def load_spectrum(samples: Sequence[Sample], sample_interval_s: float = 1.0) -> dict[str, float]:
    """Seconds at each (spindle-load band, spindle-speed band), keyed ``"<load band><speed band>"`` (see
    :data:`LOAD_BAND_EDGES_PCT`, :data:`SPEED_BAND_EDGES_RPM`); the usage statistics sum them per period.
    (A segment's spectrum is the same rule over its envelope's columns.)

    Example:
        >>> from datetime import UTC, datetime
        >>> t = datetime(2026, 1, 5, tzinfo=UTC)
        >>> load_spectrum([Sample(ts=t, state=100, spindle_load_pct=45, spindle_speed_rpm=8000)] * 3)
        {'23': 3.0}
    """
    load = np.array([s.spindle_load_pct for s in samples], dtype=np.float64)
    speed = np.array([s.spindle_speed_rpm for s in samples], dtype=np.float64)
    return _spectrum(load, speed, sample_interval_s)


def count_increments(points: Iterable[CounterPoint], previous: CounterPoint | None = None) -> tuple[int, int]:
    """Parts and rejects made over counter points (sorted by time here), each step counted with
    :func:`twin_models.counters.counter_delta` (a decrease is a controller reset); ``previous`` is the
    reading before the first point, if known.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> count_increments([CounterPoint(ts=t, part_count=p, reject_count=0) for p in (5, 9, 2, 4)])
        (8, 0)
    """
    parts = rejects = 0
    prev = previous
    for point in sorted(points, key=lambda p: p.ts):
        if prev is not None:
            parts += counter_delta(prev.part_count, point.part_count)
            rejects += counter_delta(prev.reject_count, point.reject_count)
        prev = point
    return parts, rejects


def timeline(segments: Iterable[Segment], start: datetime, end: datetime) -> list[StateInterval]:
    """State intervals clipped to ``[start, end)``, time-ordered, equal neighbours merged.

    Where two stored intervals overlap (a gateway re-sent a stretch under a new seq), the one
    that starts later wins for the overlap.

    Example:
        >>> from datetime import timedelta, timezone
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> a = StateInterval(start=t, end=t + timedelta(seconds=60), code=100)
        >>> b = StateInterval(start=t + timedelta(seconds=60), end=t + timedelta(seconds=90), code=100)
        >>> [(i.code, i.seconds) for i in _merge([a, b], t, t + timedelta(seconds=75))]
        [(100, 75.0)]
    """
    return _merge([i for seg in segments for i in seg.intervals], start, end)


def _merge(intervals: list[StateInterval], start: datetime, end: datetime) -> list[StateInterval]:
    ordered = sorted(intervals, key=lambda i: i.start)
    out: list[StateInterval] = []
    for interval in ordered:
        lo, hi = max(interval.start, start), min(interval.end, end)
        if hi <= lo:
            continue
        while out and out[-1].end > lo:  # later start wins the overlap
            last = out.pop()
            if last.start < lo:
                out.append(last.model_copy(update={"end": lo}))
                break
        if out and out[-1].end == lo and out[-1].key == interval.key:
            out[-1] = out[-1].model_copy(update={"end": hi})
        else:
            out.append(interval.model_copy(update={"start": lo, "end": hi}))
    return out


def state_at(segments: Iterable[Segment], at: datetime) -> dict[str, object] | None:
    """The machine's state and counters at instant ``at`` from its history, or None before any data.

    Example:
        >>> from datetime import timedelta, timezone
        >>> from twin_models.telemetry import TelemetryEnvelope
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> env = TelemetryEnvelope(machine_id="m", site="s", seq=0, sent_at=t, samples=[
        ...     Sample(ts=t + timedelta(seconds=i), state=100 if i < 5 else 300, part_count=i) for i in range(10)])
        >>> state_at([segment_from_envelope(env)], t + timedelta(seconds=6))["state"]
        300
    """
    segs = list(segments)
    intervals = [i for s in segs for i in s.intervals if i.start <= at]
    if not intervals:
        return None
    current = max(intervals, key=lambda i: (i.start, i.end))
    points = [p for s in segs for p in s.counters if p.ts <= at]
    counter = max(points, key=lambda p: p.ts) if points else None
    covered = current.start <= at < current.end
    return {
        "at": at,
        "state": current.code if covered else 0,
        "program": current.program if covered else "",
        "since": current.start if covered else current.end,
        "controller_parts": counter.part_count if counter else None,
        "controller_rejects": counter.reject_count if counter else None,
        "covered": covered,
    }


def oee_input(
    machine_id: str,
    segments: Iterable[Segment],
    start: datetime,
    end: datetime,
    ideal_cycle_time_s: float | dict[str, float],
    line: str | None = None,
) -> MachineData:
    """The OEE engine's input for one machine from its stored history over ``[start, end)``.

    State intervals come from :func:`timeline` (time no segment covers stays unknown); part
    counts are the reset-aware increments of the controller's cumulative counters, booked at
    the time they were seen and attributed to the program running then. A part is rated with the
    ideal cycle time the gateway stated for that moment (the setting in effect then, see
    :attr:`Sample.ideal_cycle_time_s`); where history states none, ``ideal_cycle_time_s`` (the
    machine's registered value) applies.

    Example:
        >>> from datetime import timedelta, timezone
        >>> from twin_models.oee import compute_oee
        >>> from twin_models.telemetry import TelemetryEnvelope
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> env = TelemetryEnvelope(machine_id="m", site="s", seq=0, sent_at=t, samples=[
        ...     Sample(ts=t + timedelta(seconds=i), state=100, part_count=i // 2) for i in range(60)])
        >>> data = oee_input("m", [segment_from_envelope(env)], t, t + timedelta(seconds=60), 1.5)
        >>> round(compute_oee([data], t, t + timedelta(seconds=60)).total.oee, 4)  # 29 parts x 1.5 s / 60 s
        0.725
    """
    segs = sorted(segments, key=lambda s: s.start)
    intervals = timeline(segs, start, end)
    programs = tuple(sorted({i.program for i in intervals if i.program}))
    index = {name: n for n, name in enumerate(programs)}
    states = StateIntervals.from_arrays(
        [to_seconds(i.start) for i in intervals],
        [to_seconds(i.end) for i in intervals],
        [i.code for i in intervals],
        [index.get(i.program, -1) for i in intervals] if programs else None,
        programs,
        _stated_ideals(intervals),
    )
    points = sorted({p.ts: p for s in segs for p in s.counters}.values(), key=lambda p: p.ts)
    counts = counters_to_counts(
        [to_seconds(p.ts) for p in points],
        [p.part_count for p in points],
        [p.reject_count for p in points],
    )
    return MachineData(
        machine_id=machine_id, ideal_cycle_time_s=ideal_cycle_time_s, states=states, counts=counts, line=line
    )


def _stated_ideals(intervals: list[StateInterval]) -> list[float] | None:
    """Per interval, the ideal cycle time the gateway stated (``NaN`` where not); ``None`` if none did."""
    if all(i.ideal_cycle_time_s is None for i in intervals):
        return None
    return [float("nan") if i.ideal_cycle_time_s is None else i.ideal_cycle_time_s for i in intervals]
