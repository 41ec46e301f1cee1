"""The health trend's projection to critical, and its check on the IMS bearing run to failure (``data``)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from twin_models.maintenance import check_run_to_failure, constant_rate, project


def test_an_exponential_rise_is_projected_to_the_hour_with_an_interval_around_it() -> None:
    rng = np.random.default_rng(3)
    hours = [0.5 * i for i in range(60)]
    scores = [0.4 * math.exp(0.05 * h) * float(rng.lognormal(0, 0.05)) for h in hours]
    fit = project(hours, scores, critical=5.0)
    truth = math.log(5.0 / 0.4) / 0.05 - hours[-1]  # 50.5 - 29.5 = 21 h
    assert fit.status == "rising" and fit.model == "log-linear"
    assert fit.hours_to_critical == pytest.approx(truth, abs=2.0)
    assert fit.earliest_h is not None and fit.latest_h is not None and fit.hours_to_critical is not None
    assert fit.earliest_h < fit.hours_to_critical < fit.latest_h


def test_a_flat_score_projects_nothing() -> None:
    hours = [float(h) for h in range(30)]
    fit = project(hours, [1.0 + 0.01 * ((-1) ** h) for h in range(30)], critical=3.0)
    assert fit.hours_to_critical is None and fit.latest_h is None and fit.status == "steady"


def test_too_few_scores_are_insufficient_data_and_a_critical_level_is_now() -> None:
    assert project([0.0, 1.0], [1.0, 2.0], critical=3.0).status == "insufficient data"
    at_critical = project([float(h) for h in range(10)], [3.0 + h for h in range(10)], critical=3.0)
    assert at_critical.status == "critical" and at_critical.hours_to_critical == 0.0


def test_the_linear_model_and_the_constant_rate_baseline() -> None:
    hours = [float(h) for h in range(20)]
    fit = project(hours, [1.0 + 0.1 * h for h in hours], critical=4.0, model="linear")
    assert fit.hours_to_critical == pytest.approx(11.0, abs=1e-6)
    assert constant_rate(1.0, 0.0, 2.9, 19.0, 4.0) == pytest.approx(11.0)
    assert constant_rate(1.0, 0.0, 0.9, 19.0, 4.0) is None


@pytest.mark.data
def test_on_the_ims_run_the_trend_beats_the_constant_rate_baselines(shared_data: Path) -> None:
    from twin_models.anomaly import AnomalyModel
    from twinledger.files.datasets import load_ims

    frame = load_ims(shared_data)
    features = frame.drop(columns=["timestamp"]).astype(float)
    n_train = int(len(frame) * 0.25)
    model = AnomalyModel.fit(features.iloc[:n_train], "zscore", drift="off", quantile=0.995)
    scores = np.asarray(model.score(features), dtype=float)
    hours = ((frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds() / 3600).to_numpy()
    failure_h = float(hours[-1])
    alive = features["b1_rms"].to_numpy() > 0.25 * float(np.median(features["b1_rms"].iloc[:n_train]))
    hours, scores = hours[alive], scores[alive]
    level = float(np.median(scores[hours >= failure_h - 6]))
    onset = next(float(hours[i]) for i in range(len(scores)) if all(scores[i : i + 3] > model.calibration.threshold))
    rows = check_run_to_failure(
        hours.tolist(), scores.tolist(), failure_h, level, onset, float(np.median(scores[:n_train]))
    )

    def mae(values: list[float | None]) -> float:
        return statistics.fmean(abs(v) for v in values if v is not None)

    trend = mae([r.trend_error_h for r in rows])
    assert trend < 0.5 * mae([r.baseline_onset_error_h for r in rows])
    assert trend < 0.1 * mae([r.baseline_start_error_h for r in rows])
    assert trend < 50.0  # hours, over a 74 h degradation phase (benchmarks/maintenance.py: 38.8 h)
