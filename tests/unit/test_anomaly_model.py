"""The model end to end in-process: fit, evaluate, persist, CSV in/out, CLI, SageMaker handlers."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin_models.anomaly import (
    AnomalyModel,
    FeatureError,
    ModelArtifactError,
    parse_sensor_csv,
    telemetry_features,
)
from twin_models.anomaly.synthetic import synthetic_samples
from twinledger.cli import main as cli_main
from twinledger.files.anomaly import load_model_dir, load_model_tar, pack_model_tar, save_model_dir
from twinledger.sagemaker_entry import inference
from twinledger.sagemaker_entry import train as sm_train


@pytest.fixture(scope="module")
def telemetry_model() -> AnomalyModel:
    return AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=11), window=60))


@pytest.mark.parametrize(
    ("fault", "action"), [("bearing", "spindle_bearings"), ("cooling", "cooling_system"), ("tool", "tool_change")]
)
def test_developing_faults_alarm_late_in_the_run_with_the_right_action(
    telemetry_model: AnomalyModel, fault: str, action: str
) -> None:
    # Given an hour of telemetry whose fault starts half-way
    windows = telemetry_features(synthetic_samples(3600, seed=3, fault=fault, onset=0.5), window=60)
    # When
    ev = telemetry_model.evaluate(windows)
    # Then no alarm before the onset, an alarm after it, pointing at the right component
    flags = ev.frame["is_anomaly"].to_numpy()
    assert not flags[:30].any()
    assert flags[-10:].all()
    assert set(ev.frame["action"][flags == 1]) == {action}
    assert ev.frame["severity"].iloc[-1] == "critical"


def test_healthy_telemetry_raises_no_alarm(telemetry_model: AnomalyModel) -> None:
    windows = telemetry_features(synthetic_samples(60 * 240, seed=99), window=60)
    ev = telemetry_model.evaluate(windows)
    assert ev.frame["is_anomaly"].sum() == 0
    assert ev.frame["over_threshold"].mean() < 0.03


def test_missing_feature_counts_as_healthy(telemetry_model: AnomalyModel) -> None:
    rows = telemetry_features(synthetic_samples(120, seed=4), window=60).drop(columns=["power_kw"])
    assert np.isfinite(telemetry_model.score(rows)).all()
    with pytest.raises(Exception, match="none of the model's features"):
        telemetry_model.check_features(pd.DataFrame({"x": [1.0]}))


def test_constant_and_empty_columns_are_dropped_at_training() -> None:
    frame = pd.DataFrame({"a": np.arange(20.0), "const": 1.0, "empty": np.nan})
    assert AnomalyModel.fit(frame).feature_names == ("a",)
    with pytest.raises(FeatureError):
        AnomalyModel.fit(pd.DataFrame({"const": [1.0, 1.0]}))


def test_artifact_round_trip_scores_identically(telemetry_model: AnomalyModel, tmp_path: Path) -> None:
    rows = telemetry_features(synthetic_samples(600, seed=8, fault="bearing"), window=60)
    loaded = load_model_tar(pack_model_tar(telemetry_model, tmp_path / "model.tar.gz"))
    assert np.array_equal(loaded.score(rows), telemetry_model.score(rows))
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "model.pkl"]


def test_tampered_artifact_is_refused(telemetry_model: AnomalyModel, tmp_path: Path) -> None:
    save_model_dir(telemetry_model, tmp_path)
    blob = pickle.loads((tmp_path / "model.pkl").read_bytes())
    blob.calibration = type(blob.calibration)(threshold=1e9, critical=2e9, quantile=0.5, n_train=1)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(blob))
    with pytest.raises(ModelArtifactError, match="hash"):
        load_model_dir(tmp_path)
    with pytest.raises(ModelArtifactError):
        load_model_dir(tmp_path / "absent")


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_delimiter_and_timestamp_detection(sep: str) -> None:
    text = "\ufeff" + sep.join(["timestamp", "temp", "vib", "label"]) + "\n"
    text += "".join(sep.join([f"2026-01-01T00:00:0{i}Z", str(30 + i), "1.5", "a"]) + "\n" for i in range(5))
    table = parse_sensor_csv(text)
    assert table.timestamp_column == "timestamp"
    assert list(table.frame.columns) == ["temp", "vib"]


def _write_csv(path: Path, frame: pd.DataFrame, sep: str = ",") -> Path:
    frame.to_csv(path, index=False, sep=sep)
    return path


def _sensor_frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2026-01-01", periods=n, freq="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame(
        {
            "timestamp": ts,
            "spindle_temp": rng.normal(40, 0.5, n) + shift,
            "vibration": rng.normal(2, 0.1, n),
            "Torque [Nm]": rng.normal(30, 1, n),
            "rpm": rng.normal(3000, 20, n),
        }
    )


def test_cli_train_and_score_keep_row_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train_csv = _write_csv(tmp_path / "train.csv", _sensor_frame(2000, 1), sep=";")
    test = _sensor_frame(300, 2)
    test.loc[200:, "spindle_temp"] += 10  # an overheating stretch
    test = test.sample(frac=1.0, random_state=0).reset_index(drop=True)  # arbitrary order
    test_csv = _write_csv(tmp_path / "test.csv", test)
    assert (
        cli_main(
            ["anomaly", "train", "--csv", str(train_csv), "--out", str(tmp_path / "m.tar.gz"), "--persistence", "1/1"]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert "power_w" in summary["features"]  # physics derived from torque and speed
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
                str(tmp_path / "scores.csv"),
            ]
        )
        == 0
    )
    out = pd.read_csv(tmp_path / "scores.csv")
    assert list(out.columns) == [*test.columns, "score", "is_anomaly", "alarm_onset", "severity"]
    assert out["timestamp"].tolist() == test["timestamp"].tolist()
    hot = test["spindle_temp"].to_numpy() > 45
    assert out["is_anomaly"].to_numpy()[hot].all()
    assert out["is_anomaly"].to_numpy()[~hot].mean() < 0.03
    assert set(out["severity"][hot]) <= {"warning", "critical"}


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind\na,b\n")
    assert cli_main(["anomaly", "train", "--csv", str(bad), "--out", str(tmp_path / "m.tar.gz")]) == 1
    assert "no numeric" in capsys.readouterr().err


def test_sagemaker_training_entry_reads_channel_and_writes_model_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = tmp_path / "training"
    channel.mkdir()
    _write_csv(channel / "a.csv", _sensor_frame(800, 1))
    _write_csv(channel / "b.csv", _sensor_frame(800, 2))
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(channel))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    assert sm_train.main(["--detector", "mahalanobis", "--exclude", "rpm", "--persistence", "2/3"]) == 0
    model = inference.model_fn(str(tmp_path / "model"))
    assert model.meta["detector"] == "mahalanobis"
    assert model.calibration.n_train + model.calibration.n_calibration == 1600  # fitted, then calibrated on later rows
    assert "rpm" not in model.feature_names
    assert (model.policy.k, model.policy.n) == (2, 3)


def test_inference_handlers_json_windows_and_state(telemetry_model: AnomalyModel) -> None:
    faulty = synthetic_samples(60 * 12, seed=5, fault="cooling", onset=0.0, severity=2.0)
    windows = [{"samples": [dict(s, ts=s["ts"].isoformat()) for s in faulty[i : i + 60]]} for i in range(0, 720, 60)]
    first = inference.predict_fn(
        inference.input_fn(json.dumps({"thing": "m1", "windows": windows[:6]}), "application/json"), telemetry_model
    )
    body = json.dumps({"thing": "m1", "windows": windows[6:], "state": first["state"]})
    second = inference.predict_fn(inference.input_fn(body.encode(), "application/json; charset=utf-8"), telemetry_model)
    payload, ctype = inference.output_fn(second, "application/json")
    data = json.loads(payload)
    assert ctype == "application/json"
    assert data["thing"] == "m1"
    assert data["summary"]["alarm"] is True
    assert data["summary"]["action"] == "cooling_system"
    assert len(data["results"]) == 6
    assert abs(sum(data["results"][-1]["contributions"].values()) - 1) < 0.05


def test_inference_handlers_csv_in_and_out(tmp_path: Path) -> None:
    from twin_models.anomaly import train_table

    model = train_table(_sensor_frame(1000, 1).drop(columns=["timestamp"]), persistence="1/1")
    body = _sensor_frame(5, 3).drop(columns=["timestamp"]).to_csv(index=False)
    payload, ctype = inference.output_fn(inference.predict_fn(inference.input_fn(body, "text/csv"), model), "text/csv")
    assert ctype == "text/csv"
    assert pd.read_csv(io.StringIO(payload)).columns.tolist() == [
        "score",
        "is_anomaly",
        "alarm_onset",
        "severity",
        "action",
    ]


@pytest.mark.parametrize(
    ("body", "ctype", "message"),
    [
        ("{}", "application/json", "windows"),
        ("not json", "application/json", "not JSON"),
        ('{"windows": [{"samples": []}]}', "application/json", "no samples"),
        ('{"windows": [{"a": "x"}]}', "application/json", "non-numeric"),
        ("a,b", "application/x-npy", "unsupported content type"),
    ],
)
def test_inference_refuses_bad_requests(body: str, ctype: str, message: str) -> None:
    with pytest.raises(FeatureError, match=message):
        inference.input_fn(body, ctype)


def test_cli_train_telemetry_from_envelopes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [dict(s, ts=s["ts"].isoformat()) for s in synthetic_samples(60 * 60, seed=13)]
    lines = [json.dumps({"machine_id": "m", "samples": rows[i : i + 600]}) for i in range(0, len(rows), 600)]
    (tmp_path / "telemetry.jsonl").write_text("\n".join(lines) + "\n")
    assert (
        cli_main(
            [
                "anomaly",
                "train-telemetry",
                "--samples",
                str(tmp_path / "telemetry.jsonl"),
                "--model-dir",
                str(tmp_path / "model"),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["windows"] == 60
    model = inference.model_fn(str(tmp_path / "model"))
    faulty = telemetry_features(synthetic_samples(1800, seed=14, fault="bearing", onset=0.0, severity=3), window=60)
    assert model.evaluate(faulty).frame["is_anomaly"].iloc[-1] == 1
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert cli_main(["anomaly", "train-telemetry", "--samples", str(tmp_path / "bad.jsonl"), "--out", "x"]) == 1
    assert "line 1" in capsys.readouterr().err
