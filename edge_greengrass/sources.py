"""Machine data sources that run in their own thread and emit ``(thing, Sample)`` batches.

* :class:`SimulatorSource` — the seeded fleet simulator at any speed; after a restart it fast-forwards
  each machine to just past the last sample the spool holds, so the stream continues seamlessly.
* :class:`ReplaySource` — a CSV of real CNC data (100 ms rows, e.g. the University of Michigan mill
  tool-wear set; CR-only line endings are fine) folded into 1 Hz samples and played at any speed.

The OPC UA adapter (:mod:`edge_greengrass.opcua`) emits the same way.

Example:
    >>> import threading
    >>> from datetime import datetime, timezone
    >>> got = []
    >>> src = SimulatorSource(machines=2, seed=7, start=datetime(2026, 1, 5, 6, tzinfo=timezone.utc),
    ...                       speed=10_000, limit_s=3)
    >>> src.run(got.extend, threading.Event())
    >>> [(thing, s.ts.second) for thing, s in got][:4]
    [('cnc-01', 0), ('cnc-02', 0), ('cnc-01', 1), ('cnc-02', 1)]
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from edge_greengrass.errors import ReplayError
from edge_greengrass.readings import ReadingCounters, Unreadable, sample_from_readings
from edge_greengrass.simulator import MachineSimulator, default_profiles
from twin_models.states import StateCode
from twin_models.telemetry import Sample

__all__ = ["Emit", "ReplaySource", "ResumePoint", "SampleSource", "SimulatorSource", "read_cnc_csv"]

Emit = Callable[[list[tuple[str, Sample]]], None]
"""Receives each batch of ``(thing, sample)`` pairs a source produced."""

ResumePoint = Callable[[str], dt.datetime | None]
"""The timestamp of the last sample already spooled for a thing (``None``: start fresh)."""

#: Further than this behind, a restarted simulator starts afresh instead of fast-forwarding.
_MAX_FAST_FORWARD = dt.timedelta(days=2)


class SampleSource(Protocol):
    """Anything that produces samples until ``stop`` is set."""

    def things(self) -> list[str]:
        """The thing names this source emits for."""
        ...

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Produce samples, calling ``emit`` per batch, until ``stop`` is set (or the data ends)."""
        ...


def _no_resume(thing: str) -> dt.datetime | None:
    return None


def _floor_second(ts: dt.datetime) -> dt.datetime:
    return ts.replace(microsecond=0)


class _Pacer:
    """Sleeps so that ``n`` simulated seconds take ``n / speed`` wall-clock seconds."""

    def __init__(self, speed: float) -> None:
        self.period = 1.0 / speed
        self._next = time.monotonic()

    def chunk(self) -> int:
        """Simulated seconds to produce per wake-up (several when the period is below 10 ms)."""
        return max(1, int(0.01 / self.period))

    def wait(self, steps: int, stop: threading.Event) -> None:
        self._next += steps * self.period
        delay = self._next - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -1.0:  # far behind (suspended, overloaded): do not burst to catch up
            self._next = time.monotonic()


class SimulatorSource:
    """The fleet simulator as a source (thing names ``cnc-01``...)."""

    def __init__(
        self,
        *,
        machines: int,
        seed: int,
        start: dt.datetime | None = None,
        speed: float = 1.0,
        resume: ResumePoint = _no_resume,
        limit_s: int | None = None,
    ) -> None:
        self.profiles = default_profiles(machines, seed)
        self.seed = seed
        self.start = _floor_second(start or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self.speed = speed
        self.resume = resume
        self.limit_s = limit_s
        self._every: dict[str, int] = {}
        self._locks: dict[str, bool] = {}
        self._sims: dict[str, MachineSimulator] = {}

    def things(self) -> list[str]:
        """``cnc-01`` .. ``cnc-NN``."""
        return [p.machine_id for p in self.profiles]

    def set_sampling_interval(self, thing: str, seconds: float) -> None:
        """Emit every n-th simulated second of ``thing`` (the simulator's resolution is 1 s)."""
        self._every[thing] = max(1, round(seconds))

    def set_lease_lock(self, thing: str, locked: bool) -> None:
        """Hold ``thing`` (no new cycle starts, state 710) or release it; applied from the shadow."""
        self._locks[thing] = locked
        sim = self._sims.get(thing)
        if sim is not None:
            sim.lease_lock = locked

    def machines(self) -> dict[str, MachineSimulator]:
        """One simulator per machine, fast-forwarded past what the spool already holds."""
        sims: dict[str, MachineSimulator] = {}
        for profile in self.profiles:
            last = self.resume(profile.machine_id)
            begin = self.start
            if last is not None and last - self.start > _MAX_FAST_FORWARD:
                begin = _floor_second(last) + dt.timedelta(seconds=1)
            sim = MachineSimulator(profile, self.seed, begin)
            while last is not None and sim.now <= last:
                sim.step()
            sim.lease_lock = self._locks.get(profile.machine_id, False)
            sims[profile.machine_id] = sim
        self._sims = sims
        return sims

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Step every machine one simulated second at a time, paced by ``speed``."""
        sims = self.machines()
        pacer = _Pacer(self.speed)
        produced = 0
        while not stop.is_set():
            steps = pacer.chunk()
            if self.limit_s is not None:
                steps = min(steps, self.limit_s - produced)
                if steps <= 0:
                    return
            batch = [(thing, sim.step()) for _ in range(steps) for thing, sim in sims.items()]
            if self._every:
                batch = [
                    (thing, sample)
                    for thing, sample in batch
                    if int((sample.ts - self.start).total_seconds()) % self._every.get(thing, 1) == 0
                ]
            emit(batch)
            produced += steps
            pacer.wait(steps, stop)


# -- replay of recorded CNC data -------------------------------------------------------------------

_RUNNING_PREFIXES = ("Layer", "Repositioning")
_SETUP = ("Prep", "Starting")


def _state_of(process: str) -> int:
    if process.startswith(_RUNNING_PREFIXES):
        return int(StateCode.RUNNING)
    if process in _SETUP:
        return int(StateCode.SETUP)
    if process == "end":
        return int(StateCode.IDLE)
    return int(StateCode.UNKNOWN)


def read_cnc_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CNC CSV as dicts; any line ending (LF, CRLF or CR only) is accepted.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
        >>> _ = p.write_bytes(b"a,b\\r1,2\\r3,4\\r")
        >>> [r["b"] for r in read_cnc_csv(p)]
        ['2', '4']
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:  # csv splits on \\r, \\n and \\r\\n
            yield from csv.DictReader(handle)
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc}") from exc


def _cell(row: dict[str, str], column: str, line: int, path: Path) -> float | Unreadable:
    """One numeric cell: a finite float, or :class:`Unreadable` (empty, short row, text, not finite).

    A column the file does not have at all is a file that is not CNC data: :class:`ReplayError`.
    """
    if column not in row:
        raise ReplayError(f"{path}: column {column!r} is missing")
    value = row[column]
    if value is None or not value.strip():
        return Unreadable(value, f"{path.name}:{line}: {column} is empty")
    try:
        number = float(value)
    except ValueError:
        return Unreadable(value, f"{path.name}:{line}: {column}={value!r} is not a number")
    if not math.isfinite(number):
        return Unreadable(value, f"{path.name}:{line}: {column}={value!r} is not finite")
    return number


def fold_rows(
    rows: list[dict[str, str]],
    ts: dt.datetime,
    *,
    path: Path,
    line: int,
    counters: ReadingCounters | None = None,
) -> Sample | None:
    """One 1 Hz sample from consecutive 100 ms rows: means of the signals, the last row's state.

    A field whose rows hold a bad cell (empty, text, ``inf``/``nan``, ``1e999``) is left out of the
    sample and counted in ``counters`` (:func:`~edge_greengrass.readings.sample_from_readings`).

    Example:
        >>> from datetime import datetime, timezone
        >>> cols = ("S1_ActualVelocity", "S1_CurrentFeedback", "X1_OutputPower", "Y1_OutputPower",
        ...         "S1_OutputPower", "M1_CURRENT_FEEDRATE", "M1_CURRENT_PROGRAM_NUMBER", "Machining_Process")
        >>> row = dict(zip(cols, ["10", "2", "0", "0", "0.5", "inf", "1", "Layer 1 Up"]))
        >>> c = ReadingCounters()
        >>> s = fold_rows([row], datetime(2026, 1, 5, tzinfo=timezone.utc), path=Path("r.csv"), line=2, counters=c)
        >>> s.spindle_speed_rpm, s.feed_rate_mm_min, s.program, c.snapshot()["bad_fields"]
        (600.0, 0.0, 'P1', {'feed_rate_mm_min': 1})
    """

    def mean(column: str) -> float | Unreadable:
        total = 0.0
        for i, r in enumerate(rows):
            value = _cell(r, column, line + i, path)
            if isinstance(value, Unreadable):
                return value
            total += value
        return abs(total / len(rows))

    def scaled(value: float | Unreadable, factor: float, digits: int) -> float | Unreadable:
        return value if isinstance(value, Unreadable) else round(value * factor, digits)

    last = rows[-1]
    powers = [mean(f"{axis}1_OutputPower") for axis in ("X", "Y", "S")]  # Z1 reports no power
    bad_power = next((p for p in powers if isinstance(p, Unreadable)), None)
    power: float | Unreadable = bad_power or round(sum(p for p in powers if not isinstance(p, Unreadable)), 4)
    number = _cell(last, "M1_CURRENT_PROGRAM_NUMBER", line + len(rows) - 1, path)
    program: str | Unreadable = number if isinstance(number, Unreadable) else f"P{int(number)}"
    return sample_from_readings(
        ts,
        _state_of(last.get("Machining_Process") or ""),
        {
            "spindle_speed_rpm": scaled(mean("S1_ActualVelocity"), 60.0, 2),
            "feed_rate_mm_min": scaled(mean("M1_CURRENT_FEEDRATE"), 60.0, 2),
            "spindle_current_a": scaled(mean("S1_CurrentFeedback"), 1.0, 3),
            "power_kw": power,
            "program": program,
        },
        counters if counters is not None else ReadingCounters(),
    )


class ReplaySource:
    """Replays a recorded CNC CSV as one thing; ``speed=10`` plays ten seconds of data per second.

    A bad cell never stops the replay: the field it feeds is left out of that second's sample and
    counted in :attr:`readings`; only a file that cannot be read, or lacks a column, raises
    :class:`~edge_greengrass.errors.ReplayError`.
    """

    def __init__(
        self,
        path: Path,
        *,
        thing: str,
        speed: float = 1.0,
        start: dt.datetime | None = None,
        rows_per_sample: int = 10,
        loop: bool = False,
        resume: ResumePoint = _no_resume,
        readings: ReadingCounters | None = None,
    ) -> None:
        self.path = path
        self.thing = thing
        self.speed = speed
        self.start = _floor_second(start or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        self.rows_per_sample = rows_per_sample
        self.loop = loop
        self.resume = resume
        #: bad readings per field (and readings dropped whole), as the gateway's status reports them
        self.readings = readings if readings is not None else ReadingCounters(source=f"replay {thing}")

    def things(self) -> list[str]:
        """The one replayed thing."""
        return [self.thing]

    def samples(self) -> Iterator[Sample]:
        """Every sample of the file (and again, if looping), one simulated second apart."""
        second = 0
        while True:
            group: list[dict[str, str]] = []
            line = 2
            for row in read_cnc_csv(self.path):
                group.append(row)
                if len(group) == self.rows_per_sample:
                    ts = self.start + dt.timedelta(seconds=second)
                    sample = fold_rows(group, ts, path=self.path, line=line, counters=self.readings)
                    if sample is not None:
                        yield sample
                    line += len(group)
                    group, second = [], second + 1
            if second == 0:
                raise ReplayError(f"{self.path} holds fewer than {self.rows_per_sample} data rows")
            if not self.loop:
                return

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Emit samples paced by ``speed``, skipping those already spooled before a restart."""
        last = self.resume(self.thing)
        pacer = _Pacer(self.speed)
        for sample in self.samples():
            if stop.is_set():
                return
            if last is not None and sample.ts <= last:
                continue
            emit([(self.thing, sample)])
            pacer.wait(1, stop)
