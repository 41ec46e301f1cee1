"""Run-length encoding of periodic state samples into state intervals (vectorised).

The gateway samples a machine once a second and reports a numeric state code with
each sample. :func:`samples_to_intervals` turns those samples into the half-open
intervals ``[start, end)`` the OEE engine works on, without a Python loop.

Coverage rule: a sample holds until the next sample when the next sample follows
within ``max_gap_s``; before a longer gap (and for the last sample) it covers one
``sample_period_s`` only, so the rest of the gap is covered by no interval and the
OEE engine books it as ``unknown``.

Example:
    >>> import numpy as np
    >>> ts = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0])
    >>> codes = np.array([100, 100, 600, 600, 600, 100])
    >>> iv = samples_to_intervals(ts, codes, max_gap_s=5.0)
    >>> [(float(s), float(e), int(c)) for s, e, c in zip(iv.start_s, iv.end_s, iv.code)]
    [(0.0, 2.0, 100), (2.0, 4.0, 600), (10.0, 11.0, 600), (11.0, 12.0, 100)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin_models.oee.errors import SamplesError

__all__ = ["StateIntervals", "samples_to_intervals"]

_NO_PROGRAM = -1


@dataclass(frozen=True)
class StateIntervals:
    """Machine state intervals as parallel arrays (epoch seconds, half-open ``[start, end)``).

    ``program`` holds, per interval, an index into ``programs`` (``-1`` = no program);
    it may be ``None`` when no interval names a program. ``ideal_s`` optionally holds,
    per interval, the ideal cycle time in effect then (``NaN`` = not stated: the
    machine's ideal cycle time for the program applies).

    Example:
        >>> import numpy as np
        >>> iv = StateIntervals.from_arrays([0, 60], [60, 90], [100, 600])
        >>> len(iv), float(iv.end_s[-1])
        (2, 90.0)
    """

    start_s: NDArray[np.float64]
    end_s: NDArray[np.float64]
    code: NDArray[np.int64]
    program: NDArray[np.int64] | None = None
    programs: tuple[str, ...] = field(default=())
    ideal_s: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        n = len(self.start_s)
        if len(self.end_s) != n or len(self.code) != n:
            raise SamplesError("start_s, end_s and code must have the same length")
        if self.program is not None and len(self.program) != n:
            raise SamplesError("program must have one entry per interval")
        if self.ideal_s is not None and len(self.ideal_s) != n:
            raise SamplesError("ideal_s must have one entry per interval")
        if self.ideal_s is not None and bool((self.ideal_s <= 0).any()):
            raise SamplesError("ideal_s must be positive (NaN where not stated)")

    def __len__(self) -> int:
        return len(self.start_s)

    @classmethod
    def from_arrays(
        cls,
        start_s: ArrayLike,
        end_s: ArrayLike,
        code: ArrayLike,
        program: ArrayLike | None = None,
        programs: tuple[str, ...] = (),
        ideal_s: ArrayLike | None = None,
    ) -> StateIntervals:
        """Build from array-likes, converting to the canonical dtypes."""
        return cls(
            start_s=np.asarray(start_s, dtype=np.float64),
            end_s=np.asarray(end_s, dtype=np.float64),
            code=np.asarray(code, dtype=np.int64),
            program=None if program is None else np.asarray(program, dtype=np.int64),
            programs=programs,
            ideal_s=None if ideal_s is None else np.asarray(ideal_s, dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> StateIntervals:
        """No intervals at all (the whole window will be unknown)."""
        return cls.from_arrays([], [], [])


def samples_to_intervals(
    ts_epoch_s: NDArray[np.floating] | NDArray[np.integer],
    state_codes: NDArray[np.integer],
    max_gap_s: float = 5.0,
    sample_period_s: float = 1.0,
    program_codes: NDArray[np.integer] | None = None,
    programs: tuple[str, ...] = (),
) -> StateIntervals:
    """Merge consecutive samples of equal state (and program) into intervals.

    ``program_codes`` optionally gives each sample's program as an index into
    ``programs`` (``-1`` = none); a program change then starts a new interval too.

    ``ts_epoch_s`` must be sorted ascending (equal timestamps are allowed; the
    later sample then wins). A new interval starts where the state changes or
    where the time to the previous sample exceeds ``max_gap_s``. A sample before
    such a gap, and the last sample, cover ``min(sample_period_s, max_gap_s)``.

    Example:
        >>> import numpy as np
        >>> iv = samples_to_intervals(np.arange(5.0), np.array([100, 100, 300, 300, 300]))
        >>> iv.code.tolist(), iv.end_s.tolist()
        ([100, 300], [2.0, 5.0])
        >>> iv = samples_to_intervals(np.arange(4.0), np.full(4, 100), program_codes=np.array([0, 0, 1, 1]),
        ...                           programs=("P100", "P200"))
        >>> [iv.programs[p] for p in iv.program]
        ['P100', 'P200']
    """
    ts = np.asarray(ts_epoch_s)
    codes = np.asarray(state_codes)
    if ts.ndim != 1 or codes.ndim != 1 or len(ts) != len(codes):
        raise SamplesError("ts_epoch_s and state_codes must be 1-D arrays of equal length")
    prog = None if program_codes is None else np.asarray(program_codes)
    if prog is not None and (prog.ndim != 1 or len(prog) != len(ts)):
        raise SamplesError("program_codes must have one entry per sample")
    if max_gap_s <= 0 or sample_period_s <= 0:
        raise SamplesError("max_gap_s and sample_period_s must be positive")
    n = len(ts)
    if n == 0:
        return StateIntervals.empty()
    if ts.dtype.kind == "f" and not np.isfinite(ts).all():
        raise SamplesError("ts_epoch_s contains NaN or infinite timestamps")
    dt = np.diff(ts)
    if n > 1 and dt.min() < 0:
        bad = int(np.argmax(dt < 0))
        raise SamplesError(f"ts_epoch_s is not sorted: sample {bad + 1} is earlier than sample {bad}")
    hold = min(sample_period_s, max_gap_s)
    gap_mask = dt > max_gap_s
    gap = gap_mask if gap_mask.any() else None  # common case: no gap, skip the masked work below
    # A sample starts a new interval where its state differs from the previous one or a gap precedes it.
    change = codes[1:] != codes[:-1]
    if prog is not None:
        change |= prog[1:] != prog[:-1]
    if gap is not None:
        change |= gap
    starts = np.flatnonzero(change)
    starts += 1
    first = np.empty(len(starts) + 1, dtype=np.int64)
    first[0] = 0
    first[1:] = starts
    last = np.empty_like(first)
    last[:-1] = first[1:] - 1
    last[-1] = n - 1
    start_s = ts[first].astype(np.float64)
    # An interval ends at the next sample, unless a gap (or the end of the data) follows its last sample.
    nxt = np.minimum(last + 1, n - 1)
    end_s = ts[nxt].astype(np.float64)
    tail = last == n - 1
    if gap is not None:
        tail[:-1] |= gap[last[:-1]]
    end_s[tail] = ts[last[tail]] + hold
    code = codes[first].astype(np.int64)
    program = None if prog is None else prog[first].astype(np.int64)
    if dt.size and dt.min() == 0:  # equal timestamps can leave empty intervals: the later sample wins
        keep = end_s > start_s
        start_s, end_s, code = start_s[keep], end_s[keep], code[keep]
        program = None if program is None else program[keep]
    return StateIntervals(start_s=start_s, end_s=end_s, code=code, program=program, programs=programs)
