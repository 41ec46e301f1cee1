"""OEE engine: ISO 22400 KPIs (availability, performance, quality, OEE, TEEP) and the six big losses.

Pure Python and numpy. The same API serves the scheduled OEE computation, the
HTTP API and the ``twinledger oee`` command. Conventions are documented in
``docs/oee.md``.

Pure: no file is read here (``twinledger.files.oee.load_scenario`` reads scenario files).

Example:
    >>> from twin_models.oee import parse_scenario, evaluate_scenario
    >>> report = evaluate_scenario(parse_scenario({
    ...     "window": {"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T14:00:00Z"},
    ...     "shifts": [{"name": "early", "start": "06:00", "end": "14:00"}],
    ...     "machines": [{"machine_id": "cnc-01", "ideal_cycle_time_s": 1.0,
    ...                   "states": [{"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T07:00:00Z",
    ...                               "state": "breakdown"},
    ...                              {"start": "2026-01-05T07:00:00Z", "end": "2026-01-05T14:00:00Z",
    ...                               "state": "running"}],
    ...                   "counts": [{"ts": "2026-01-05T13:59:00Z", "total": 22680, "reject": 567}]}]}))
    >>> [round(x, 4) for x in (report.total.availability, report.total.performance,  # 7 of 8 h up,
    ...                        report.total.quality, report.total.oee)]               # 22680 x 1 s in 7 h
    [0.875, 0.9, 0.975, 0.7678]
"""

from __future__ import annotations

from twin_models.oee.calendar import Period, PeriodBy, make_periods, shift_instances
from twin_models.oee.counts import CountSeries, concat_counts, counters_to_counts
from twin_models.oee.engine import COLUMNS, DEFAULT_PROGRAM, MachineData, machine_totals, row_from_dict, row_to_dict
from twin_models.oee.errors import CalendarError, OeeError, OeeInputError, SamplesError
from twin_models.oee.models import (
    CounterReading,
    CountRecord,
    MachineScenario,
    PlantCalendar,
    Scenario,
    ScenarioWindow,
    ShiftSpec,
    StateRecord,
)
from twin_models.oee.progress import FoldedSeqs
from twin_models.oee.report import OeeTotals, build_report, compute_oee, compute_totals
from twin_models.oee.results import (
    LineResult,
    Losses,
    MachineResult,
    OeeMetrics,
    OeeReport,
    PeriodResult,
    metrics_from_row,
)
from twin_models.oee.samples import StateIntervals, samples_to_intervals
from twin_models.oee.scenario import evaluate_scenario, machine_data, parse_scenario

__all__ = [
    "COLUMNS",
    "DEFAULT_PROGRAM",
    "CalendarError",
    "CountRecord",
    "CountSeries",
    "CounterReading",
    "FoldedSeqs",
    "LineResult",
    "Losses",
    "MachineData",
    "MachineResult",
    "MachineScenario",
    "OeeError",
    "OeeInputError",
    "OeeMetrics",
    "OeeReport",
    "OeeTotals",
    "Period",
    "PeriodBy",
    "PeriodResult",
    "PlantCalendar",
    "SamplesError",
    "Scenario",
    "ScenarioWindow",
    "ShiftSpec",
    "StateIntervals",
    "StateRecord",
    "build_report",
    "compute_oee",
    "compute_totals",
    "concat_counts",
    "counters_to_counts",
    "evaluate_scenario",
    "machine_data",
    "machine_totals",
    "make_periods",
    "metrics_from_row",
    "parse_scenario",
    "row_from_dict",
    "row_to_dict",
    "samples_to_intervals",
    "shift_instances",
]
