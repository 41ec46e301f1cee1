"""Validation of model updates before aggregation: a norm bound and a per-client outlier statistic.

An *update* is a lessee's new weights minus the global weights it started from. :func:`screen_updates`
compares each update with the others of its round:

* **norm bound** — an update longer than ``norm_factor`` times the median update norm is excluded (a
  scaled or boosted update);
* **direction** — an update whose cosine similarity to the coordinate-wise median of the updates within
  the norm bound is below
  ``min_cosine`` (default -0.5) is excluded (a sign-flipped update, or training on relabelled data,
  pulls against the others). Honest lessees with different data disagree too, more as the model
  converges: on the benchmark's non-IID splits their cosines went down to -0.36, hence a negative bound.

The median is robust as long as fewer than half the lessees manipulate. The verdicts name each lessee and
why it was excluded, so every round reports who was left out; robust aggregation (trimmed mean, median,
Krum) then runs on the accepted updates.

Example:
    >>> import numpy as np
    >>> g = np.zeros(2)
    >>> updates = {"a": np.array([1.0, 0.1]), "b": np.array([0.9, 0.0]), "c": np.array([1.1, 0.2]),
    ...            "d": np.array([-30.0, -3.0])}
    >>> [(v.client, v.accepted) for v in screen_updates(g, updates)]
    [('a', True), ('b', True), ('c', True), ('d', False)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from twin_models.federated.errors import FederationError

__all__ = ["UpdateVerdict", "screen_updates"]


@dataclass(frozen=True)
class UpdateVerdict:
    """One lessee's update in one round: its norm, its cosine to the median update, and the decision."""

    client: str
    norm: float
    cosine: float
    accepted: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def screen_updates(
    global_weights: np.ndarray,
    new_weights: Mapping[str, np.ndarray],
    norm_factor: float = 3.0,
    min_cosine: float = -0.5,
) -> list[UpdateVerdict]:
    """A verdict per lessee, in the mapping's order (at least one update is always accepted).

    Example:
        >>> import numpy as np
        >>> v = screen_updates(np.zeros(1), {"a": np.ones(1), "b": np.ones(1) * 50, "c": np.ones(1) * 1.2})
        >>> v[1].accepted, v[1].reason
        (False, 'norm 50 > 3 x median 1.2')
    """
    if not new_weights:
        raise FederationError("no updates to screen")
    g = np.asarray(global_weights, dtype=float)
    names = list(new_weights)
    updates = np.stack([np.asarray(new_weights[n], dtype=float) - g for n in names])
    if not np.isfinite(updates).all():
        bad = [n for n, u in zip(names, updates, strict=True) if not np.isfinite(u).all()]
        finite = [n for n in names if n not in bad]
        if not finite:
            raise FederationError("no finite update")
        verdicts = screen_updates(g, {n: new_weights[n] for n in finite}, norm_factor, min_cosine)
        by_name = {v.client: v for v in verdicts}
        return [by_name.get(n) or UpdateVerdict(n, float("nan"), float("nan"), False, "not finite") for n in names]
    norms = np.linalg.norm(updates, axis=1)
    median_norm = float(np.median(norms))
    screened = len(names) >= 3 and median_norm > 0
    within = ~(norms > norm_factor * median_norm) if screened else np.ones(len(names), dtype=bool)
    # the direction is judged against the median of the updates within the norm bound, so a boosted
    # update does not drag the reference towards itself
    centre = np.median(updates[within], axis=0)
    centre_norm = float(np.linalg.norm(centre))
    verdicts = []
    for name, update, norm, inside in zip(names, updates, norms, within, strict=True):
        denominator = float(norm) * centre_norm
        cosine = float(update @ centre / denominator) if denominator > 0 else 1.0
        if not inside:
            reason = f"norm {norm:.3g} > {norm_factor:g} x median {median_norm:.3g}"
            verdicts.append(UpdateVerdict(name, float(norm), cosine, False, reason))
        elif screened and cosine < min_cosine:
            reason = f"cosine {cosine:.3g} to the median update < {min_cosine:g}"
            verdicts.append(UpdateVerdict(name, float(norm), cosine, False, reason))
        else:
            verdicts.append(UpdateVerdict(name, float(norm), cosine, True))
    if not any(v.accepted for v in verdicts):
        best = int(np.argmax([v.cosine for v in verdicts]))
        verdicts[best] = UpdateVerdict(verdicts[best].client, verdicts[best].norm, verdicts[best].cosine, True)
    return verdicts
