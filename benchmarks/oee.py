"""OEE benchmark: 1 Hz samples -> state intervals, and OEE by shift for a machine fleet over a year.

Run from the repository root after set-up:

    .venv/bin/python benchmarks/oee.py            # full size (one machine-year of samples, 8 machine-years)
    .venv/bin/python benchmarks/oee.py --days 30  # quicker, for iterating

Three measurements, each against a baseline measured in the same run:

1. ``samples_to_intervals`` on one machine-year of 1 Hz samples (31.5 M) versus a plain per-sample
   Python loop. The loop is timed on a slice and extrapolated linearly (the figure says so).
2. ``compute_oee`` by shift (three shifts with breaks, Europe/Berlin, DST included) for 8 machines over
   a year of state intervals and count records, versus a naive per-second classification loop timed on
   one machine-week and extrapolated to 8 machine-years.
3. Peak resident memory of the process (``resource.getrusage``), which covers both steps.

Prints its figures and ends with one JSON line holding every figure and ratio.
"""

from __future__ import annotations

import argparse
import bisect
import json
import platform
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin_models.oee import (
    CountSeries,
    MachineData,
    ShiftSpec,
    StateIntervals,
    compute_oee,
    samples_to_intervals,
)
from twin_models.oee.calendar import scheduled_intervals, shift_instances

CODES = np.asarray([100, 100, 100, 100, 200, 400, 300, 301, 500, 501, 601, 603, 700, 800], dtype=np.int16)
SHIFTS = [
    ShiftSpec(name="early", start="06:00", end="14:00", breaks=[("09:00", "09:15"), ("11:30", "12:00")]),
    ShiftSpec(name="late", start="14:00", end="22:00", breaks=[("18:00", "18:30")]),
    ShiftSpec(name="night", start="22:00", end="06:00", breaks=[("02:00", "02:30")]),
]
START = datetime(2026, 1, 1, tzinfo=UTC)
MAX_GAP_S = 5.0


def make_samples(n: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int16]]:
    """1 Hz samples whose state holds for ~5 minutes on average, with an outage gap every ~6 hours."""
    runs = rng.exponential(300.0, size=n // 150 + 10).astype(np.int64) + 1
    runs = runs[: np.searchsorted(np.cumsum(runs), n) + 1]
    codes = np.repeat(rng.choice(CODES, size=len(runs)), runs)[:n]
    ts = np.arange(n, dtype=np.float64) + START.timestamp()
    outages = rng.choice(n, size=max(1, n // 21_600), replace=False)
    shift = np.zeros(n, dtype=np.float64)
    shift[outages] = rng.integers(10, 600, size=len(outages))
    ts += np.cumsum(shift)
    return ts, codes


def loop_samples_to_intervals(ts: list[float], codes: list[int]) -> list[tuple[float, float, int]]:
    """The baseline: one sample at a time in plain Python."""
    out: list[tuple[float, float, int]] = []
    hold = min(1.0, MAX_GAP_S)
    start, code, prev = ts[0], codes[0], ts[0]
    for t, c in zip(ts[1:], codes[1:], strict=True):
        gap = t - prev > MAX_GAP_S
        if gap or c != code:
            out.append((start, prev + hold if gap else t, code))
            start, code = t, c
        prev = t
    out.append((start, prev + hold, code))
    return out


def bench_samples(n: int, slice_n: int, rng: np.random.Generator) -> dict[str, float]:
    ts, codes = make_samples(n, rng)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        iv = samples_to_intervals(ts, codes, max_gap_s=MAX_GAP_S)
        runs.append(time.perf_counter() - t)
    vec_s, first_s = min(runs), runs[0]
    part_ts, part_codes = ts[:slice_n].tolist(), codes[:slice_n].tolist()
    t = time.perf_counter()
    ref = loop_samples_to_intervals(part_ts, part_codes)
    loop_slice_s = time.perf_counter() - t
    check = samples_to_intervals(ts[:slice_n], codes[:slice_n], max_gap_s=MAX_GAP_S)
    got = list(zip(check.start_s.tolist(), check.end_s.tolist(), check.code.tolist(), strict=True))
    if got != ref:
        raise SystemExit("vectorised and loop results differ on the slice")
    loop_s = loop_slice_s * n / slice_n
    print(f"[1] samples -> intervals: {n:,} samples -> {len(iv):,} intervals")
    print(
        f"    vectorised (best of 3): {vec_s:.3f} s = {n / vec_s / 1e6:.1f} M samples/s (target >= 20); "
        f"first run {first_s:.3f} s = {n / first_s / 1e6:.1f} M samples/s"
    )
    print(
        f"    per-sample Python loop: {loop_slice_s:.3f} s on {slice_n:,} samples, extrapolated to "
        f"{loop_s:.1f} s = {n / loop_s / 1e6:.2f} M samples/s; speed-up x{loop_s / vec_s:.0f}"
    )
    return {
        "samples": n,
        "intervals": len(iv),
        "samples_vectorised_s": vec_s,
        "samples_vectorised_first_run_s": first_s,
        "samples_per_s_vectorised_first_run": n / first_s,
        "samples_per_s_vectorised": n / vec_s,
        "samples_loop_slice": slice_n,
        "samples_loop_slice_s": loop_slice_s,
        "samples_loop_extrapolated_s": loop_s,
        "samples_speedup": loop_s / vec_s,
    }


def make_machine(k: int, days: int, rng: np.random.Generator) -> MachineData:
    span = days * 86_400
    durations = rng.exponential(300.0, size=int(span / 300 * 1.2)).round() + 1
    ends = START.timestamp() + np.cumsum(durations)
    starts = ends - durations
    keep = starts < START.timestamp() + span
    starts, ends, durations = starts[keep], ends[keep], durations[keep]
    codes = rng.choice(CODES, size=len(starts)).astype(np.int64)
    producing = codes < 300
    total = (durations[producing] / 1.15).astype(np.int64)
    counts = CountSeries.from_arrays(ends[producing] - 0.5, total, total // 60, np.minimum(total, 1) * (total % 7 == 0))
    return MachineData(f"cnc-{k:02d}", 1.0, StateIntervals.from_arrays(starts, ends, codes), counts, f"line-{k % 2}")


def naive_per_second(machine: MachineData, w0: datetime, w1: datetime) -> dict[tuple[int, str], int]:
    """The baseline: classify one second at a time (state, calendar, period by pointer walks)."""
    a, b = int(w0.timestamp()), int(w1.timestamp())
    inst = shift_instances(SHIFTS, __import__("zoneinfo").ZoneInfo("Europe/Berlin"), a * 10**6, b * 10**6)
    s_start, s_end = (x.tolist() for x in scheduled_intervals(inst, a * 10**6, b * 10**6))
    p_start = [i.start_us // 10**6 for i in inst]
    st_start, st_end = machine.states.start_s.tolist(), machine.states.end_s.tolist()
    codes = machine.states.code.tolist()
    out: dict[tuple[int, str], int] = {}
    for sec in range(a, b):
        i = bisect.bisect_right(st_start, sec) - 1
        code = codes[i] if i >= 0 and st_end[i] > sec else 0
        j = bisect.bisect_right(s_start, sec * 10**6) - 1
        scheduled = j >= 0 and s_end[j] > sec * 10**6
        hundred = code // 100
        if hundred in (1, 2, 4):
            bucket = "run"
        elif hundred in (7, 8) or not scheduled:
            bucket = "planned_stop"
        else:
            bucket = {3: "idle", 5: "setup", 6: "breakdown"}.get(hundred, "unknown")
        key = (bisect.bisect_right(p_start, sec) - 1, bucket)
        out[key] = out.get(key, 0) + 1
    return out


def bench_oee(days: int, machines_n: int, rng: np.random.Generator) -> dict[str, float]:
    machines = [make_machine(k, days, rng) for k in range(machines_n)]
    w1 = START + timedelta(days=days)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        report = compute_oee(machines, START, w1, shifts=SHIFTS, timezone="Europe/Berlin", by="shift")
        runs.append(time.perf_counter() - t)
    best = min(runs)
    week = START + timedelta(days=7)
    t = time.perf_counter()
    naive = naive_per_second(machines[0], START, week)
    naive_week_s = time.perf_counter() - t
    check = compute_oee([machines[0]], START, week, shifts=SHIFTS, timezone="Europe/Berlin")
    run_naive = sum(v for (_, bucket), v in naive.items() if bucket == "run")
    if abs(run_naive - check.total.run_time_s) > 1.0:
        raise SystemExit("per-second baseline and engine disagree on run time")
    naive_s = naive_week_s * machines_n * days / 7
    intervals = sum(len(m.states) for m in machines)
    counts = sum(len(m.counts) for m in machines)
    periods = len(report.periods or [])
    print(
        f"[2] OEE by shift: {machines_n} machines x {days} days, {intervals:,} state intervals, "
        f"{counts:,} count records, {periods:,} periods"
    )
    print(f"    compute_oee (best of 3): {best:.3f} s (target < 1 s); runs {[round(r, 3) for r in runs]}")
    print(
        f"    naive per-second loop: {naive_week_s:.2f} s for 1 machine-week, extrapolated to "
        f"{naive_s:.0f} s; speed-up x{naive_s / best:.0f}"
    )
    return {
        "oee_machines": machines_n,
        "oee_days": days,
        "oee_state_intervals": intervals,
        "oee_count_records": counts,
        "oee_periods": periods,
        "oee_by_shift_s": best,
        "oee_naive_week_s": naive_week_s,
        "oee_naive_extrapolated_s": naive_s,
        "oee_speedup": naive_s / best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="length of the simulated history (default 365)")
    parser.add_argument("--machines", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    figures: dict[str, float | str] = {"benchmark": "oee"}
    figures.update(bench_samples(args.days * 86_400, min(1_000_000, args.days * 86_400), rng))
    figures.update(bench_oee(args.days, args.machines, rng))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(f"[3] peak resident memory: {peak_gb:.2f} GB (target < 3 GB)")
    figures["peak_rss_gb"] = peak_gb
    figures["targets_met"] = str(
        figures["samples_per_s_vectorised"] >= 20e6 and figures["oee_by_shift_s"] < 1.0 and peak_gb < 3.0  # type: ignore[operator]
    ).lower()
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
