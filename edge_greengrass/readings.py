"""Samples from raw machine readings: a bad value costs that field, never the sample or the gateway.

Every source that builds a :class:`~twin_models.telemetry.Sample` from raw values (the CSV replay, the
OPC UA adapter) goes through :func:`sample_from_readings`. A value the model cannot take — not finite
(``inf``, ``nan``, ``-1e999``), out of the field's range, not a number, an empty cell, text in a numeric
column — is dropped from the sample (the field falls back to the model's default), counted per field in
:class:`ReadingCounters` and logged; the machine's state and timestamp still publish. Only when a
required field (``ts``, ``state``) is unusable is the whole reading dropped, counted per reason.

Example:
    >>> from datetime import datetime, timezone
    >>> counters = ReadingCounters()
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> s = sample_from_readings(t, 100, {"spindle_speed_rpm": float("inf"), "power_kw": 1.5}, counters)
    >>> s.spindle_speed_rpm, s.power_kw, counters.snapshot()["bad_fields"]
    (0.0, 1.5, {'spindle_speed_rpm': 1})
    >>> sample_from_readings(t, -1, {}, counters) is None, counters.snapshot()["dropped_samples"]
    (True, {'state:greater_than_equal': 1})
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from twin_models.telemetry import Sample

__all__ = ["REQUIRED_FIELDS", "ReadingCounters", "Unreadable", "sample_from_readings", "utc_now_ms"]

_log = logging.getLogger(__name__)

#: Without these a reading is no sample at all.
REQUIRED_FIELDS = ("ts", "state")


@dataclass(frozen=True)
class Unreadable:
    """A raw value a source could not even turn into a candidate (an empty cell, text where a number
    belongs); ``why`` names where it came from.

    Example:
        >>> Unreadable("oops", "run.csv:12: S1_ActualVelocity='oops' is not a number").raw
        'oops'
    """

    raw: object
    why: str


def _worth_logging(count: int) -> bool:
    """The 1st, 10th, 100th... occurrence: a sensor stuck on ``inf`` must not flood the log."""
    while count % 10 == 0:
        count //= 10
    return count == 1


class ReadingCounters:
    """Bad readings per sample field and dropped readings per reason; thread-safe (a source thread counts,
    the gateway's status reads).

    Example:
        >>> c = ReadingCounters()
        >>> c.bad_field("power_kw", "not finite"), c.bad_field("power_kw", "not finite")
        (1, 2)
        >>> c.snapshot()
        {'bad_fields': {'power_kw': 2}, 'dropped_samples': {}}
    """

    def __init__(self, *, source: str = "source") -> None:
        self.source = source
        self.fields: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def bad_field(self, name: str, why: str) -> int:
        """Count (and, rate-limited, log) one dropped value of field ``name``; returns the field's total."""
        with self._lock:
            self.fields[name] += 1
            total = self.fields[name]
        if _worth_logging(total):
            _log.warning("%s: dropped a bad %s reading (%s); %d so far", self.source, name, why, total)
        return total

    def dropped_sample(self, reason: str, why: str) -> int:
        """Count (and, rate-limited, log) one reading dropped whole; returns the reason's total."""
        with self._lock:
            self.dropped[reason] += 1
            total = self.dropped[reason]
        if _worth_logging(total):
            _log.warning("%s: dropped a whole reading (%s: %s); %d so far", self.source, reason, why, total)
        return total

    def snapshot(self) -> dict[str, dict[str, int]]:
        """JSON-ready copies of both counters (as the gateway's status reports them)."""
        with self._lock:
            return {
                "bad_fields": dict(sorted(self.fields.items())),
                "dropped_samples": dict(sorted(self.dropped.items())),
            }


def _describe(error: Mapping[str, object]) -> str:
    return f"{error.get('msg')} (got {error.get('input')!r})"


def sample_from_readings(
    ts: object,
    state: object,
    values: Mapping[str, object],
    counters: ReadingCounters,
) -> Sample | None:
    """The sample of one reading, without every value the model cannot take (each counted per field).

    ``values`` maps sample field names to raw values; ``None`` means "not read" (the default applies,
    nothing is counted), an :class:`Unreadable` or any value the model refuses is dropped and counted.
    Returns ``None`` (counted under ``dropped_samples`` as ``<field>:<error type>``) when ``ts`` or
    ``state`` is unusable.

    Example:
        >>> from datetime import datetime, timezone
        >>> c = ReadingCounters()
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> s = sample_from_readings(t, 100, {"part_count": 2**64, "program": "P1", "tool_id": None}, c)
        >>> s.part_count, s.program, c.snapshot()["bad_fields"]
        (0, 'P1', {'part_count': 1})
        >>> sample_from_readings(t, Unreadable("", "empty cell"), {}, c) is None
        True
    """
    fields: dict[str, object] = {"ts": ts, "state": state}
    for name, raw in (("ts", ts), ("state", state)):
        if isinstance(raw, Unreadable):
            counters.dropped_sample(f"{name}:unreadable", raw.why)
            return None
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Unreadable):
            counters.bad_field(name, value.why)
        elif name in REQUIRED_FIELDS:
            raise ValueError(f"{name} is passed on its own, not among the values")
        else:
            fields[name] = value
    while True:  # each round drops at least one field, so this ends
        try:
            return Sample.model_validate(fields)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        bad: dict[str, str] = {}
        for error in errors:
            loc = error["loc"]
            name = str(loc[0]) if loc else ""
            if name in REQUIRED_FIELDS or name not in fields:
                counters.dropped_sample(f"{name or 'sample'}:{error['type']}", _describe(error))
                return None
            bad.setdefault(name, _describe(error))
        for name, why in bad.items():
            del fields[name]
            counters.bad_field(name, why)


def utc_now_ms() -> dt.datetime:
    """Now, in UTC, truncated to milliseconds (the resolution a source stamps live readings with).

    Example:
        >>> utc_now_ms().microsecond % 1000
        0
    """
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
