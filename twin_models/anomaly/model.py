"""The anomaly model: healthy standardisation + detector + calibration + alarm policy, in one object.

Fit on healthy feature rows (from :func:`~twin_models.anomaly.features.telemetry_features` or
:func:`~twin_models.anomaly.features.tabular_features`), then score new rows: each gets a score, whether it
exceeds the threshold, whether the persistent alarm is active, a severity, the recommended action and the
features that drove it.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> healthy = pd.DataFrame(rng.normal(size=(400, 2)), columns=["vibration_rms", "temperature"])
    >>> model = AnomalyModel.fit(healthy, policy=AlarmPolicy(k=2, n=3))
    >>> test = pd.DataFrame({"vibration_rms": [0.1, 9.0, 9.5, 9.2], "temperature": [0.0, 0.2, 0.1, 0.3]})
    >>> out = model.evaluate(test).frame
    >>> out["is_anomaly"].tolist(), out["severity"].tolist()[-1], out["action"].tolist()[-1]
    ([0, 0, 1, 1], 'critical', 'spindle_bearings')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.alarms import (
    AlarmPolicy,
    AlarmState,
    Calibration,
    FalseAlarmTarget,
    Severity,
    _Lifecycle,
    calibrate_held_out,
)
from twin_models.anomaly.detectors import Detector, make_detector
from twin_models.anomaly.diagnosis import ACTIONS, component_of
from twin_models.anomaly.errors import AnomalyError, FeatureError
from twin_models.anomaly.features import TabularFeatureConfig, tabular_features
from twin_models.anomaly.thermal import ThermalModel

__all__ = ["DRIFT_MODES", "AnomalyModel", "ChannelProfile", "Evaluation"]

_COMPONENTS = tuple(ACTIONS)
_MIN_SCALE = 1e-9
#: How channels are handled: ``off`` (every channel against the healthy level), ``auto`` (a channel
#: whose healthy rows drift or are strongly autocorrelated is scored against a slowly adapting
#: reference), ``all`` (every channel against its own adaptive reference: a per-machine baseline with
#: the fleet's level as the prior).
DRIFT_MODES = ("off", "auto", "all")
#: A channel is "persistent" when its variance is at least this many times what its row-to-row
#: changes imply for independent noise (about 1 / (1 - lag-1 autocorrelation)).
PERSISTENCE_LIMIT = 20.0
#: A channel drifts when a linear trend over its healthy rows has at least this t statistic.
TREND_LIMIT = 6.0
_MIN_CALIBRATION_ROWS = 5


@dataclass(frozen=True)
class ChannelProfile:
    """What training decided for one channel: ``handling`` is ``level`` (z against the healthy level),
    ``reference`` (z of the deviation from the machine's slowly adapting reference) or ``difference`` (z
    of the change since the previous row, for a channel that ramps); ``persistence``
    is var(x) / (var(diff x) / 2), about 1 for independent noise; ``floor`` is the smallest scale allowed
    (the quantisation step of a quantised channel)."""

    name: str
    handling: str
    persistence: float
    floor: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the model manifest)."""
        return {
            "name": self.name,
            "handling": self.handling,
            "persistence": round(self.persistence, 3),
            "floor": self.floor,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Evaluation:
    """Scored rows (same order as the input) and the alarm state to carry to the next batch.

    ``frame`` has ``score``, ``over_threshold`` (0/1), ``is_anomaly`` (0/1: the alarm is active),
    ``alarm_onset`` (1 on the first row of each alarm episode), ``escalated`` (1 on the row an alarm
    escalated, once per episode), ``severity`` (ok/warning/critical) and ``action``; ``contributions``
    holds each feature's share of each row's score; ``missing`` names the model's features the input did
    not carry (scored as 0, never silently: callers report them).
    """

    frame: pd.DataFrame
    contributions: pd.DataFrame
    state: AlarmState
    missing: tuple[str, ...] = ()


def _persistence(values: np.ndarray, groups: np.ndarray) -> float:
    diffs: list[np.ndarray] = []
    for key in pd.unique(groups):
        v = values[groups == key]
        v = v[np.isfinite(v)]
        if v.size > 2:
            diffs.append(np.diff(v))
    finite = values[np.isfinite(values)]
    if not diffs or finite.size < 3:
        return 1.0
    d = np.concatenate(diffs)
    noise = float(np.var(d)) / 2.0
    total = float(np.var(finite))
    return total / noise if noise > 0 else float("inf")


def _diffs(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    parts = []
    for key in pd.unique(groups):
        v = values[groups == key]
        v = v[np.isfinite(v)]
        if v.size > 2:
            parts.append(np.diff(v))
    return np.concatenate(parts) if parts else np.zeros(0)


def _trend_t(values: np.ndarray, groups: np.ndarray) -> float:
    """The largest t statistic of a linear trend over a machine's rows: a drift too slow to show in the
    spread of the training rows still shows as a trend (|t| of independent noise is rarely above 4)."""
    best = 0.0
    for key in pd.unique(groups):
        v = values[groups == key]
        t = np.arange(v.size, dtype=float)[np.isfinite(v)]
        v = v[np.isfinite(v)]
        if v.size < 10:
            continue
        t = t - t.mean()
        sxx = float((t * t).sum())
        slope = float((t * (v - v.mean())).sum()) / sxx
        resid = v - v.mean() - slope * t
        se = float(np.sqrt((resid @ resid) / (v.size - 2) / sxx)) if v.size > 2 else 0.0
        if se > 0:
            best = max(best, abs(slope) / se)
    return best


def _ramps(values: np.ndarray, groups: np.ndarray) -> bool:
    """Whether a channel only ever rises, apart from rare resets (tool wear, an hour counter)."""
    d = _diffs(values, groups)
    moving = d[d != 0]
    return moving.size >= 10 and float((moving > 0).mean()) >= 0.9


def _has_resets(values: np.ndarray, groups: np.ndarray) -> bool:
    """Whether a channel jumps (a counter reset, a tool change) far beyond its usual row-to-row change:
    a slow reference cannot follow such a channel."""
    diffs: list[np.ndarray] = []
    for key in pd.unique(groups):
        v = values[groups == key]
        v = v[np.isfinite(v)]
        if v.size > 2:
            diffs.append(np.diff(v))
    if not diffs:
        return False
    d = np.concatenate(diffs)
    typical = float(np.median(np.abs(d - np.median(d))))
    big = float(np.abs(d).max())
    return typical > 0 and big > 50 * typical and big > 0.25 * (float(np.nanmax(values)) - float(np.nanmin(values)))


def _quantisation_step(values: np.ndarray) -> float:
    finite = np.unique(values[np.isfinite(values)])
    if finite.size < 2 or finite.size > 200:
        return 0.0
    return float(np.diff(finite).min())


@dataclass
class AnomalyModel:
    """A fitted anomaly model. Build it with :meth:`fit`; persist it with ``twin_models.anomaly.artifact``."""

    feature_names: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    detector: Detector
    calibration: Calibration
    policy: AlarmPolicy
    tabular: TabularFeatureConfig | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    channels: tuple[ChannelProfile, ...] = ()
    prior: np.ndarray | None = None
    reference_rows: int = 0
    warmup_rows: int = 0
    learn_rows: int = 60
    row_seconds: float | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    thermal: ThermalModel | None = None

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        detector: str | Detector = "zscore",
        *,
        detector_params: Mapping[str, Any] | None = None,
        quantile: float | None = None,
        margin: float = 1.0,
        critical_ratio: float = 2.0,
        policy: AlarmPolicy | None = None,
        tabular: TabularFeatureConfig | None = None,
        target: FalseAlarmTarget | None = None,
        calibration_fraction: float = 0.25,
        row_seconds: float | None = None,
        drift: str = "auto",
        reference_rows: int = 30,
        warmup_rows: int = 10,
        learn_rows: int = 30,
        groups: Sequence[Any] | np.ndarray | None = None,
        strict: bool = False,
        calibrate: bool = True,
        thermal: tuple[str, str] | None = None,
    ) -> AnomalyModel:
        """Fit on healthy feature rows in time order; calibrate on the later rows it was not fitted on.

        The first ``1 - calibration_fraction`` of the rows (of each group, when ``groups`` names the
        machine of each row) fit the healthy profile and the detector; the rest set the threshold for the
        false-alarm budget ``target`` (``quantile``, if given, sets its row rate as ``1 - quantile``).
        Columns that are empty or constant are dropped and named in :attr:`dropped`. ``drift`` says how
        drifting channels are handled (:data:`DRIFT_MODES`); the decision per channel is in
        :attr:`channels` and the manifest. ``calibrate=False`` fits on every row and sets no threshold:
        a model that only ranks rows by score (the published ranking protocols), never one to alarm with.
        ``thermal=(temperature, duty)`` scores the temperature column as its excess over what the recent
        duty explains (:class:`~twin_models.anomaly.thermal.ThermalModel`, fitted on the fitting rows;
        needs ``row_seconds``); the duty column drives it and is not scored itself.

        Example:
            >>> import numpy as np, pandas as pd
            >>> rng = np.random.default_rng(3)
            >>> t = np.arange(800)
            >>> rows = pd.DataFrame({"level": rng.normal(size=800), "drifting": t / 20 + rng.normal(size=800)})
            >>> model = AnomalyModel.fit(rows, row_seconds=60.0)
            >>> [(c.name, c.handling) for c in model.channels]
            [('level', 'level'), ('drifting', 'reference')]
            >>> model.calibration.n_calibration, model.calibration.resolvable_rate
            (200, 0.004975)
        """
        if features.empty:
            raise FeatureError("no training rows")
        if drift not in DRIFT_MODES:
            raise AnomalyError(f"drift must be one of {', '.join(DRIFT_MODES)}")
        if not 0 < calibration_fraction < 1:
            raise AnomalyError("calibration_fraction must be within (0, 1)")
        if quantile is not None:
            if not 0.5 <= quantile <= 1.0:
                raise AnomalyError("quantile must be within 0.5..1")
            base = target or FalseAlarmTarget()
            rate = max(round(1.0 - quantile, 12), 1e-12)  # 1.0: the highest held-out score
            target = FalseAlarmTarget(row_rate=rate, events_per_day=base.events_per_day)
        target = target or FalseAlarmTarget()
        numeric = features.select_dtypes(include="number").astype(float)
        keys = np.zeros(len(numeric), dtype=int) if groups is None else np.asarray(groups)
        if len(keys) != len(numeric):
            raise FeatureError("groups must name one machine per row")
        driver: np.ndarray | None = None
        if thermal is not None:
            if row_seconds is None:
                raise AnomalyError("a thermal model needs row_seconds")
            if thermal[0] not in numeric.columns or thermal[1] not in numeric.columns:
                raise FeatureError(f"the thermal model needs the columns {thermal[0]!r} and {thermal[1]!r}")
            driver = numeric.pop(thermal[1]).to_numpy(dtype=float)
        dropped: dict[str, str] = {}
        for c in [str(c) for c in features.columns if c not in numeric.columns]:
            dropped[c] = "not numeric"
        center_all = numeric.median(skipna=True)
        std_all = numeric.std(ddof=0, skipna=True)
        keep: list[str] = []
        for c in numeric.columns:
            if not np.isfinite(center_all[c]):
                dropped[str(c)] = "empty"
            elif not np.isfinite(std_all[c]) or std_all[c] <= _MIN_SCALE * max(1.0, abs(float(center_all[c]))):
                dropped[str(c)] = "constant"
            else:
                keep.append(c)
        if not keep:
            raise FeatureError("no usable feature column (all missing or constant)")
        numeric = numeric[keep]
        # time order within each machine: the last calibration_fraction of each machine's rows calibrate
        position = pd.Series(np.arange(len(keys))).groupby(keys, sort=False).cumcount().to_numpy()
        sizes = pd.Series(keys).map(pd.Series(keys).value_counts()).to_numpy()
        cal_mask = position >= np.ceil(sizes * (1.0 - calibration_fraction))
        if not calibrate:
            cal_mask = np.zeros(len(keys), dtype=bool)
        elif int(cal_mask.sum()) < _MIN_CALIBRATION_ROWS or int((~cal_mask).sum()) < 2:
            raise FeatureError(
                f"{len(numeric)} rows are too few to fit and calibrate on separate rows "
                f"(need at least {_MIN_CALIBRATION_ROWS} held-out rows)"
            )
        thermal_model: ThermalModel | None = None
        if thermal is not None and driver is not None and row_seconds is not None:
            thermal_model = ThermalModel.fit(
                numeric[thermal[0]].to_numpy(dtype=float),
                driver,
                keys,
                row_seconds=row_seconds,
                target_name=thermal[0],
                driver_name=thermal[1],
                fit_mask=~cal_mask,
            )
            excess = numeric[thermal[0]].to_numpy(dtype=float).copy()
            for key in pd.unique(keys):
                rows = np.flatnonzero(keys == key)
                part, _ = thermal_model.excess(excess[rows], driver[rows], None)
                excess[rows] = np.where(np.isfinite(driver[rows]), part, np.nan)
            numeric[thermal[0]] = excess
        values = numeric.to_numpy(dtype=float)
        fit_values, fit_keys = values[~cal_mask], keys[~cal_mask]
        channels: list[ChannelProfile] = []
        for j, name in enumerate(keep):
            persistence = _persistence(fit_values[:, j], fit_keys)
            step = _quantisation_step(fit_values[:, j])
            if drift != "off" and _ramps(fit_values[:, j], fit_keys):
                handling, reason = "difference", "rises steadily (a wear or counter ramp): scored on its change per row"
            elif drift != "off" and _has_resets(fit_values[:, j], fit_keys):
                handling, reason = "level", "steps or resets (a sawtooth): scored against its healthy level"
            elif drift == "all":
                handling, reason = "reference", "every channel against its own reference"
            elif drift == "auto" and persistence >= PERSISTENCE_LIMIT:
                handling, reason = "reference", f"strongly autocorrelated (persistence {persistence:.0f})"
            elif drift == "auto" and (trend := _trend_t(fit_values[:, j], fit_keys)) >= TREND_LIMIT:
                handling, reason = "reference", f"drifting (trend t = {trend:.0f})"
            else:
                handling, reason = "level", "stationary" if drift != "off" else "drift handling off"
            if thermal_model is not None and name == thermal_model.target:
                reason = f"its excess over the thermal model of recent running; {reason}"
            channels.append(ChannelProfile(str(name), handling, float(min(persistence, 1e12)), step, reason))
        prior = np.nanmedian(fit_values, axis=0)
        det = make_detector(detector, **dict(detector_params or {})) if isinstance(detector, str) else detector
        model = cls(
            feature_names=tuple(str(c) for c in keep),
            center=np.zeros(len(keep)),
            scale=np.ones(len(keep)),
            detector=det,
            calibration=Calibration(threshold=np.inf, critical=np.inf, quantile=target.quantile, n_train=0),
            policy=policy or AlarmPolicy(),
            tabular=tabular,
            channels=tuple(channels),
            prior=prior,
            reference_rows=max(1, int(reference_rows)),
            warmup_rows=max(0, int(warmup_rows)),
            learn_rows=max(1, int(learn_rows)),
            row_seconds=row_seconds,
            dropped=dropped,
            thermal=thermal_model,
        )
        deviation, warming = model._training_deviation(values, keys)
        if drift == "auto" and model._ref_mask.any():
            # a persistent channel the slow reference does not explain (a sawtooth such as tool wear
            # between changes) is scored against its healthy level instead
            level_std = np.nanstd(fit_values, axis=0)
            dev_std = np.nanstd(deviation[~cal_mask & ~warming], axis=0)
            revised = [
                ChannelProfile(
                    c.name, "level", c.persistence, c.floor, "persistent, but not explained by a slow reference"
                )
                if c.reason.startswith("strongly") and not dev_std[j] < 0.7 * level_std[j]
                else c
                for j, c in enumerate(model.channels)
            ]
            if revised != list(model.channels):
                model.channels = tuple(revised)
                deviation, warming = model._training_deviation(values, keys)
        fit_dev = deviation[~cal_mask & ~warming]
        if fit_dev.shape[0] < 2:
            fit_dev = deviation[~cal_mask]
        mean = np.nanmean(fit_dev, axis=0)
        std = np.nanstd(fit_dev, axis=0)
        floors = np.array([c.floor for c in channels])
        model.center = np.where(np.isfinite(mean), mean, 0.0)
        model.scale = np.maximum(np.where(np.isfinite(std), std, 1.0), np.maximum(floors, _MIN_SCALE))
        z = model._z(deviation, warming)
        det.fit(z[~cal_mask])
        if not calibrate:
            model.calibration = Calibration(
                threshold=np.inf,
                critical=np.inf,
                quantile=target.quantile,
                n_train=len(keys),
                warnings=("not calibrated: this model only ranks rows by score",),
            )
            model.meta = {"detector": det.name, "detector_params": det.params(), "n_train": len(keys)}
            return model
        model.calibration = calibrate_held_out(
            det.score(z[cal_mask]),
            n_train=int((~cal_mask).sum()),
            target=target,
            policy=model.policy,
            row_seconds=row_seconds,
            margin=margin,
            critical_ratio=critical_ratio,
            strict=strict,
        )
        model.meta = {
            "detector": det.name,
            "detector_params": det.params(),
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - py3.9
            "n_train": int((~cal_mask).sum()),
            "n_calibration": int(cal_mask.sum()),
        }
        return model

    def features_from_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Feature rows from a raw numeric frame (the CSV path), built as at training time."""
        if self.tabular is None:
            return frame
        return tabular_features(frame, self.tabular)

    # -- channels -----------------------------------------------------------------------------------
    @property
    def _ref_mask(self) -> np.ndarray:
        """Channels scored against a reference (adaptive, or the previous row for a differenced one)."""
        if not self.channels:
            return np.zeros(len(self.feature_names), dtype=bool)
        return np.array([c.handling != "level" for c in self.channels], dtype=bool)

    @property
    def _diff_mask(self) -> np.ndarray:
        if not self.channels:
            return np.zeros(len(self.feature_names), dtype=bool)
        return np.array([c.handling == "difference" for c in self.channels], dtype=bool)

    def _gains(self, seen: np.ndarray, diff: np.ndarray) -> np.ndarray:
        """The reference's learning rate per channel: a running mean over its first ``learn_rows`` rows
        (the prior counts as one row), then an exponential average over ``reference_rows``; a
        differenced channel's reference is simply its previous value."""
        learning = 1.0 / (seen + 2.0)
        slow = 1.0 / max(1, self.reference_rows)
        return np.where(diff, 1.0, np.where(seen < self.learn_rows, learning, slow))

    def _observed(self, values: np.ndarray) -> np.ndarray:
        """Rows that carry evidence: at least half of the features have a value (a window where the
        machine was stopped does not, and neither raises nor clears an alarm)."""
        return np.asarray(np.isfinite(values).mean(axis=1) >= 0.5, dtype=bool)

    def _training_deviation(self, values: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Level channels as they are; reference channels as the deviation from each machine's causal
        reference (updated with every row: training rows are healthy). Also which rows warm up."""
        out = values.copy()
        warming = np.zeros(len(values), dtype=bool)
        ref_mask = self._ref_mask
        if not ref_mask.any():
            return out, warming
        assert self.prior is not None
        cols = np.flatnonzero(ref_mask)
        diff = self._diff_mask[cols]
        warm = np.where(diff, 1, self.warmup_rows)
        for key in pd.unique(keys):
            rows = np.flatnonzero(keys == key)
            ref = self.prior[cols].copy()
            seen = np.zeros(len(cols), dtype=int)
            for i in rows:
                x = values[i, cols]
                out[i, cols] = np.where(seen < warm, np.nan, x - ref)
                ok = np.isfinite(x)
                ref[ok] += self._gains(seen[ok], diff[ok]) * (x[ok] - ref[ok])
                seen[ok] += 1
                warming[i] = bool((seen < warm).any())
        return out, warming

    def _z(self, deviation: np.ndarray, warming: np.ndarray | None = None) -> np.ndarray:
        z: np.ndarray = np.asarray((deviation - self.center) / self.scale, dtype=float)
        z[~np.isfinite(z)] = 0.0
        if warming is not None and warming.any():
            z[np.ix_(warming, self._ref_mask)] = 0.0
        return z

    def standardize(self, features: pd.DataFrame) -> np.ndarray:
        """Rows as z scores against the healthy profile, each row on its own (reference channels against
        the fleet prior); a missing column or value is 0. :meth:`evaluate` is the scoring path."""
        values, _ = self._explained(features, None)
        if self._ref_mask.any():
            assert self.prior is not None
            values = np.where(self._ref_mask, values - self.prior, values)
        return self._z(values)

    def _values(self, features: pd.DataFrame) -> np.ndarray:
        frame = features.reindex(columns=list(self.feature_names))
        try:
            return np.asarray(frame.to_numpy(dtype=float), dtype=float)
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"feature values must be numeric: {exc}") from exc

    def _explained(self, features: pd.DataFrame, state: AlarmState | None) -> tuple[np.ndarray, tuple[float, ...]]:
        """The rows' values with the thermal model applied (the temperature as its excess over what the
        recent duty explains), and the thermal filter state after the last row."""
        values = np.array(self._values(features), dtype=float, copy=True)
        if self.thermal is None or self.thermal.target not in self.feature_names:
            return values, ()
        if self.thermal.driver in features.columns:
            driver = pd.to_numeric(features[self.thermal.driver], errors="coerce").to_numpy(dtype=float)
        else:
            driver = np.full(len(values), np.nan)
        j = self.feature_names.index(self.thermal.target)
        previous = state.thermal if state is not None and state.thermal else None
        excess, end = self.thermal.excess(values[:, j], driver, previous)
        # without the duty the excess is unknown: not scored (and the driver is reported missing)
        values[:, j] = np.where(np.isfinite(driver), excess, np.nan)
        return values, end

    def missing_features(self, features: pd.DataFrame) -> tuple[str, ...]:
        """The model's features the input does not carry (absent, or no value in any row).

        Example:
            >>> import numpy as np, pandas as pd
            >>> rng = np.random.default_rng(0)
            >>> model = AnomalyModel.fit(pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"]))
            >>> model.missing_features(pd.DataFrame({"a": [0.1]}))
            ('b',)
        """
        present = {str(c) for c in features.columns if features[c].notna().any()}
        needed = (*self.feature_names, *(() if self.thermal is None else (self.thermal.driver,)))
        return tuple(f for f in needed if f not in present)

    def _scores_with_reference(
        self, values: np.ndarray, state: AlarmState | None
    ) -> tuple[np.ndarray, np.ndarray, list[bool], list[bool], list[bool], AlarmState]:
        """Row by row: the deviation from the machine's reference, the score, the alarm; the reference
        learns from a row only while no alarm is active (frozen during an alarm)."""
        assert self.prior is not None
        state = state or AlarmState()
        ref_mask = self._ref_mask
        cols = np.flatnonzero(ref_mask)
        known = {name: (value, count) for name, value, count in state.reference}
        ref = np.array([known.get(self.feature_names[j], (self.prior[j], 0))[0] for j in cols], dtype=float)
        seen = np.array([known.get(self.feature_names[j], (0.0, 0))[1] for j in cols], dtype=int)
        observed = self._observed(values)
        diff = self._diff_mask[cols]
        warm = np.where(diff, 1, self.warmup_rows)
        life = _Lifecycle(self.calibration, self.policy, state)
        n = len(values)
        z_all = np.zeros_like(values)
        scores = np.zeros(n)
        active: list[bool] = []
        onset: list[bool] = []
        escalated: list[bool] = []
        for i in range(n):
            row = values[i].copy()
            x = row[cols]
            row[cols] = np.where(seen < warm, np.nan, x - ref)
            z = self._z(row[None, :])
            z_all[i] = z[0]
            score = float(self.detector.score(z)[0])
            scores[i] = score
            a, o, e = life.step(score, bool(observed[i]))
            active.append(a)
            onset.append(o)
            escalated.append(e)
            if e and self.policy.rebaseline:  # an alarm outlived the escalation time: learn the reference anew
                now = np.isfinite(x) & ~diff
                ref[now], seen[now] = x[now], self.warmup_rows
            # the reference is frozen while an alarm is active (a differenced channel keeps its last value),
            # except after a re-baselining escalation: then it follows the rows until the alarm clears
            learning = (not a) or (life.escalated and self.policy.rebaseline)
            ok = np.isfinite(x) & (diff | learning)
            ref[ok] += self._gains(seen[ok], diff[ok]) * (x[ok] - ref[ok])
            seen[ok] += 1
        reference = tuple((self.feature_names[j], float(ref[k]), int(seen[k])) for k, j in enumerate(cols))
        return z_all, scores, active, onset, escalated, life.state(reference)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """One score per row (higher is more anomalous), in order from a fresh machine state."""
        if self._ref_mask.any():
            return self._scores_with_reference(self._explained(features, None)[0], None)[1]
        return np.asarray(self.detector.score(self.standardize(features)), dtype=float)

    def evaluate(self, features: pd.DataFrame, state: AlarmState | None = None) -> Evaluation:
        """Score rows in order, run the alarm lifecycle from ``state``, attach severity and action."""
        if len(features) == 0:
            raise FeatureError("no rows to score")
        missing = self.missing_features(features)
        values, thermal_state = self._explained(features, state)
        if self._ref_mask.any():
            z, scores, active, onset, escalated, new_state = self._scores_with_reference(values, state)
        else:
            z = self._z(values)
            scores = np.asarray(self.detector.score(z), dtype=float)
            life = _Lifecycle(self.calibration, self.policy, state)
            observed = self._observed(values)
            steps = [life.step(float(s), bool(seen)) for s, seen in zip(scores, observed, strict=True)]
            active = [a for a, _, _ in steps]
            onset = [o for _, o, _ in steps]
            escalated = [e for _, _, e in steps]
            new_state = life.state()
        if thermal_state:
            new_state = dataclasses.replace(new_state, thermal=thermal_state)
        shares = self.detector.contributions(z)
        active_arr = np.asarray(active, dtype=bool)
        # an escalated episode stays critical until it clears
        in_escalated = np.zeros(len(scores), dtype=bool)
        flag = bool(state.escalated and state.active) if state else False
        for i in range(len(scores)):
            flag = (flag or escalated[i]) and bool(active_arr[i])
            in_escalated[i] = flag
        critical = (scores >= self.calibration.critical) | in_escalated
        severity = np.where(active_arr, np.where(critical, Severity.CRITICAL, Severity.WARNING), Severity.OK)
        owner = [component_of(f) for f in self.feature_names]
        # per-component sums without a BLAS call (tiny matrices; BLAS threads only add latency here)
        comp_shares = np.zeros((len(scores), len(_COMPONENTS)))
        for j, comp in enumerate(_COMPONENTS):
            cols = [i for i, o in enumerate(owner) if o == comp]
            if cols:
                comp_shares[:, j] = shares[:, cols].sum(axis=1)
        best = comp_shares.argmax(axis=1)
        general = _COMPONENTS.index("general_inspection")
        best = np.where(comp_shares[np.arange(len(best)), best] >= 0.5, best, general)
        action = np.asarray(_COMPONENTS, dtype=object)[best]
        frame = pd.DataFrame(
            {
                "score": scores,
                "over_threshold": (scores > self.calibration.threshold).astype(int),
                "is_anomaly": active_arr.astype(int),
                "alarm_onset": np.asarray(onset, dtype=int),
                "escalated": np.asarray(escalated, dtype=int),
                "severity": severity,
                "action": action,
            },
            index=features.index,
        )
        contributions = pd.DataFrame(shares, columns=list(self.feature_names), index=features.index)
        return Evaluation(frame=frame, contributions=contributions, state=new_state, missing=missing)

    def manifest(self) -> dict[str, Any]:
        """What the model is, as JSON (stored next to the model in its artifact)."""
        return {
            "format": "twinledger-anomaly/1",
            "features": list(self.feature_names),
            "calibration": self.calibration.to_dict(),
            "policy": self.policy.to_dict(),
            "row_seconds": self.row_seconds,
            "channels": [c.to_dict() for c in self.channels],
            "dropped": dict(self.dropped),
            "thermal": None if self.thermal is None else self.thermal.to_dict(),
            "reference": {
                "learn_rows": self.learn_rows,
                "rows": self.reference_rows,
                "warmup_rows": self.warmup_rows,
                "frozen_during_alarm": True,
            },
            "tabular": None
            if self.tabular is None
            else {
                "columns": None if self.tabular.columns is None else list(self.tabular.columns),
                "physics": self.tabular.physics,
                "window": self.tabular.window,
                "trend": self.tabular.trend,
                "group_by": self.tabular.group_by,
            },
            **self.meta,
        }

    def check_features(self, features: pd.DataFrame) -> None:
        """Raise when none of the model's features is present in ``features``."""
        if not set(self.feature_names) & {str(c) for c in features.columns}:
            raise AnomalyError(f"none of the model's features ({', '.join(self.feature_names[:6])}...) is in the input")
