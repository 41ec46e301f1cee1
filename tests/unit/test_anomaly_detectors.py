"""Detectors, calibration, persistent alarms with hysteresis, severity and recommended action."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.anomaly import (
    DETECTORS,
    AlarmPolicy,
    AlarmState,
    AnomalyError,
    NotFittedError,
    calibrate,
    diagnose,
    make_detector,
    run_alarm,
    severity_of,
)


@pytest.fixture(scope="module")
def healthy() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2000, 4))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_outliers_score_above_healthy_rows(name: str, healthy: np.ndarray) -> None:
    det = make_detector(name).fit(healthy)
    fresh = np.random.default_rng(1).normal(size=(500, 4))
    outliers = fresh[:50].copy()
    outliers[:, 2] += 8.0
    healthy_scores = det.score(fresh)
    assert det.score(outliers).min() > np.median(healthy_scores)
    assert np.median(det.score(outliers)) > np.quantile(healthy_scores, 0.95)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_contributions_are_shares_pointing_at_the_deviating_feature(name: str, healthy: np.ndarray) -> None:
    det = make_detector(name).fit(healthy)
    rows = np.zeros((3, 4))
    rows[:, 1] = [6.0, -7.0, 9.0]
    shares = det.contributions(rows)
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (shares >= 0).all()
    assert (shares.argmax(axis=1) == 1).all()


def test_zscore_score_is_power_mean_of_deviations() -> None:
    det = make_detector("zscore", p=2).fit(np.array([[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]]))
    assert det.score(np.array([[3.0, 4.0]]))[0] == pytest.approx(np.sqrt((9 + 16) / 2))


def test_detector_misuse_is_refused(healthy: np.ndarray) -> None:
    with pytest.raises(NotFittedError):
        make_detector("zscore").score(healthy)
    det = make_detector("mahalanobis").fit(healthy)
    with pytest.raises(AnomalyError, match="expected 4 features"):
        det.score(np.zeros((1, 3)))
    with pytest.raises(AnomalyError, match="NaN"):
        det.score(np.full((1, 4), np.nan))
    with pytest.raises(AnomalyError, match="unknown detector"):
        make_detector("lstm")
    with pytest.raises(AnomalyError, match="bad parameters"):
        make_detector("zscore", depth=3)


def test_threshold_is_a_quantile_of_training_scores_and_holds_on_fresh_healthy_data(healthy: np.ndarray) -> None:
    det = make_detector("zscore").fit(healthy)
    train_scores = det.score(healthy)
    cal = calibrate(train_scores, quantile=0.99)
    assert cal.threshold == pytest.approx(np.quantile(train_scores, 0.99))
    fresh = det.score(np.random.default_rng(7).normal(size=(20000, 4)))
    assert (fresh > cal.threshold).mean() == pytest.approx(0.01, abs=0.005)


def test_calibration_refuses_bad_input() -> None:
    with pytest.raises(AnomalyError):
        calibrate([])
    with pytest.raises(AnomalyError):
        calibrate([1.0, float("nan")])
    with pytest.raises(AnomalyError):
        calibrate([1.0], quantile=0.2)


CAL = calibrate([1.0] * 99 + [2.0], quantile=1.0)  # threshold 2, clear level 1.6


def test_a_single_spike_pages_nobody() -> None:
    active, _ = run_alarm([0.5, 0.5, 9.0, 0.5, 0.5, 0.5, 0.5], CAL, AlarmPolicy(k=3, n=5))
    assert not any(active)


def test_persistent_exceedance_raises_at_the_kth_window() -> None:
    active, state = run_alarm([0.5, 3.0, 0.5, 3.0, 3.0, 0.5], CAL, AlarmPolicy(k=3, n=5))
    assert active == [False, False, False, False, True, True]
    assert state.active


def test_hysteresis_keeps_the_alarm_between_clear_level_and_threshold() -> None:
    policy = AlarmPolicy(k=2, n=3)
    # above the clear level (1.6) but below threshold (2): stays raised
    active, _ = run_alarm([3.0, 3.0, 1.8, 1.8, 1.8, 1.8], CAL, policy)
    assert all(active[1:])
    # below the clear level for n windows: clears
    active, state = run_alarm([3.0, 3.0, 1.0, 1.0, 1.0], CAL, policy)
    assert active == [False, True, True, True, False]
    assert not state.active


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=40),
    split=st.integers(min_value=0, max_value=40),
)
def test_alarm_state_carried_across_batches_equals_one_run(scores: list[float], split: int) -> None:
    policy = AlarmPolicy(k=2, n=4)
    whole, whole_state = run_alarm(scores, CAL, policy)
    first, state = run_alarm(scores[:split], CAL, policy)
    carried = AlarmState.from_dict(state.to_dict())  # as stored in the shadow
    second, end_state = run_alarm(scores[split:], CAL, policy, carried)
    assert first + second == whole
    assert end_state == whole_state


def test_policy_validation_and_parsing() -> None:
    assert AlarmPolicy.parse("2/6") == AlarmPolicy(k=2, n=6)
    for bad in ("6/2", "x", "0/3"):
        with pytest.raises(AnomalyError):
            AlarmPolicy.parse(bad)


def test_severity_levels() -> None:
    assert severity_of(10.0, False, CAL) == "ok"
    assert severity_of(2.5, True, CAL) == "warning"
    assert severity_of(CAL.critical, True, CAL) == "critical"


@pytest.mark.parametrize(
    ("contributions", "action"),
    [
        ({"vibration_rms": 0.6, "vibration_trend": 0.2, "temperature": 0.2}, "spindle_bearings"),
        ({"temperature_rise": 0.7, "vibration_rms": 0.3}, "cooling_system"),
        ({"tool_wear": 0.4, "load_per_speed": 0.3, "speed_cv": 0.3}, "tool_change"),
        ({"speed_cv": 0.6, "vibration_rms": 0.4}, "general_inspection"),
        ({"temperature": 0.34, "vibration_rms": 0.33, "tool_wear": 0.33}, "general_inspection"),
    ],
)
def test_recommended_action_follows_the_dominant_component(contributions: dict[str, float], action: str) -> None:
    found = diagnose(contributions)
    assert found.action == action
    assert sum(found.component_shares.values()) == pytest.approx(1.0)
    assert found.top_features[0][1] == max(contributions.values())
