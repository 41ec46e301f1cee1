"""Synthetic 1 Hz spindle telemetry, healthy or with a developing fault, for demos, tests and benchmarks.

Faults ramp in linearly from ``onset`` (fraction of the run): ``bearing`` raises vibration, ``cooling``
raises temperature, ``tool`` raises wear and spindle load at the same speed.

Example:
    >>> rows = synthetic_samples(120, seed=1, fault="bearing", onset=0.5, severity=3.0)
    >>> len(rows), rows[0]["vibration_rms_mm_s"] < rows[-1]["vibration_rms_mm_s"]
    (120, True)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

__all__ = ["FAULTS", "synthetic_samples"]

FAULTS = ("bearing", "cooling", "tool")
_T0 = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.timezone.utc)  # noqa: UP017 - py3.9


def synthetic_samples(
    n: int,
    *,
    seed: int = 0,
    start: dt.datetime = _T0,
    fault: str | None = None,
    onset: float = 0.5,
    severity: float = 1.0,
) -> list[dict[str, Any]]:
    """``n`` samples as dicts with the telemetry ``Sample`` field names."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}")
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    ramp = np.clip((i - onset * n) / max(1.0, (1 - onset) * n), 0.0, None) * severity if fault else np.zeros(n)
    speed = 8000 + rng.normal(0, 15, n)
    load = 42 + rng.normal(0, 0.8, n) + (10 * ramp if fault == "tool" else 0)
    vib = 1.2 + rng.normal(0, 0.06, n) + (2.0 * ramp if fault == "bearing" else 0)
    temp = 31 + rng.normal(0, 0.15, n) + (8.0 * ramp if fault == "cooling" else 0)
    wear = np.minimum(100.0, 20 + i / 3600 + (40 * ramp if fault == "tool" else 0))
    power = load / 100 * 11.0 + rng.normal(0, 0.05, n)
    return [
        {
            "ts": start + dt.timedelta(seconds=int(k)),
            "state": 100,
            "spindle_speed_rpm": float(speed[k]),
            "spindle_load_pct": float(load[k]),
            "vibration_rms_mm_s": float(max(0.0, vib[k])),
            "temperature_c": float(temp[k]),
            "tool_wear_pct": float(wear[k]),
            "power_kw": float(max(0.0, power[k])),
        }
        for k in range(n)
    ]
