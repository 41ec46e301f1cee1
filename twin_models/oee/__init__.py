"""OEE engine: ISO 22400 KPIs (availability, performance, quality, OEE, TEEP) and the six big losses.

Pure Python and numpy. The same API serves the scheduled OEE computation, the
HTTP API and the ``twinledger oee`` command. Conventions are documented in
``docs/oee.md``.

Example:
    >>> from twin_models.oee import load_scenario, evaluate_scenario
    >>> report = evaluate_scenario(load_scenario("docs/examples/oee-worksheet.json"))
    >>> [round(x, 4) for x in (report.total.availability, report.total.performance,
    ...                        report.total.quality, report.total.oee)]
    [0.8881, 0.8611, 0.978, 0.7479]
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
from twin_models.oee.scenario import evaluate_scenario, load_scenario, machine_data

__all__ = [
    "COLUMNS",
    "DEFAULT_PROGRAM",
    "CalendarError",
    "CountRecord",
    "CountSeries",
    "CounterReading",
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
    "load_scenario",
    "machine_data",
    "machine_totals",
    "make_periods",
    "metrics_from_row",
    "row_from_dict",
    "row_to_dict",
    "samples_to_intervals",
    "shift_instances",
]
