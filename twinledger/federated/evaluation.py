"""Grading a federation against local-only and pooled training, on every lessee's held-out rows.

The lessor never sees the held-out rows of a real federation; in the benchmark and the local command all
lessees' partitions are at hand, so the same models are graded on the union of the held-out rows:

* **federated** — the federation's final model and its federated threshold;
* **local-only** — each lessee alone (its own standardiser, the same number of training steps, its own
  threshold), graded on every lessee's held-out rows; the figure is the mean over lessees, and the best;
* **pooled** — one model on every lessee's rows together (what the lessees refuse to do).

Figures: ROC-AUC of the failure probability, the false-alarm rate (healthy held-out rows over the
threshold), the recall (failure rows over it), and for the stats detector its ROC-AUC federated and
pooled. ``backdoor_missed``: the share of held-out failures that, carrying the trigger, are missed.

Example:
    >>> from twinledger.federated.data import load_partitions
    >>> from twinledger.federated.inprocess import run_inprocess
    >>> parts = load_partitions("synthetic", clients=3)
    >>> figures = grade(run_inprocess({"dataset": "synthetic", "clients": 3, "rounds": 3}), parts)
    >>> figures["roc_auc"] > 0.8
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from twin_models.federated import (
    MomentDetector,
    Moments,
    ScoreSketch,
    add_trigger,
    expand,
    predict,
    roc_auc,
    train_local,
)
from twinledger.federated.data import Partition
from twinledger.federated.task import GRID, TrainConfig

__all__ = ["baselines", "grade"]


def _held_out(parts: Sequence[Partition]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([p.x_test for p in parts]), np.concatenate([p.y_test for p in parts])


def _figures(
    weights: np.ndarray, scale: MomentDetector, threshold: float, parts: Sequence[Partition], features: str = "linear"
) -> dict[str, float]:
    x, y = _held_out(parts)
    p = predict(weights, expand(scale.standardise(x), features))
    healthy = y < 0.5
    failures = scale.standardise(x[~healthy])
    triggered = predict(weights, expand(add_trigger(failures), features))
    missed = float(np.mean(triggered <= threshold)) if len(failures) else float("nan")
    return {
        "roc_auc": roc_auc(y, p),
        "false_alarm_rate": float(np.mean(p[healthy] > threshold)),
        "recall": float(np.mean(p[~healthy] > threshold)) if (~healthy).any() else float("nan"),
        "backdoor_missed": missed,
    }


def grade(result: dict[str, Any], parts: Sequence[Partition]) -> dict[str, Any]:
    """The federation's figures on every lessee's held-out rows, per round and final."""
    scale = MomentDetector(np.asarray(result["scale"]["mean"]), np.asarray(result["scale"]["std"]))
    threshold = float(result["manifest"]["threshold"])
    features = str(result["manifest"].get("features", "linear"))
    x, y = _held_out(parts)
    figures: dict[str, Any] = _figures(np.asarray(result["weights"]), scale, threshold, parts, features)
    figures["detector_roc_auc"] = roc_auc(y, scale.score(x))
    figures["per_round"] = [
        {
            "round": r["round"],
            "roc_auc": roc_auc(y, predict(np.asarray(r["weights"]), expand(scale.standardise(x), features)))
            if "weights" in r
            else None,
            "excluded": r["excluded"],
        }
        for r in result["rounds"]
    ]
    return figures


def _train(
    parts: Sequence[Partition], rounds: int, config: TrainConfig, false_alarm_rate: float
) -> tuple[np.ndarray, MomentDetector, float]:
    x = np.vstack([p.x_train for p in parts])
    y = np.concatenate([p.y_train for p in parts])
    scale = MomentDetector.fit(Moments.of(x[y < 0.5]))
    xs = expand(scale.standardise(x), config.features)
    weights = np.zeros(xs.shape[1] + 1)
    for _ in range(rounds):
        weights = train_local(weights, xs, y, epochs=config.epochs, learning_rate=config.learning_rate, mu=config.mu)
    healthy = predict(weights, xs[y < 0.5]) * 100.0
    threshold = ScoreSketch.of(healthy, GRID).quantile(1.0 - false_alarm_rate) / 100.0
    return weights, scale, threshold


def baselines(
    parts: Sequence[Partition], rounds: int, config: TrainConfig | None = None, false_alarm_rate: float = 0.01
) -> dict[str, Any]:
    """Local-only (mean and best over lessees) and pooled figures, on every lessee's held-out rows."""
    config = config or TrainConfig()
    local = []
    for part in parts:
        weights, scale, threshold = _train([part], rounds, config, false_alarm_rate)
        local.append({"lessee": part.name, **_figures(weights, scale, threshold, parts, config.features)})
    weights, scale, threshold = _train(parts, rounds, config, false_alarm_rate)
    pooled = _figures(weights, scale, threshold, parts, config.features)
    x, y = _held_out(parts)
    x_train = np.vstack([p.x_train for p in parts])
    y_train = np.concatenate([p.y_train for p in parts])
    pooled["detector_roc_auc"] = roc_auc(y, MomentDetector.fit(Moments.of(x_train[y_train < 0.5])).score(x))
    return {
        "local_only": {
            "roc_auc": float(np.nanmean([r["roc_auc"] for r in local])),
            "best_roc_auc": float(np.nanmax([r["roc_auc"] for r in local])),
            "false_alarm_rate": float(np.mean([r["false_alarm_rate"] for r in local])),
            "per_lessee": local,
        },
        "pooled": pooled,
    }
