"""Turning raw state intervals into a clean, disjoint timeline (epoch microseconds).

Overlapping intervals are resolved by the rule *the interval that starts later wins
for the overlap* (for equal starts, the one listed later); the earlier interval
resumes after the later one ends. Each overlap produces a warning that names both
intervals.

Example:
    >>> from twin_models.oee.samples import StateIntervals
    >>> iv = StateIntervals.from_arrays([0, 10], [100, 20], [100, 500])
    >>> tl = resolve_states(iv)
    >>> list(zip((tl.start // 1_000_000).tolist(), (tl.end // 1_000_000).tolist(), tl.code.tolist()))
    [(0, 10, 100), (10, 20, 500), (20, 100, 100)]
    >>> print(tl.warnings[0].replace(" from", "\\n from"))
    state intervals overlap: state 500 starting 1970-01-01T00:00:10Z (starts later) wins over state 100
     from 1970-01-01T00:00:10Z to 1970-01-01T00:00:20Z
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from twin_models.oee.samples import StateIntervals
from twin_models.timestamps import format_utc, from_micros, seconds_to_micros

__all__ = ["Timeline", "resolve_states"]

MAX_WARNINGS = 10


@dataclass(frozen=True)
class Timeline:
    """Disjoint, sorted state pieces in epoch microseconds; ``program`` is ``-1`` where none is named."""

    start: NDArray[np.int64]
    end: NDArray[np.int64]
    code: NDArray[np.int64]
    program: NDArray[np.int64]
    programs: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    #: per piece, the ideal cycle time in effect (``NaN`` = not stated); ``None`` when no interval stated one
    ideal: NDArray[np.float64] | None = None


def _describe(code: int, program: int, programs: tuple[str, ...]) -> str:
    text = f"state {code}"
    return f"{text} (program {programs[program]})" if program >= 0 else text


def _paint(
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    code: NDArray[np.int64],
    program: NDArray[np.int64],
    programs: tuple[str, ...],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Sweep over sorted, overlapping intervals; the active interval with the highest index wins."""
    n = len(start)
    points = np.unique(np.concatenate([start, end])).tolist()
    starts, ends, ends_l = start.tolist(), end.tolist(), end.tolist()
    active: list[int] = []
    out_s: list[int] = []
    out_e: list[int] = []
    out_w: list[int] = []
    notes: list[str] = []
    overlaps = 0
    nxt = 0
    for k, t in enumerate(points[:-1]):
        while active and ends_l[-active[0]] <= t:
            heapq.heappop(active)
        while nxt < n and starts[nxt] <= t:
            if active:
                loser = -active[0]
                overlaps += 1
                if len(notes) < MAX_WARNINGS:
                    at = format_utc(from_micros(t))
                    notes.append(
                        f"state intervals overlap: {_describe(int(code[nxt]), int(program[nxt]), programs)} "
                        f"starting {at} (starts later) wins over "
                        f"{_describe(int(code[loser]), int(program[loser]), programs)} from {at} "
                        f"to {format_utc(from_micros(min(ends[nxt], ends[loser])))}"
                    )
            heapq.heappush(active, -nxt)
            nxt += 1
        while active and ends_l[-active[0]] <= t:
            heapq.heappop(active)
        if not active:
            continue
        winner, t_next = -active[0], points[k + 1]
        if out_w and out_w[-1] == winner and out_e[-1] == t:
            out_e[-1] = t_next
        else:
            out_s.append(t)
            out_e.append(t_next)
            out_w.append(winner)
    if overlaps > len(notes):
        notes.append(f"... and {overlaps - len(notes)} more overlapping state intervals")
    return (
        np.asarray(out_s, dtype=np.int64),
        np.asarray(out_e, dtype=np.int64),
        np.asarray(out_w, dtype=np.int64),
        notes,
    )


def resolve_states(intervals: StateIntervals) -> Timeline:
    """Sort intervals, drop empty ones and resolve overlaps (later start wins)."""
    start = seconds_to_micros(intervals.start_s)
    end = seconds_to_micros(intervals.end_s)
    code = intervals.code.astype(np.int64, copy=False)
    n = len(start)
    program = (
        intervals.program.astype(np.int64, copy=False)
        if intervals.program is not None
        else np.full(n, -1, dtype=np.int64)
    )
    ideal = intervals.ideal_s
    keep = end > start
    if not keep.all():
        start, end, code, program = start[keep], end[keep], code[keep], program[keep]
        ideal = None if ideal is None else ideal[keep]
    if len(start) > 1 and (np.diff(start) < 0).any():
        order = np.argsort(start, kind="stable")
        start, end, code, program = start[order], end[order], code[order], program[order]
        ideal = None if ideal is None else ideal[order]
    warnings: list[str] = []
    if len(start) > 1 and (end[:-1] > start[1:]).any():
        start, end, winner, warnings = _paint(start, end, code, program, intervals.programs)
        code, program = code[winner], program[winner]
        ideal = None if ideal is None else ideal[winner]
    return Timeline(
        start=start,
        end=end,
        code=code,
        program=program,
        programs=intervals.programs,
        warnings=warnings,
        ideal=ideal,
    )
