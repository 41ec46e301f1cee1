"""Sufficient statistics that aggregate exactly: moments (count, mean, scatter), PCA, the detector built on them.

A lessee reduces its healthy rows to :class:`Moments`; the lessor merges the lessees' moments with the
parallel (Chan et al.) update, which gives the mean and scatter matrix of the pooled rows up to floating
point rounding, whatever the split. The detector (:class:`MomentDetector`) is a function of the merged
moments only, so the federated detector scores every row as the pooled one does.

What leaves a lessee is :meth:`Moments.shared`: the mean, the covariance *per row* and a bucketed weight
(:func:`bucket_count`), never its row count. With bucketed weights the merge is a weighted mean with weights
rounded to a coarse grid; with exact weights (``bucket=False``) it equals pooled training.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(40, 3)), rng.normal(2.0, 1.0, size=(70, 3))
    >>> merged = merge_moments([Moments.of(a), Moments.of(b)])
    >>> bool(np.allclose(merged.mean, np.vstack([a, b]).mean(axis=0)))
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin_models.federated.errors import FederationError

__all__ = ["MomentDetector", "Moments", "bucket_count", "merge_moments", "pca_subspace"]

#: Relative floor of a feature's spread (a constant feature is not a division by zero).
_MIN_STD = 1e-9


def bucket_count(count: float) -> float:
    """``count`` rounded to the grid {1, 1.5} x 2^k (at most ~20 % off): the weight a lessee discloses.

    The grid hides the production volume within a factor of about 1.25 while keeping a lessee with ten
    times the rows ten times as heavy.

    Example:
        >>> [bucket_count(n) for n in (1, 5, 7, 100, 1000)]
        [1.0, 6.0, 8.0, 96.0, 1024.0]
    """
    if count <= 0:
        raise FederationError("a weight must be positive")
    k = math.floor(math.log2(count))
    grid = [2.0**k, 1.5 * 2.0**k, 2.0 ** (k + 1)]
    return min(grid, key=lambda g: (abs(math.log(count / g)), g))


@dataclass(frozen=True)
class Moments:
    """Count, mean and centred scatter matrix (sum of outer products of deviations) of a set of rows.

    Example:
        >>> import numpy as np
        >>> m = Moments.of(np.array([[0.0, 1.0], [2.0, 3.0]]))
        >>> m.count, m.mean.tolist(), m.covariance().tolist()
        (2.0, [1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """

    count: float
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> Moments:
        """The moments of ``rows`` (n x d, finite)."""
        x = np.asarray(rows, dtype=float)
        if x.ndim != 2 or len(x) == 0:
            raise FederationError("moments need a non-empty 2-d array of rows")
        if not np.isfinite(x).all():
            raise FederationError("moments need finite rows")
        mean = x.mean(axis=0)
        dev = x - mean
        return cls(float(len(x)), mean, dev.T @ dev)

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of rows together (exact up to rounding).

        Example:
            >>> import numpy as np
            >>> x = np.arange(12.0).reshape(6, 2)
            >>> m = Moments.of(x[:2]).merge(Moments.of(x[2:]))
            >>> bool(np.allclose(m.scatter, Moments.of(x).scatter))
            True
        """
        if self.mean.shape != other.mean.shape:
            raise FederationError("cannot merge moments of different features")
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.count * other.count / n)
        return Moments(n, mean, scatter)

    def covariance(self) -> np.ndarray:
        """The sample covariance (``scatter / (count - 1)``)."""
        return self.scatter / max(self.count - 1.0, 1.0)

    def std(self) -> np.ndarray:
        """Per-feature sample standard deviation, floored."""
        return np.sqrt(np.maximum(np.diag(self.covariance()), _MIN_STD**2))

    def shared(self, bucket: bool = True) -> dict[str, Any]:
        """What a lessee sends: mean, per-row scatter and the (bucketed) weight — never its row count.

        Example:
            >>> import numpy as np
            >>> sorted(Moments.of(np.ones((5, 2))).shared())
            ['mean', 'scatter_per_row', 'weight']
        """
        weight = bucket_count(self.count) if bucket else self.count
        return {"weight": weight, "mean": self.mean.copy(), "scatter_per_row": self.scatter / self.count}

    @classmethod
    def from_shared(cls, shared: dict[str, Any]) -> Moments:
        """The moments the lessor uses for one lessee's :meth:`shared` statistics."""
        weight = float(shared["weight"])
        mean = np.asarray(shared["mean"], dtype=float)
        scatter = np.asarray(shared["scatter_per_row"], dtype=float) * weight
        if weight <= 0 or not (np.isfinite(mean).all() and np.isfinite(scatter).all()):
            raise FederationError("shared moments must be finite with a positive weight")
        return cls(weight, mean, scatter)


def merge_moments(parts: Iterable[Moments]) -> Moments:
    """All parts merged (the order changes only the rounding).

    Example:
        >>> import numpy as np
        >>> merge_moments([Moments.of(np.zeros((3, 1))), Moments.of(np.ones((1, 1)))]).mean.tolist()
        [0.25]
    """
    merged: Moments | None = None
    for part in parts:
        merged = part if merged is None else merged.merge(part)
    if merged is None:
        raise FederationError("nothing to merge")
    return merged


def pca_subspace(moments: Moments, components: int) -> tuple[np.ndarray, np.ndarray]:
    """The leading principal axes (d x k, columns) and their variances, from the moments alone.

    Example:
        >>> import numpy as np
        >>> x = np.c_[np.arange(10.0), np.zeros(10)]
        >>> axes, var = pca_subspace(Moments.of(x), 1)
        >>> bool(abs(abs(axes[0, 0]) - 1.0) < 1e-12)
        True
    """
    values, vectors = np.linalg.eigh(moments.covariance())
    order = np.argsort(values)[::-1][:components]
    axes = vectors[:, order]
    axes = axes * np.where(axes[np.argmax(np.abs(axes), axis=0), range(axes.shape[1])] < 0, -1.0, 1.0)
    return axes, values[order]


@dataclass(frozen=True)
class MomentDetector:
    """A detector made of merged healthy moments: RMS z-score of a row against the healthy mean and spread,
    plus (with ``components``) the RMS residual off the healthy PCA subspace, in units of its healthy size.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> detector = MomentDetector.fit(Moments.of(rng.normal(size=(500, 3))))
        >>> s = detector.score(np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0]]))
        >>> bool(s[1] > 3 * s[0])
        True
    """

    mean: np.ndarray
    std: np.ndarray
    axes: np.ndarray | None = None
    residual_scale: float = 1.0

    @classmethod
    def fit(cls, moments: Moments, components: int = 0) -> MomentDetector:
        """The detector of these moments (``components`` > 0 adds the PCA residual)."""
        std = moments.std()
        axes = None
        residual_scale = 1.0
        if components > 0:
            scale = np.outer(std, std)
            standardised = Moments(moments.count, np.zeros_like(moments.mean), moments.scatter / scale)
            dims = len(moments.mean)
            axes, _ = pca_subspace(standardised, components)
            rest = np.sort(np.linalg.eigvalsh(standardised.covariance()))[::-1][components:]
            residual_scale = float(np.sqrt(max(float(rest.sum()) / dims, _MIN_STD))) if len(rest) else 1.0
        return cls(moments.mean, std, axes, residual_scale)

    def standardise(self, rows: np.ndarray) -> np.ndarray:
        """Rows in units of the healthy spread around the healthy mean."""
        return np.asarray((np.asarray(rows, dtype=float) - self.mean) / self.std)

    def score(self, rows: np.ndarray) -> np.ndarray:
        """Higher is worse: RMS z, plus the RMS of the residual off the PCA subspace when fitted with one."""
        z = self.standardise(rows)
        score = np.sqrt(np.mean(z**2, axis=1))
        if self.axes is not None:
            residual = z - (z @ self.axes) @ self.axes.T
            score = score + np.sqrt(np.mean(residual**2, axis=1)) / self.residual_scale
        return np.asarray(score)
