"""samples_to_intervals against a plain per-sample reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.oee import SamplesError, StateIntervals, samples_to_intervals


def reference(ts: list[float], codes: list[int], max_gap: float, period: float) -> list[tuple[float, float, int]]:
    """One sample at a time: what the docstring promises."""
    out: list[tuple[float, float, int]] = []
    hold = min(period, max_gap)
    for i, (t, c) in enumerate(zip(ts, codes, strict=True)):
        nxt = ts[i + 1] if i + 1 < len(ts) else None
        end = nxt if nxt is not None and nxt - t <= max_gap else t + hold
        if end <= t:
            continue
        if out and out[-1][2] == c and out[-1][1] == t:
            out[-1] = (out[-1][0], end, c)
        else:
            out.append((t, end, c))
    return out


def as_tuples(iv: StateIntervals) -> list[tuple[float, float, int]]:
    return list(zip(iv.start_s.tolist(), iv.end_s.tolist(), iv.code.tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.sampled_from([1, 1, 1, 2, 7, 30]), min_size=0, max_size=60),
    codes=st.lists(st.sampled_from([100, 300, 600]), min_size=61, max_size=61),
    max_gap=st.sampled_from([1.5, 5.0, 10.0]),
)
def test_matches_reference(steps: list[int], codes: list[int], max_gap: float) -> None:
    ts = np.cumsum([1000, *steps]).astype(np.float64)
    c = np.asarray(codes[: len(ts)])
    got = as_tuples(samples_to_intervals(ts, c, max_gap_s=max_gap))
    assert got == reference(ts.tolist(), c.tolist(), max_gap, 1.0)


def test_gap_is_not_covered() -> None:
    iv = samples_to_intervals(np.array([0, 1, 2, 100, 101]), np.array([100, 100, 100, 100, 100]), max_gap_s=5)
    assert as_tuples(iv) == [(0.0, 3.0, 100), (100.0, 102.0, 100)]
    covered = float((iv.end_s - iv.start_s).sum())
    assert covered == 5.0  # five 1 Hz samples cover five seconds, never the gap


def test_integer_timestamps_and_empty_input() -> None:
    assert len(samples_to_intervals(np.array([], dtype=np.int64), np.array([], dtype=np.int64))) == 0
    iv = samples_to_intervals(np.arange(10, dtype=np.int64), np.repeat([100, 600], 5))
    assert as_tuples(iv) == [(0.0, 5.0, 100), (5.0, 10.0, 600)]


def test_bad_samples_raise() -> None:
    with pytest.raises(SamplesError, match="not sorted"):
        samples_to_intervals(np.array([0.0, 2.0, 1.0]), np.array([100, 100, 100]))
    with pytest.raises(SamplesError, match="equal length"):
        samples_to_intervals(np.array([0.0, 1.0]), np.array([100]))
    with pytest.raises(SamplesError, match="NaN"):
        samples_to_intervals(np.array([0.0, np.nan]), np.array([100, 100]))


def test_program_changes_split_intervals() -> None:
    iv = samples_to_intervals(
        np.arange(6.0),
        np.full(6, 100),
        program_codes=np.array([0, 0, 0, 1, 1, -1]),
        programs=("P100", "P200"),
    )
    assert as_tuples(iv) == [(0.0, 3.0, 100), (3.0, 5.0, 100), (5.0, 6.0, 100)]
    assert iv.program is not None and iv.program.tolist() == [0, 1, -1]
    with pytest.raises(SamplesError, match="one entry per sample"):
        samples_to_intervals(np.arange(2.0), np.full(2, 100), program_codes=np.array([0]))
