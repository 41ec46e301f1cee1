"""A model as an artifact: a JSON-ready manifest and a pickle blob, and back (no files here).

The manifest describes the model (:meth:`AnomalyModel.manifest`) and carries the SHA-256 of the
blob, checked before unpickling, so a truncated or swapped blob is refused. Only load artifacts you
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

import hashlib
import pickle
from collections.abc import Mapping
from typing import Any

from twin_models.anomaly.errors import ModelArtifactError
from twin_models.anomaly.model import AnomalyModel

__all__ = ["ARTIFACT_FORMAT_PREFIX", "model_from_artifact", "model_to_artifact"]

#: Every manifest's ``format`` starts with this (the rest is the format version).
ARTIFACT_FORMAT_PREFIX = "twinledger-anomaly/"


def model_to_artifact(model: AnomalyModel) -> tuple[dict[str, Any], bytes]:
    """The model's manifest (with the blob's ``sha256``) and its pickle blob.

    Example:
        >>> import pandas as pd
        >>> manifest, blob = model_to_artifact(AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5})))
        >>> import hashlib; manifest["sha256"] == hashlib.sha256(blob).hexdigest()
        True
    """
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return {**model.manifest(), "sha256": hashlib.sha256(blob).hexdigest()}, blob


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
    return model
