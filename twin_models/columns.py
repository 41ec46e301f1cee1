"""An envelope's samples as columns: read once per envelope, then every per-sample rule runs vectorised.

History segments (:func:`twin_models.history.segment_from_envelope`) and usage metering
(:func:`twin_models.billing.derive_usage_events`) both walk every sample of an envelope. Reading the
validated samples into typed arrays once, in time order, lets both do their work with numpy instead of a
Python loop per sample: the per-sample cost of ingest is then the parse, the signature and this read.

Every value stays exact:

* time is integer microseconds since the epoch (``int64``), from each sample's distance to the envelope's
  first sample (exact: :func:`_micros`), the same integer form as :func:`twin_models.timestamps.to_micros`;
* counters and alarm codes are unsigned 64-bit (``uint64``), as the envelope allows them;
* floats are the samples' own ``float`` values (``float64``).

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> from twin_models.telemetry import Sample
    >>> t = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
    >>> cols = sample_columns([Sample(ts=t + timedelta(seconds=s), state=100, part_count=s) for s in (1, 0)])
    >>> (cols.ts_us - cols.ts_us[0]).tolist(), cols.part_count.tolist(), len(cols)
    ([0, 1000000], [0, 1], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, overload

import numpy as np
import numpy.typing as npt

from twin_models.timestamps import from_micros, to_micros

if TYPE_CHECKING:  # the envelope model reads its columns from here: no import cycle at run time
    from twin_models.telemetry import Sample

__all__ = ["SampleColumns", "Times", "sample_columns"]

_FIELDS = attrgetter(
    "ts",
    "state",
    "part_count",
    "reject_count",
    "power_kw",
    "alarm_code",
    "vibration_rms_mm_s",
    "temperature_c",
    "program",
    "ideal_cycle_time_s",
    "spindle_load_pct",
    "spindle_speed_rpm",
)
#: Distances from the first sample up to this many seconds go through a float exactly (see ``_micros``).
_FLOAT_EXACT_S = 2**31
_ONE_US = timedelta(microseconds=1)


class Times(Sequence[datetime]):
    """The samples' times as aware UTC datetimes, made from ``ts_us`` only when one is read (an envelope's
    consumers read a handful: the counter changes, the alarm onsets, the first and the last).

    Example:
        >>> Times(np.array([0, 1_000_000], dtype=np.int64))[1:][0].isoformat()
        '1970-01-01T00:00:01+00:00'
    """

    def __init__(self, ts_us: npt.NDArray[np.int64]) -> None:
        self._ts_us = ts_us

    def __len__(self) -> int:
        return len(self._ts_us)

    @overload
    def __getitem__(self, index: int) -> datetime: ...
    @overload
    def __getitem__(self, index: slice) -> Times: ...
    def __getitem__(self, index: int | slice) -> datetime | Times:
        if isinstance(index, slice):
            return Times(self._ts_us[index])
        return from_micros(int(self._ts_us[index]))

    def __iter__(self) -> Iterator[datetime]:
        return map(from_micros, self._ts_us.tolist())


@dataclass(frozen=True, eq=False)
class SampleColumns:
    """One envelope's samples in time order (a stable sort: equal times keep their order), as arrays.

    ``samples`` are the :class:`~twin_models.telemetry.Sample` objects in that same order: the ones the
    envelope was parsed into (a row envelope), or, for a columnar envelope (:mod:`twin_models.columnar`),
    made from the columns by ``row`` the first time they are read. ``ideal`` is ``NaN`` where a sample
    states no ideal cycle time."""

    ts_us: npt.NDArray[np.int64]
    state: npt.NDArray[np.int64]
    part_count: npt.NDArray[np.uint64]
    reject_count: npt.NDArray[np.uint64]
    power_kw: npt.NDArray[np.float64]
    alarm_code: npt.NDArray[np.uint64]
    vibration: npt.NDArray[np.float64]
    temperature: npt.NDArray[np.float64]
    program: npt.NDArray[np.object_]
    ideal: npt.NDArray[np.float64]
    spindle_load: npt.NDArray[np.float64]
    spindle_speed: npt.NDArray[np.float64]
    given: list[Sample] | None = field(default=None, repr=False)
    #: the sample at an index of these (sorted) columns, for columns read without sample objects
    row: Callable[[int], Sample] | None = field(default=None, repr=False)
    #: every sample at once (faster than ``row`` for each), for the same columns
    rows: Callable[[], list[Sample]] | None = field(default=None, repr=False)
    #: the columns known to hold one value in every sample (a v3 column sent as one run, or left out), whose
    #: changes readers need not look for; empty when not known
    uniform: frozenset[str] = field(default=frozenset(), repr=False)
    #: the one distance between consecutive samples' times (microseconds, not negative), when it is known to be
    #: the same throughout (a v3 envelope's ``dt_us`` sent as one run); ``None`` when not known
    step_us: int | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ts_us)

    @cached_property
    def samples(self) -> list[Sample]:
        """Every sample as an object, in time order (made once, on first use, for a columnar envelope)."""
        if self.given is not None:
            return self.given
        if self.rows is not None:
            return self.rows()
        if self.row is None:
            raise ValueError("these columns carry neither samples nor a way to make them")
        return [self.row(i) for i in range(len(self))]

    def sample_at(self, index: int) -> Sample:
        """One sample (``-1``: the latest) without making the others."""
        if self.given is not None or self.row is None or "samples" in self.__dict__:
            return self.samples[index]
        return self.row(range(len(self))[index])

    @cached_property
    def times(self) -> Times:
        """The samples' times, made one by one as they are read."""
        return Times(self.ts_us)


def _micros(times: Sequence[object]) -> npt.NDArray[np.int64]:
    """Exact epoch microseconds of aware datetimes.

    The distance to the first one as float seconds (``timedelta.total_seconds``, correctly rounded), times
    10^6 and rounded, is the exact integer while it stays under 2^31 s: the float then errs by less than
    0.25 us. Envelopes span an hour at most, so the exact integer path below is there for hostile input only.
    """
    first = times[0]
    offsets = np.array([(t - first).total_seconds() for t in times], dtype=np.float64)  # type: ignore[operator]
    base = to_micros(first)  # type: ignore[arg-type]
    if len(offsets) and float(np.max(np.abs(offsets))) < _FLOAT_EXACT_S:
        return np.rint(offsets * 1e6).astype(np.int64) + np.int64(base)
    return np.array([base + (t - first) // _ONE_US for t in times], dtype=np.int64)  # type: ignore[operator]


def sample_columns(samples: Sequence[Sample]) -> SampleColumns:
    """The columns of validated samples, sorted by time (stable); ``samples`` must not be empty.

    Example:
        >>> from datetime import datetime, timezone
        >>> from twin_models.telemetry import Sample
        >>> t = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
        >>> sample_columns([Sample(ts=t, state=100, power_kw=7.5)]).power_kw.tolist()
        [7.5]
    """
    rows = list(zip(*map(_FIELDS, samples), strict=True))
    ts_us = _micros(rows[0])
    order: npt.NDArray[np.intp] | None = None
    if len(ts_us) > 1 and bool(np.any(ts_us[1:] < ts_us[:-1])):
        order = np.argsort(ts_us, kind="stable")
    ideal = np.array([np.nan if v is None else v for v in rows[9]], dtype=np.float64)
    program = np.empty(len(samples), dtype=object)
    program[:] = rows[8]
    columns = SampleColumns(
        given=list(samples),
        ts_us=ts_us,
        state=np.array(rows[1], dtype=np.int64),
        part_count=np.array(rows[2], dtype=np.uint64),
        reject_count=np.array(rows[3], dtype=np.uint64),
        power_kw=np.array(rows[4], dtype=np.float64),
        alarm_code=np.array(rows[5], dtype=np.uint64),
        vibration=np.array(rows[6], dtype=np.float64),
        temperature=np.array(rows[7], dtype=np.float64),
        program=program,
        ideal=ideal,
        spindle_load=np.array(rows[10], dtype=np.float64),
        spindle_speed=np.array(rows[11], dtype=np.float64),
    )
    return columns if order is None else _reordered(columns, order)


def _reordered(columns: SampleColumns, order: npt.NDArray[np.intp]) -> SampleColumns:
    given = columns.given
    return SampleColumns(
        given=None if given is None else [given[i] for i in order.tolist()],
        ts_us=columns.ts_us[order],
        state=columns.state[order],
        part_count=columns.part_count[order],
        reject_count=columns.reject_count[order],
        power_kw=columns.power_kw[order],
        alarm_code=columns.alarm_code[order],
        vibration=columns.vibration[order],
        temperature=columns.temperature[order],
        program=columns.program[order],
        ideal=columns.ideal[order],
        spindle_load=columns.spindle_load[order],
        spindle_speed=columns.spindle_speed[order],
    )
