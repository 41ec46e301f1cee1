"""The vectorised core: one machine's time buckets, counts and ideal times per period.

Every elementary piece of the window (between consecutive state, calendar and
period boundaries) lands in exactly one time bucket:

============  ==============================================================
bucket        rule
============  ==============================================================
run           running / reduced-speed state (also during breaks or off-shift)
small_stop    micro-stop state (run time; a performance loss)
idle          idle state during scheduled time
setup         setup / adjustment state during scheduled time
breakdown     breakdown state during scheduled time
unknown       unknown state, or no state at all, during scheduled time
planned_stop  planned-stop and no-order states; any non-run state off-shift or in a break
============  ==============================================================

The result is a matrix with one row per period and the columns in :data:`COLUMNS`,
so roll-ups over machines and periods are plain sums.

Example:
    >>> import numpy as np
    >>> from twin_models.oee.samples import StateIntervals
    >>> from twin_models.oee.counts import CountSeries
    >>> m = MachineData("m1", 1.0, StateIntervals.from_arrays([0], [50], [100]),
    ...                 CountSeries.from_arrays([10.0], [40], [2]))
    >>> rows, _ = machine_totals(m, 0, 100_000_000, np.array([0]))
    >>> rows[0, COL["run"]], rows[0, COL["unknown"]], rows[0, COL["ideal_good_s"]]
    (np.float64(50.0), np.float64(50.0), np.float64(38.0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from twin_models.oee.counts import CountSeries
from twin_models.oee.errors import OeeInputError
from twin_models.oee.samples import StateIntervals
from twin_models.oee.timeline import Timeline, resolve_states
from twin_models.states import DEFAULT_TAXONOMY, StateCategory, StateTaxonomy
from twin_models.timestamps import format_utc, from_micros, seconds_to_micros

__all__ = [
    "BUCKETS",
    "COL",
    "COLUMNS",
    "DEFAULT_PROGRAM",
    "MachineData",
    "machine_totals",
    "row_from_dict",
    "row_to_dict",
]

BUCKETS = ("run", "small_stop", "idle", "setup", "breakdown", "unknown", "planned_stop")
COLUMNS = (
    *BUCKETS,
    "breakdown_events",
    "total",
    "reject",
    "startup_reject",
    "ideal_total_s",
    "ideal_good_s",
    "ideal_reject_s",
    "ideal_startup_s",
)
COL = {name: i for i, name in enumerate(COLUMNS)}
_NB = len(BUCKETS)
#: The key of a per-program ideal-cycle-time mapping that applies to every other program,
#: and to counts that cannot be attributed to any program.
DEFAULT_PROGRAM = "*"
_US = 1e6

_CATEGORIES = list(StateCategory)
_CAT_INDEX = {c: i for i, c in enumerate(_CATEGORIES)}
_UNKNOWN = _CAT_INDEX[StateCategory.UNKNOWN]
_BREAKDOWN_CAT = _CAT_INDEX[StateCategory.BREAKDOWN]
_SCHEDULED_BUCKET = {
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
_LUT_SCHEDULED = np.asarray([BUCKETS.index(_SCHEDULED_BUCKET[c]) for c in _CATEGORIES], dtype=np.int64)
_LUT_OFF = np.asarray(
    [BUCKETS.index(_SCHEDULED_BUCKET[c]) if c.is_run else BUCKETS.index("planned_stop") for c in _CATEGORIES],
    dtype=np.int64,
)


def row_to_dict(row: NDArray[np.float64]) -> dict[str, float]:
    """A totals row as ``{column: value}`` (for storage)."""
    return {name: float(row[i]) for i, name in enumerate(COLUMNS)}


def row_from_dict(values: Mapping[str, float]) -> NDArray[np.float64]:
    """Inverse of :func:`row_to_dict`; missing columns are zero."""
    return np.asarray([float(values.get(name, 0.0)) for name in COLUMNS], dtype=np.float64)


@dataclass(frozen=True)
class MachineData:
    """Everything the engine needs about one machine.

    ``ideal_cycle_time_s`` is one value in seconds per part, or a mapping from
    program name to seconds per part.
    """

    machine_id: str
    ideal_cycle_time_s: float | Mapping[str, float]
    states: StateIntervals
    counts: CountSeries = field(default_factory=CountSeries.empty)
    line: str | None = None


def _categories(codes: NDArray[np.int64], taxonomy: StateTaxonomy) -> NDArray[np.int64]:
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(codes, return_inverse=True)
    table = np.asarray([_CAT_INDEX[taxonomy.category(int(c))] for c in uniq], dtype=np.int64)
    return table[inverse.reshape(-1)]


def _covering(
    starts: NDArray[np.int64], ends: NDArray[np.int64], at: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Index of the interval that covers each moment, and whether one does."""
    idx = np.searchsorted(starts, at, side="right") - 1
    safe = np.maximum(idx, 0)
    covered = (idx >= 0) & (ends[safe] > at) if len(starts) else np.zeros(len(at), dtype=np.bool_)
    return safe, covered


def _ideal_per_count(
    machine: MachineData, timeline: Timeline, ts: NDArray[np.int64], counts: CountSeries, keep: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """The ideal cycle time of every count: the one stated for the state piece it was seen in (what the
    gateway applied then), else the machine's value for its program."""
    out = np.full(len(ts), np.nan)
    if timeline.ideal is not None and len(timeline.start):
        piece, covered = _covering(timeline.start, timeline.end, ts)
        out = np.where(covered, timeline.ideal[piece], np.nan)
    todo = np.isnan(out)
    if todo.any():
        out[todo] = _registered_ideal(machine, timeline, ts, counts, keep, todo)
    return out


def _registered_ideal(
    machine: MachineData,
    timeline: Timeline,
    ts_all: NDArray[np.int64],
    counts: CountSeries,
    keep: NDArray[np.bool_],
    need: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """The machine's ideal cycle time (one value, or per program) for the counts ``ts_all[need]``."""
    ideal = machine.ideal_cycle_time_s
    ts = ts_all[need]
    if not isinstance(ideal, Mapping):
        return np.full(len(ts), float(ideal))
    fallback = ideal.get(DEFAULT_PROGRAM)

    def table(names: tuple[str, ...]) -> NDArray[np.float64]:
        missing = [n for n in names if n not in ideal and fallback is None]
        if missing:
            raise OeeInputError(
                f"machine {machine.machine_id}: no ideal cycle time for program(s) {missing} "
                "(none stated in its history and none registered)"
            )
        values = [float(ideal[n]) if n in ideal else float(fallback or np.nan) for n in names]
        return np.asarray([*values, np.nan], dtype=np.float64)

    out = np.full(len(ts), np.nan)
    if counts.program is not None:
        out = table(counts.programs)[counts.program[keep][need]]
    todo = np.isnan(out)
    if todo.any():
        named = np.flatnonzero(timeline.program >= 0)
        k = np.searchsorted(timeline.start[named], ts[todo], side="right") - 1
        attributable = k >= 0
        if fallback is None and not attributable.all():
            first = format_utc(from_micros(int(ts[todo][~attributable][0])))
            raise OeeInputError(
                f"machine {machine.machine_id}: the count at {first} cannot be given a program "
                f"(no state interval with a program starts at or before it); name its program "
                f"or give a {DEFAULT_PROGRAM!r} ideal cycle time"
            )
        values = np.full(len(k), np.nan if fallback is None else float(fallback))
        if attributable.any():
            values[attributable] = table(timeline.programs)[timeline.program[named[k[attributable]]]]
        out[todo] = values
    return out


def machine_totals(
    machine: MachineData,
    w0: int,
    w1: int,
    period_starts: NDArray[np.int64],
    scheduled: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> tuple[NDArray[np.float64], list[str]]:
    """Per-period totals (rows) of one machine over ``[w0, w1)`` in epoch microseconds.

    ``period_starts`` are the sorted starts of contiguous periods, the first equal to
    ``w0``; ``scheduled`` holds the sorted, disjoint scheduled intervals (shifts
    minus breaks) or ``None`` when the whole window is scheduled.
    """
    n_periods = len(period_starts)
    timeline = resolve_states(machine.states)
    warnings = list(timeline.warnings)
    t_start = np.clip(timeline.start, w0, w1)
    t_end = np.clip(timeline.end, w0, w1)
    cuts = [np.asarray([w0, w1], dtype=np.int64), t_start, t_end, period_starts]
    if scheduled is not None:
        cuts += [np.clip(scheduled[0], w0, w1), np.clip(scheduled[1], w0, w1)]
    bounds = np.unique(np.concatenate(cuts))
    left, dur = bounds[:-1], np.diff(bounds)

    piece, covered = _covering(timeline.start, timeline.end, left)
    piece_cat = _categories(timeline.code, taxonomy)
    cat = np.where(covered, piece_cat[piece] if len(piece_cat) else _UNKNOWN, _UNKNOWN)
    if scheduled is None:
        bucket = _LUT_SCHEDULED[cat]
    else:
        _, in_sched = _covering(scheduled[0], scheduled[1], left)
        bucket = np.where(in_sched, _LUT_SCHEDULED[cat], _LUT_OFF[cat])
    period = np.searchsorted(period_starts, left, side="right") - 1
    rows = np.zeros((n_periods, len(COLUMNS)), dtype=np.float64)
    rows[:, :_NB] = (
        np.bincount(period * _NB + bucket, weights=dur, minlength=n_periods * _NB).reshape(n_periods, _NB) / _US
    )

    # A breakdown event is a maximal run of contiguous breakdown-state time; it is booked in the
    # period holding its first second of (scheduled) breakdown time.
    is_bd = cat == _BREAKDOWN_CAT
    if is_bd.any():
        run_start = is_bd.copy()
        run_start[1:] &= ~is_bd[:-1]
        run_id = np.cumsum(run_start)
        counted = np.flatnonzero(bucket == BUCKETS.index("breakdown"))
        _, first = np.unique(run_id[counted], return_index=True)
        rows[:, COL["breakdown_events"]] = np.bincount(period[counted[first]], minlength=n_periods)

    counts = machine.counts
    warnings += counts.warnings
    if len(counts):
        ts_all = seconds_to_micros(counts.ts_s)
        keep = (ts_all >= w0) & (ts_all < w1)
        ts = ts_all[keep]
        if len(ts):
            total, reject, startup = counts.total[keep], counts.reject[keep], counts.startup_reject[keep]
            ideal = _ideal_per_count(machine, timeline, ts, counts, keep)
            p = np.searchsorted(period_starts, ts, side="right") - 1
            good = total - reject - startup
            for name, weights in (
                ("total", total),
                ("reject", reject),
                ("startup_reject", startup),
                ("ideal_total_s", ideal * total),
                ("ideal_good_s", ideal * good),
                ("ideal_reject_s", ideal * reject),
                ("ideal_startup_s", ideal * startup),
            ):
                rows[:, COL[name]] = np.bincount(p, weights=weights, minlength=n_periods)
    return rows, warnings
