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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from twin_models.timestamps import to_micros

if TYPE_CHECKING:  # the envelope model reads its columns from here: no import cycle at run time
    from twin_models.telemetry import Sample

__all__ = ["SampleColumns", "sample_columns"]

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
)
#: Distances from the first sample up to this many seconds go through a float exactly (see ``_micros``).
_FLOAT_EXACT_S = 2**31
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, eq=False)
class SampleColumns:
    """One envelope's samples in time order (a stable sort: equal times keep their order), as arrays.

    ``samples`` are the :class:`~twin_models.telemetry.Sample` objects in that same order; ``ideal`` is
    ``NaN`` where a sample states no ideal cycle time."""

    samples: list[Sample]
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

    def __len__(self) -> int:
        return len(self.samples)


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
        samples=list(samples),
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
    )
    return columns if order is None else _reordered(columns, order)


def _reordered(columns: SampleColumns, order: npt.NDArray[np.intp]) -> SampleColumns:
    return SampleColumns(
        samples=[columns.samples[i] for i in order.tolist()],
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
    )
