"""Meters from telemetry: turn a thing's 1 Hz samples into usage events.

Each sample stands for one sampling interval (``sample_period_s``, 1 s) from its timestamp, cut
short where the next sample comes sooner — the convention of the twin's history and OEE, so spindle
hours agree with OEE run time and a telemetry outage is never billed. Within that interval the
sample's state and power hold:

* ``spindle_hours`` — time in a running state (``running`` and ``reduced_speed`` categories
  of :mod:`twin_models.states`);
* ``energy_kwh`` — ``power_kw`` times time;
* ``parts`` / ``rejected_parts`` — increases of the cumulative ``part_count`` /
  ``reject_count`` between consecutive samples (:func:`twin_models.counters.counter_delta`: a
  counter that goes down was reset, and its new value is counted);
* ``crash_events`` / ``overload_events`` — one event per rising edge of a crash (state code
  604 or an alarm code in ``crash_alarm_codes``) or of an alarm in ``overload_alarm_codes``.

Quantities are summed per ``bucket_s`` (900 s, aligned to UTC, so that every local midnight,
including +05:30 and +05:45 zones, is a bucket boundary) and rounded to 6 decimals; event ids
are ``<machine>:<meter>:<bucket start>:<source>``, so deriving the same batch twice gives the
same events, which deduplication then drops. Time and energy need nothing from other batches;
pass the last sample of the previous batch as ``previous`` to carry the counters and alarm edges
across the boundary (without it the batch's first sample only sets their baseline).

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
    >>> samples = [{"ts": t0 + timedelta(seconds=i), "state": 100, "part_count": 10 + i // 20,
    ...             "power_kw": 7.2} for i in range(60)]
    >>> evs = derive_usage_events(samples, "cnc-01", source="seq-1")
    >>> sorted((e.meter, str(e.quantity)) for e in evs)
    [('energy_kwh', '0.120000'), ('parts', '2'), ('spindle_hours', '0.016667')]
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from twin_models.billing.errors import UsageError
from twin_models.billing.money import round_quantity
from twin_models.billing.usage import UsageEvent
from twin_models.columns import SampleColumns, sample_columns
from twin_models.counters import counter_delta
from twin_models.states import DEFAULT_TAXONOMY, StateCategory, StateCode, StateTaxonomy, UnknownStateError
from twin_models.telemetry import Sample
from twin_models.timestamps import TimestampError, from_micros, parse_utc, to_micros

__all__ = ["MeteringConfig", "derive_usage_events"]

_HOUR = Decimal(3600)


@dataclass(frozen=True)
class MeteringConfig:
    """How samples become meters."""

    bucket_s: int = 900
    sample_period_s: float = 1.0
    running_categories: frozenset[StateCategory] = frozenset({StateCategory.RUNNING, StateCategory.REDUCED_SPEED})
    crash_state_codes: frozenset[int] = frozenset({int(StateCode.CRASH)})
    crash_alarm_codes: frozenset[int] = frozenset()
    overload_alarm_codes: frozenset[int] = frozenset()
    taxonomy: StateTaxonomy = field(default_factory=lambda: DEFAULT_TAXONOMY)


#: the configuration of a machine whose site maps no state codes of its own
_DEFAULT_CONFIG = MeteringConfig()


@dataclass(slots=True)  # private and never changed: not frozen, which makes it cheaper to build
class _S:
    ts: datetime
    state: int
    part_count: int
    reject_count: int
    power_kw: Decimal
    alarm_code: int


_US = 1_000_000
_ZERO = Decimal(0)


def _view(sample: Any, with_power: bool = True) -> _S:
    """A sample as metering reads it (``with_power=False``: its power is not read, as of the carried one)."""
    if type(sample) is Sample:  # the ingest path: validated, aware, counters already ints
        at: datetime = sample.ts
        kw: float = sample.power_kw
        return _S(
            ts=at if at.tzinfo is UTC else at.astimezone(UTC),
            state=int(sample.state),
            part_count=sample.part_count,
            reject_count=sample.reject_count,
            power_kw=Decimal(repr(kw)) if kw and with_power else _ZERO,
            alarm_code=int(sample.alarm_code),
        )
    if isinstance(sample, Mapping):
        ts, state = sample.get("ts"), sample.get("state", 0)
        parts, rejects = sample.get("part_count", 0), sample.get("reject_count", 0)
        power, alarm = sample.get("power_kw", 0.0), sample.get("alarm_code", 0)
    else:
        ts, state = getattr(sample, "ts", None), getattr(sample, "state", 0)
        parts, rejects = getattr(sample, "part_count", 0), getattr(sample, "reject_count", 0)
        power, alarm = getattr(sample, "power_kw", 0.0), getattr(sample, "alarm_code", 0)
    if isinstance(ts, str):
        try:
            ts = parse_utc(ts)
        except TimestampError as exc:
            raise UsageError(f"sample timestamp {ts!r} must be a timezone-aware datetime: {exc}") from None
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise UsageError(f"sample timestamp {ts!r} must be a timezone-aware datetime")
    return _S(
        ts=ts if ts.tzinfo is UTC else ts.astimezone(UTC),
        state=int(state or 0),
        part_count=int(parts or 0),
        reject_count=int(rejects or 0),
        power_kw=Decimal(str(power)) if power else _ZERO,
        alarm_code=int(alarm or 0),
    )


def _category(taxonomy: StateTaxonomy, code: int) -> StateCategory:
    try:
        return taxonomy.category(code)
    except UnknownStateError:
        return StateCategory.UNKNOWN


@dataclass(slots=True)  # private and never changed: not frozen, which makes it cheaper to build
class _Meterable:
    """One machine's samples as metering reads them: time-ordered columns, their times, exact powers."""

    ts_us: npt.NDArray[np.int64]
    times: Sequence[datetime]
    state: npt.NDArray[np.int64]
    part_count: npt.NDArray[Any]  # uint64, or Python ints (object) for values beyond it
    reject_count: npt.NDArray[Any]
    alarm_code: npt.NDArray[Any]
    power_kw: npt.NDArray[np.float64]
    exact_power: Callable[[int], Decimal]  # the sample's power as the decimal it was sent as
    uniform: frozenset[str] = frozenset()  # the columns holding one value (``SampleColumns.uniform``)

    step_us: int | None = None  # the one distance between consecutive times, when known (``SampleColumns.step_us``)

    def after(self, cut_us: int) -> _Meterable:
        """The samples after ``cut_us`` (the times are in order: a suffix)."""
        index = int(np.searchsorted(self.ts_us, cut_us, side="right"))
        exact = self.exact_power
        return _Meterable(
            ts_us=self.ts_us[index:],
            times=self.times[index:],
            state=self.state[index:],
            part_count=self.part_count[index:],
            reject_count=self.reject_count[index:],
            alarm_code=self.alarm_code[index:],
            power_kw=self.power_kw[index:],
            exact_power=lambda i: exact(i + index),
            uniform=self.uniform,
            step_us=self.step_us,
        )


def _from_columns(columns: SampleColumns) -> _Meterable:
    powers = columns.power_kw
    return _Meterable(
        ts_us=columns.ts_us,
        times=columns.times,
        state=columns.state,
        part_count=columns.part_count,
        reject_count=columns.reject_count,
        alarm_code=columns.alarm_code,
        power_kw=powers,
        exact_power=lambda i: Decimal(repr(float(powers[i]))),
        uniform=columns.uniform,
        step_us=columns.step_us,
    )


def _objects(values: list[int]) -> npt.NDArray[Any]:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _from_views(views: list[_S]) -> _Meterable:
    views = sorted(views, key=lambda v: v.ts)
    powers = [v.power_kw for v in views]
    return _Meterable(
        ts_us=np.array([to_micros(v.ts) for v in views], dtype=np.int64),
        times=[v.ts for v in views],
        state=np.array([v.state for v in views], dtype=np.int64),
        part_count=_objects([v.part_count for v in views]),
        reject_count=_objects([v.reject_count for v in views]),
        alarm_code=_objects([v.alarm_code for v in views]),
        power_kw=np.array([float(p) for p in powers], dtype=np.float64),
        exact_power=lambda i: powers[i],
    )


def _meterable(samples: Iterable[Any] | SampleColumns) -> _Meterable:
    if isinstance(samples, SampleColumns):
        return _from_columns(samples)
    items = list(samples)
    if items and all(type(s) is Sample for s in items):
        return _from_columns(sample_columns(items))
    return _from_views([_view(s) for s in items])


def _in_codes(values: npt.NDArray[Any], codes: Iterable[int]) -> npt.NDArray[np.bool_]:
    """Which ``values`` are among ``codes``, compared exactly (no promotion of 64-bit codes to float). The
    code sets are a handful of values: one comparison each beats a general set-membership routine."""
    mask = np.zeros(len(values), dtype=bool)
    if not codes:
        return mask
    if values.dtype == object:
        wanted = set(codes)
        mask[:] = [v in wanted for v in values.tolist()]
        return mask
    low, high = _LIMITS[values.dtype.char]
    for code in codes:
        if low <= code <= high:
            mask |= values == values.dtype.type(code)
    return mask


#: the range of each integer column type metering reads (``np.iinfo``, looked up once)
_LIMITS = {np.dtype(t).char: (int(np.iinfo(t).min), int(np.iinfo(t).max)) for t in (np.int64, np.uint64)}


def _pieces(
    data: _Meterable, bucket_us: int, period_us: int
) -> tuple[_Groups, npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Each sample's own interval (``period_us``, cut short by the next sample) split at bucket boundaries:
    the pieces' buckets (:func:`_groups` of their starts, in us), lengths (us) and the sample each belongs to."""
    ts = data.ts_us
    step = data.step_us
    if step is not None and len(ts) > 1:  # evenly spaced: is every interval inside the first one's bucket?
        first = int(ts[0])
        start = first - first % bucket_us
        if int(ts[-1]) + period_us <= start + bucket_us:
            lengths = np.full(len(ts), min(period_us, step), dtype=np.int64)
            lengths[-1] = period_us
            return [(start, None)], lengths, np.arange(len(ts))
    lo = ts
    hi = ts + period_us
    if len(ts) > 1:
        hi[:-1] = ts[:-1] + np.minimum(period_us, ts[1:] - ts[:-1])
    starts, lengths_of, owners = [], [], []
    owner = np.arange(len(ts))
    while len(lo):
        bucket_start = lo - lo % bucket_us  # floor, also before 1970
        cut = np.minimum(hi, bucket_start + bucket_us)
        starts.append(bucket_start)
        lengths_of.append(cut - lo)
        owners.append(owner)
        more = cut < hi
        if not more.any():
            break
        lo, hi, owner = cut[more], hi[more], owner[more]
    if len(starts) == 1:  # no interval crosses a bucket boundary
        return _groups(starts[0]), lengths_of[0], owners[0]
    return _groups(np.concatenate(starts)), np.concatenate(lengths_of), np.concatenate(owners)


#: each distinct bucket start with the mask of its entries (``None``: all of them)
_Groups = list[tuple[int, npt.NDArray[np.bool_] | None]]


def _groups(starts: npt.NDArray[np.int64]) -> _Groups:
    """Each distinct bucket start with the mask of its entries (``None``: all of them, the common case)."""
    distinct = set(starts.tolist())
    if len(distinct) == 1:
        return [(distinct.pop(), None)]
    return [(start, starts == start) for start in sorted(distinct)]


def _energy_kw_us(
    data: _Meterable, groups: _Groups, lengths: npt.NDArray[np.int64], owners: npt.NDArray[np.intp]
) -> dict[int, Decimal]:
    """kW times microseconds per bucket start, exactly as the decimals the samples were sent with.

    Summed in float64 first; a bucket whose kWh lies so close to a rounding tie of the 6th decimal that the
    float's error bound could cross it is summed again in ``Decimal``. Every other bucket's rounded quantity
    is then the exact one, so only the exact sum's 6-decimal rounding is ever reported."""
    weights = (data.power_kw if len(owners) == len(data.power_kw) else data.power_kw[owners]) * lengths
    out: dict[int, Decimal] = {}
    for start, mask in groups:
        chosen = weights if mask is None else weights[mask]
        total = float(np.add.reduce(chosen))
        if total == 0:
            continue
        micro_kwh = total / 3600.0  # in 1e-6 kWh, the unit the quantity is rounded to
        # the float's error: each term's (decimal to float, product) and the sum's, over the terms' magnitude
        negative = total < 0 or np.minimum.reduce(chosen) < 0
        magnitude = float(np.add.reduce(np.abs(chosen))) / 3600.0 if negative else micro_kwh
        bound = (len(chosen) + 8) * 4.5e-16 * magnitude
        if math.isfinite(micro_kwh) and abs(micro_kwh - math.floor(micro_kwh) - 0.5) > bound:
            out[start] = Decimal(round(micro_kwh)) * 3600  # rounds to the same quantity as the exact sum
            continue
        picked = range(len(weights)) if mask is None else np.flatnonzero(mask).tolist()
        if "power_kw" in data.uniform:  # one power throughout: the exact sum is one product
            out[start] = data.exact_power(0) * sum(lengths[list(picked)].tolist())
            continue
        out[start] = sum((data.exact_power(int(owners[i])) * int(lengths[i]) for i in picked), start=Decimal(0))
    return out


def _per_bucket_ints(groups: _Groups, values: npt.NDArray[Any], keep: npt.NDArray[np.bool_]) -> dict[int, int]:
    """Exact integer sums of ``values`` per bucket start (``groups``: :func:`_groups`), over the entries
    ``keep`` marks."""
    totals: dict[int, int] = {}
    for start, mask in groups:
        chosen = values[keep] if mask is None else values[keep & mask]
        if len(chosen):
            totals[start] = sum(chosen.tolist())  # Python ints: exact beyond 64 bits
    return totals


def derive_usage_events(
    samples: Iterable[Any] | SampleColumns,
    machine_id: str,
    *,
    previous: Any | None = None,
    source: str = "telemetry",
    config: MeteringConfig | None = None,
) -> list[UsageEvent]:
    """Usage events of one machine from its samples: ``twin_models.telemetry.Sample`` objects, dicts, or an
    envelope's :class:`~twin_models.columns.SampleColumns` (the ingest path: no per-sample work in Python).

    Everything is computed on time-ordered columns: spindle microseconds and counter increments as exact
    integers, energy as described in :func:`_energy_kw_us`."""
    cfg = config or _DEFAULT_CONFIG
    data = _meterable(samples)
    prev = _view(previous, with_power=False) if previous is not None else None  # only its counters, state, alarm
    if prev is not None and len(data.ts_us) and data.ts_us[0] <= to_micros(prev.ts):  # time-ordered
        data = data.after(to_micros(prev.ts))
    bucket_us = cfg.bucket_s * _US
    period_us = round(cfg.sample_period_s * _US)
    seconds: dict[tuple[str, int], Decimal] = {}
    counts: dict[tuple[str, int], int] = {}
    edges: list[tuple[str, datetime]] = []

    if len(data.ts_us):
        groups, lengths, owners = _pieces(data, bucket_us, period_us)
        uniform = data.uniform
        codes = {int(data.state[0])} if "state" in uniform else set(data.state.tolist())
        running_codes = [c for c in codes if _category(cfg.taxonomy, c) in cfg.running_categories]
        if running_codes:
            running = lengths > 0
            if len(running_codes) < len(codes):
                running &= _in_codes(
                    data.state if len(owners) == len(data.state) else data.state[owners], running_codes
                )
            for start_us, us in _per_bucket_ints(groups, lengths, running).items():
                seconds[("spindle_hours", start_us // _US)] = Decimal(us) / _US
        for start_us, kw_us in _energy_kw_us(data, groups, lengths, owners).items():
            seconds[("energy_kwh", start_us // _US)] = kw_us / _US

        # counters and edges: each pair of consecutive samples, the carried one first when there is one
        times = data.times if prev is not None else data.times[1:]
        pair_groups: _Groups | None = None
        for meter, name, column, first in (
            ("parts", "part_count", data.part_count, prev.part_count if prev else 0),
            ("rejected_parts", "reject_count", data.reject_count, prev.reject_count if prev else 0),
        ):
            if name in uniform and (prev is None or first == int(column[0])):  # one reading throughout
                continue
            chain = _chained(column, first if prev else None)
            before, after = chain[:-1], chain[1:]
            moved = after != before
            if not moved.any():  # no counter change: nothing to count
                continue
            if pair_groups is None and len(groups) == 1:  # every sample's time is in that one bucket
                pair_groups = [(groups[0][0] // _US, None)]
            elif pair_groups is None:
                pair_buckets = (data.ts_us - data.ts_us % bucket_us) // _US
                pair_groups = _groups(pair_buckets if prev is not None else pair_buckets[1:])
            for start, n in _per_bucket_ints(pair_groups, counter_delta(before, after), moved).items():
                counts[(meter, start)] = n
        alarm = _chained(data.alarm_code, prev.alarm_code if prev else None)
        crash = np.zeros(len(alarm), dtype=bool)
        if not codes.isdisjoint(cfg.crash_state_codes) or (prev is not None and prev.state in cfg.crash_state_codes):
            crash |= _in_codes(_chained(data.state, prev.state if prev else None), cfg.crash_state_codes)
        if cfg.crash_alarm_codes:
            crash |= _in_codes(alarm, cfg.crash_alarm_codes)
        if crash.any():
            edges += [("crash_events", times[i]) for i in (crash[1:] & ~crash[:-1]).nonzero()[0].tolist()]
        if cfg.overload_alarm_codes:
            overload = _in_codes(alarm, cfg.overload_alarm_codes)
            onsets = (overload[1:] & (alarm[1:] != alarm[:-1])).nonzero()[0].tolist()
            edges += [("overload_events", times[i]) for i in onsets]

    def event(meter: str, when: datetime, stamp: str, quantity: Decimal) -> UsageEvent:
        ident = f"{machine_id}:{meter}:{stamp}:{source}"
        if len(ident) > 128:
            ident = f"{meter}:{stamp}:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        return UsageEvent(id=ident, machine_id=machine_id, meter=meter, ts=when, quantity=quantity)

    out: list[UsageEvent] = []
    for (meter, start), value in seconds.items():
        quantity = round_quantity(value / _HOUR)
        if quantity > 0:
            out.append(event(meter, *_bucket(start), quantity))
    for (meter, start), n in counts.items():
        if n > 0:
            out.append(event(meter, *_bucket(start), Decimal(n)))
    for meter, when in edges:
        out.append(event(meter, when, when.strftime("%Y%m%dT%H%M%S.%f"), Decimal(1)))
    return sorted(out, key=lambda e: (e.ts, e.id))


@functools.lru_cache(maxsize=4096)
def _bucket(start_s: int) -> tuple[datetime, str]:
    """A bucket's start time and its ``YYYYmmddTHHMM`` stamp, from its epoch seconds (buckets recur: every
    machine's envelopes of a quarter hour share one)."""
    when = from_micros(start_s * _US)
    return when, when.strftime("%Y%m%dT%H%M")


def _chained(column: npt.NDArray[Any], first: int | None) -> npt.NDArray[Any]:
    """``column`` after the carried reading ``first`` (``None``: none); Python ints where it does not fit."""
    if first is None:
        return column
    if column.dtype.char in _LIMITS and _LIMITS[column.dtype.char][0] <= first <= _LIMITS[column.dtype.char][1]:
        chained = np.empty(len(column) + 1, dtype=column.dtype)
        chained[0] = first
        chained[1:] = column
        return chained
    if column.dtype == object or not np.can_cast(np.min_scalar_type(first), column.dtype, casting="safe"):
        return _objects([first, *column.tolist()])
    return np.concatenate((np.array([first], dtype=column.dtype), column))
