"""Quantile sketches that merge exactly: histograms of scores over one grid agreed before the round.

A threshold is a quantile of healthy scores. Each lessee histograms its healthy held-out scores on the
same log-spaced grid (:func:`score_grid`); the lessor adds the histograms (weighted by the lessees'
bucketed weights, since a lessee sends fractions, not counts) and reads the quantile off the merged
histogram (:meth:`ScoreSketch.quantile`). Added histograms are the histogram of the pooled scores, so with
exact weights the federated threshold is the pooled one; the grid's resolution (a bin spans ~1.2 % of its
value by default) bounds the distance to the exact empirical quantile, always on the high side.

Example:
    >>> import numpy as np
    >>> grid = score_grid()
    >>> a = ScoreSketch.of(np.linspace(0.1, 1.0, 100), grid)
    >>> b = ScoreSketch.of(np.linspace(0.1, 3.0, 300), grid)
    >>> pooled = ScoreSketch.of(np.r_[np.linspace(0.1, 1.0, 100), np.linspace(0.1, 3.0, 300)], grid)
    >>> a.merge(b).quantile(0.99) == pooled.quantile(0.99)
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from twin_models.federated.errors import FederationError

__all__ = ["ScoreSketch", "merge_sketches", "score_grid", "sketch_roc_auc"]


def score_grid(low: float = 1e-4, high: float = 1e4, bins: int = 1600) -> np.ndarray:
    """Bin edges, log-spaced from ``low`` to ``high`` (scores are non-negative; below ``low`` is bin 0).

    Example:
        >>> grid = score_grid(1.0, 100.0, 2)
        >>> grid.tolist()
        [0.0, 1.0, 10.0, 100.0, inf]
    """
    return np.asarray(np.r_[0.0, np.geomspace(low, high, bins + 1), np.inf])


@dataclass(frozen=True)
class ScoreSketch:
    """A weight and the fraction of scores in each bin of ``edges``.

    Example:
        >>> import numpy as np
        >>> s = ScoreSketch.of(np.array([0.5, 2.0]), score_grid(1.0, 100.0, 2))
        >>> s.weight, s.fractions.tolist()
        (2.0, [0.5, 0.5, 0.0, 0.0])
    """

    edges: np.ndarray
    fractions: np.ndarray
    weight: float

    @classmethod
    def of(cls, scores: np.ndarray, edges: np.ndarray, weight: float | None = None) -> ScoreSketch:
        """The sketch of ``scores``; ``weight`` is what the sender discloses (default: the count)."""
        s = np.asarray(scores, dtype=float)
        if len(s) == 0 or not np.isfinite(s).all():
            raise FederationError("a sketch needs finite scores")
        counts, _ = np.histogram(np.clip(s, 0.0, None), bins=edges)
        return cls(edges, counts / len(s), float(len(s) if weight is None else weight))

    def merge(self, other: ScoreSketch) -> ScoreSketch:
        """Both sketches as one (the weighted mean of the fractions)."""
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise FederationError("sketches on different grids cannot be merged")
        weight = self.weight + other.weight
        fractions = (self.fractions * self.weight + other.fractions * other.weight) / weight
        return ScoreSketch(self.edges, fractions, weight)

    def quantile(self, q: float) -> float:
        """The upper edge of the bin holding the split-conformal rank ``ceil((n + 1) q)`` of ``n`` scores.

        Example:
            >>> import numpy as np
            >>> s = ScoreSketch.of(np.arange(1.0, 101.0), score_grid(0.5, 200.0, 1000))
            >>> 99.0 <= s.quantile(0.98) <= 99.0 * 1.01
            True
        """
        if not 0.0 < q < 1.0:
            raise FederationError("a quantile lies strictly between 0 and 1")
        rank = min(math.ceil((self.weight + 1.0) * q), self.weight) / self.weight
        cumulative = np.cumsum(self.fractions)
        index = int(np.searchsorted(cumulative, rank - 1e-12, side="left"))
        index = min(index, len(self.fractions) - 1)
        upper = float(self.edges[index + 1])
        return upper if math.isfinite(upper) else float(self.edges[index])


def merge_sketches(sketches: Iterable[ScoreSketch]) -> ScoreSketch:
    """Every sketch merged into one.

    Example:
        >>> import numpy as np
        >>> grid = score_grid()
        >>> merge_sketches([ScoreSketch.of(np.ones(3), grid), ScoreSketch.of(np.ones(1), grid)]).weight
        4.0
    """
    merged: ScoreSketch | None = None
    for sketch in sketches:
        merged = sketch if merged is None else merged.merge(sketch)
    if merged is None:
        raise FederationError("nothing to merge")
    return merged


def sketch_roc_auc(failures: ScoreSketch, healthy: ScoreSketch) -> float:
    """The ROC-AUC read off two histograms on one grid: the failures' scores and the healthy rows' scores.

    The chance that a failure outscores a healthy row, with rows in the same bin counted as ties (half):
    the exact ROC-AUC of the binned scores, so merged lessees' sketches give the pooled rows' figure up to
    the grid's resolution.

    Example:
        >>> import numpy as np
        >>> grid = np.linspace(0.0, 10.0, 11)
        >>> sketch_roc_auc(ScoreSketch.of(np.array([5.5, 7.5]), grid), ScoreSketch.of(np.array([1.5, 5.5]), grid))
        0.875
    """
    if failures.edges.shape != healthy.edges.shape or not np.array_equal(failures.edges, healthy.edges):
        raise FederationError("sketches on different grids cannot be compared")
    below = np.cumsum(healthy.fractions) - healthy.fractions
    return float(np.sum(failures.fractions * (below + 0.5 * healthy.fractions)))
