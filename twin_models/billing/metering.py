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

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from twin_models.billing.errors import UsageError
from twin_models.billing.money import round_quantity
from twin_models.billing.usage import UsageEvent
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


@dataclass(frozen=True, slots=True)
class _S:
    ts: datetime
    state: int
    part_count: int
    reject_count: int
    power_kw: Decimal
    alarm_code: int


_US = 1_000_000
_ZERO = Decimal(0)


def _view(sample: Any) -> _S:
    if type(sample) is Sample:  # the ingest path: validated, aware, counters already ints
        at: datetime = sample.ts
        kw: float = sample.power_kw
        return _S(
            ts=at if at.tzinfo is UTC else at.astimezone(UTC),
            state=int(sample.state),
            part_count=sample.part_count,
            reject_count=sample.reject_count,
            power_kw=Decimal(repr(kw)) if kw else _ZERO,
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


def derive_usage_events(
    samples: Iterable[Any],
    machine_id: str,
    *,
    previous: Any | None = None,
    source: str = "telemetry",
    config: MeteringConfig | None = None,
) -> list[UsageEvent]:
    """Usage events of one machine from its samples (``twin_models.telemetry.Sample`` or dicts)."""
    cfg = config or MeteringConfig()
    own = sorted((_view(s) for s in samples), key=lambda s: s.ts)
    prev = _view(previous) if previous is not None else None
    if prev is not None:
        own = [p for p in own if p.ts > prev.ts]
    bucket = cfg.bucket_s
    seconds: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[str, int], int] = defaultdict(int)
    edges: list[tuple[str, datetime]] = []

    def is_crash(s: _S) -> bool:
        return s.state in cfg.crash_state_codes or s.alarm_code in cfg.crash_alarm_codes

    # time and energy: each sample's own interval, in integer microseconds (exact, and fast)
    bucket_us = bucket * _US
    period_us = round(cfg.sample_period_s * _US)
    stamps = [to_micros(a.ts) for a in own]
    micros: dict[tuple[str, int], int] = defaultdict(int)
    energy: dict[int, Decimal] = defaultdict(Decimal)
    running_of: dict[int, bool] = {}
    for i, a in enumerate(own):
        lo = stamps[i]
        hi = lo + (min(period_us, stamps[i + 1] - lo) if i + 1 < len(own) else period_us)
        running = running_of.get(a.state)
        if running is None:
            running = running_of[a.state] = _category(cfg.taxonomy, a.state) in cfg.running_categories
        while lo < hi:  # split the interval at bucket boundaries
            start_us = lo - lo % bucket_us
            cut = min(hi, start_us + bucket_us)
            start = start_us // _US
            if running:
                micros[("spindle_hours", start)] += cut - lo
            if a.power_kw:
                energy[start] += a.power_kw * (cut - lo)
            lo = cut
    for key, us in micros.items():
        seconds[key] += Decimal(us) / _US
    for start, kw_us in energy.items():
        seconds[("energy_kwh", start)] += kw_us / _US

    chain = own if prev is None else [prev, *own]
    chain_buckets = stamps if prev is None else [0, *stamps]
    for index, (a, b) in enumerate(itertools.pairwise(chain), start=1):  # counters and edges
        start_b = chain_buckets[index] // bucket_us * bucket
        if b.part_count != a.part_count:
            counts[("parts", start_b)] += counter_delta(a.part_count, b.part_count)
        if b.reject_count != a.reject_count:
            counts[("rejected_parts", start_b)] += counter_delta(a.reject_count, b.reject_count)
        if is_crash(b) and not is_crash(a):
            edges.append(("crash_events", b.ts))
        if b.alarm_code in cfg.overload_alarm_codes and a.alarm_code != b.alarm_code:
            edges.append(("overload_events", b.ts))

    def event(meter: str, when: datetime, quantity: Decimal, stamp: str) -> UsageEvent:
        ident = f"{machine_id}:{meter}:{stamp}:{source}"
        if len(ident) > 128:
            ident = f"{meter}:{stamp}:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        return UsageEvent(id=ident, machine_id=machine_id, meter=meter, ts=when, quantity=quantity)

    out: list[UsageEvent] = []
    for (meter, start), value in seconds.items():
        quantity = round_quantity(value / _HOUR)
        if quantity > 0:
            when = from_micros(start * _US)
            out.append(event(meter, when, quantity, when.strftime("%Y%m%dT%H%M")))
    for (meter, start), n in counts.items():
        if n > 0:
            when = from_micros(start * _US)
            out.append(event(meter, when, Decimal(n), when.strftime("%Y%m%dT%H%M")))
    for meter, when in edges:
        out.append(event(meter, when, Decimal(1), when.strftime("%Y%m%dT%H%M%S.%f")))
    return sorted(out, key=lambda e: (e.ts, e.id))
