"""Predictive maintenance: windowed features, detectors, calibration, persistent alarms and diagnosis.

Pure domain code (numpy, pandas, scikit-learn), no file I/O: models travel as a manifest and a blob
(:mod:`twin_models.anomaly.artifact`), sensor tables as CSV text (:mod:`twin_models.anomaly.sensor_csv`);
``twinledger.files.anomaly`` stores them on disk. The SageMaker entry points and the Lambda health service
build on it.

Example:
    >>> import numpy as np, pandas as pd
    >>> from twin_models.anomaly import AnomalyModel
    >>> rng = np.random.default_rng(0)
    >>> model = AnomalyModel.fit(pd.DataFrame(rng.normal(size=(300, 2)), columns=["vibration_rms", "temperature"]))
    >>> score = model.score(pd.DataFrame({"vibration_rms": [12.0], "temperature": [0.0]}))[0]
    >>> bool(score > model.calibration.threshold)
    True
"""

from __future__ import annotations

from twin_models.anomaly.alarms import (
    AlarmPolicy,
    AlarmState,
    AlarmTrace,
    Calibration,
    FalseAlarmTarget,
    Severity,
    calibrate,
    calibrate_held_out,
    run_alarm,
    run_lifecycle,
    severity_of,
)
from twin_models.anomaly.artifact import model_from_artifact, model_hash, model_to_artifact
from twin_models.anomaly.detectors import (
    DETECTORS,
    Detector,
    IsolationForestDetector,
    LogisticDetector,
    MahalanobisDetector,
    PCADetector,
    ZScoreDetector,
    make_detector,
)
from twin_models.anomaly.diagnosis import ACTIONS, Diagnosis, component_of, diagnose
from twin_models.anomaly.errors import AnomalyError, FeatureError, ModelArtifactError, NotFittedError
from twin_models.anomaly.features import (
    FEATURE_INPUT_FIELDS,
    TELEMETRY_FEATURES,
    TabularFeatureConfig,
    samples_frame,
    tabular_features,
    telemetry_features,
    window_features,
)
from twin_models.anomaly.fleet import FEDERATED_DETECTOR, fleet_model
from twin_models.anomaly.model import DRIFT_MODES, AnomalyModel, ChannelProfile, Evaluation
from twin_models.anomaly.pipeline import (
    TELEMETRY_POLICY,
    evaluate_windows,
    score_table,
    train_table,
    train_telemetry,
    window_rows,
)
from twin_models.anomaly.sensor_csv import SensorTable, parse_sensor_csv
from twin_models.anomaly.thermal import ThermalModel

__all__ = [
    "ACTIONS",
    "DETECTORS",
    "DRIFT_MODES",
    "FEATURE_INPUT_FIELDS",
    "FEDERATED_DETECTOR",
    "TELEMETRY_FEATURES",
    "TELEMETRY_POLICY",
    "AlarmPolicy",
    "AlarmState",
    "AlarmTrace",
    "AnomalyError",
    "AnomalyModel",
    "Calibration",
    "ChannelProfile",
    "Detector",
    "Diagnosis",
    "Evaluation",
    "FalseAlarmTarget",
    "FeatureError",
    "IsolationForestDetector",
    "LogisticDetector",
    "MahalanobisDetector",
    "ModelArtifactError",
    "NotFittedError",
    "PCADetector",
    "SensorTable",
    "Severity",
    "TabularFeatureConfig",
    "ThermalModel",
    "ZScoreDetector",
    "calibrate",
    "calibrate_held_out",
    "component_of",
    "diagnose",
    "evaluate_windows",
    "fleet_model",
    "make_detector",
    "model_from_artifact",
    "model_hash",
    "model_to_artifact",
    "parse_sensor_csv",
    "run_alarm",
    "run_lifecycle",
    "samples_frame",
    "score_table",
    "severity_of",
    "tabular_features",
    "telemetry_features",
    "train_table",
    "train_telemetry",
    "window_features",
    "window_rows",
]
