"""Federated learning across lessees: the maths only (no transport, no Flower, no I/O).

* :mod:`~twin_models.federated.statistics` — moments that merge exactly, the PCA subspace, the detector
  built from them, bucketed weights;
* :mod:`~twin_models.federated.sketch` — score histograms on one grid, merged, read as quantiles (thresholds);
* :mod:`~twin_models.federated.logistic` — the learned failure model and its local FedProx training;
* :mod:`~twin_models.federated.robust` — norm bound and outlier statistic that screen updates;
* :mod:`~twin_models.federated.attacks` — what a manipulating lessee does;
* :mod:`~twin_models.federated.provenance` — the hashes of models and updates, and their anchoring records.

The Flower apps that carry these between lessor and lessees are :mod:`twinledger.federated`.

Example:
    >>> import numpy as np
    >>> from twin_models.federated import Moments, merge_moments
    >>> merge_moments([Moments.of(np.zeros((2, 1))), Moments.of(np.full((2, 1), 2.0))]).mean.tolist()
    [1.0]
"""

from __future__ import annotations

from twin_models.federated.attacks import ATTACKS, Attack, add_trigger, manipulate_data, manipulate_update
from twin_models.federated.errors import FederationError
from twin_models.federated.logistic import FEATURE_MAPS, expand, predict, roc_auc, train_local, weight_count
from twin_models.federated.provenance import MODEL_FORMAT, arrays_document, arrays_hash, model_manifest, round_records
from twin_models.federated.robust import UpdateVerdict, screen_updates
from twin_models.federated.sketch import ScoreSketch, merge_sketches, score_grid, sketch_roc_auc
from twin_models.federated.statistics import MomentDetector, Moments, bucket_count, merge_moments, pca_subspace

__all__ = [
    "ATTACKS",
    "FEATURE_MAPS",
    "MODEL_FORMAT",
    "Attack",
    "FederationError",
    "MomentDetector",
    "Moments",
    "ScoreSketch",
    "UpdateVerdict",
    "add_trigger",
    "arrays_document",
    "arrays_hash",
    "bucket_count",
    "expand",
    "manipulate_data",
    "manipulate_update",
    "merge_moments",
    "merge_sketches",
    "model_manifest",
    "pca_subspace",
    "predict",
    "roc_auc",
    "round_records",
    "score_grid",
    "screen_updates",
    "sketch_roc_auc",
    "train_local",
    "weight_count",
]
