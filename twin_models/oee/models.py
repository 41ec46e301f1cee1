"""Input models: the public scenario file format (see ``docs/oee.md``).

A scenario names a window, an optional plant time zone and shift calendar, and
per machine its state intervals, part counts (increments) and/or cumulative
counter readings.

Example:
    >>> scenario = Scenario.model_validate({
    ...     "window": {"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T14:00:00Z"},
    ...     "machines": [{"machine_id": "cnc-01", "ideal_cycle_time_s": 1.0,
    ...                   "states": [{"start": "2026-01-05T06:00:00Z", "end": "2026-01-05T14:00:00Z",
    ...                               "state": "running"}],
    ...                   "counts": [{"ts": "2026-01-05T13:59:00Z", "total": 25000, "reject": 100}]}],
    ... })
    >>> scenario.machines[0].states[0].state
    'running'
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from twin_models.states import DEFAULT_TAXONOMY, UnknownStateError

__all__ = [
    "CountRecord",
    "CounterReading",
    "MachineScenario",
    "PlantCalendar",
    "Scenario",
    "ScenarioWindow",
    "ShiftSpec",
    "StateRecord",
    "parse_local_time",
]

_TIME_RE = re.compile(r"^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$")


def parse_local_time(value: Any) -> time:
    """Parse a wall-clock time ``"HH:MM"`` or ``"HH:MM:SS"``; ``"24:00"`` means midnight.

    Example:
        >>> parse_local_time("06:30"), parse_local_time("24:00")
        (datetime.time(6, 30), datetime.time(0, 0))
    """
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError("shift times are local wall-clock times: give no offset")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a time 'HH:MM', got {value!r}")
    match = _TIME_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"expected a local time 'HH:MM' or 'HH:MM:SS' without offset, got {value!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if (hour, minute, second) == (24, 0, 0):
        return time(0, 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day: {value!r}")
    return time(hour, minute, second)


LocalTime = Annotated[
    time,
    BeforeValidator(parse_local_time),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$", "description": "local wall time HH:MM[:SS]"}
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioWindow(_Strict):
    """The evaluated time range ``[start, end)`` (all time)."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> ScenarioWindow:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after its start {self.start.isoformat()}")
        return self


class ShiftSpec(_Strict):
    """One shift of the plant calendar, repeated every day, in local time.

    ``end`` at or before ``start`` means the shift ends the next day (a night shift).
    Breaks are ``[start, end]`` local times inside the shift.
    """

    name: Annotated[str, Field(min_length=1)]
    start: LocalTime
    end: LocalTime
    breaks: list[tuple[LocalTime, LocalTime]] = Field(default_factory=list)


class StateRecord(_Strict):
    """A state interval ``[start, end)``: a category name, a known alias, or a numeric code."""

    start: AwareDatetime
    end: AwareDatetime
    state: str | int
    program: str | None = None

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str | int) -> str | int:
        try:
            DEFAULT_TAXONOMY.code(value)
        except UnknownStateError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _ordered(self) -> StateRecord:
        if self.end < self.start:
            raise ValueError(f"state interval ends ({self.end.isoformat()}) before it starts")
        return self


class CountRecord(_Strict):
    """Parts made since the previous record (increments). ``total`` includes all rejects."""

    ts: AwareDatetime
    total: NonNegativeInt = 0
    reject: NonNegativeInt = 0
    startup_reject: NonNegativeInt = 0
    program: str | None = None


class CounterReading(_Strict):
    """Cumulative counter values read at ``ts``; a decrease means the counter was reset."""

    ts: AwareDatetime
    total: NonNegativeInt
    reject: NonNegativeInt | None = None
    startup_reject: NonNegativeInt | None = None
    program: str | None = None


IdealCycleTime = PositiveFloat | dict[str, PositiveFloat]


class MachineScenario(_Strict):
    """One machine: its ideal cycle time (single or per program), states and counts."""

    machine_id: Annotated[str, Field(min_length=1)]
    line: str | None = None
    ideal_cycle_time_s: IdealCycleTime
    states: list[StateRecord] = Field(default_factory=list)
    counts: list[CountRecord] = Field(default_factory=list)
    counters: list[CounterReading] = Field(default_factory=list)

    @model_validator(mode="after")
    def _programs_known(self) -> MachineScenario:
        ideal = self.ideal_cycle_time_s
        if isinstance(ideal, dict):
            if not ideal:
                raise ValueError("ideal_cycle_time_s per program is empty")
            named = {r.program for r in self.states} | {r.program for r in self.counts}
            named |= {r.program for r in self.counters}
            unknown = sorted(p for p in named if p is not None and p not in ideal and "*" not in ideal)
            if unknown:
                raise ValueError(f"machine {self.machine_id}: no ideal cycle time for program(s) {unknown}")
        return self


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class PlantCalendar(_Strict):
    """A site's time zone and shift calendar (what a scenario carries, stored per site).

    Example:
        >>> PlantCalendar(timezone="Europe/Berlin", shifts=[{"name": "early", "start": "06:00", "end": "14:00"}])
        ... # doctest: +ELLIPSIS
        PlantCalendar(timezone='Europe/Berlin', shifts=[ShiftSpec(name='early', ...)])
    """

    timezone: str = "UTC"
    shifts: list[ShiftSpec] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class Scenario(_Strict):
    """A complete OEE scenario: window, calendar and machines."""

    timezone: str = "UTC"
    window: ScenarioWindow
    shifts: list[ShiftSpec] = Field(default_factory=list)
    machines: Annotated[list[MachineScenario], Field(min_length=1)]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)

    @model_validator(mode="after")
    def _unique_machines(self) -> Scenario:
        seen: set[str] = set()
        for machine in self.machines:
            if machine.machine_id in seen:
                raise ValueError(f"machine_id {machine.machine_id!r} appears twice")
            seen.add(machine.machine_id)
        return self
