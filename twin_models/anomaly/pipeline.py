"""Train and score from tables and telemetry windows: the use cases the CLI, SageMaker and tests share.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"temp": rng.normal(30, 1, 500), "vib": rng.normal(2, 0.1, 500)})
    >>> model = train_table(train, persistence="1/1")
    >>> scored = score_table(model, pd.DataFrame({"temp": [30.0, 45.0], "vib": [2.0, 2.0]}))
    >>> scored["is_anomaly"].tolist(), scored["alarm_onset"].tolist(), scored["severity"].tolist()
    ([0, 1], [0, 1], ['ok', 'critical'])
    >>> score_table(model, pd.DataFrame({"temp": [30.0]})).attrs["missing"]
    ('vib',)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.alarms import AlarmPolicy, AlarmState, FalseAlarmTarget
from twin_models.anomaly.errors import FeatureError
from twin_models.anomaly.features import TabularFeatureConfig, tabular_features, telemetry_features, window_features
from twin_models.anomaly.model import AnomalyModel, Evaluation

__all__ = ["TELEMETRY_POLICY", "evaluate_windows", "score_table", "train_table", "train_telemetry", "window_rows"]

#: The alarm lifecycle of the telemetry model (one row per 60-sample window): raised at 3 of 5 windows
#: over the threshold, cleared after 30 minutes below it, escalated once after 4 hours (a page; the
#: machine's baseline is re-learnt after maintenance, not by the escalation).
TELEMETRY_POLICY = AlarmPolicy(k=3, n=5, rebaseline=False).in_time(
    60.0, clear_after_s=1800.0, escalate_after_s=4 * 3600.0
)


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
    quantile: float | None = None,
    margin: float = 1.0,
    critical_ratio: float = 2.0,
    persistence: str = "3/5",
    target: FalseAlarmTarget | None = None,
    row_seconds: float | None = None,
    clear_after_s: float | None = None,
    escalate_after_s: float | None = None,
    calibration_fraction: float = 0.25,
    drift: str = "auto",
    strict: bool = False,
) -> AnomalyModel:
    """Fit a model on a table of healthy sensor rows in time order (feature columns default to every
    numeric one); the last ``calibration_fraction`` of the rows (per ``group_by`` unit) set the threshold
    for the false-alarm budget ``target``. With ``row_seconds`` (the time step of a row) the alarm clears
    after ``clear_after_s`` below the threshold and escalates after ``escalate_after_s``."""
    config = TabularFeatureConfig(
        columns=None if not features else tuple(features),
        physics=physics,
        window=window,
        trend=trend,
        group_by=group_by,
        exclude=tuple(exclude),
    )
    rows = tabular_features(frame, config)
    policy = AlarmPolicy.parse(persistence)
    if row_seconds is not None:
        policy = policy.in_time(
            row_seconds,
            clear_after_s=clear_after_s if clear_after_s is not None else policy.n * row_seconds,
            escalate_after_s=escalate_after_s,
        )
    return AnomalyModel.fit(
        rows,
        detector,
        detector_params=detector_params,
        quantile=quantile,
        margin=margin,
        critical_ratio=critical_ratio,
        policy=policy,
        tabular=config,
        target=target,
        row_seconds=row_seconds,
        calibration_fraction=calibration_fraction,
        drift=drift,
        groups=None if group_by is None else frame[group_by].to_numpy(),
        strict=strict,
    )


def score_table(model: AnomalyModel, frame: pd.DataFrame, state: AlarmState | None = None) -> pd.DataFrame:
    """Score a raw table: the input's columns, in its row order, plus ``score``, ``is_anomaly`` (the
    alarm state), ``alarm_onset`` (1 on the first row of each alarm episode), ``severity`` and
    ``action``. ``attrs["missing"]`` names the model's features the table lacks (scored as 0: report
    them), ``attrs["unknown"]`` the columns the model does not know (not scored), ``attrs["state"]`` is
    the alarm state after the last row."""
    rows = model.features_from_frame(frame)
    model.check_features(rows)
    evaluation = model.evaluate(rows, state)
    result = evaluation.frame
    out = frame.copy()
    for column in ("score", "is_anomaly", "alarm_onset", "severity", "action"):
        out[column] = result[column].to_numpy()
    out.attrs["missing"] = evaluation.missing
    used = set(model.feature_names) | ({model.tabular.group_by} if model.tabular and model.tabular.group_by else set())
    if model.thermal is not None:
        used.add(model.thermal.driver)
    out.attrs["unknown"] = tuple(str(c) for c in rows.columns if str(c) not in used and str(c) not in model.dropped)
    out.attrs["state"] = evaluation.state
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


def train_telemetry(
    machines: Mapping[str, Sequence[Any]],
    *,
    window: int = 60,
    detector: str = "zscore",
    target: FalseAlarmTarget | None = None,
    policy: AlarmPolicy | None = None,
    drift: str = "all",
    p: float = 4.0,
    reference_rows: int = 1440,
    learn_rows: int = 60,
    strict: bool = False,
) -> AnomalyModel:
    """The model the ingest path calls, from healthy 1 Hz telemetry of one or more machines (samples
    oldest first, by machine id): one row per ``window`` samples; the last quarter of each machine's
    windows calibrates the threshold. With ``drift="all"`` every channel is scored against the machine's
    own adaptive reference: its healthy baseline, a running mean over its first ``learn_rows`` observed
    windows with the fleet's level as the prior, then an exponential average over ``reference_rows``
    windows, frozen while an alarm is active. The ``zscore`` power ``p = 4`` lets one channel that moves
    far raise the score rather than be averaged away by the others. The temperature is scored as its
    excess over the thermal model of the recent duty (:class:`~twin_models.anomaly.thermal.ThermalModel`:
    warm-up and cool-down after stops are explained, a slow rise at the same running history is not).

    Example:
        >>> from twin_models.anomaly.synthetic import synthetic_samples
        >>> fleet = {"m1": synthetic_samples(60 * 120, seed=1), "m2": synthetic_samples(60 * 120, seed=2)}
        >>> model = train_telemetry(fleet)
        >>> model.row_seconds, model.calibration.n_calibration, model.policy.escalate_after
        (60.0, 60, 240)
    """
    frames: list[pd.DataFrame] = []
    keys: list[str] = []
    for machine_id, samples in machines.items():
        # the temperature is scored as its excess over the machine's thermal model (warm-up and
        # cool-down after stops), against the machine's own reference; the rise over a baseline
        # learnt from batches would follow a slow fault and is left out
        rows = telemetry_features(list(samples), window=window).drop(columns=["temperature_rise"])
        frames.append(rows)
        keys.extend([str(machine_id)] * len(rows))
    if not frames:
        raise FeatureError("no machines to train on")
    row_seconds = float(window)
    if policy is None:
        policy = (
            TELEMETRY_POLICY
            if window == 60
            else AlarmPolicy(k=3, n=5, rebaseline=False).in_time(row_seconds, 1800.0, 4 * 3600.0)
        )
    return AnomalyModel.fit(
        pd.concat(frames, ignore_index=True),
        detector,
        detector_params={"p": p} if detector == "zscore" else None,
        reference_rows=reference_rows,
        learn_rows=learn_rows,
        policy=policy,
        target=target or FalseAlarmTarget(row_rate=0.005, events_per_day=0.5),
        row_seconds=row_seconds,
        drift=drift,
        groups=np.asarray(keys),
        strict=strict,
        thermal=("temperature", "duty"),
    )
