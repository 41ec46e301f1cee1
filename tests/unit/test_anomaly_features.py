"""Feature extraction: values from first principles, and no row depends on later data."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.anomaly import (
    FeatureError,
    TabularFeatureConfig,
    samples_frame,
    tabular_features,
    telemetry_features,
    window_features,
)
from twin_models.anomaly.synthetic import synthetic_samples
from twin_models.telemetry import Sample

T0 = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)


def test_window_features_match_hand_computation() -> None:
    # Given 60 s at 6,000 rpm, load 30 %, vibration rising 0.5 mm/s per minute, 40 degC
    samples = [
        {
            "ts": T0 + dt.timedelta(seconds=i),
            "spindle_speed_rpm": 6000.0,
            "spindle_load_pct": 30.0,
            "vibration_rms_mm_s": 2.0 + 0.5 * i / 60,
            "temperature_c": 40.0,
            "tool_wear_pct": 10.0 + i / 100,
        }
        for i in range(60)
    ]
    # When
    f = window_features(samples, baseline_temperature=35.0)
    # Then
    vib = np.array([2.0 + 0.5 * i / 60 for i in range(60)])
    assert f["vibration_rms"] == pytest.approx(math.sqrt((vib**2).mean()))
    assert f["vibration_trend"] == pytest.approx(0.5)
    assert f["temperature_rise"] == pytest.approx(5.0)
    assert f["load_per_speed"] == pytest.approx(30.0 / 6.0)
    assert f["speed_cv"] == pytest.approx(0.0)
    assert f["tool_wear"] == pytest.approx(10.59)
    assert math.isnan(f["current_per_speed"])  # no current signal
    assert math.isnan(f["power_kw"])  # no power signal


def test_window_features_accept_telemetry_samples() -> None:
    models = [
        Sample(ts=T0 + dt.timedelta(seconds=i), state=100, spindle_speed_rpm=1000, spindle_current_a=12.0)
        for i in range(10)
    ]
    f = window_features(models)
    assert f["current_per_speed"] == pytest.approx(12.0)
    assert samples_frame(models).index.tz is not None


def test_power_from_torque_and_speed_where_no_power_is_reported() -> None:
    rows = [
        {"ts": T0 + dt.timedelta(seconds=i), "spindle_speed_rpm": 3000.0, "spindle_torque_nm": 20.0} for i in range(5)
    ]
    assert window_features(rows)["power_kw"] == pytest.approx(20.0 * 3000.0 * 2 * math.pi / 60 / 1000)
    metered = [dict(r, power_kw=4.0) for r in rows]
    assert window_features(metered)["power_kw"] == pytest.approx(4.0)


def test_idle_window_has_no_level_features() -> None:
    # a window where the spindle never turns measures nothing about the machine at work: not a zero
    f = window_features([{"ts": T0, "spindle_speed_rpm": 0.0, "spindle_load_pct": 5.0, "vibration_rms_mm_s": 0.2}])
    assert math.isnan(f["load_per_speed"]) and math.isnan(f["speed_cv"])
    assert math.isnan(f["spindle_load"]) and math.isnan(f["vibration_rms"])


def test_temperature_baseline_comes_from_earlier_windows_only() -> None:
    rows = synthetic_samples(600, seed=3)
    features = telemetry_features(rows, window=60)
    temps = features["temperature"].to_numpy()
    for k in range(1, len(temps)):
        assert features["temperature_rise"].iloc[k] == pytest.approx(temps[k] - np.median(temps[:k]))


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=60, max_value=539), bump=st.floats(min_value=-20, max_value=20))
def test_telemetry_features_have_no_look_ahead(cut: int, bump: float) -> None:
    # Given a series, and a copy whose samples from `cut` on are changed
    rows = synthetic_samples(600, seed=5)
    changed = [dict(r) for r in rows]
    for r in changed[cut:]:
        r["vibration_rms_mm_s"] = max(0.0, r["vibration_rms_mm_s"] + bump)
        r["temperature_c"] += bump
        r["spindle_load_pct"] = max(0.0, r["spindle_load_pct"] + bump)
    # When
    a = telemetry_features(rows, window=60, step=30)
    b = telemetry_features(changed, window=60, step=30)
    # Then every window that ended before `cut` is identical
    ended = a.index < rows[cut]["ts"]
    assert ended.any()
    pd.testing.assert_frame_equal(a[ended], b[ended])


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=1, max_value=79), window=st.integers(min_value=1, max_value=12))
def test_tabular_features_have_no_look_ahead(cut: int, window: int) -> None:
    rng = np.random.default_rng(cut)
    frame = pd.DataFrame(
        {
            "unit": np.repeat([1, 2], 40),
            "Torque [Nm]": rng.normal(40, 5, 80),
            "Rotational speed [rpm]": rng.normal(1500, 100, 80),
        }
    )
    changed = frame.copy()
    changed.loc[cut:, "Torque [Nm]"] += 100.0
    config = TabularFeatureConfig(window=window, trend=window + 5, group_by="unit")
    a, b = tabular_features(frame, config), tabular_features(changed, config)
    pd.testing.assert_frame_equal(a.iloc[:cut], b.iloc[:cut])


def test_physics_features_from_column_names() -> None:
    frame = pd.DataFrame(
        {
            "Air temperature [K]": [300.0],
            "Process temperature [K]": [310.5],
            "Rotational speed [rpm]": [1500.0],
            "Torque [Nm]": [40.0],
            "Tool wear [min]": [100.0],
        }
    )
    f = tabular_features(frame)
    assert f["power_w"].iloc[0] == pytest.approx(40.0 * 1500.0 * 2 * math.pi / 60)
    assert f["temperature_rise"].iloc[0] == pytest.approx(10.5)
    assert f["heat_dissipation"].iloc[0] == pytest.approx(10.5 * 1500.0)
    assert f["wear_torque"].iloc[0] == pytest.approx(4000.0)
    assert "power_w" not in tabular_features(frame, TabularFeatureConfig(physics=False))


def test_trend_is_recent_level_minus_longer_past() -> None:
    frame = pd.DataFrame({"s": [0.0, 0.0, 0.0, 0.0, 4.0, 8.0]})
    out = tabular_features(frame, TabularFeatureConfig(window=2, trend=4, physics=False))
    assert out["s"].tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 6.0]
    assert out["s_trend"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 3.0]
    with pytest.raises(FeatureError, match="trend"):
        tabular_features(frame, TabularFeatureConfig(window=4, trend=4))


def test_rolling_never_crosses_units() -> None:
    frame = pd.DataFrame({"unit": [1, 1, 2, 2], "s": [0.0, 2.0, 10.0, 20.0]})
    out = tabular_features(frame, TabularFeatureConfig(window=3, group_by="unit", physics=False))
    assert out["s"].tolist() == [0.0, 1.0, 10.0, 15.0]


@pytest.mark.parametrize(
    ("frame", "config", "message"),
    [
        (pd.DataFrame({"a": ["x", "y"]}), TabularFeatureConfig(), "no numeric"),
        (pd.DataFrame({"a": [1.0]}), TabularFeatureConfig(columns=("b",)), "not in the data"),
        (pd.DataFrame({"a": [1.0]}), TabularFeatureConfig(window=0), "window"),
        (pd.DataFrame({"a": [1.0]}), TabularFeatureConfig(window=2, group_by="u"), "group column"),
    ],
)
def test_bad_tables_are_refused_clearly(frame: pd.DataFrame, config: TabularFeatureConfig, message: str) -> None:
    with pytest.raises(FeatureError, match=message):
        tabular_features(frame, config)


def test_too_few_samples_for_a_window() -> None:
    with pytest.raises(FeatureError, match="fewer than one window"):
        telemetry_features(synthetic_samples(30), window=60)
    with pytest.raises(FeatureError, match="no samples"):
        samples_frame([])
