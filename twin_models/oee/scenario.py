"""Scenario documents: validate, convert to engine input, evaluate.

A scenario arrives as JSON text or an already decoded dict (reading a scenario *file* is
:func:`twinledger.files.oee.load_scenario`'s job); the format is documented in ``docs/oee.md``.

Example:
    >>> report = evaluate_scenario(parse_scenario('''{
    ...     "window": {"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T07:00:00Z"},
    ...     "machines": [{"machine_id": "cnc-01", "ideal_cycle_time_s": 1.0,
    ...                   "states": [{"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T07:00:00Z",
    ...                               "state": "running"}],
    ...                   "counts": [{"ts": "2026-01-05T06:59:00Z", "total": 3000, "reject": 60}]}]}'''))
    >>> round(report.total.oee, 4)
    0.8167
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from twin_models.oee.calendar import PeriodBy
from twin_models.oee.counts import CountSeries, concat_counts, counters_to_counts
from twin_models.oee.engine import MachineData
from twin_models.oee.errors import OeeInputError
from twin_models.oee.models import MachineScenario, Scenario
from twin_models.oee.report import compute_oee
from twin_models.oee.results import OeeReport
from twin_models.oee.samples import StateIntervals
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.timestamps import to_seconds

__all__ = ["evaluate_scenario", "machine_data", "parse_scenario"]


def _program_index(names: list[str | None]) -> tuple[np.ndarray | None, tuple[str, ...]]:
    if all(n is None for n in names):
        return None, ()
    table = tuple(dict.fromkeys(n for n in names if n is not None))
    lookup = {n: i for i, n in enumerate(table)}
    return np.asarray([-1 if n is None else lookup[n] for n in names], dtype=np.int64), table


def machine_data(machine: MachineScenario, taxonomy: StateTaxonomy = DEFAULT_TAXONOMY) -> MachineData:
    """Engine input of one scenario machine."""
    program, programs = _program_index([s.program for s in machine.states])
    states = StateIntervals.from_arrays(
        [to_seconds(s.start) for s in machine.states],
        [to_seconds(s.end) for s in machine.states],
        [taxonomy.code(s.state) for s in machine.states],
        program,
        programs,
    )
    parts: list[CountSeries] = []
    if machine.counts:
        c_prog, c_programs = _program_index([c.program for c in machine.counts])
        parts.append(
            CountSeries.from_arrays(
                [to_seconds(c.ts) for c in machine.counts],
                [c.total for c in machine.counts],
                [c.reject for c in machine.counts],
                [c.startup_reject for c in machine.counts],
                c_prog,
                c_programs,
            )
        )
    if machine.counters:
        readings = sorted(machine.counters, key=lambda r: r.ts)
        k_prog, k_programs = _program_index([r.program for r in readings])

        def carried(values: list[int | None]) -> list[int] | None:
            if all(v is None for v in values):
                return None
            out, last = [], 0
            for v in values:
                last = last if v is None else v
                out.append(last)
            return out

        parts.append(
            counters_to_counts(
                [to_seconds(r.ts) for r in readings],
                [r.total for r in readings],
                carried([r.reject for r in readings]),
                carried([r.startup_reject for r in readings]),
                k_prog,
                k_programs,
            )
        )
    ideal = machine.ideal_cycle_time_s
    return MachineData(
        machine_id=machine.machine_id,
        ideal_cycle_time_s=dict(ideal) if isinstance(ideal, dict) else float(ideal),
        states=states,
        counts=concat_counts(parts),
        line=machine.line,
    )


def evaluate_scenario(
    scenario: Scenario, by: PeriodBy | None = None, taxonomy: StateTaxonomy = DEFAULT_TAXONOMY
) -> OeeReport:
    """The OEE report of a validated scenario."""
    return compute_oee(
        [machine_data(m, taxonomy) for m in scenario.machines],
        scenario.window.start,
        scenario.window.end,
        shifts=scenario.shifts,
        timezone=scenario.timezone,
        by=by,
        taxonomy=taxonomy,
    )


def parse_scenario(document: Mapping[str, Any] | str | bytes, source: str = "the scenario") -> Scenario:
    """Validate a scenario given as JSON text or a decoded dict; a bad one raises :class:`OeeInputError`
    saying why, naming it ``source`` (a file name, say).

    Example:
        >>> parse_scenario("{", source="plant.json")
        Traceback (most recent call last):
        ...
        twin_models.oee.errors.OeeInputError: plant.json is not valid JSON: Expecting property name \
enclosed in double quotes: line 1 column 2 (char 1)
    """
    if isinstance(document, str | bytes):
        try:
            raw: Any = json.loads(document)
        except json.JSONDecodeError as exc:
            raise OeeInputError(f"{source} is not valid JSON: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise OeeInputError(f"{source} is not UTF-8 text: {exc}") from exc
    else:
        raw = document
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise OeeInputError(f"{source} is not a valid OEE scenario:\n{exc}") from exc
