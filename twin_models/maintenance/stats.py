"""Usage statistics of a machine over a period, from its history segments and its maintenance log.

* from the history (the signed telemetry): spindle hours (time in a running state, as billing meters it),
  parts good and rejected (reset-aware counter increments), energy, the load spectrum (seconds at each
  spindle-load band and spindle-speed band) and the machine's alarm codes;
* from the log: alarm entries by code, and from the tickets opened in the period MTBF (spindle hours per
  fault that was not dismissed), MTTA and MTTR (hours from opening to acknowledgement and to resolution).

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from twin_models.history import segment_from_envelope
    >>> from twin_models.telemetry import Sample, TelemetryEnvelope
    >>> t0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
    >>> rows = [Sample(ts=t0 + timedelta(seconds=i), state=100, part_count=i // 30, spindle_speed_rpm=8000,
    ...                spindle_load_pct=45, power_kw=12) for i in range(600)]
    >>> seg = segment_from_envelope(TelemetryEnvelope(machine_id="m", site="s", seq=0, sent_at=t0, samples=rows))
    >>> figures = usage_statistics([seg], t0, t0 + timedelta(hours=1))
    >>> figures["spindle_hours"], figures["parts"]["good"], figures["load_spectrum"]["seconds"][2][3]
    (0.166667, 19, 600.0)
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from twin_models.history import LOAD_BAND_EDGES_PCT, SPEED_BAND_EDGES_RPM, CounterPoint, Segment, count_increments
from twin_models.maintenance.entries import LogEntry
from twin_models.maintenance.tickets import Ticket
from twin_models.states import DEFAULT_TAXONOMY, StateCategory, StateTaxonomy

__all__ = ["band_labels", "log_statistics", "usage_statistics"]

_RUNNING = frozenset({StateCategory.RUNNING, StateCategory.REDUCED_SPEED})


def band_labels(edges: Sequence[float], unit: str) -> list[str]:
    """Labels of the bands ``edges`` cut a scale into.

    Example:
        >>> band_labels((20.0, 40.0), "%")
        ['< 20 %', '20-40 %', '>= 40 %']
    """
    labels = [f"< {edges[0]:g} {unit}"]
    labels += [f"{low:g}-{high:g} {unit}" for low, high in pairwise(edges)]
    labels.append(f">= {edges[-1]:g} {unit}")
    return labels


def _overlap(start: datetime, end: datetime, low: datetime, high: datetime) -> float:
    return max((min(end, high) - max(start, low)).total_seconds(), 0.0)


def usage_statistics(
    segments: Sequence[Segment], start: datetime, end: datetime, taxonomy: StateTaxonomy = DEFAULT_TAXONOMY
) -> dict[str, Any]:
    """The period's usage from the machine's segments (the ones overlapping ``[start, end)``, any order)."""
    running_s = 0.0
    energy = 0.0
    points: list[CounterPoint] = []
    previous: CounterPoint | None = None
    spectrum = [[0.0] * (len(SPEED_BAND_EDGES_RPM) + 1) for _ in range(len(LOAD_BAND_EDGES_PCT) + 1)]
    alarms: Counter[str] = Counter()
    covered = 0
    for seg in sorted(segments, key=lambda s: (s.start, s.seq)):
        for interval in seg.intervals:
            if taxonomy.category(interval.code) in _RUNNING:
                running_s += _overlap(interval.start, interval.end, start, end)
        for point in seg.counters:
            if point.ts < start:
                previous = point
            elif point.ts < end:
                points.append(point)
        if not start <= seg.start < end:
            continue  # whole-segment figures belong to the period the segment starts in
        covered += 1
        energy += seg.energy_kwh
        for key, seconds in seg.load_spectrum.items():
            load, speed = int(key[0]), int(key[1])
            spectrum[load][speed] += seconds
        for ts, code in seg.alarms:
            if start <= ts < end:
                alarms[str(code)] += 1
    parts, rejects = count_increments(points, previous) if points else (0, 0)
    return {
        "segments": covered,
        "spindle_hours": round(running_s / 3600, 6),
        "parts": {"total": parts, "good": parts - rejects, "rejected": rejects},
        "energy_kwh": round(energy, 6),
        "load_spectrum": {
            "load_bands": band_labels(LOAD_BAND_EDGES_PCT, "%"),
            "speed_bands": band_labels(SPEED_BAND_EDGES_RPM, "rpm"),
            "seconds": [[round(v, 3) for v in row] for row in spectrum],
        },
        "machine_alarms": dict(sorted(alarms.items())),
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def log_statistics(
    entries: Sequence[LogEntry], tickets: Sequence[Ticket], start: datetime, end: datetime, spindle_hours: float
) -> dict[str, Any]:
    """Alarm counts, MTBF, MTTA and MTTR over ``[start, end)`` from the log and its tickets."""
    in_period = [e for e in entries if start <= e.occurred_at < end]
    by_code: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for e in in_period:
        kinds[e.kind] += 1
        if e.alarm is not None:
            by_code[e.alarm.code] += 1
            by_source[e.alarm.source] += 1
    opened = [t for t in tickets if start <= t.opened_at < end]
    faults = [t for t in opened if t.state != "dismissed"]
    acknowledged = [
        t.hours_to_acknowledge for t in tickets if t.acknowledged_at is not None and start <= t.acknowledged_at < end
    ]
    resolved = [t.hours_to_resolve for t in tickets if t.resolved_at is not None and start <= t.resolved_at < end]
    return {
        "entries": dict(sorted(kinds.items())),
        "alarms": {
            "total": sum(by_code.values()),
            "by_code": dict(sorted(by_code.items())),
            "by_source": dict(sorted(by_source.items())),
        },
        "tickets": {
            "opened": len(opened),
            "dismissed": len(opened) - len(faults),
            "open": sum(1 for t in tickets if t.is_open),
            "resolved": len(resolved),
        },
        "mtbf_h": round(spindle_hours / len(faults), 4) if faults else None,
        "mtta_h": _mean([v for v in acknowledged if v is not None]),
        "mttr_h": _mean([v for v in resolved if v is not None]),
    }
