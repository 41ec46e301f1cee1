"""Threshold calibration on held-out healthy scores, the false-alarm budget and the alarm lifecycle.

* **Calibration** (:func:`calibrate_held_out`): the threshold is learnt from healthy scores the model was
  *not* fitted on, so that a stated false-alarm budget (:class:`FalseAlarmTarget`: rows flagged and alarm
  events per day) holds on new healthy data. ``n`` calibration rows resolve rates down to about
  ``1 / (n + 1)``; a target below that, or a calibration span too short to count alarm events, is
  reported as a warning (or refused with ``strict=True``).
* **Lifecycle** (:func:`run_lifecycle`): an alarm is raised when at least ``k`` of the last ``n`` rows
  exceed the threshold (its first row is the *onset*); it clears once the score stays below the clear
  level ``threshold * clear_ratio`` for ``clear_after`` rows in a row; an alarm that lasts
  ``escalate_after`` rows escalates once (and asks for re-baselining), so it never stays on silently.
  :meth:`AlarmPolicy.in_time` states the three durations in seconds. The state is a small value object,
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

__all__ = [
    "AlarmPolicy",
    "AlarmState",
    "AlarmTrace",
    "Calibration",
    "FalseAlarmTarget",
    "Severity",
    "calibrate",
    "calibrate_held_out",
    "run_alarm",
    "run_lifecycle",
    "severity_of",
]


class Severity:
    """Severity labels of a scored window."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class FalseAlarmTarget:
    """The false-alarm budget on healthy data: the fraction of rows flagged and alarm events per machine
    per day (``None``: no event target, e.g. rows without a time step).

    Example:
        >>> FalseAlarmTarget(row_rate=0.01).quantile
        0.99
    """

    row_rate: float = 0.005
    events_per_day: float | None = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.row_rate < 0.5:
            raise AnomalyError("the target row rate must be within (0, 0.5)")
        if self.events_per_day is not None and self.events_per_day <= 0:
            raise AnomalyError("the target alarm events per day must be positive")

    @property
    def quantile(self) -> float:
        """The score quantile that flags ``row_rate`` of healthy rows."""
        return round(1.0 - self.row_rate, 12)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"row_rate": self.row_rate, "events_per_day": self.events_per_day}


@dataclass(frozen=True)
class Calibration:
    """Score levels learnt from healthy data: ``threshold`` (warning) and ``critical``.

    With held-out calibration (:func:`calibrate_held_out`) it also records the budget it was set for, the
    rates expected on new healthy data, the lowest rate ``n_calibration`` rows can resolve and any warning.
    """

    threshold: float
    critical: float
    quantile: float
    n_train: int
    n_calibration: int = 0
    target: FalseAlarmTarget | None = None
    expected_row_rate: float | None = None
    expected_events_per_day: float | None = None
    resolvable_rate: float | None = None
    calibration_days: float | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "threshold": self.threshold,
            "critical": self.critical,
            "quantile": self.quantile,
            "n_train": self.n_train,
            "n_calibration": self.n_calibration,
            "held_out": self.n_calibration > 0,
            "target": None if self.target is None else self.target.to_dict(),
            "expected_row_rate": self.expected_row_rate,
            "expected_events_per_day": self.expected_events_per_day,
            "resolvable_rate": self.resolvable_rate,
            "calibration_days": self.calibration_days,
            "warnings": list(self.warnings),
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


def calibrate_held_out(
    scores: Sequence[float] | np.ndarray,
    *,
    n_train: int,
    target: FalseAlarmTarget | None = None,
    policy: AlarmPolicy | None = None,
    row_seconds: float | None = None,
    margin: float = 1.0,
    critical_ratio: float = 2.0,
    strict: bool = False,
) -> Calibration:
    """The threshold from healthy scores of rows the model was not fitted on (later in time than the
    fitting rows), set for ``target``; the expected rates are measured on the same rows.

    The threshold is the higher of the row-rate quantile and the lowest level at which the alarm
    lifecycle (``policy``) raises at most ``target.events_per_day`` on the calibration rows (when their
    time step ``row_seconds`` is known). A budget the rows cannot resolve is a warning, or an
    :class:`AnomalyError` with ``strict=True``.

    Example:
        >>> import numpy as np
        >>> cal = calibrate_held_out(np.random.default_rng(0).normal(size=2000), n_train=6000,
        ...                          target=FalseAlarmTarget(row_rate=0.01, events_per_day=None))
        >>> round(cal.threshold, 2), cal.n_calibration, cal.warnings
        (2.28, 2000, ())
        >>> calibrate_held_out([1.0] * 50, n_train=150, target=FalseAlarmTarget(0.005, None)).warnings[0][:40]
        'the target row rate 0.005 is below what '
    """
    arr = np.asarray(scores, dtype=float)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise AnomalyError("calibration needs finite held-out scores")
    if margin <= 0 or critical_ratio < 1:
        raise AnomalyError("margin must be positive and critical_ratio at least 1")
    target = target or FalseAlarmTarget()
    policy = policy or AlarmPolicy()
    n = int(arr.size)
    resolvable = 1.0 / (n + 1)
    warnings: list[str] = []
    if target.row_rate < resolvable:
        warnings.append(
            f"the target row rate {target.row_rate:g} is below what {n} calibration rows resolve "
            f"({resolvable:.2g}); the threshold is the highest calibration score"
        )
    # split-conformal rank: the ceil((n + 1)(1 - rate))-th smallest score, so that a new healthy row
    # exceeds it with probability at most ``rate`` (the highest score when n rows cannot resolve it)
    rank = min(n, int(np.ceil((n + 1) * (1.0 - target.row_rate))))
    threshold = float(np.sort(arr)[rank - 1]) * margin
    days = None if row_seconds is None else n * float(row_seconds) / 86_400.0
    events_per_day: float | None = None
    if days is not None and target.events_per_day is not None:
        if target.events_per_day * days < 1.0:
            warnings.append(
                f"the calibration rows span {days:.3g} days: too short to resolve {target.events_per_day:g} "
                "alarm events per day"
            )
        # raise the threshold until the lifecycle meets the event budget on the held-out rows
        allowed = max(0, int(np.floor(target.events_per_day * days)))
        candidates = np.unique(arr[arr >= threshold])
        for level in (threshold, *candidates):
            trial = Calibration(threshold=float(level), critical=np.inf, quantile=target.quantile, n_train=n_train)
            onsets = sum(run_lifecycle(arr, trial, policy).onset)
            if onsets <= allowed:
                threshold = float(level)
                break
        else:
            threshold = float(arr.max())
        trial = Calibration(threshold=threshold, critical=np.inf, quantile=target.quantile, n_train=n_train)
        events_per_day = sum(run_lifecycle(arr, trial, policy).onset) / days if days > 0 else None
    if strict and warnings:
        raise AnomalyError("; ".join(warnings))
    flagged = float((arr > threshold).mean())
    return Calibration(
        threshold=threshold,
        critical=threshold * critical_ratio,
        quantile=target.quantile,
        n_train=n_train,
        n_calibration=n,
        target=target,
        expected_row_rate=round(max(flagged, resolvable), 6),
        expected_events_per_day=None if events_per_day is None else round(events_per_day, 4),
        resolvable_rate=round(resolvable, 6),
        calibration_days=None if days is None else round(days, 4),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class AlarmPolicy:
    """Raise at ``k`` of the last ``n`` rows over threshold; clear once ``clear_after`` rows in a row stay
    below the clear level ``threshold * clear_ratio`` (default: ``n`` rows); escalate once after
    ``escalate_after`` rows of one alarm (``None``: never); with ``rebaseline`` the escalation also
    re-learns the adaptive references of the model's drifting channels from the current rows (so a
    drift cannot hold an alarm on for good), otherwise it only asks for it (after maintenance the caller
    passes :meth:`AlarmState.rebaselined`). ``clear_k`` is kept for older models: the clear rule is the
    run of rows below the clear level."""

    k: int = 3
    n: int = 5
    clear_k: int = 0
    clear_ratio: float = 0.8
    clear_after: int | None = None
    escalate_after: int | None = None
    rebaseline: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise AnomalyError(f"need 1 <= k <= n, got k={self.k}, n={self.n}")
        if not 0 <= self.clear_k < self.k:
            raise AnomalyError("clear_k must be below k")
        if not 0 < self.clear_ratio <= 1:
            raise AnomalyError("clear_ratio must be within (0, 1]")
        if self.clear_after is not None and self.clear_after < 1:
            raise AnomalyError("clear_after must be at least 1 row")
        if self.escalate_after is not None and self.escalate_after < 1:
            raise AnomalyError("escalate_after must be at least 1 row")

    @property
    def clear_rows(self) -> int:
        """Rows in a row below the clear level that clear an alarm."""
        return self.n if self.clear_after is None else self.clear_after

    @classmethod
    def parse(cls, text: str) -> AlarmPolicy:
        """``"3/5"`` -> ``AlarmPolicy(k=3, n=5)``."""
        try:
            k, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise AnomalyError(f"persistence must look like K/N, got {text!r}") from None
        return cls(k=k, n=n)

    def in_time(
        self, row_seconds: float, clear_after_s: float = 1800.0, escalate_after_s: float | None = 4 * 3600.0
    ) -> AlarmPolicy:
        """The same raise rule with the clear and escalation durations stated in seconds.

        Example:
            >>> AlarmPolicy(k=3, n=5).in_time(60.0, clear_after_s=900, escalate_after_s=7200)
            AlarmPolicy(k=3, n=5, clear_k=0, clear_ratio=0.8, clear_after=15, escalate_after=120, rebaseline=True)
        """
        if row_seconds <= 0:
            raise AnomalyError("row_seconds must be positive")
        clear = max(1, int(np.ceil(clear_after_s / row_seconds)))
        escalate = None if escalate_after_s is None else max(1, int(np.ceil(escalate_after_s / row_seconds)))
        return AlarmPolicy(
            k=self.k,
            n=self.n,
            clear_k=self.clear_k,
            clear_ratio=self.clear_ratio,
            clear_after=clear,
            escalate_after=escalate,
            rebaseline=self.rebaseline,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "k": self.k,
            "n": self.n,
            "clear_k": self.clear_k,
            "clear_ratio": self.clear_ratio,
            "clear_after": self.clear_rows,
            "escalate_after": self.escalate_after,
            "rebaseline": self.rebaseline,
        }


@dataclass(frozen=True)
class AlarmState:
    """Recent exceedances (oldest first: over threshold, over clear level), whether the alarm is active,
    the rows below the clear level since, the rows the alarm has lasted, whether it escalated, the
    machine's adaptive reference (per channel, with the number of rows it has learnt from) and the state
    of its thermal model's duty filters (:mod:`twin_models.anomaly.thermal`)."""

    over: tuple[bool, ...] = field(default_factory=tuple)
    over_clear: tuple[bool, ...] = field(default_factory=tuple)
    active: bool = False
    below: int = 0
    age: int = 0
    escalated: bool = False
    reference: tuple[tuple[str, float, int], ...] = field(default_factory=tuple)
    thermal: tuple[float, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what the health shadow stores)."""
        out: dict[str, Any] = {
            "over": [int(x) for x in self.over],
            "over_clear": [int(x) for x in self.over_clear],
            "active": self.active,
            "below": self.below,
            "age": self.age,
            "escalated": self.escalated,
        }
        if self.reference:
            out["reference"] = {k: [round(float(v), 6), int(n)] for k, v, n in self.reference}
        if self.thermal:
            out["thermal"] = [round(float(v), 6) for v in self.thermal]
        return out

    def rebaselined(self) -> AlarmState:
        """The state after maintenance: the adaptive reference is learnt again from the next healthy rows
        (the fleet's level as the prior); the alarm itself is left as it is."""
        return AlarmState(
            over=self.over,
            over_clear=self.over_clear,
            active=self.active,
            below=self.below,
            age=self.age,
            escalated=self.escalated,
            thermal=self.thermal,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlarmState:
        """The inverse of :meth:`to_dict`; ``None`` is a fresh state."""
        if not data:
            return cls()
        try:
            reference = data.get("reference") or {}
            return cls(
                over=tuple(bool(x) for x in data.get("over", [])),
                over_clear=tuple(bool(x) for x in data.get("over_clear", [])),
                active=bool(data.get("active", False)),
                below=int(data.get("below", 0)),
                age=int(data.get("age", 0)),
                escalated=bool(data.get("escalated", False)),
                reference=tuple((str(k), float(v[0]), int(v[1])) for k, v in dict(reference).items()),
                thermal=tuple(float(v) for v in data.get("thermal") or ()),
            )
        except (TypeError, ValueError) as exc:
            raise AnomalyError(f"bad alarm state: {exc}") from exc


@dataclass(frozen=True)
class AlarmTrace:
    """Per row: the alarm is ``active``, an episode starts (``onset``), the episode ``escalated`` on this
    row (once per episode); and the state to carry to the next call."""

    active: list[bool]
    onset: list[bool]
    escalated: list[bool]
    state: AlarmState


class _Lifecycle:
    """One machine's alarm, stepped row by row (the rule :func:`run_lifecycle` documents)."""

    def __init__(self, calibration: Calibration, policy: AlarmPolicy, state: AlarmState | None) -> None:
        state = state or AlarmState()
        self.threshold = calibration.threshold
        self.clear_level = calibration.threshold * policy.clear_ratio
        self.policy = policy
        self.over = list(state.over)[-policy.n :]
        self.over_clear = list(state.over_clear)[-policy.n :]
        self.active, self.below, self.age, self.escalated = state.active, state.below, state.age, state.escalated

    def step(self, score: float, observed: bool = True) -> tuple[bool, bool, bool]:
        """One row; a row with no evidence (``observed=False``: the machine was stopped) holds the state."""
        p = self.policy
        if not observed:
            return self.active, False, False
        self.over.append(bool(score > self.threshold))
        self.over_clear.append(bool(score > self.clear_level))
        del self.over[: -p.n], self.over_clear[: -p.n]
        onset = escalation = False
        if not self.active:
            if sum(self.over) >= p.k:
                self.active, onset, self.below, self.age, self.escalated = True, True, 0, 0, False
        else:
            self.below = 0 if self.over_clear[-1] else self.below + 1
            if self.below >= p.clear_rows:
                self.active, self.below, self.age, self.escalated = False, 0, 0, False
        if self.active:
            self.age += 1
            if p.escalate_after is not None and not self.escalated and self.age >= p.escalate_after:
                self.escalated = escalation = True
        return self.active, onset, escalation

    def state(self, reference: tuple[tuple[str, float, int], ...] = ()) -> AlarmState:
        return AlarmState(
            over=tuple(self.over),
            over_clear=tuple(self.over_clear),
            active=self.active,
            below=self.below,
            age=self.age,
            escalated=self.escalated,
            reference=reference,
        )


def run_lifecycle(
    scores: Sequence[float] | np.ndarray,
    calibration: Calibration,
    policy: AlarmPolicy,
    state: AlarmState | None = None,
) -> AlarmTrace:
    """The alarm lifecycle over scores in time order, from ``state``.

    Example:
        >>> cal = Calibration(threshold=1.0, critical=2.0, quantile=0.99, n_train=100)
        >>> policy = AlarmPolicy(k=2, n=2, clear_after=2, escalate_after=3)
        >>> trace = run_lifecycle([2, 2, 0, 2, 2, 2, 0, 0, 0], cal, policy)
        >>> [int(a) for a in trace.active], [int(o) for o in trace.onset], [int(e) for e in trace.escalated]
        ([0, 1, 1, 1, 1, 1, 1, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0, 0])
    """
    life = _Lifecycle(calibration, policy, state)
    active: list[bool] = []
    onset: list[bool] = []
    escalated: list[bool] = []
    for raw in np.asarray(scores, dtype=float):
        a, o, e = life.step(float(raw))
        active.append(a)
        onset.append(o)
        escalated.append(e)
    return AlarmTrace(active=active, onset=onset, escalated=escalated, state=life.state())


def run_alarm(
    scores: Sequence[float] | np.ndarray,
    calibration: Calibration,
    policy: AlarmPolicy,
    state: AlarmState | None = None,
) -> tuple[list[bool], AlarmState]:
    """Whether the alarm is active after each score, and the state to carry to the next call."""
    trace = run_lifecycle(scores, calibration, policy, state)
    return trace.active, trace.state


def severity_of(score: float, active: bool, calibration: Calibration) -> str:
    """``critical`` when the alarm is active and the score reaches the critical level, ``warning`` when
    it is active, ``ok`` otherwise."""
    if not active:
        return Severity.OK
    return Severity.CRITICAL if score >= calibration.critical else Severity.WARNING
