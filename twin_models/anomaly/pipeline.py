"""Train and score from tables and telemetry windows: the use cases the CLI, SageMaker and tests share.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"temp": rng.normal(30, 1, 500), "vib": rng.normal(2, 0.1, 500)})
    >>> model = train_table(train, persistence="1/1")
    >>> scored = score_table(model, pd.DataFrame({"temp": [30.0, 45.0], "vib": [2.0, 2.0]}))
    >>> scored["is_anomaly"].tolist(), scored["severity"].tolist()
    ([0, 1], ['ok', 'critical'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.alarms import AlarmPolicy, AlarmState
from twin_models.anomaly.errors import FeatureError
from twin_models.anomaly.features import TabularFeatureConfig, tabular_features, window_features
from twin_models.anomaly.model import AnomalyModel, Evaluation

__all__ = ["evaluate_windows", "score_table", "train_table", "window_rows"]


def train_table(
    frame: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    detector: str = "zscore",
    detector_params: Mapping[str, Any] | None = None,
    window: int = 1,
    trend: int | None = None,
    group_by: str | None = None,
    physics: bool = True,
    exclude: Sequence[str] = (),
    quantile: float = 0.995,
    margin: float = 1.0,
    critical_ratio: float = 2.0,
    persistence: str = "3/5",
) -> AnomalyModel:
    """Fit a model on a table of healthy sensor rows (feature columns default to every numeric one)."""
    config = TabularFeatureConfig(
        columns=None if not features else tuple(features),
        physics=physics,
        window=window,
        trend=trend,
        group_by=group_by,
        exclude=tuple(exclude),
    )
    rows = tabular_features(frame, config)
    return AnomalyModel.fit(
        rows,
        detector,
        detector_params=detector_params,
        quantile=quantile,
        margin=margin,
        critical_ratio=critical_ratio,
        policy=AlarmPolicy.parse(persistence),
        tabular=config,
    )


def score_table(model: AnomalyModel, frame: pd.DataFrame, state: AlarmState | None = None) -> pd.DataFrame:
    """Score a raw table: the input's columns, in its row order, plus ``score``, ``is_anomaly``,
    ``severity`` and ``action``."""
    rows = model.features_from_frame(frame)
    model.check_features(rows)
    result = model.evaluate(rows, state).frame
    out = frame.copy()
    for column in ("score", "is_anomaly", "severity", "action"):
        out[column] = result[column].to_numpy()
    return out


def window_rows(windows: Sequence[Mapping[str, Any]], baseline_temperature: float | None = None) -> pd.DataFrame:
    """Feature rows from request windows: each either ``{"samples": [...]}`` (raw telemetry) or a
    mapping of feature name to value (already computed at the edge).

    The temperature baseline is ``baseline_temperature`` (the machine's, kept by the caller) or else the
    median temperature of the earlier windows in the same request, as in
    :func:`~twin_models.anomaly.features.telemetry_features`."""
    if not windows:
        raise FeatureError("no windows")
    rows: list[dict[str, float]] = []
    earlier: list[float] = []
    for i, item in enumerate(windows):
        if not isinstance(item, Mapping):
            raise FeatureError(f"window {i} is not an object")
        if "samples" in item:
            samples = item["samples"]
            if not isinstance(samples, list) or not samples:
                raise FeatureError(f"window {i} has no samples")
            baseline = baseline_temperature
            if baseline is None and earlier:
                baseline = float(np.median(earlier))
            feats = window_features(samples, baseline_temperature=baseline)
            if math.isfinite(feats["temperature"]):
                earlier.append(feats["temperature"])
            rows.append(feats)
        else:
            try:
                rows.append({str(k): float(v) for k, v in item.items() if v is not None})
            except (TypeError, ValueError) as exc:
                raise FeatureError(f"window {i} has a non-numeric feature: {exc}") from exc
    return pd.DataFrame(rows)


def evaluate_windows(
    model: AnomalyModel,
    windows: Sequence[Mapping[str, Any]],
    state: AlarmState | None = None,
    baseline_temperature: float | None = None,
) -> Evaluation:
    """Score windows of one machine in time order, carrying its alarm state."""
    rows = window_rows(windows, baseline_temperature)
    model.check_features(rows)
    return model.evaluate(rows, state)
