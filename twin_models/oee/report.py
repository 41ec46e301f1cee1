"""Computing a full OEE report: per machine, per line, in total, and per period.

Example:
    >>> from datetime import datetime, timezone
    >>> from twin_models.oee.samples import StateIntervals
    >>> from twin_models.oee.counts import CountSeries
    >>> from twin_models.oee.engine import MachineData
    >>> t0 = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
    >>> s0 = t0.timestamp()
    >>> m = MachineData("cnc-01", 1.0, StateIntervals.from_arrays([s0], [s0 + 3600], [100]),
    ...                 CountSeries.from_arrays([s0 + 60], [3000], [30]), line="line-a")
    >>> r = compute_oee([m], t0, datetime(2026, 1, 5, 8, tzinfo=timezone.utc))
    >>> round(r.total.availability, 4), round(r.total.performance, 4), round(r.total.oee, 4)
    (0.5, 0.8333, 0.4125)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray

from twin_models.oee.calendar import (
    Period,
    PeriodBy,
    from_us,
    make_periods,
    scheduled_intervals,
    shift_instances,
    to_us,
)
from twin_models.oee.engine import COLUMNS, MachineData, machine_totals
from twin_models.oee.errors import OeeInputError
from twin_models.oee.models import ShiftSpec
from twin_models.oee.results import (
    LineResult,
    MachineResult,
    OeeMetrics,
    OeeReport,
    PeriodResult,
    metrics_fields,
)
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy

__all__ = ["OeeTotals", "build_report", "compute_oee", "compute_totals"]


def _lines(lines: Sequence[str | None]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        if line is not None:
            groups.setdefault(line, []).append(i)
    return groups


def _block(
    rows: NDArray[np.float64],
    machines: Sequence[tuple[str, str | None]],
    lines: dict[str, list[int]],
    where: str,
    notes: Sequence[list[str]] | None = None,
) -> tuple[list[MachineResult], list[LineResult], OeeMetrics]:
    """Results for one period (or the window): ``rows`` has one totals row per machine."""
    at = f" {where}" if where else ""
    per_machine = [
        MachineResult(
            machine_id=machine_id,
            line=line,
            **metrics_fields(rows[i], f"{machine_id}{at}", notes[i] if notes else None),
        )
        for i, (machine_id, line) in enumerate(machines)
    ]
    per_line = [
        LineResult(
            line=name,
            machine_ids=[machines[i][0] for i in idx],
            **metrics_fields(rows[idx].sum(axis=0), f"line {name}{at}"),
        )
        for name, idx in lines.items()
    ]
    total = OeeMetrics(**metrics_fields(rows.sum(axis=0), f"all machines{at}"))
    return per_machine, per_line, total


@dataclass(frozen=True)
class OeeTotals:
    """The additive form of an OEE result: one totals row per period and machine.

    ``cube[period, machine]`` is a row in :data:`twin_models.oee.engine.COLUMNS`. Rows of
    stored periods and rows computed on the fly can be put together here and turned into
    a report with :func:`build_report`, because every KPI is derived from summed rows.
    """

    window_start_us: int
    window_end_us: int
    timezone: str
    by: PeriodBy | None
    periods: list[Period]
    machine_ids: list[str]
    lines: list[str | None]
    cube: NDArray[np.float64]
    notes: list[list[str]] = field(default_factory=list)


def compute_totals(
    machines: Sequence[MachineData],
    window_start: datetime,
    window_end: datetime,
    *,
    shifts: Sequence[ShiftSpec] = (),
    timezone: str = "UTC",
    by: PeriodBy | None = None,
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> OeeTotals:
    """Per-period totals of ``machines`` over ``[window_start, window_end)`` (see :func:`compute_oee`).

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.oee.samples import StateIntervals
        >>> t0, t1 = datetime(2026, 1, 5, tzinfo=timezone.utc), datetime(2026, 1, 7, tzinfo=timezone.utc)
        >>> m = MachineData("m1", 1.0, StateIntervals.from_arrays([t0.timestamp()], [t1.timestamp()], [100]))
        >>> totals = compute_totals([m], t0, t1, by="day")
        >>> [p.label for p in totals.periods], totals.cube.shape[:2]
        (['2026-01-05', '2026-01-06'], (2, 1))
        >>> build_report(totals).total.run_time_s
        172800.0
    """
    if not machines:
        raise OeeInputError("no machines to evaluate")
    ids = [m.machine_id for m in machines]
    if len(set(ids)) != len(ids):
        raise OeeInputError("machine ids must be unique")
    w0, w1 = to_us(window_start), to_us(window_end)
    if w1 <= w0:
        raise OeeInputError("the window must end after it starts")
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OeeInputError(f"unknown time zone {timezone!r}") from exc
    instances = shift_instances(shifts, tz, w0, w1)
    scheduled = scheduled_intervals(instances, w0, w1) if shifts else None
    periods: list[Period] = make_periods(by, w0, w1, tz, instances if shifts else None)
    starts = np.asarray([p.start_us for p in periods], dtype=np.int64)
    cube = np.zeros((len(periods), len(machines), len(COLUMNS)), dtype=np.float64)
    notes: list[list[str]] = []
    for i, machine in enumerate(machines):
        rows, warnings = machine_totals(machine, w0, w1, starts, scheduled, taxonomy)
        cube[:, i, :] = rows
        notes.append([f"{machine.machine_id}: {w}" for w in warnings])
    return OeeTotals(
        window_start_us=w0,
        window_end_us=w1,
        timezone=timezone,
        by=by,
        periods=periods,
        machine_ids=ids,
        lines=[m.line for m in machines],
        cube=cube,
        notes=notes,
    )


def build_report(totals: OeeTotals) -> OeeReport:
    """The :class:`OeeReport` of per-period totals: machines, lines, all machines, and periods."""
    lines = _lines(totals.lines)
    machines = list(zip(totals.machine_ids, totals.lines, strict=True))
    per_machine, per_line, total = _block(totals.cube.sum(axis=0), machines, lines, "", totals.notes)
    period_results: list[PeriodResult] | None = None
    if totals.by is not None:
        period_results = []
        for k, period in enumerate(totals.periods):
            pm, pl, pt = _block(totals.cube[k], machines, lines, period.label)
            period_results.append(
                PeriodResult(
                    label=period.label,
                    start=from_us(period.start_us),
                    end=from_us(period.end_us),
                    shift=period.shift,
                    date=period.day.isoformat() if period.day else None,
                    machines=pm,
                    lines=pl,
                    total=pt,
                )
            )
    warnings = [w for m in per_machine for w in m.warnings] + [w for ln in per_line for w in ln.warnings]
    warnings += total.warnings
    return OeeReport(
        timezone=totals.timezone,
        window_start=from_us(totals.window_start_us),
        window_end=from_us(totals.window_end_us),
        by=totals.by,
        machines=per_machine,
        lines=per_line,
        total=total,
        periods=period_results,
        warnings=warnings,
    )


def compute_oee(
    machines: Sequence[MachineData],
    window_start: datetime,
    window_end: datetime,
    *,
    shifts: Sequence[ShiftSpec] = (),
    timezone: str = "UTC",
    by: PeriodBy | None = None,
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> OeeReport:
    """OEE of ``machines`` over ``[window_start, window_end)``, optionally per period.

    ``shifts`` is the plant's shift calendar in local time (``timezone``); without
    it the whole window is scheduled. ``by`` splits the window into shifts, local
    days or ISO weeks; the window-level results are the exact roll-up of the periods.
    """
    totals = compute_totals(
        machines, window_start, window_end, shifts=shifts, timezone=timezone, by=by, taxonomy=taxonomy
    )
    return build_report(totals)
