"""A seeded CNC fleet simulator in accelerated time.

Each machine follows a shift calendar (planned stops outside shifts and in breaks), runs
cycles of its programs at a profile-specific speed, makes rejects, has micro-stops,
changeovers between programs, tool changes when the tool is worn out, idle spells waiting
for material, and random breakdowns. Two failure modes announce themselves first:

* ``bearing``: spindle-bearing wear raises vibration over hours until a spindle fault (601);
* ``cooling``: cooling trouble raises temperature over hours until a cooling fault (602).

The same seed gives the same samples, sample for sample.

Example:
    >>> from datetime import datetime, timezone
    >>> fleet = FleetSimulator(machines=2, seed=7, start=datetime(2026, 1, 5, tzinfo=timezone.utc))
    >>> batch = fleet.advance(120)
    >>> sorted(batch), len(batch["cnc-01"])
    (['cnc-01', 'cnc-02'], 120)
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from twin_models.states import StateCode
from twin_models.telemetry import Sample

__all__ = [
    "FailureMode",
    "FleetSimulator",
    "MachineProfile",
    "MachineSimulator",
    "ShiftCalendar",
    "default_profiles",
]

FailureMode = Literal["bearing", "cooling"]

#: Alarm codes a controller raises with a fault state.
ALARM_SPINDLE = 2001
ALARM_COOLING = 3001
ALARM_CRASH = 4001
ALARM_GENERIC = 1001


@dataclass(frozen=True)
class MachineProfile:
    """How one simulated machine behaves.

    Rates are per hour of the state they start from; durations are in seconds.
    ``slowdown`` is the fraction by which real cycles are slower than ideal ones.
    """

    machine_id: str
    line: str = "line-a"
    programs: dict[str, float] = field(default_factory=lambda: {"P100": 30.0, "P200": 45.0})
    slowdown: float = 0.08
    reject_rate: float = 0.02
    startup_reject_parts: int = 2
    micro_stops_per_h: float = 4.0
    breakdowns_per_h: float = 0.08
    repair_s: tuple[int, int] = (900, 3600)
    setup_every_parts: int = 400
    setup_s: tuple[int, int] = (900, 1800)
    idle_per_h: float = 0.3
    idle_s: tuple[int, int] = (300, 1200)
    reduced_speed_per_h: float = 0.2
    reduced_speed_s: tuple[int, int] = (600, 1800)
    tool_wear_per_part: float = 0.12
    base_vibration: float = 1.2
    base_temperature: float = 32.0
    rated_power_kw: float = 15.0
    failure_mode: FailureMode | None = None
    #: hours of degradation from onset to failure
    degradation_h: float = 10.0
    #: hours after start at which degradation begins
    degradation_onset_h: float = 4.0


def default_profiles(n: int, seed: int = 0) -> list[MachineProfile]:
    """``n`` varied profiles ``cnc-01..``; machines 3 and 6 (1-based) carry the two failure modes."""
    rng = random.Random(seed)
    profiles = []
    for i in range(n):
        modes: dict[int, FailureMode] = {2: "bearing", 5: "cooling"}
        mode = modes.get(i % 8)
        base = rng.choice([20.0, 30.0, 42.0, 55.0])
        profiles.append(
            MachineProfile(
                machine_id=f"cnc-{i + 1:02d}",
                line="line-a" if i % 2 == 0 else "line-b",
                programs={"P100": base, "P200": round(base * 1.5, 1)},
                slowdown=rng.uniform(0.03, 0.15),
                reject_rate=rng.uniform(0.005, 0.04),
                micro_stops_per_h=rng.uniform(1.0, 8.0),
                breakdowns_per_h=rng.uniform(0.02, 0.12),
                setup_every_parts=rng.choice([250, 400, 600]),
                base_vibration=rng.uniform(0.8, 1.6),
                base_temperature=rng.uniform(28.0, 36.0),
                rated_power_kw=rng.choice([11.0, 15.0, 22.0]),
                failure_mode=mode,
                degradation_onset_h=rng.uniform(2.0, 6.0),
                degradation_h=rng.uniform(6.0, 10.0),
            )
        )
    return profiles


@dataclass(frozen=True)
class ShiftCalendar:
    """Daily shifts in the plant's local time with breaks (planned stops)."""

    timezone: str = "Europe/Berlin"
    shifts: tuple[tuple[time, time], ...] = ((time(6), time(14)), (time(14), time(22)))
    breaks: tuple[tuple[time, time], ...] = ((time(10), time(10, 30)), (time(18), time(18, 30)))

    def planned_state(self, ts: datetime) -> int | None:
        """The planned-stop code at ``ts``, or None while production is planned."""
        local = ts.astimezone(ZoneInfo(self.timezone)).time()
        if not any(start <= local < end for start, end in self.shifts):
            return int(StateCode.NO_SHIFT)
        if any(start <= local < end for start, end in self.breaks):
            return int(StateCode.PLANNED_BREAK)
        return None

    def last_shift_start(self, at_or_before: datetime) -> datetime:
        """The latest shift start at or before ``at_or_before``, in UTC: a simulation started there begins
        with production, whatever the time of day it is run at.

        Example:
            >>> ShiftCalendar().last_shift_start(datetime(2026, 1, 5, 3, 0, tzinfo=UTC)).isoformat()
            '2026-01-04T13:00:00+00:00'
        """
        zone = ZoneInfo(self.timezone)
        bound = at_or_before.astimezone(UTC)
        day = bound.astimezone(zone).date()
        for back in range(3):
            for start, _ in sorted(self.shifts, reverse=True):
                local = datetime.combine(day - timedelta(days=back), start, tzinfo=zone)
                if local.astimezone(UTC) <= bound:
                    return local.astimezone(UTC)
        raise ValueError("the calendar has no shifts")


class MachineSimulator:
    """One machine, advanced one second per :meth:`step`.

    Example:
        >>> from datetime import datetime, timezone
        >>> sim = MachineSimulator(MachineProfile("cnc-01"), seed=1,
        ...                        start=datetime(2026, 1, 5, 8, tzinfo=timezone.utc))
        >>> [int(s.state) for s in sim.run(3)]
        [500, 500, 500]
    """

    def __init__(
        self,
        profile: MachineProfile,
        seed: int,
        start: datetime,
        calendar: ShiftCalendar | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.profile = profile
        self.calendar = calendar or ShiftCalendar()
        self._rng = random.Random(f"{seed}:{profile.machine_id}")
        self._start = start.astimezone(UTC)
        self.now = self._start
        self.parts = 0
        self.rejects = 0
        self._program_names = sorted(profile.programs)
        self._program = 0
        self._cycle_progress = 0.0
        self._parts_since_setup = 0
        self._startup_left = profile.startup_reject_parts
        self._tool_serial = 1
        self._tool_wear = 0.0
        # an event state (breakdown, setup, idle, micro-stop, reduced speed) and when it ends
        self._event: int | None = StateCode.SETUP
        self._event_left = self._draw(profile.setup_s)
        self._alarm = 0
        self._degradation = 0.0
        self._temp = profile.base_temperature
        self._vib_noise = 0.0
        #: the lessor's lease lock: while set, no new cycle starts (a cycle in progress pauses) and the
        #: machine reports state 710 (lease locked); a fault under repair stays a fault
        self.lease_lock = False

    # -- randomness -------------------------------------------------------------------------
    def _draw(self, bounds: tuple[int, int]) -> int:
        return self._rng.randint(*bounds)

    def _chance(self, per_hour: float) -> bool:
        return self._rng.random() < per_hour / 3600.0

    # -- degradation ------------------------------------------------------------------------
    def _update_degradation(self) -> None:
        p = self.profile
        if p.failure_mode is None:
            return
        hours = (self.now - self._start).total_seconds() / 3600.0
        if hours >= p.degradation_onset_h and self._event not in _FAULTS:
            self._degradation = min(1.0, self._degradation + 1.0 / (p.degradation_h * 3600.0))
        if self._degradation >= 1.0 and self._event not in _FAULTS:
            code = StateCode.SPINDLE_FAULT if p.failure_mode == "bearing" else StateCode.COOLING_FAULT
            self._start_event(int(code), self._draw(p.repair_s))
            self._alarm = ALARM_SPINDLE if p.failure_mode == "bearing" else ALARM_COOLING

    def _start_event(self, code: int, seconds: int) -> None:
        self._event = code
        self._event_left = seconds

    # -- one second -------------------------------------------------------------------------
    def _choose_state(self) -> int:
        p = self.profile
        if self._event is not None:
            self._event_left -= 1
            if self._event_left > 0:
                return self._event
            finished = self._event
            self._event = None
            self._alarm = 0
            if finished in _FAULTS:
                self._degradation = 0.0  # repaired
                self._startup_left = p.startup_reject_parts
            if finished in (StateCode.SETUP, StateCode.TOOL_CHANGE):
                self._startup_left = p.startup_reject_parts
        if self._chance(p.breakdowns_per_h):
            crash = self._rng.random() < 0.1
            code = StateCode.CRASH if crash else self._rng.choice([StateCode.BREAKDOWN, StateCode.TOOL_BREAKAGE])
            self._alarm = ALARM_CRASH if crash else ALARM_GENERIC
            self._start_event(int(code), self._draw(p.repair_s))
            return int(code)
        if self._chance(p.micro_stops_per_h):
            self._start_event(int(StateCode.MICRO_STOP), self._rng.randint(10, 90))
            return int(StateCode.MICRO_STOP)
        if self._chance(p.idle_per_h):
            self._start_event(int(StateCode.WAITING_MATERIAL), self._draw(p.idle_s))
            return int(StateCode.WAITING_MATERIAL)
        if self._chance(p.reduced_speed_per_h):
            self._start_event(int(StateCode.REDUCED_SPEED), self._draw(p.reduced_speed_s))
            return int(StateCode.REDUCED_SPEED)
        return int(StateCode.RUNNING)

    def _produce(self, speed_factor: float) -> None:
        p = self.profile
        ideal = p.programs[self._program_names[self._program]]
        self._cycle_progress += speed_factor / (ideal * (1.0 + p.slowdown))
        if self._cycle_progress < 1.0:
            return
        self._cycle_progress -= 1.0
        self.parts += 1
        self._parts_since_setup += 1
        if self._startup_left > 0:
            self._startup_left -= 1
            self.rejects += 1
        elif self._rng.random() < p.reject_rate * (1.0 + 2.0 * max(0.0, self._tool_wear - 80.0) / 20.0):
            self.rejects += 1
        self._tool_wear += p.tool_wear_per_part * self._rng.uniform(0.7, 1.3)
        if self._tool_wear >= 100.0:
            self._tool_wear = 0.0
            self._tool_serial += 1
            self._start_event(int(StateCode.TOOL_CHANGE), self._rng.randint(120, 300))
        elif self._parts_since_setup >= p.setup_every_parts:
            self._parts_since_setup = 0
            self._program = (self._program + 1) % len(self._program_names)
            self._start_event(int(StateCode.SETUP), self._draw(p.setup_s))

    def step(self) -> Sample:
        """Advance one second and return the sample taken at the start of it."""
        p = self.profile
        ts = self.now
        planned = self.calendar.planned_state(ts)
        if self.lease_lock and self._event not in _FAULTS:
            state = int(StateCode.LEASE_LOCKED)
        elif planned is not None and self._event not in _FAULTS:
            state = planned
        else:
            self._update_degradation()
            state = self._choose_state()
        running = state in (StateCode.RUNNING, StateCode.REDUCED_SPEED)
        speed_factor = 0.7 if state == StateCode.REDUCED_SPEED else 1.0
        if running:
            self._produce(speed_factor)
        d = self._degradation
        rng = self._rng
        spindle = (8000.0 * speed_factor + rng.gauss(0, 40)) if running else 0.0
        load = (55.0 + 10.0 * math.sin(self._cycle_progress * math.tau) + rng.gauss(0, 2)) if running else 0.0
        # first-order thermal response towards a load-dependent target, plus the cooling fault's rise
        cooling = 28.0 * d * d if p.failure_mode == "cooling" else 0.0
        target = p.base_temperature + (12.0 if running else 0.0) + cooling
        self._temp += (target - self._temp) / 600.0 + rng.gauss(0, 0.05)
        bearing = 6.0 * d * d if p.failure_mode == "bearing" else 0.0
        vibration = (p.base_vibration * (1.0 if running else 0.15)) * (1.0 + bearing) + abs(rng.gauss(0, 0.08))
        power = (p.rated_power_kw * (0.2 + 0.8 * load / 100.0)) if running else (1.2 if planned is None else 0.3)
        self.now = ts + timedelta(seconds=1)
        # valid by construction (a property test checks it), so skip validation on this hot path
        return Sample.model_construct(
            ts=ts,
            state=state,
            spindle_speed_rpm=round(max(spindle, 0.0), 1),
            feed_rate_mm_min=round(1200.0 * speed_factor, 1) if running else 0.0,
            spindle_load_pct=round(max(load, 0.0), 2),
            vibration_rms_mm_s=round(vibration, 3),
            temperature_c=round(self._temp, 2),
            power_kw=round(power, 3),
            part_count=self.parts,
            reject_count=self.rejects,
            tool_id=f"T{self._tool_serial:04d}",
            tool_wear_pct=round(self._tool_wear, 2),
            program=self._program_names[self._program],
            alarm_code=self._alarm,
        )

    def run(self, seconds: int) -> Iterator[Sample]:
        """Yield ``seconds`` consecutive samples."""
        for _ in range(seconds):
            yield self.step()


_FAULTS = frozenset(
    {
        StateCode.BREAKDOWN,
        StateCode.SPINDLE_FAULT,
        StateCode.COOLING_FAULT,
        StateCode.TOOL_BREAKAGE,
        StateCode.CRASH,
    }
)


class FleetSimulator:
    """``machines`` simulators on :func:`default_profiles`, advanced together."""

    def __init__(
        self,
        machines: int,
        seed: int,
        start: datetime,
        profiles: list[MachineProfile] | None = None,
        calendar: ShiftCalendar | None = None,
    ) -> None:
        chosen = profiles if profiles is not None else default_profiles(machines, seed)
        self.machines = {p.machine_id: MachineSimulator(p, seed, start, calendar) for p in chosen}

    def advance(self, seconds: int) -> dict[str, list[Sample]]:
        """The next ``seconds`` samples of every machine, by machine id."""
        return {mid: list(sim.run(seconds)) for mid, sim in self.machines.items()}
