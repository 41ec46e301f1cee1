"""Threshold calibration on healthy scores and persistent alarms with hysteresis.

A single window above the threshold pages nobody: an alarm is raised when at least ``k`` of the last
``n`` windows exceed the threshold, and cleared only when no more than ``clear_k`` of the last ``n``
windows exceed the (lower) clear level ``threshold * clear_ratio``. The state is a small value object,
so a stateless endpoint can take it in and hand it back (the health shadow stores it between calls).

Example:
    >>> cal = calibrate([1.0, 1.1, 0.9, 1.2, 1.0], quantile=1.0)
    >>> cal.threshold, cal.critical
    (1.2, 2.4)
    >>> policy = AlarmPolicy(k=2, n=3)
    >>> active, state = run_alarm([5.0, 1.0, 5.0, 0.5, 0.5, 0.5], cal, policy)
    >>> active
    [False, False, True, True, True, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin_models.anomaly.errors import AnomalyError

__all__ = ["AlarmPolicy", "AlarmState", "Calibration", "Severity", "calibrate", "run_alarm", "severity_of"]


class Severity:
    """Severity labels of a scored window."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Calibration:
    """Score levels learnt from healthy data: ``threshold`` (warning) and ``critical``."""

    threshold: float
    critical: float
    quantile: float
    n_train: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "threshold": self.threshold,
            "critical": self.critical,
            "quantile": self.quantile,
            "n_train": self.n_train,
        }


def calibrate(
    train_scores: Iterable[float], quantile: float = 0.995, margin: float = 1.0, critical_ratio: float = 2.0
) -> Calibration:
    """Threshold = ``margin`` x the ``quantile`` of healthy training scores; critical = threshold x ratio.

    Only healthy/training scores go in: never labels of the data being evaluated.
    """
    scores = np.asarray(list(train_scores), dtype=float)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise AnomalyError("calibration needs finite training scores")
    if not 0.5 <= quantile <= 1.0:
        raise AnomalyError("quantile must be within 0.5..1")
    if margin <= 0 or critical_ratio < 1:
        raise AnomalyError("margin must be positive and critical_ratio at least 1")
    threshold = float(np.quantile(scores, quantile)) * margin
    return Calibration(
        threshold=threshold, critical=threshold * critical_ratio, quantile=quantile, n_train=int(scores.size)
    )


@dataclass(frozen=True)
class AlarmPolicy:
    """Raise at ``k`` of the last ``n`` windows over threshold; clear at ``clear_k`` or fewer over the
    clear level ``threshold * clear_ratio``."""

    k: int = 3
    n: int = 5
    clear_k: int = 0
    clear_ratio: float = 0.8

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise AnomalyError(f"need 1 <= k <= n, got k={self.k}, n={self.n}")
        if not 0 <= self.clear_k < self.k:
            raise AnomalyError("clear_k must be below k")
        if not 0 < self.clear_ratio <= 1:
            raise AnomalyError("clear_ratio must be within (0, 1]")

    @classmethod
    def parse(cls, text: str) -> AlarmPolicy:
        """``"3/5"`` -> ``AlarmPolicy(k=3, n=5)``."""
        try:
            k, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise AnomalyError(f"persistence must look like K/N, got {text!r}") from None
        return cls(k=k, n=n)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"k": self.k, "n": self.n, "clear_k": self.clear_k, "clear_ratio": self.clear_ratio}


@dataclass(frozen=True)
class AlarmState:
    """Recent exceedances (oldest first, two flags per window: over threshold, over clear level) and
    whether the alarm is active."""

    over: tuple[bool, ...] = field(default_factory=tuple)
    over_clear: tuple[bool, ...] = field(default_factory=tuple)
    active: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what the health shadow stores)."""
        return {
            "over": [int(x) for x in self.over],
            "over_clear": [int(x) for x in self.over_clear],
            "active": self.active,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlarmState:
        """The inverse of :meth:`to_dict`; ``None`` is a fresh state."""
        if not data:
            return cls()
        try:
            return cls(
                over=tuple(bool(x) for x in data.get("over", [])),
                over_clear=tuple(bool(x) for x in data.get("over_clear", [])),
                active=bool(data.get("active", False)),
            )
        except TypeError as exc:
            raise AnomalyError(f"bad alarm state: {exc}") from exc


def run_alarm(
    scores: Sequence[float] | np.ndarray,
    calibration: Calibration,
    policy: AlarmPolicy,
    state: AlarmState | None = None,
) -> tuple[list[bool], AlarmState]:
    """Whether the alarm is active after each score, and the state to carry to the next call."""
    state = state or AlarmState()
    over = list(state.over)[-policy.n :]
    over_clear = list(state.over_clear)[-policy.n :]
    active = state.active
    clear_level = calibration.threshold * policy.clear_ratio
    out: list[bool] = []
    for raw in np.asarray(scores, dtype=float):
        over.append(bool(raw > calibration.threshold))
        over_clear.append(bool(raw > clear_level))
        over, over_clear = over[-policy.n :], over_clear[-policy.n :]
        if not active and sum(over) >= policy.k:
            active = True
        elif active and len(over_clear) >= policy.n and sum(over_clear) <= policy.clear_k:
            active = False
        out.append(active)
    return out, AlarmState(over=tuple(over), over_clear=tuple(over_clear), active=active)


def severity_of(score: float, active: bool, calibration: Calibration) -> str:
    """``critical`` when the alarm is active and the score reaches the critical level, ``warning`` when
    it is active, ``ok`` otherwise."""
    if not active:
        return Severity.OK
    return Severity.CRITICAL if score >= calibration.critical else Severity.WARNING
