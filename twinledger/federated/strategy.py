"""The lessor's strategies: Flower's FedAvg, FedTrimmedAvg, FedMedian and Krum, with updates screened first.

:func:`make_strategy` returns one of Flower's strategies. For every aggregation but plain ``fedavg`` it
is wrapped so that :meth:`aggregate_train` first hashes every update, screens the updates with
:func:`twin_models.federated.screen_updates` (norm bound, cosine to the median update) and hands only the
accepted replies to Flower's aggregation. Each round's record — global model hash, every lessee's update
hash and verdict — is kept in :attr:`ScreenedMixin.rounds`. Plain ``fedavg`` records the hashes too, and
accepts every update, to show what the attacks do without a defence. With ``trimmed`` and fewer than
four lessees Flower's trim (``int(beta x n)`` updates from each end) would cut nothing and leave an
unweighted mean: the screened, weighted mean (``ScreenedFedAvg`` with screening on) is used instead.

Example:
    >>> strategy = make_strategy("median", clients=4)
    >>> type(strategy).__name__, strategy.rounds
    ('ScreenedFedMedian', [])
    >>> type(make_strategy("trimmed", clients=3)).__name__, make_strategy("trimmed", clients=3).screen
    ('ScreenedFedAvg', True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg, Krum, Strategy

from twin_models.federated import arrays_hash, screen_updates

__all__ = ["AGGREGATIONS", "ScreenedMixin", "make_strategy"]

AGGREGATIONS = ("fedavg", "trimmed", "median", "krum")
#: The share of updates the trimmed mean cuts from each end of every coordinate.
TRIM_BETA = 0.25


def _weights(record: ArrayRecord) -> np.ndarray:
    return np.concatenate([a.ravel() for a in record.to_numpy_ndarrays()])


class ScreenedMixin:
    """Screens and records each round's updates before the Flower strategy aggregates them."""

    screen: bool = True
    lessee_of: Callable[[int], str] = staticmethod(str)
    rounds: list[dict[str, Any]]
    _global: np.ndarray

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Remember the round's global weights, then configure as Flower does."""
        self._global = _weights(arrays)
        return super().configure_train(server_round, arrays, config, grid)  # type: ignore[misc,no-any-return]

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Hash every update, exclude what screening rejects, aggregate the rest with Flower's rule."""
        replies = [r for r in replies if not r.has_error()]
        names = [self.lessee_of(r.metadata.src_node_id) for r in replies]
        new = {n: _weights(r.content.array_records["arrays"]) for n, r in zip(names, replies, strict=True)}
        hashes = {
            n: arrays_hash(r.content.array_records["arrays"].to_numpy_ndarrays())
            for n, r in zip(names, replies, strict=True)
        }
        if self.screen and new:
            verdicts = screen_updates(self._global, new)
        else:
            verdicts = screen_updates(self._global, new, norm_factor=float("inf"), min_cosine=-2.0) if new else []
        accepted = {v.client for v in verdicts if v.accepted}
        kept = [r for n, r in zip(names, replies, strict=True) if n in accepted]
        arrays, metrics = super().aggregate_train(server_round, kept)  # type: ignore[misc]
        record: dict[str, Any] = {
            "round": server_round,
            "updates": hashes,
            "verdicts": [v.as_dict() for v in verdicts],
            "excluded": sorted(set(names) - accepted),
        }
        if arrays is not None:
            record["model_hash"] = arrays_hash(arrays.to_numpy_ndarrays())
            record["weights"] = _weights(arrays).tolist()
        self.rounds.append(record)
        return arrays, metrics


class ScreenedFedAvg(ScreenedMixin, FedAvg):
    """FedAvg over screened updates (``screen=False``: plain FedAvg, every update accepted)."""


class ScreenedFedTrimmedAvg(ScreenedMixin, FedTrimmedAvg):
    """Flower's trimmed mean over screened updates."""


class ScreenedFedMedian(ScreenedMixin, FedMedian):
    """Flower's coordinate-wise median over screened updates."""


class ScreenedKrum(ScreenedMixin, Krum):
    """Flower's Krum over screened updates."""


def make_strategy(aggregation: str, clients: int, lessee_of: Callable[[int], str] = str) -> Strategy:
    """The strategy for ``aggregation`` (one of :data:`AGGREGATIONS`) over ``clients`` lessees.

    ``lessee_of`` names a node id (for the round records); evaluation rounds are off (the lessor evaluates
    the recorded models).
    """
    common: dict[str, Any] = {
        "fraction_evaluate": 0.0,
        "min_train_nodes": clients,
        "min_available_nodes": clients,
    }
    strategy: ScreenedMixin
    if aggregation == "fedavg":
        strategy = ScreenedFedAvg(**common)
        strategy.screen = False
    elif aggregation == "trimmed" and int(TRIM_BETA * clients) < 1:
        # Flower's trimmed mean cuts int(beta x n) updates from each end: with fewer than 4 lessees none,
        # and what is left is an unweighted mean; the screened, weighted mean is then the same defence
        # without ignoring how much data each lessee has
        strategy = ScreenedFedAvg(**common)
    elif aggregation == "trimmed":
        strategy = ScreenedFedTrimmedAvg(beta=TRIM_BETA, **common)
    elif aggregation == "median":
        strategy = ScreenedFedMedian(**common)
    elif aggregation == "krum":
        strategy = ScreenedKrum(num_malicious_nodes=1, **common)
    else:
        raise ValueError(f"unknown aggregation {aggregation!r} (one of {', '.join(AGGREGATIONS)})")
    strategy.rounds = []
    strategy.lessee_of = lessee_of
    return strategy
