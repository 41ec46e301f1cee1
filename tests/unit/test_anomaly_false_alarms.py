"""The false-alarm budget on healthy data the model was not fitted on, the alarm lifecycle in time units,
and generic input (any numeric columns, missing and unusable ones reported)."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.anomaly import (
    AlarmPolicy,
    AnomalyError,
    AnomalyModel,
    Calibration,
    FalseAlarmTarget,
    calibrate_held_out,
    run_lifecycle,
)
from twinledger.cli import main as cli_main

TARGET = FalseAlarmTarget(row_rate=0.02, events_per_day=None)
#: 400 training rows: half fit, half calibrate (200 held-out rows resolve a 5 % budget well: the rate a
#: conformal threshold realises on new rows scatters around the target by about a third of it)
DRIFT_TARGET = FalseAlarmTarget(row_rate=0.05, events_per_day=None)
#: one row a minute: clear after 10 minutes below the threshold, escalate after one hour
POLICY = AlarmPolicy(k=3, n=5, clear_ratio=1.0).in_time(60.0, clear_after_s=600.0, escalate_after_s=3600.0)


def _drifting_healthy(seed: int, slope: float, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    wander = np.cumsum(rng.normal(0, 0.05, n))  # a slow random walk on top of the drift
    return pd.DataFrame(
        {
            "drifting": slope * t + wander + rng.normal(0, 1.0, n),
            "steady": rng.normal(5.0, 0.5, n),
            "warming": 20.0 + 0.004 * t + rng.normal(0, 0.2, n),
        }
    )


def _episodes(active: np.ndarray) -> list[int]:
    runs, length = [], 0
    for flag in active:
        if flag:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return [*runs, length] if length else runs


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), slope=st.floats(0.02, 0.05))
def test_drifting_healthy_signal_keeps_the_false_alarm_budget(seed: int, slope: float) -> None:
    # Given 400 training rows of a drifting healthy signal and 3,000 more healthy rows after them
    rows = _drifting_healthy(seed, slope, 3400)
    model = AnomalyModel.fit(
        rows.iloc[:400], target=DRIFT_TARGET, policy=POLICY, row_seconds=60.0, calibration_fraction=0.5
    )
    # the drift is detected and handled, not learnt as a fixed level
    assert {c.name: c.handling for c in model.channels}["drifting"] == "reference"
    # When the later rows are scored
    frame = model.evaluate(rows.iloc[400:]).frame
    # Then the rows flagged stay within twice the target, and no alarm lasts longer than the stated bound:
    # the escalation time, after which the drifting channel's reference is learnt anew (its running mean
    # over ``learn_rows``), plus the clear time
    assert frame["over_threshold"].mean() <= 2 * DRIFT_TARGET.row_rate
    bound = (POLICY.escalate_after or 0) + model.learn_rows + POLICY.clear_rows
    assert max(_episodes(frame["is_anomaly"].to_numpy(dtype=bool)), default=0) <= bound
    assert frame["alarm_onset"].sum() == len(_episodes(frame["is_anomaly"].to_numpy(dtype=bool)))


def test_the_same_drift_without_drift_handling_alarms_for_good() -> None:
    # the failure the drift handling prevents: a fixed healthy level makes a slow drift a permanent alarm
    rows = _drifting_healthy(1, 0.03, 3400)
    model = AnomalyModel.fit(rows.iloc[:400], target=TARGET, policy=POLICY, row_seconds=60.0, drift="off")
    frame = model.evaluate(rows.iloc[400:]).frame
    assert frame["over_threshold"].mean() > 0.5


def test_threshold_comes_from_later_rows_than_the_fit() -> None:
    # healthy rows whose last quarter is noisier: a threshold from in-sample scores would be too low
    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 750), rng.normal(0, 1.5, 250)], "b": rng.normal(0, 1, 1000)})
    model = AnomalyModel.fit(rows, target=TARGET, drift="off")
    cal = model.calibration
    assert (cal.n_train, cal.n_calibration) == (750, 250)
    in_sample = np.quantile(model.score(rows.iloc[:750]), TARGET.quantile)
    assert cal.threshold > in_sample
    manifest = model.manifest()["calibration"]
    assert manifest["held_out"] is True and manifest["target"] == TARGET.to_dict()
    assert manifest["resolvable_rate"] == pytest.approx(1 / 251, abs=1e-6)


def test_a_budget_the_data_cannot_resolve_is_a_warning_or_refused() -> None:
    scores = np.random.default_rng(0).normal(size=100)
    strict_target = FalseAlarmTarget(row_rate=0.001, events_per_day=1.0)
    cal = calibrate_held_out(scores, n_train=300, target=strict_target, row_seconds=60.0)
    assert len(cal.warnings) == 2  # 100 rows resolve ~1 %, and span 0.07 days
    assert cal.expected_row_rate is not None and cal.resolvable_rate is not None
    assert cal.expected_row_rate >= cal.resolvable_rate
    with pytest.raises(AnomalyError, match="below what 100 calibration rows resolve"):
        calibrate_held_out(scores, n_train=300, target=strict_target, row_seconds=60.0, strict=True)


def test_event_budget_raises_the_threshold_until_the_lifecycle_meets_it() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(size=2880)  # two days of minutes
    scores[::200] += 6.0  # bursts that would each raise an alarm at a low threshold
    scores[1::200] += 6.0
    scores[2::200] += 6.0
    cal = calibrate_held_out(
        scores, n_train=8000, target=FalseAlarmTarget(0.05, events_per_day=1.0), policy=AlarmPolicy(), row_seconds=60.0
    )
    assert cal.expected_events_per_day is not None and cal.expected_events_per_day <= 1.0
    assert sum(run_lifecycle(scores, cal, AlarmPolicy()).onset) <= 2


def test_lifecycle_clears_after_the_stated_time_and_escalates_once() -> None:
    cal = Calibration(threshold=1.0, critical=10.0, quantile=0.99, n_train=100)
    policy = AlarmPolicy(k=3, n=5).in_time(60.0, clear_after_s=300.0, escalate_after_s=1200.0)
    scores = [2.0] * 40 + [0.5] * 4 + [2.0] + [0.5] * 5 + [0.0] * 5
    trace = run_lifecycle(scores, cal, policy)
    assert sum(trace.onset) == 1 and trace.onset[2]
    assert sum(trace.escalated) == 1 and trace.escalated[2 + 19]  # 20 minutes after the onset
    # a brief dip does not clear it; five minutes (rows 45-49) below does
    assert trace.active[44] and trace.active[48]
    assert trace.active.index(False, 3) == 49


def test_escalated_episode_is_critical_until_it_clears() -> None:
    rng = np.random.default_rng(4)
    rows = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    policy = AlarmPolicy(k=3, n=5).in_time(60.0, clear_after_s=300.0, escalate_after_s=600.0)
    model = AnomalyModel.fit(rows, policy=policy, drift="off", target=TARGET)
    hot = pd.DataFrame({"a": [1.3 * model.calibration.threshold * np.sqrt(2)] * 20, "b": [0.0] * 20})
    frame = model.evaluate(hot).frame
    assert frame["alarm_onset"].sum() == 1 and frame["escalated"].sum() == 1
    assert set(frame["severity"].iloc[frame["escalated"].to_numpy().argmax() :]) == {"critical"}


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_csv_with_arbitrary_column_names_trains_and_scores_and_reports_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a CSV of sensor columns whose names mean nothing to the CNC physics
    rng = np.random.default_rng(9)
    n = 1200
    stamps = pd.date_range("2026-03-01", periods=n, freq="10s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    train = pd.DataFrame(
        {
            "time": stamps,
            "alpha": rng.normal(3.0, 0.2, n),
            "beta_x": rng.normal(-40.0, 4.0, n),
            "gamma": rng.integers(0, 3, n).astype(float) * 0.5,  # quantised in steps of 0.5
            "flat": np.full(n, 7.0),  # near-constant: reported, not used
        }
    )
    train_csv = _write(tmp_path / "train.csv", train)
    assert cli_main(["anomaly", "train", "--csv", str(train_csv), "--out", str(tmp_path / "m.tar.gz")]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["features"] == ["alpha", "beta_x", "gamma"]
    assert trained["dropped"] == {"flat": "constant"}
    assert trained["row_seconds"] == 10.0 and trained["n_calibration"] == 300
    # When a CSV without one of the columns (and with an unknown one) is scored
    test = train.drop(columns=["beta_x"]).iloc[:50].assign(delta=1.0)
    test.loc[20:, "alpha"] = 9.0
    test_csv = _write(tmp_path / "test.csv", test)
    assert (
        cli_main(
            [
                "anomaly",
                "score",
                "--model",
                str(tmp_path / "m.tar.gz"),
                "--csv",
                str(test_csv),
                "--out",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    # Then the missing and the unknown column are reported, and the fault is one alarm episode
    assert summary["missing"] == ["beta_x"] and summary["unknown"] == ["delta"]
    assert "beta_x" in captured.err
    out = pd.read_csv(tmp_path / "out.csv")
    assert {"score", "is_anomaly", "alarm_onset", "severity"} <= set(out.columns)
    assert out["alarm_onset"].sum() == 1 and out["is_anomaly"].iloc[-1] == 1


def test_quantised_channel_gets_a_floor_on_its_scale() -> None:
    rng = np.random.default_rng(1)
    # a counter that almost never moves: its healthy spread is far below one step
    counts = np.where(rng.random(800) < 0.01, 1.0, 0.0)
    model = AnomalyModel.fit(pd.DataFrame({"count": counts, "x": rng.normal(size=800)}), drift="off")
    channel = {c.name: c for c in model.channels}["count"]
    assert channel.floor == 1.0
    assert model.scale[model.feature_names.index("count")] >= 1.0


@pytest.mark.parametrize(
    "name",
    [
        "twin_models.anomaly",
        "twin_models.anomaly.alarms",
        "twin_models.anomaly.model",
        "twin_models.anomaly.pipeline",
        "twin_models.anomaly.evaluation",
        "twin_models.anomaly.features",
        "twin_models.anomaly.detectors",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
