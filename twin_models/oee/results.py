"""Output models, and the KPIs of a row of totals (ISO 22400 and the six big losses).

All ratios are derived from summed times, never averaged, so a roll-up over
machines or periods keeps ``availability * performance * quality == oee`` and
``oee == sum(ideal x good) / sum(planned production time)``.

Example:
    >>> import numpy as np
    >>> from twin_models.oee.engine import COL, COLUMNS
    >>> row = np.zeros(len(COLUMNS))
    >>> row[COL["run"]], row[COL["planned_stop"]] = 90.0, 10.0
    >>> row[COL["total"]], row[COL["ideal_total_s"]], row[COL["ideal_good_s"]] = 80, 80.0, 72.0
    >>> m = metrics_from_row(row)
    >>> round(m.availability, 4), round(m.performance, 4), round(m.quality, 4), round(m.oee, 4)
    (1.0, 0.8889, 0.9, 0.8)
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from twin_models.oee.engine import BUCKETS, COL

__all__ = [
    "LineResult",
    "Losses",
    "MachineResult",
    "OeeMetrics",
    "OeeReport",
    "PeriodResult",
    "metrics_from_row",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Losses(_Out):
    """The six big losses plus idle and unknown time, in seconds."""

    breakdowns: float
    setup_adjustments: float
    small_stops: float
    reduced_speed: float
    startup_rejects: float
    production_rejects: float
    idle: float
    unknown: float


class OeeMetrics(_Out):
    """KPIs and the times and counts they come from. Ratios are unrounded; ``None`` where undefined."""

    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    teep: float | None
    all_time_s: float
    planned_stop_s: float
    planned_production_time_s: float
    run_time_s: float
    net_run_time_s: float
    fully_productive_time_s: float
    total_count: int
    good_count: int
    reject_count: int
    startup_reject_count: int
    losses_s: Losses
    mtbf_s: float | None
    mttr_s: float | None
    breakdown_events: int
    warnings: list[str]


class _MachineKey(_Out):
    machine_id: str
    line: str | None


class _LineKey(_Out):
    line: str
    machine_ids: list[str]


# The key classes come second among the bases so that their fields lead in the output.
class MachineResult(OeeMetrics, _MachineKey):
    """One machine's KPIs (``machine_id`` and ``line`` first)."""


class LineResult(OeeMetrics, _LineKey):
    """KPIs rolled up over the machines of a line (``line`` and ``machine_ids`` first)."""


class PeriodResult(_Out):
    """KPIs of one period (a shift occurrence, a local day or an ISO week)."""

    label: str
    start: datetime
    end: datetime
    shift: str | None
    date: str | None
    machines: list[MachineResult]
    lines: list[LineResult]
    total: OeeMetrics


class OeeReport(_Out):
    """The whole result: per machine, per line and in total, and per period when asked for."""

    timezone: str
    window_start: datetime
    window_end: datetime
    by: str | None
    machines: list[MachineResult]
    lines: list[LineResult]
    total: OeeMetrics
    periods: list[PeriodResult] | None
    warnings: list[str]


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def metrics_fields(row: NDArray[np.float64], subject: str = "", notes: list[str] | None = None) -> dict[str, object]:
    """The :class:`OeeMetrics` fields of a totals row, as a dict (warnings prefixed by ``subject``)."""
    t = {name: float(row[i]) for name, i in COL.items()}
    all_time = sum(t[b] for b in BUCKETS)
    planned = all_time - t["planned_stop"]
    run = t["run"] + t["small_stop"]
    total, reject, startup = round(t["total"]), round(t["reject"]), round(t["startup_reject"])
    good = total - reject - startup
    events = round(t["breakdown_events"])
    prefix = f"{subject}: " if subject else ""
    warnings = list(notes or [])
    availability = _ratio(run, planned)
    performance = _ratio(t["ideal_total_s"], run)
    quality = _ratio(t["ideal_good_s"], t["ideal_total_s"])
    oee = _ratio(t["ideal_good_s"], planned)
    if planned <= 0:
        warnings.append(f"{prefix}no planned production time: availability and OEE are undefined")
    elif run <= 0:
        warnings.append(f"{prefix}no run time ({total} parts counted): performance is undefined")
    if total == 0 and planned > 0:
        warnings.append(f"{prefix}no parts counted: quality is undefined")
    if performance is not None and performance > 1.0:
        warnings.append(
            f"{prefix}performance {performance:.4f} is above 100 %: the ideal cycle time is probably too long"
        )
    if good < 0:
        warnings.append(f"{prefix}more rejects ({reject + startup}) than parts ({total})")
    if t["unknown"] > 0:
        warnings.append(f"{prefix}{t['unknown']:g} s of scheduled time has no known state (booked as unknown)")
    losses = Losses(
        breakdowns=t["breakdown"],
        setup_adjustments=t["setup"],
        small_stops=t["small_stop"],
        reduced_speed=run - t["ideal_total_s"] - t["small_stop"],
        startup_rejects=t["ideal_startup_s"],
        production_rejects=t["ideal_reject_s"],
        idle=t["idle"],
        unknown=t["unknown"],
    )
    return {
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": oee,
        "teep": _ratio(t["ideal_good_s"], all_time),
        "all_time_s": all_time,
        "planned_stop_s": t["planned_stop"],
        "planned_production_time_s": planned,
        "run_time_s": run,
        "net_run_time_s": t["ideal_total_s"],
        "fully_productive_time_s": t["ideal_good_s"],
        "total_count": total,
        "good_count": good,
        "reject_count": reject,
        "startup_reject_count": startup,
        "losses_s": losses,
        "mtbf_s": run / events if events else None,
        "mttr_s": t["breakdown"] / events if events else None,
        "breakdown_events": events,
        "warnings": warnings,
    }


def metrics_from_row(row: NDArray[np.float64], subject: str = "", notes: list[str] | None = None) -> OeeMetrics:
    """:class:`OeeMetrics` of a totals row (see :data:`twin_models.oee.engine.COLUMNS`)."""
    return OeeMetrics(**metrics_fields(row, subject, notes))
