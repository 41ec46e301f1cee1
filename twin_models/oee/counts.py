"""Part counts as arrays: increments, and cumulative counters turned into increments.

``total`` includes every reject; good parts are ``total - reject - startup_reject``.
Cumulative counters are differenced with the reset rule of :mod:`twin_models.counters`: a counter
that goes down was reset, and the reading after the reset counts from zero (its value is the
increment). The first reading of each counter is the baseline and adds nothing.

Example:
    >>> import numpy as np
    >>> c = counters_to_counts(np.array([0.0, 60.0, 120.0]), total=np.array([19000, 19271, 30]))
    >>> c.total.tolist(), c.warnings
    ([271, 30], ['counter total reset at 1970-01-01T00:02:00Z (19271 -> 30)'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin_models.counters import counter_delta, counter_reset
from twin_models.oee.errors import OeeInputError
from twin_models.oee.timeline import MAX_WARNINGS
from twin_models.timestamps import format_utc, from_micros, seconds_to_micros

__all__ = ["CountSeries", "concat_counts", "counters_to_counts"]


@dataclass(frozen=True)
class CountSeries:
    """Part count increments at epoch-second timestamps.

    ``program`` is an index into ``programs`` per record (``-1`` = take the program
    of the state timeline at that moment), or ``None`` when no record names one.

    Example:
        >>> CountSeries.from_arrays([10.0], total=[120], reject=[2]).good().tolist()
        [118]
    """

    ts_s: NDArray[np.float64]
    total: NDArray[np.int64]
    reject: NDArray[np.int64]
    startup_reject: NDArray[np.int64]
    program: NDArray[np.int64] | None = None
    programs: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ts_s)
        lengths = {len(self.total), len(self.reject), len(self.startup_reject)}
        if lengths != {n} or (self.program is not None and len(self.program) != n):
            raise OeeInputError("count arrays must all have one entry per timestamp")

    def __len__(self) -> int:
        return len(self.ts_s)

    def good(self) -> NDArray[np.int64]:
        """Good parts per record."""
        return self.total - self.reject - self.startup_reject

    @classmethod
    def from_arrays(
        cls,
        ts_s: ArrayLike,
        total: ArrayLike,
        reject: ArrayLike | None = None,
        startup_reject: ArrayLike | None = None,
        program: ArrayLike | None = None,
        programs: tuple[str, ...] = (),
    ) -> CountSeries:
        """Build from array-likes; missing reject columns are zero."""
        ts = np.asarray(ts_s, dtype=np.float64)
        zeros = np.zeros(len(ts), dtype=np.int64)
        return cls(
            ts_s=ts,
            total=np.asarray(total, dtype=np.int64),
            reject=zeros if reject is None else np.asarray(reject, dtype=np.int64),
            startup_reject=zeros.copy() if startup_reject is None else np.asarray(startup_reject, dtype=np.int64),
            program=None if program is None else np.asarray(program, dtype=np.int64),
            programs=programs,
        )

    @classmethod
    def empty(cls) -> CountSeries:
        """No counts."""
        return cls.from_arrays([], [])


def _increments(name: str, ts_us: NDArray[np.int64], values: NDArray[np.int64], notes: list[str]) -> NDArray[np.int64]:
    before, after = values[:-1], values[1:]
    reset = np.flatnonzero(counter_reset(before, after))
    for i in reset[:MAX_WARNINGS]:
        at = format_utc(from_micros(int(ts_us[i + 1])))
        notes.append(f"counter {name} reset at {at} ({values[i]} -> {values[i + 1]})")
    if reset.size > MAX_WARNINGS:
        notes.append(f"... and {reset.size - MAX_WARNINGS} more resets of counter {name}")
    return counter_delta(before, after)


def counters_to_counts(
    ts_s: ArrayLike,
    total: ArrayLike,
    reject: ArrayLike | None = None,
    startup_reject: ArrayLike | None = None,
    program: ArrayLike | None = None,
    programs: tuple[str, ...] = (),
) -> CountSeries:
    """Difference cumulative counter readings into increments (decrease = reset).

    Readings are sorted by time first. Each increment is booked at the timestamp of
    the later reading and takes that reading's program.
    """
    ts = np.asarray(ts_s, dtype=np.float64)
    if len(ts) < 2:
        return CountSeries.empty()
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    ts_us = seconds_to_micros(ts)
    notes: list[str] = []
    columns: dict[str, NDArray[np.int64]] = {}
    for name, raw in (("total", total), ("reject", reject), ("startup_reject", startup_reject)):
        if raw is None:
            columns[name] = np.zeros(len(ts) - 1, dtype=np.int64)
            continue
        values = np.asarray(raw, dtype=np.int64)[order]
        if len(values) != len(ts):
            raise OeeInputError(f"counter {name} needs one value per timestamp")
        if (values < 0).any():
            raise OeeInputError(f"counter {name} has negative readings")
        columns[name] = _increments(name, ts_us, values, notes)
    prog = None if program is None else np.asarray(program, dtype=np.int64)[order][1:]
    return CountSeries(
        ts_s=ts[1:],
        total=columns["total"],
        reject=columns["reject"],
        startup_reject=columns["startup_reject"],
        program=prog,
        programs=programs,
        warnings=notes,
    )


def concat_counts(parts: list[CountSeries]) -> CountSeries:
    """Join count series (their program tables are merged)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return CountSeries.empty()
    if len(parts) == 1:
        return parts[0]
    programs: list[str] = []
    prog_arrays = []
    for part in parts:
        if part.program is None:
            prog_arrays.append(np.full(len(part), -1, dtype=np.int64))
            continue
        table = []
        for name in part.programs:
            if name not in programs:
                programs.append(name)
            table.append(programs.index(name))
        mapping = np.asarray([*table, -1], dtype=np.int64)
        prog_arrays.append(mapping[part.program])  # -1 indexes the trailing -1
    return CountSeries(
        ts_s=np.concatenate([p.ts_s for p in parts]),
        total=np.concatenate([p.total for p in parts]),
        reject=np.concatenate([p.reject for p in parts]),
        startup_reject=np.concatenate([p.startup_reject for p in parts]),
        program=np.concatenate(prog_arrays),
        programs=tuple(programs),
        warnings=[w for p in parts for w in p.warnings],
    )
