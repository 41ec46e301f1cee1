"""The health-score trend of a component and its projected time to the critical threshold (remaining useful
life), with an interval.

The trend is a least-squares line through the recent scores (the last ``window_h`` hours, 48 by default) —
on the log of the score by default, since wear grows faster as it goes (an exponential trend is a line in
the log) — and the projection is where that line reaches the critical level. The interval is where the
line's 95 % prediction band (the band a single further score falls in) reaches it: the upper band gives the
earliest time, the lower band the latest (``None`` when the lower band never gets there: the data cannot
rule out that the score stops rising).

How it was validated (``benchmarks/maintenance.py``, ``docs/benchmarks.md``): on the IMS bearing run-to-
failure test 2 (NASA), projecting the failure time every two hours of the degradation phase, against a
constant-rate baseline (a straight line from the healthy level at the start of the run through the current
level).

Example:
    >>> hours = [float(h) for h in range(0, 30, 2)]
    >>> scores = [0.5 * 1.1 ** h for h in hours]  # a score that grows 10 % an hour
    >>> p = project(hours, scores, critical=10.0, now_h=28.0)
    >>> round(p.hours_to_critical, 1), p.earliest_h is not None and p.earliest_h <= p.hours_to_critical
    (3.4, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Projection", "RulCheck", "TrendModel", "check_run_to_failure", "constant_rate", "project"]

TrendModel = Literal["log-linear", "linear"]
_Z95 = 1.96
_FLOOR = 1e-6


@dataclass(frozen=True)
class Projection:
    """A fitted trend and where it reaches ``critical``; hours are counted from ``now``."""

    model: TrendModel
    points: int
    window_h: float
    slope_per_h: float
    level: float
    critical: float
    r2: float
    hours_to_critical: float | None
    earliest_h: float | None
    latest_h: float | None
    status: Literal["rising", "steady", "critical", "insufficient data"]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, rounded."""

        def r(value: float | None, digits: int = 4) -> float | None:
            return None if value is None or not math.isfinite(value) else round(value, digits)

        return {
            "model": self.model,
            "points": self.points,
            "window_h": self.window_h,
            "slope_per_h": r(self.slope_per_h, 6),
            "level": r(self.level),
            "critical": r(self.critical),
            "r2": r(self.r2),
            "hours_to_critical": r(self.hours_to_critical, 2),
            "interval_h": [r(self.earliest_h, 2), r(self.latest_h, 2)],
            "status": self.status,
        }


def _transform(values: Sequence[float], model: TrendModel) -> list[float]:
    return [math.log(max(v, _FLOOR)) for v in values] if model == "log-linear" else [float(v) for v in values]


def _crossing(func: Callable[[float], float], horizon: float) -> float | None:
    """The x in [0, horizon] where ``func`` (rising at the end) first reaches 0 (doubling, then bisection)."""
    if func(0.0) >= 0:
        return 0.0
    high = 1.0
    while func(high) < 0:
        high *= 2
        if high > horizon:
            return None
    low = 0.0
    for _ in range(60):
        mid = (low + high) / 2
        if func(mid) >= 0:
            high = mid
        else:
            low = mid
    return high


def project(
    times_h: Sequence[float],
    values: Sequence[float],
    critical: float,
    now_h: float | None = None,
    window_h: float = 48.0,
    model: TrendModel = "log-linear",
    min_points: int = 6,
    horizon_h: float = 24 * 365.0,
) -> Projection:
    """Fit the scores at ``times_h`` (hours, any origin) of the last ``window_h`` before ``now_h`` (default: the
    last time) and project the time to ``critical``."""
    if len(times_h) != len(values):
        raise ValueError("times and values differ in length")
    now = max(times_h) if now_h is None else now_h
    chosen = [(t - now, v) for t, v in zip(times_h, values, strict=True) if now - window_h <= t <= now]
    if len(chosen) < min_points:
        return Projection(
            model, len(chosen), window_h, 0.0, float("nan"), critical, 0.0, None, None, None, "insufficient data"
        )
    xs = [x for x, _ in chosen]
    ys = _transform([v for _, v in chosen], model)
    target = _transform([critical], model)[0]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return Projection(model, n, window_h, 0.0, float("nan"), critical, 0.0, None, None, None, "insufficient data")
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx  # the fitted value now (x = 0)
    resid = [y - (a + b * x) for x, y in zip(xs, ys, strict=True)]
    sse = sum(r * r for r in resid)
    sst = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sse / sst if sst > 0 else 0.0
    s = math.sqrt(sse / (n - 2)) if n > 2 else 0.0
    level = math.exp(a) if model == "log-linear" else a

    def band(x: float, sign: float) -> float:
        se = s * math.sqrt(1 + 1 / n + (x - mx) ** 2 / sxx)
        return a + b * x + sign * _Z95 * se - target

    if a >= target:
        return Projection(model, n, window_h, b, level, critical, r2, 0.0, 0.0, 0.0, "critical")
    se_b = s / math.sqrt(sxx)
    if b <= 0:
        earliest = _crossing(lambda x: band(x, 1.0), horizon_h) if b > -_Z95 * se_b else None
        return Projection(model, n, window_h, b, level, critical, r2, None, earliest, None, "steady")
    central = (target - a) / b
    earliest = _crossing(lambda x: band(x, 1.0), horizon_h)
    latest = _crossing(lambda x: band(x, -1.0), horizon_h) if b > _Z95 * se_b else None
    return Projection(
        model=model,
        points=n,
        window_h=window_h,
        slope_per_h=b,
        level=level,
        critical=critical,
        r2=r2,
        hours_to_critical=central if central <= horizon_h else None,
        earliest_h=earliest,
        latest_h=latest,
        status="rising",
    )


def constant_rate(start_level: float, start_h: float, level: float, now_h: float, critical: float) -> float | None:
    """The baseline: hours from ``now_h`` to ``critical`` if the score kept rising at its average rate since
    ``start_h`` (None when it has not risen).

    Example:
        >>> constant_rate(1.0, 0.0, 3.0, 10.0, 5.0)
        10.0
    """
    if now_h <= start_h or level <= start_level:
        return None
    if level >= critical:
        return 0.0
    rate = (level - start_level) / (now_h - start_h)
    return (critical - level) / rate


@dataclass(frozen=True)
class RulCheck:
    """One point of a run-to-failure check: at ``at_h`` (``remaining_h`` before the failure), the projected
    failure time of the trend and of the two constant-rate baselines, as errors in hours (projected minus
    actual; None where a method projects nothing), and whether the trend's interval held the failure."""

    at_h: float
    remaining_h: float
    trend_error_h: float | None
    baseline_start_error_h: float | None
    baseline_onset_error_h: float | None
    covered: bool


def check_run_to_failure(
    times_h: Sequence[float],
    scores: Sequence[float],
    failure_h: float,
    failure_level: float,
    onset_h: float,
    healthy_level: float,
    every_h: float = 2.0,
    window_h: float = 48.0,
    smooth: int = 6,
) -> list[RulCheck]:
    """Project the failure time every ``every_h`` hours from the alarm onset to the failure, with the trend
    (:func:`project`) and with a constant rate since the start of the run (from ``healthy_level``) and since
    the onset; the current level of the baselines is the median of the last ``smooth`` scores."""
    rows: list[RulCheck] = []
    onset_level: float | None = None
    at = onset_h + every_h
    while at < failure_h:
        known = [(t, v) for t, v in zip(times_h, scores, strict=True) if t <= at]
        ts, vs = [t for t, _ in known], [v for _, v in known]
        level = sorted(vs[-smooth:])[len(vs[-smooth:]) // 2]
        if onset_level is None:
            before = [v for t, v in known if t <= onset_h][-smooth:]
            onset_level = sorted(before)[len(before) // 2]
        fit = project(ts, vs, failure_level, now_h=at, window_h=window_h)
        remaining = failure_h - at

        def error(hours: float | None, now: float = at) -> float | None:
            return None if hours is None else now + hours - failure_h

        earliest, latest = fit.earliest_h, fit.latest_h
        rows.append(
            RulCheck(
                at_h=at,
                remaining_h=remaining,
                trend_error_h=error(fit.hours_to_critical),
                baseline_start_error_h=error(constant_rate(healthy_level, times_h[0], level, at, failure_level)),
                baseline_onset_error_h=error(constant_rate(onset_level, onset_h, level, at, failure_level)),
                covered=earliest is not None
                and at + earliest <= failure_h
                and (latest is None or at + latest >= failure_h),
            )
        )
        at += every_h
    return rows
