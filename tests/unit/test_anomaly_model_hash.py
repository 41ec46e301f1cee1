"""The hash that names a model version: the artifact's for a trained model, the anchored one for a fleet model."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from twin_models.anomaly import AnomalyModel, ModelArtifactError, fleet_model, model_hash
from twin_models.anomaly.artifact import model_from_artifact, model_to_artifact
from twin_models.federated import arrays_hash

finite = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False)


def _fleet(weights: np.ndarray) -> AnomalyModel:
    d = len(weights) - 1
    manifest = {"federation": "fleet", "round": 2, "model_hash": arrays_hash([weights]), "threshold": 0.7}
    return fleet_model(manifest, weights, mean=np.zeros(d), std=np.ones(d), feature_names=[f"f{i}" for i in range(d)])


def test_a_trained_models_hash_is_its_blobs_and_survives_the_artifact() -> None:
    model = AnomalyModel.fit(pd.DataFrame({"a": np.arange(60.0) % 9, "b": np.arange(60.0) % 5}))
    manifest, blob = model_to_artifact(model)
    assert manifest["model_hash"] == "0x" + hashlib.sha256(blob).hexdigest() == model_hash(model)
    loaded = model_from_artifact(manifest, blob)
    assert model_hash(loaded) == manifest["model_hash"]
    other = AnomalyModel.fit(pd.DataFrame({"a": np.arange(60.0) % 7, "b": np.arange(60.0) % 5}))
    assert model_hash(other) != model_hash(model)


def test_a_manifest_naming_another_model_hash_is_refused() -> None:
    manifest, blob = model_to_artifact(AnomalyModel.fit(pd.DataFrame({"a": np.arange(60.0) % 9})))
    with pytest.raises(ModelArtifactError):
        model_from_artifact({**manifest, "model_hash": "0x" + "00" * 32}, blob)


@settings(max_examples=40, deadline=None)
@given(arrays(float, st.integers(2, 8), elements=finite), st.data())
def test_a_fleet_models_hash_is_the_anchored_hash_of_its_weights(weights: np.ndarray, data: st.DataObject) -> None:
    model = _fleet(weights)
    assert model_hash(model) == arrays_hash([weights])
    manifest, blob = model_to_artifact(model)
    assert manifest["model_hash"] == arrays_hash([weights])
    assert model_hash(model_from_artifact(manifest, blob)) == arrays_hash([weights])
    # any other weights under the same manifest are refused
    i = data.draw(st.integers(0, len(weights) - 1))
    changed = weights.copy()
    changed[i] = changed[i] + data.draw(st.sampled_from([1e-9, -0.5, 3.0])) * max(1.0, abs(changed[i]))
    manifest_of_original = {"model_hash": arrays_hash([weights]), "threshold": 0.7}
    with pytest.raises(ModelArtifactError):
        fleet_model(
            manifest_of_original,
            changed,
            mean=np.zeros(len(weights) - 1),
            std=np.ones(len(weights) - 1),
            feature_names=[f"f{j}" for j in range(len(weights) - 1)],
        )


def test_a_fleet_model_whose_weights_were_swapped_after_building_has_no_valid_hash() -> None:
    model = _fleet(np.array([1.0, -2.0, 0.5]))
    model.detector.weights = np.array([1.0, -2.0, 0.6])  # type: ignore[attr-defined]
    with pytest.raises(ModelArtifactError):
        model_hash(model)
    with pytest.raises(ModelArtifactError):
        model_to_artifact(model)


def test_the_fleet_model_scores_the_federated_probability_against_the_federated_threshold() -> None:
    weights = np.array([2.0, 0.0, -1.0])
    model = fleet_model(
        {"model_hash": arrays_hash([weights]), "threshold": 0.5},
        weights,
        mean=[10.0, 0.0],
        std=[2.0, 1.0],
        feature_names=["a", "b"],
    )
    rows = pd.DataFrame({"a": [10.0, 14.0], "b": [0.0, 0.0]})
    expected = 1.0 / (1.0 + np.exp(-(2.0 * (rows["a"].to_numpy() - 10.0) / 2.0 - 1.0)))
    np.testing.assert_allclose(model.score(rows), expected)
    assert model.calibration.threshold == 0.5 and model.calibration.critical == 0.75


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.data())
def test_the_fleet_detector_scores_as_the_federated_model_does(d: int, data: st.DataObject) -> None:
    from twin_models.federated import expand, predict, weight_count

    features = data.draw(st.sampled_from(["linear", "quadratic"]))
    weights = data.draw(arrays(float, weight_count(d, features), elements=st.floats(-3.0, 3.0)))
    rows = data.draw(arrays(float, (7, d), elements=st.floats(-4.0, 4.0)))
    model = fleet_model(
        {"model_hash": arrays_hash([weights]), "threshold": 0.5, "features": features},
        weights,
        mean=np.zeros(d),
        std=np.ones(d),
        feature_names=[f"f{i}" for i in range(d)],
    )
    np.testing.assert_allclose(
        model.score(pd.DataFrame(rows, columns=list(model.feature_names))),
        predict(weights, expand(rows, features)),
        rtol=1e-9,
        atol=1e-12,
    )
    shares = model.detector.contributions(rows)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert (shares >= 0).all()
