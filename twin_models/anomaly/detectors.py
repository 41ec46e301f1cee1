"""Detectors behind one interface: fit on healthy standardised rows, score new rows (higher = worse).

Every detector receives rows already standardised against the healthy training data (``z`` scores; see
:class:`twin_models.anomaly.model.AnomalyModel`) and returns, besides a score, each feature's share of it
(non-negative, summing to 1 per row) so an alarm can say which signals drove it.

* ``zscore`` — the power mean of per-feature deviations, ``(mean |z|^p)^(1/p)`` (``p=2``: the RMS z).
  Cheap, explainable, and the most accurate on the run-to-failure data (see ``docs/anomaly.md``),
  because degradation shows as a drift of some signals while healthy sensor noise is nearly independent.
* ``mahalanobis`` — the Mahalanobis distance under a Ledoit-Wolf shrunk covariance (or a Minimum
  Covariance Determinant robust one), for signals whose healthy correlations matter.
* ``pca`` — how the channels move together: principal components of the healthy rows, Hotelling's T²
  on the retained components plus the Q (squared prediction error) of the residual, each scaled by its
  healthy mean and combined; a channel that breaks the healthy correlations shows in Q even when it
  stays within its own range. Contributions are reconstruction-based (non-negative, summing to one).
* ``iforest`` — scikit-learn's IsolationForest, the baseline.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> healthy = rng.normal(size=(500, 3))
    >>> det = make_detector("zscore").fit(healthy)
    >>> bool(det.score(np.array([[0.0, 0.0, 8.0]]))[0] > det.score(np.zeros((1, 3)))[0])
    True
    >>> det.contributions(np.array([[0.0, 0.0, 8.0]])).round(2).tolist()
    [[0.0, 0.0, 1.0]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.covariance import LedoitWolf, MinCovDet
from sklearn.ensemble import IsolationForest

from twin_models.anomaly.errors import AnomalyError, NotFittedError

if TYPE_CHECKING:  # Python 3.11 typing; the module itself also runs on the 3.9 SageMaker containers
    from typing import Self

__all__ = [
    "DETECTORS",
    "Detector",
    "IsolationForestDetector",
    "LogisticDetector",
    "MahalanobisDetector",
    "PCADetector",
    "ZScoreDetector",
    "make_detector",
]


def _check(z: np.ndarray, n_features: int | None = None) -> np.ndarray:
    arr = np.asarray(z, dtype=float)
    if arr.ndim != 2:
        raise AnomalyError(f"expected a 2-D array of rows x features, got shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise AnomalyError(f"expected {n_features} features, got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        raise AnomalyError("rows contain NaN or infinite values")
    return arr


def _shares(weights: np.ndarray) -> np.ndarray:
    weights = np.clip(weights, 0.0, None)
    total = weights.sum(axis=1, keepdims=True)
    n = weights.shape[1]
    uniform = np.full_like(weights, 1.0 / n if n else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, weights / np.where(total > 0, total, 1.0), uniform)
    return out


class Detector(ABC):
    """Scores standardised rows; ``fit`` takes healthy rows only."""

    name: ClassVar[str]
    n_features_: int | None = None

    @abstractmethod
    def fit(self, z: np.ndarray) -> Self:
        """Learn the healthy profile from standardised rows."""

    @abstractmethod
    def score(self, z: np.ndarray) -> np.ndarray:
        """One anomaly score per row, higher is more anomalous."""

    def contributions(self, z: np.ndarray) -> np.ndarray:
        """Each feature's share of a row's deviation (rows sum to 1); squared z by default."""
        arr = _check(z, self._fitted())
        return _shares(arr**2)

    def params(self) -> dict[str, Any]:
        """The constructor parameters, for the model manifest."""
        return {}

    def _fitted(self) -> int:
        if self.n_features_ is None:
            raise NotFittedError(f"the {self.name} detector is not fitted")
        return self.n_features_


class ZScoreDetector(Detector):
    """Power mean of absolute per-feature z scores: ``p=2`` is an RMS, large ``p`` tends to the max."""

    name = "zscore"

    def __init__(self, p: float = 2.0) -> None:
        if p < 1:
            raise AnomalyError("p must be at least 1")
        self.p = float(p)

    def fit(self, z: np.ndarray) -> Self:
        arr = _check(z)
        self.n_features_ = arr.shape[1]
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        arr = _check(z, self._fitted())
        return np.asarray(np.mean(np.abs(arr) ** self.p, axis=1) ** (1.0 / self.p))

    def contributions(self, z: np.ndarray) -> np.ndarray:
        arr = _check(z, self._fitted())
        return _shares(np.abs(arr) ** self.p)

    def params(self) -> dict[str, Any]:
        return {"p": self.p}


class MahalanobisDetector(Detector):
    """Mahalanobis distance of a row from the healthy mean, under a shrunk or robust covariance."""

    name = "mahalanobis"

    def __init__(self, robust: bool = False, random_state: int = 0) -> None:
        self.robust = robust
        self.random_state = random_state
        self.location_: np.ndarray | None = None
        self.precision_: np.ndarray | None = None

    def fit(self, z: np.ndarray) -> Self:
        arr = _check(z)
        if arr.shape[0] < 2:
            raise AnomalyError("need at least 2 healthy rows")
        est: LedoitWolf | MinCovDet
        est = MinCovDet(random_state=self.random_state) if self.robust else LedoitWolf()
        est.fit(arr)
        self.location_ = np.asarray(est.location_, dtype=float)
        self.precision_ = np.asarray(est.get_precision(), dtype=float)
        self.n_features_ = arr.shape[1]
        return self

    def _centered(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arr = _check(z, self._fitted())
        assert self.location_ is not None and self.precision_ is not None
        d = arr - self.location_
        return d, d @ self.precision_

    def score(self, z: np.ndarray) -> np.ndarray:
        d, pd_ = self._centered(z)
        return np.asarray(np.sqrt(np.clip((d * pd_).sum(axis=1), 0.0, None)))

    def contributions(self, z: np.ndarray) -> np.ndarray:
        d, pd_ = self._centered(z)
        return _shares(d * pd_)

    def params(self) -> dict[str, Any]:
        return {"robust": self.robust, "random_state": self.random_state}


class PCADetector(Detector):
    """T² on the principal components that explain ``variance`` of the healthy rows plus Q on the
    residual, combined as ``sqrt(T²/k + Q/mean healthy Q)`` (a combined index: about 1.4 on a typical
    healthy row, whatever the number of channels).

    Each channel's contribution is its reconstruction-based contribution to the combined index,
    ``(M x)_j² / M_jj`` with ``M = P Λ⁻¹ Pᵀ / k + (I - P Pᵀ) / q̄``: the part of the index removed by
    reconstructing that channel from the others; non-negative, shares summing to one.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(2000, 1))
        >>> healthy = np.hstack([a, a + 0.1 * rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1))])
        >>> det = PCADetector().fit(healthy)
        >>> broken = np.array([[1.0, -1.0, 0.0]])  # each channel in range, their relation broken
        >>> bool(det.score(broken)[0] > 3 * np.median(det.score(healthy)))
        True
        >>> det.contributions(broken).round(2).tolist()
        [[0.5, 0.5, 0.0]]
    """

    name = "pca"

    def __init__(self, variance: float = 0.9, max_components: int | None = None) -> None:
        if not 0 < variance < 1:
            raise AnomalyError("variance must be within (0, 1)")
        if max_components is not None and max_components < 1:
            raise AnomalyError("max_components must be at least 1")
        self.variance = float(variance)
        self.max_components = max_components
        self.mean_: np.ndarray | None = None
        self.metric_: np.ndarray | None = None
        self.n_components_: int = 0

    def fit(self, z: np.ndarray) -> Self:
        arr = _check(z)
        if arr.shape[0] < 3:
            raise AnomalyError("need at least 3 healthy rows")
        d = arr.shape[1]
        self.mean_ = arr.mean(axis=0)
        centered = arr - self.mean_
        cov = centered.T @ centered / (arr.shape[0] - 1)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
        total = float(eigval.sum())
        if total <= 0:
            raise AnomalyError("the healthy rows do not vary")
        explained = np.cumsum(eigval) / total
        k = int(np.searchsorted(explained, self.variance) + 1)
        limit = d - 1 if d > 1 else 1  # keep a residual to compute Q on
        if self.max_components is not None:
            limit = min(limit, self.max_components)
        k = max(1, min(k, limit))
        floor = max(total * 1e-9, 1e-12)
        loadings = eigvec[:, :k]
        lam = np.maximum(eigval[:k], floor)
        residual = np.eye(d) - loadings @ loadings.T
        q_mean = max(float(eigval[k:].sum()), floor) if d > k else 1.0
        self.metric_ = (loadings / lam) @ loadings.T / k + (residual / q_mean if d > k else 0.0)
        self.n_components_ = k
        self.n_features_ = d
        return self

    def _projected(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arr = _check(z, self._fitted())
        assert self.mean_ is not None and self.metric_ is not None
        x = arr - self.mean_
        return x, x @ self.metric_

    def score(self, z: np.ndarray) -> np.ndarray:
        x, mx = self._projected(z)
        return np.asarray(np.sqrt(np.clip((x * mx).sum(axis=1), 0.0, None)))

    def contributions(self, z: np.ndarray) -> np.ndarray:
        _, mx = self._projected(z)
        assert self.metric_ is not None
        diag = np.clip(np.diag(self.metric_), 1e-12, None)
        return _shares(mx**2 / diag)

    def params(self) -> dict[str, Any]:
        return {"variance": self.variance, "max_components": self.max_components}


class IsolationForestDetector(Detector):
    """scikit-learn's IsolationForest; the score is the negated ``score_samples`` (in (0, 1])."""

    name = "iforest"

    def __init__(self, n_estimators: int = 100, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.forest_: IsolationForest | None = None

    def fit(self, z: np.ndarray) -> Self:
        arr = _check(z)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)
        self.forest_.fit(arr)
        self.n_features_ = arr.shape[1]
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        arr = _check(z, self._fitted())
        assert self.forest_ is not None
        return np.asarray(-self.forest_.score_samples(arr))

    def params(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "random_state": self.random_state}


class LogisticDetector(Detector):
    """A learned failure classifier as a detector: the failure probability of a standardised row under
    fixed logistic weights (the coefficients, then the intercept), as a federation trains them
    (:mod:`twin_models.federated.logistic`), over the rows as they are (``features="linear"``) or with
    their pairwise products appended (``"quadratic"``, as :func:`twin_models.federated.expand`). ``fit``
    learns nothing: the weights are the model.

    A feature's share of a row's score is its positive push towards failure: ``max(w_j z_j, 0)``, plus
    half of each positive product term it takes part in.

    Example:
        >>> import numpy as np
        >>> det = LogisticDetector(np.array([2.0, 0.0, -1.0]))
        >>> det.score(np.array([[1.0, 5.0]])).round(3).tolist(), det.contributions(np.array([[1.0, 5.0]])).tolist()
        ([0.731], [[1.0, 0.0]])
    """

    name = "logistic"

    def __init__(self, weights: np.ndarray, features: str = "linear") -> None:
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1 or len(w) < 2 or not np.isfinite(w).all():
            raise AnomalyError("logistic weights are a finite vector: the coefficients, then the intercept")
        if features == "linear":
            d = len(w) - 1
        elif features == "quadratic":
            # d + d (d + 1) / 2 inputs
            d = round(float((np.sqrt(9.0 + 8.0 * (len(w) - 1)) - 3.0) / 2.0))
            if d < 1 or d + d * (d + 1) // 2 != len(w) - 1:
                raise AnomalyError(f"{len(w)} weights do not fit a quadratic model")
        else:
            raise AnomalyError(f"unknown feature map {features!r} (linear or quadratic)")
        self.weights = w
        self.features = features
        self.n_features_ = d

    def _terms(self, arr: np.ndarray) -> np.ndarray:
        d = arr.shape[1]
        terms = arr * self.weights[:d]
        if self.features == "quadratic":
            i, j = np.triu_indices(d)
            products = arr[:, i] * arr[:, j] * self.weights[d:-1]
            terms = np.c_[terms, products]
        return np.asarray(terms)

    def fit(self, z: np.ndarray) -> Self:
        _check(z, self._fitted())
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        arr = _check(z, self._fitted())
        logit = self._terms(arr).sum(axis=1) + self.weights[-1]
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logit)))

    def contributions(self, z: np.ndarray) -> np.ndarray:
        arr = _check(z, self._fitted())
        d = arr.shape[1]
        terms = np.clip(self._terms(arr), 0.0, None)
        push = terms[:, :d].copy()
        if self.features == "quadratic":
            i, j = np.triu_indices(d)
            for k, (a, b) in enumerate(zip(i, j, strict=True)):
                push[:, a] += terms[:, d + k] / 2.0
                push[:, b] += terms[:, d + k] / 2.0
        return _shares(push)

    def params(self) -> dict[str, Any]:
        return {"weights": [float(v) for v in self.weights], "features": self.features}


DETECTORS: dict[str, type[Detector]] = {
    ZScoreDetector.name: ZScoreDetector,
    MahalanobisDetector.name: MahalanobisDetector,
    PCADetector.name: PCADetector,
    IsolationForestDetector.name: IsolationForestDetector,
}


def make_detector(name: str, **params: Any) -> Detector:
    """A new, unfitted detector by name (``zscore``, ``mahalanobis``, ``pca``, ``iforest``).

    Example:
        >>> make_detector("mahalanobis", robust=True).params()
        {'robust': True, 'random_state': 0}
    """
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise AnomalyError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise AnomalyError(f"bad parameters for the {name} detector: {exc}") from exc
