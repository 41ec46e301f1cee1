"""Choosing a federation's configuration on validation rows carved from the lessees' training rows.

The configuration — the feature map, the schedule (local epochs x rounds, the same 150 steps either way)
and the mill's feature window — is chosen per dataset among a small grid declared here, before any
figure is seen (:func:`candidates`). Each candidate is federated over the lessees' validation
partitions (``split="validation"`` of :func:`~twinledger.federated.data.load_partitions`: every
lessee's training rows split again the way its held-out rows were split off, so the held-out rows are
never read into a partition) and scored by the federated model's ROC-AUC on the validation rows, read
off the merged per-lessee histograms of its scores, which the lessees' ``ClientApp`` answers to the
lessor's ``validation`` query (:func:`~twinledger.federated.task.validation_sketches`): no row is
pooled. The best candidate wins (ties: the first declared); the benchmark then trains it on the full
training rows and grades it on the held-out rows.

Example:
    >>> import logging
    >>> logging.getLogger("flwr").setLevel(logging.ERROR)
    >>> grid = (Candidate("linear", 5, 2), Candidate("quadratic", 5, 2))
    >>> choice = select("synthetic", grid, clients=3)
    >>> choice["chosen"] in grid, len(choice["scores"])
    (True, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from twin_models.federated import MomentDetector, merge_sketches, sketch_roc_auc
from twinledger.federated.data import MILL_WINDOW, Partition, load_partitions
from twinledger.federated.inprocess import run_inprocess
from twinledger.federated.task import validation_sketches

__all__ = ["Candidate", "candidates", "select", "validation_roc_auc"]

#: The mill's candidate windows, rows at the data's 100 ms: 1, 5, 10 and 20 s.
MILL_WINDOWS = (10, 50, 100, 200)
#: The candidate schedules, (local epochs, rounds): the same 150 local steps.
SCHEDULES = ((5, 30), (30, 5))


@dataclass(frozen=True)
class Candidate:
    """One configuration: the feature map, local epochs per round, rounds, and the mill's window (rows)."""

    features: str = "linear"
    epochs: int = 5
    rounds: int = 30
    mill_window: int = MILL_WINDOW

    def run_config(self) -> dict[str, Any]:
        """The run-config keys that carry this configuration.

        Example:
            >>> Candidate("quadratic", 30, 5).run_config()
            {'features': 'quadratic', 'epochs': 30, 'rounds': 5, 'mill-window': 100}
        """
        return {
            "features": self.features,
            "epochs": self.epochs,
            "rounds": self.rounds,
            "mill-window": self.mill_window,
        }

    def label(self, dataset: str = "") -> str:
        """A short name: feature map, epochs x rounds, and the window where the dataset has one.

        Example:
            >>> Candidate("linear", 5, 30, 50).label("mill")
            'linear 5x30 window 5s'
        """
        window = f" window {self.mill_window / 10:g}s" if dataset == "mill" else ""
        return f"{self.features} {self.epochs}x{self.rounds}{window}"


def candidates(dataset: str) -> tuple[Candidate, ...]:
    """The declared grid of ``dataset``: feature map x schedule; on the mill, window x schedule with the
    linear map only (its 46 window features would give 1,127 quadratic inputs for 18 experiments).

    Example:
        >>> len(candidates("ai4i")), len(candidates("mill"))
        (4, 8)
    """
    if dataset == "mill":
        return tuple(Candidate("linear", e, r, w) for w in MILL_WINDOWS for e, r in SCHEDULES)
    return tuple(Candidate(f, e, r) for f in ("linear", "quadratic") for e, r in SCHEDULES)


def validation_roc_auc(result: dict[str, Any], parts: Sequence[Partition]) -> float:
    """The federated model's ROC-AUC on the lessees' ``x_test`` rows from their merged score sketches,
    computed here from partitions at hand (the federation's ``validate`` query computes the same).

    Example:
        >>> import logging
        >>> logging.getLogger("flwr").setLevel(logging.ERROR)
        >>> run = {"dataset": "synthetic", "clients": 3, "rounds": 2, "split": "validation"}
        >>> parts = load_partitions("synthetic", clients=3, split="validation")
        >>> 0.5 < validation_roc_auc(run_inprocess(run), parts) <= 1.0
        True
    """
    scale = MomentDetector(np.asarray(result["scale"]["mean"]), np.asarray(result["scale"]["std"]))
    features = str(result["manifest"].get("features", "linear"))
    weights = np.asarray(result["weights"])
    sketches = [validation_sketches(weights, part, scale, features) for part in parts]
    failures = merge_sketches(s["failures"] for s in sketches if "failures" in s)
    healthy = merge_sketches(s["healthy"] for s in sketches if "healthy" in s)
    return sketch_roc_auc(failures, healthy)


def select(
    dataset: str,
    grid: Sequence[Candidate] | None = None,
    aggregation: str = "trimmed",
    data_dir: str | None = None,
    clients: int = 4,
) -> dict[str, Any]:
    """Federate every candidate of ``grid`` (default :func:`candidates`) on the validation partitions and
    return ``scores`` (each candidate with its validation ROC-AUC, in grid order) and the ``chosen`` one.

    Only ``split="validation"`` partitions are loaded, by the lessees and for the scoring.
    """
    grid = tuple(grid or candidates(dataset))
    scores = []
    lessees = len(load_partitions(dataset, clients=clients, data_dir=data_dir, split="validation"))
    for candidate in grid:
        run = {
            "dataset": dataset,
            "clients": lessees,
            "aggregation": aggregation,
            "split": "validation",
            **({"data-dir": data_dir} if data_dir else {}),
            **candidate.run_config(),
        }
        result = run_inprocess({**run, "validate": True})
        scores.append({**asdict(candidate), "validation_roc_auc": float(result["validation_roc_auc"])})
    best = max(range(len(grid)), key=lambda i: (scores[i]["validation_roc_auc"], -i))
    return {"scores": scores, "chosen": grid[best]}
