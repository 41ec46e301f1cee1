"""The learned failure model: logistic regression on standardised features, trained locally with FedProx.

A lessee trains from the global weights on its own rows (:func:`train_local`): full-batch gradient descent
on the class-balanced logistic loss plus FedProx's proximal term ``mu/2 |w - w_global|^2``, which keeps a
lessee with skewed data near the federation's model. Only the weights leave the lessee. The weights are one
vector: the coefficients, then the intercept.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2)); y = (x[:, 0] > 1.0).astype(float)
    >>> w = train_local(np.zeros(3), x, y, epochs=200)
    >>> bool(roc_auc(y, predict(w, x)) > 0.95)
    True
"""

from __future__ import annotations

import numpy as np

from twin_models.federated.errors import FederationError

__all__ = ["FEATURE_MAPS", "expand", "predict", "roc_auc", "train_local", "weight_count"]

#: How the standardised features enter the model: as they are, or with every pairwise product added.
FEATURE_MAPS = ("linear", "quadratic")


def expand(rows: np.ndarray, features: str = "linear") -> np.ndarray:
    """The model's inputs from standardised rows: the rows (``linear``), or the rows followed by every
    product ``z_i z_j`` with ``i <= j`` (``quadratic``: interactions such as wear x torque, and squares,
    so a linear model on them separates failures that lie on both sides of the healthy mean).

    Example:
        >>> import numpy as np
        >>> expand(np.array([[1.0, 2.0]]), "quadratic").tolist()
        [[1.0, 2.0, 1.0, 2.0, 4.0]]
    """
    z = np.asarray(rows, dtype=float)
    if features == "linear":
        return z
    if features == "quadratic":
        i, j = np.triu_indices(z.shape[1])
        return np.asarray(np.c_[z, z[:, i] * z[:, j]])
    raise FederationError(f"unknown feature map {features!r} (one of {', '.join(FEATURE_MAPS)})")


def weight_count(dimensions: int, features: str = "linear") -> int:
    """The length of the weight vector over ``dimensions`` standardised features (intercept included).

    Example:
        >>> weight_count(3), weight_count(3, "quadratic")
        (4, 10)
    """
    return int(expand(np.zeros((1, dimensions)), features).shape[1]) + 1


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def predict(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The failure probability of each (standardised) row.

    Example:
        >>> import numpy as np
        >>> predict(np.array([0.0, 0.0]), np.array([[3.0]])).tolist()
        [0.5]
    """
    w = np.asarray(weights, dtype=float)
    return _sigmoid(np.asarray(rows, dtype=float) @ w[:-1] + w[-1])


def train_local(
    start: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    epochs: int = 50,
    learning_rate: float = 0.5,
    mu: float = 0.01,
    l2: float = 1e-3,
) -> np.ndarray:
    """New weights after ``epochs`` full-batch steps from ``start`` (FedProx with ``mu``, ridge ``l2``).

    Each class carries half the loss (failures are rare), so a lessee with few failures still pulls.

    Example:
        >>> import numpy as np
        >>> train_local(np.zeros(2), np.array([[1.0], [-1.0]]), np.array([1.0, 0.0]), epochs=1).round(3).tolist()
        [0.249, 0.0]
    """
    x = np.asarray(rows, dtype=float)
    y = np.asarray(labels, dtype=float)
    w0 = np.asarray(start, dtype=float)
    if x.ndim != 2 or len(x) != len(y) or w0.shape != (x.shape[1] + 1,):
        raise FederationError("rows, labels and weights do not fit together")
    positives = float(y.sum())
    negatives = float(len(y) - positives)
    sample_weight = np.where(y > 0.5, 0.5 / max(positives, 1.0), 0.5 / max(negatives, 1.0))
    if positives == 0.0 or negatives == 0.0:
        sample_weight = np.full(len(y), 1.0 / len(y))
    xb = np.c_[x, np.ones(len(x))]
    w = w0.copy()
    for _ in range(epochs):
        error = (predict(w, x) - y) * sample_weight
        grad = xb.T @ error + l2 * np.r_[w[:-1], 0.0]
        # the proximal term taken implicitly: stable for any mu
        w = (w - learning_rate * grad + learning_rate * mu * w0) / (1.0 + learning_rate * mu)
    return w


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve (ties count half); ``nan`` without both classes.

    Example:
        >>> import numpy as np
        >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
        0.75
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=float)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))
