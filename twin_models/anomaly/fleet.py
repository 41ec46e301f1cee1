"""The fleet model a federation produced, as an anomaly model the scoring endpoint runs.

A federation (:mod:`twin_models.federated`) ends with a logistic failure model over the fleet's
standardised features (the healthy mean and spread merged from every lessee), a federated threshold and
a manifest naming its round, its participants' update hashes and its ``model_hash`` — the hash anchored
for that round's global model. :func:`fleet_model` turns that into an :class:`AnomalyModel`: the fleet's
standardiser, a :class:`~twin_models.anomaly.detectors.LogisticDetector` on the federated weights, the
federated threshold, and the manifest in ``meta["federation"]``. It refuses weights that do not hash to
the manifest's ``model_hash``, so :func:`~twin_models.anomaly.artifact.model_hash` of the result — the
hash every alarm it raises records — is the anchored one.

Example:
    >>> import numpy as np
    >>> from twin_models.federated import arrays_hash
    >>> w = np.array([1.5, 0.0, -2.0])
    >>> manifest = {"federation": "fleet", "round": 3, "model_hash": arrays_hash([w]), "threshold": 0.6}
    >>> model = fleet_model(manifest, w, mean=[10.0, 0.0], std=[2.0, 1.0], feature_names=["a", "b"])
    >>> model.meta["federation"]["round"], model.detector.name
    (3, 'logistic')
    >>> fleet_model({**manifest, "model_hash": "0x00"}, w, mean=[10.0, 0.0], std=[2.0, 1.0], feature_names=["a", "b"])
    Traceback (most recent call last):
    ...
    twin_models.anomaly.errors.ModelArtifactError: the weights do not hash to the manifest's model_hash
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin_models.anomaly.alarms import AlarmPolicy, Calibration
from twin_models.anomaly.detectors import LogisticDetector
from twin_models.anomaly.errors import AnomalyError, ModelArtifactError
from twin_models.anomaly.model import AnomalyModel

__all__ = ["FEDERATED_DETECTOR", "fleet_model", "weights_match"]

#: The ``detector`` a fleet model's meta names.
FEDERATED_DETECTOR = "federated-logistic"


def weights_match(weights: np.ndarray, model_hash: str) -> bool:
    """Whether ``weights`` hash (:func:`twin_models.federated.arrays_hash`) to ``model_hash``.

    Example:
        >>> import numpy as np
        >>> from twin_models.federated import arrays_hash
        >>> weights_match(np.ones(2), arrays_hash([np.ones(2)])), weights_match(np.zeros(2), arrays_hash([np.ones(2)]))
        (True, False)
    """
    # imported here: the hash needs keccak (pycryptodome), which only a federated model's scoring needs
    from twin_models.federated import arrays_hash

    return arrays_hash([np.asarray(weights, dtype=float)]) == str(model_hash)


def fleet_model(
    manifest: Mapping[str, Any],
    weights: Sequence[float] | np.ndarray,
    *,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
    feature_names: Sequence[str],
    policy: AlarmPolicy | None = None,
    critical: float | None = None,
) -> AnomalyModel:
    """The anomaly model of a federation's result (``manifest`` from
    :func:`twin_models.federated.model_manifest`, the final ``weights``, the fleet standardiser
    ``mean``/``std``). The score is the failure probability; the warning level is the manifest's federated
    ``threshold``, the critical level ``critical`` (default: halfway from the threshold to 1)."""
    w = np.asarray(weights, dtype=float)
    centre, spread = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    names = tuple(str(n) for n in feature_names)
    detector = LogisticDetector(w, str(manifest.get("features", "linear")))
    if not (len(names) == len(centre) == len(spread) == detector.n_features_):
        raise AnomalyError("feature names, standardiser and weights do not fit together")
    if not (np.all(spread > 0) and np.isfinite(centre).all() and np.isfinite(spread).all()):
        raise AnomalyError("the standardiser needs finite means and positive spreads")
    model_hash = str(manifest.get("model_hash", ""))
    if not weights_match(w, model_hash):
        raise ModelArtifactError("the weights do not hash to the manifest's model_hash")
    threshold = float(manifest["threshold"])
    if not 0.0 <= threshold < 1.0:
        raise AnomalyError("a federated threshold is a probability below 1")
    level = (1.0 + threshold) / 2.0 if critical is None else float(critical)
    federation = {
        k: manifest[k]
        for k in ("format", "federation", "round", "model_hash", "participants", "aggregation", "features")
        if k in manifest
    }
    return AnomalyModel(
        feature_names=names,
        center=centre,
        scale=spread,
        detector=detector,
        calibration=Calibration(
            threshold=threshold,
            critical=max(level, threshold),
            quantile=round(1.0 - float(manifest.get("false_alarm_rate", 0.01)), 12),
            n_train=0,
        ),
        policy=policy or AlarmPolicy(),
        meta={"detector": FEDERATED_DETECTOR, "federation": federation},
    )
