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

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.alarms import AlarmPolicy, AlarmState, Calibration, Severity, calibrate, run_alarm
from twin_models.anomaly.detectors import Detector, make_detector
from twin_models.anomaly.diagnosis import ACTIONS, component_of
from twin_models.anomaly.errors import AnomalyError, FeatureError
from twin_models.anomaly.features import TabularFeatureConfig, tabular_features

__all__ = ["AnomalyModel", "Evaluation"]

_COMPONENTS = tuple(ACTIONS)
_MIN_SCALE = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """Scored rows (same order as the input) and the alarm state to carry to the next batch.

    ``frame`` has ``score``, ``over_threshold`` (0/1), ``is_anomaly`` (0/1: the persistent alarm is
    active), ``severity`` (ok/warning/critical) and ``action``; ``contributions`` holds each feature's
    share of each row's score.
    """

    frame: pd.DataFrame
    contributions: pd.DataFrame
    state: AlarmState


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

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        detector: str | Detector = "zscore",
        *,
        detector_params: Mapping[str, Any] | None = None,
        quantile: float = 0.995,
        margin: float = 1.0,
        critical_ratio: float = 2.0,
        policy: AlarmPolicy | None = None,
        tabular: TabularFeatureConfig | None = None,
    ) -> AnomalyModel:
        """Fit on healthy feature rows. Columns that are all missing or constant are dropped."""
        if features.empty:
            raise FeatureError("no training rows")
        numeric = features.select_dtypes(include="number").astype(float)
        center = numeric.median(skipna=True)
        scale = numeric.std(ddof=0, skipna=True)
        keep = [
            c for c in numeric.columns if np.isfinite(center[c]) and np.isfinite(scale[c]) and scale[c] > _MIN_SCALE
        ]
        if not keep:
            raise FeatureError("no usable feature column (all missing or constant)")
        numeric = numeric[keep]
        mean = numeric.mean(skipna=True).to_numpy()
        std = numeric.std(ddof=0, skipna=True).to_numpy()
        det = make_detector(detector, **dict(detector_params or {})) if isinstance(detector, str) else detector
        model = cls(
            feature_names=tuple(str(c) for c in keep),
            center=mean,
            scale=std,
            detector=det,
            calibration=Calibration(threshold=np.inf, critical=np.inf, quantile=quantile, n_train=0),
            policy=policy or AlarmPolicy(),
            tabular=tabular,
        )
        z = model.standardize(numeric)
        det.fit(z)
        model.calibration = calibrate(det.score(z), quantile=quantile, margin=margin, critical_ratio=critical_ratio)
        model.meta = {
            "detector": det.name,
            "detector_params": det.params(),
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 - py3.9
            "n_train": len(numeric),
        }
        return model

    def standardize(self, features: pd.DataFrame) -> np.ndarray:
        """Rows as z scores against the healthy profile; a missing column or value counts as healthy (0)."""
        cols = list(self.feature_names)
        frame = features.reindex(columns=cols)
        try:
            values = frame.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"feature values must be numeric: {exc}") from exc
        z: np.ndarray = np.asarray((values - self.center) / self.scale, dtype=float)
        z[~np.isfinite(z)] = 0.0
        return z

    def features_from_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Feature rows from a raw numeric frame (the CSV path), built as at training time."""
        if self.tabular is None:
            return frame
        return tabular_features(frame, self.tabular)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """One score per row (higher is more anomalous)."""
        return np.asarray(self.detector.score(self.standardize(features)), dtype=float)

    def evaluate(self, features: pd.DataFrame, state: AlarmState | None = None) -> Evaluation:
        """Score rows in order, run the persistent alarm from ``state``, attach severity and action."""
        if len(features) == 0:
            raise FeatureError("no rows to score")
        z = self.standardize(features)
        scores = self.detector.score(z)
        shares = self.detector.contributions(z)
        active, new_state = run_alarm(scores, self.calibration, self.policy, state)
        active_arr = np.asarray(active, dtype=bool)
        severity = np.where(
            active_arr, np.where(scores >= self.calibration.critical, Severity.CRITICAL, Severity.WARNING), Severity.OK
        )
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
                "severity": severity,
                "action": action,
            },
            index=features.index,
        )
        contributions = pd.DataFrame(shares, columns=list(self.feature_names), index=features.index)
        return Evaluation(frame=frame, contributions=contributions, state=new_state)

    def manifest(self) -> dict[str, Any]:
        """What the model is, as JSON (stored next to the model in its artifact)."""
        return {
            "format": "twinledger-anomaly/1",
            "features": list(self.feature_names),
            "calibration": self.calibration.to_dict(),
            "policy": self.policy.to_dict(),
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
