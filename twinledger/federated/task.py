"""What a lessee computes, shared by the ``ClientApp`` and the baselines: statistics, local training, sketches.

Every function takes a lessee's :class:`~twinledger.federated.data.Partition` and returns only what may
leave it: normalised statistics with a bucketed weight, model weights, score-histogram fractions. The
standardiser (the healthy mean and spread, from the federated statistics) is applied before training
and scoring, so every lessee's features are on the fleet's scale.

Example:
    >>> import numpy as np
    >>> from twinledger.federated.data import load_partitions
    >>> part = load_partitions("synthetic", clients=2)[0]
    >>> sorted(healthy_statistics(part))
    ['mean', 'scatter_per_row', 'weight']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twin_models.federated import (
    Attack,
    MomentDetector,
    Moments,
    ScoreSketch,
    bucket_count,
    expand,
    manipulate_data,
    manipulate_update,
    merge_moments,
    predict,
    score_grid,
    train_local,
)
from twinledger.federated.data import Partition

__all__ = [
    "VALIDATION_GRID",
    "TrainConfig",
    "healthy_statistics",
    "local_train",
    "score_sketches",
    "standardiser",
    "validation_sketches",
]

#: The grid every lessee's score histograms use (agreed before the round: it is part of the code).
GRID = score_grid()
#: The grid of the validation histograms: the model's log-odds (clipped to +-50), shifted by 50, in 0.0125 steps.
VALIDATION_GRID = np.r_[np.linspace(0.0, 100.0, 8001), np.inf]


@dataclass(frozen=True)
class TrainConfig:
    """Local training: epochs, learning rate, FedProx ``mu``, the attack boost factor and the feature map
    (:data:`twin_models.federated.FEATURE_MAPS`)."""

    epochs: int = 30
    learning_rate: float = 0.5
    mu: float = 0.01
    attack_factor: float = 10.0
    features: str = "linear"
    #: A data-poisoning lessee trains this many times the epochs on its poisoned rows: it is not bound by
    #: the lessor's schedule, and a poisoned model trained further survives the averaging better.
    attack_epochs_factor: int = 6


def healthy_statistics(part: Partition, bucket: bool = True) -> dict[str, Any]:
    """The moments of the lessee's healthy training rows as shared (mean, per-row scatter, bucketed weight)."""
    return Moments.of(part.x_train[part.y_train < 0.5]).shared(bucket=bucket)


def standardiser(shared: list[dict[str, Any]]) -> MomentDetector:
    """The fleet's healthy detector (and standardiser) from the lessees' shared statistics."""
    return MomentDetector.fit(merge_moments(Moments.from_shared(s) for s in shared))


def local_train(
    weights: np.ndarray,
    part: Partition,
    scale: MomentDetector,
    config: TrainConfig = TrainConfig(),
    attack: Attack | None = None,
) -> tuple[np.ndarray, float]:
    """New weights from ``weights`` on the lessee's rows, and the bucketed weight it reports.

    With ``attack``, the lessee manipulates: its data (labels flipped, a backdoor) or its update.
    """
    x, y = scale.standardise(part.x_train), part.y_train
    if attack is not None:
        x, y = manipulate_data(attack, x, y)
    x = expand(x, config.features)
    epochs = config.epochs * (config.attack_epochs_factor if attack in ("labelflip", "backdoor") else 1)
    new = train_local(weights, x, y, epochs=epochs, learning_rate=config.learning_rate, mu=config.mu)
    if attack is not None:
        new = manipulate_update(weights, new, attack, factor=config.attack_factor)
    return new, bucket_count(len(part.x_train))


def score_sketches(
    weights: np.ndarray, part: Partition, scale: MomentDetector, features: str = "linear"
) -> dict[str, ScoreSketch]:
    """Histograms (fractions, bucketed weight) of the healthy rows' scores: classifier and detector."""
    healthy = part.x_train[part.y_train < 0.5]
    weight = bucket_count(len(healthy))
    scores = predict(weights, expand(scale.standardise(healthy), features)) * 100.0
    return {
        "classifier": ScoreSketch.of(scores, GRID, weight),
        "detector": ScoreSketch.of(scale.score(healthy), GRID, weight),
    }


def validation_sketches(
    weights: np.ndarray, part: Partition, scale: MomentDetector, features: str = "linear"
) -> dict[str, ScoreSketch]:
    """Histograms (fractions, bucketed weight) of the model's log-odds on the lessee's ``x_test`` rows,
    failures and healthy rows apart: merged over the lessees they give the ROC-AUC on every lessee's
    rows (:func:`~twin_models.federated.sketch_roc_auc`) without a row leaving its lessee; the weights are
    bucketed, so the merged figure is the pooled rows' ROC-AUC only approximately (the lessees' shares
    are off by up to ~20 %). A class the lessee has no rows of is left out.

    Example:
        >>> from twinledger.federated.data import load_partitions
        >>> part = load_partitions("synthetic", clients=2, split="validation")[0]
        >>> scale = standardiser([healthy_statistics(part)])
        >>> sorted(validation_sketches(np.zeros(6), part, scale))
        ['failures', 'healthy']
    """
    w = np.asarray(weights, dtype=float)
    log_odds = expand(scale.standardise(part.x_test), features) @ w[:-1] + w[-1]  # what predict squashes
    scores = np.clip(log_odds, -50.0, 50.0) + 50.0
    out = {}
    for name, rows in (("failures", part.y_test >= 0.5), ("healthy", part.y_test < 0.5)):
        if rows.any():
            out[name] = ScoreSketch.of(scores[rows], VALIDATION_GRID, bucket_count(int(rows.sum())))
    return out
