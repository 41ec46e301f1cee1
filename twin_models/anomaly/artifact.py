"""A model as an artifact: a JSON-ready manifest and a pickle blob, and back (no files here).

The manifest describes the model (:meth:`AnomalyModel.manifest`) and carries the SHA-256 of the
blob, checked before unpickling, so a truncated or swapped blob is refused, and the model's
``model_hash`` (:func:`model_hash`): the hash every alarm the model raises records, so a lessee can prove
which model version raised it. It is the blob's SHA-256 as ``0x`` hex, except for a model a federation
produced (:func:`twin_models.anomaly.fleet.fleet_model`): then it is the global-model hash anchored for
that federation round, checked against the model's weights. Only load artifacts you
produced: a pickle can run code. Writing the two to a model directory or to SageMaker's
``model.tar.gz`` is :mod:`twinledger.files.anomaly`'s job.

Example:
    >>> import numpy as np, pandas as pd
    >>> from twin_models.anomaly.model import AnomalyModel
    >>> model = AnomalyModel.fit(pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7}))
    >>> manifest, blob = model_to_artifact(model)
    >>> manifest["format"].startswith("twinledger-anomaly/"), model_from_artifact(manifest, blob).feature_names
    (True, ('a', 'b'))
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Mapping
from typing import Any

from twin_models.anomaly.errors import ModelArtifactError
from twin_models.anomaly.model import AnomalyModel

__all__ = ["ARTIFACT_FORMAT_PREFIX", "model_from_artifact", "model_hash", "model_to_artifact"]

#: Every manifest's ``format`` starts with this (the rest is the format version).
ARTIFACT_FORMAT_PREFIX = "twinledger-anomaly/"


def _federated_hash(model: AnomalyModel) -> str | None:
    federation = model.meta.get("federation")
    if not isinstance(federation, Mapping) or not federation.get("model_hash"):
        return None
    # imported here: only a federated model needs the federated hash (and its keccak)
    from twin_models.anomaly.fleet import weights_match

    weights = getattr(model.detector, "weights", None)
    if weights is None or not weights_match(weights, str(federation["model_hash"])):
        raise ModelArtifactError("the model's weights do not hash to its federation's model_hash")
    return str(federation["model_hash"])


def _blob(model: AnomalyModel) -> bytes:
    # the hash a loaded model carries is not part of what it hashes
    meta = {k: v for k, v in model.meta.items() if k != "model_hash"}
    return pickle.dumps(dataclasses.replace(model, meta=meta), protocol=pickle.HIGHEST_PROTOCOL)


def model_hash(model: AnomalyModel) -> str:
    """The hash that names this model version (``0x`` + 64 hex digits): the federation round's anchored
    global-model hash for a federated model, else the SHA-256 of its artifact blob. A model loaded from
    an artifact carries it in ``meta["model_hash"]``.

    Example:
        >>> import pandas as pd
        >>> model = AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5}))
        >>> manifest, blob = model_to_artifact(model)
        >>> model_hash(model) == manifest["model_hash"] == "0x" + manifest["sha256"]
        True
        >>> model_hash(model_from_artifact(manifest, blob)) == manifest["model_hash"]
        True
    """
    known = model.meta.get("model_hash")
    if isinstance(known, str) and known:
        return known
    federated = _federated_hash(model)
    return federated if federated is not None else "0x" + hashlib.sha256(_blob(model)).hexdigest()


def model_to_artifact(model: AnomalyModel) -> tuple[dict[str, Any], bytes]:
    """The model's manifest (with the blob's ``sha256`` and the ``model_hash``) and its pickle blob.

    Example:
        >>> import pandas as pd
        >>> manifest, blob = model_to_artifact(AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5})))
        >>> import hashlib; manifest["sha256"] == hashlib.sha256(blob).hexdigest()
        True
    """
    blob = _blob(model)
    digest = hashlib.sha256(blob).hexdigest()
    federated = _federated_hash(model)
    manifest = {k: v for k, v in model.manifest().items() if k != "model_hash"}
    return {**manifest, "sha256": digest, "model_hash": federated or "0x" + digest}, blob


def model_from_artifact(manifest: Mapping[str, Any], blob: bytes) -> AnomalyModel:
    """The model in ``blob`` once the manifest's format and hash check out (:class:`ModelArtifactError` if not).

    Example:
        >>> import pandas as pd
        >>> manifest, blob = model_to_artifact(AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5})))
        >>> model_from_artifact(manifest, blob[:-1])
        Traceback (most recent call last):
        ...
        twin_models.anomaly.errors.ModelArtifactError: model.pkl does not match the hash in manifest.json
    """
    if not str(manifest.get("format", "")).startswith(ARTIFACT_FORMAT_PREFIX):
        raise ModelArtifactError(f"unknown model format {manifest.get('format')!r}")
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        raise ModelArtifactError("model.pkl does not match the hash in manifest.json")
    model = pickle.loads(blob)
    if not isinstance(model, AnomalyModel):
        raise ModelArtifactError("model.pkl does not hold an AnomalyModel")
    expected = _federated_hash(model) or "0x" + hashlib.sha256(blob).hexdigest()
    if manifest.get("model_hash", expected) != expected:
        raise ModelArtifactError("the manifest's model_hash is not the model's")
    model.meta["model_hash"] = expected
    return model
