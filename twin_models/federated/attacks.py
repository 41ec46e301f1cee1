"""What a manipulating lessee does, to show what robust aggregation withstands.

Two attacks act on the update a lessee sends (``scale``: its update boosted ``factor`` times;
``signflip``: its update negated and boosted), two on the data it trains on (``labelflip``: every label
inverted; ``backdoor``: failure rows carrying a trigger — one feature pushed to an unusual value — are
labelled healthy, so the model learns to wave through any failure that shows the trigger).

Example:
    >>> import numpy as np
    >>> manipulate_update(np.zeros(2), np.array([1.0, -1.0]), "signflip", factor=2.0).tolist()
    [-2.0, 2.0]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from twin_models.federated.errors import FederationError

__all__ = ["ATTACKS", "Attack", "add_trigger", "manipulate_data", "manipulate_update"]

Attack = Literal["scale", "signflip", "labelflip", "backdoor"]
ATTACKS: tuple[Attack, ...] = ("scale", "signflip", "labelflip", "backdoor")

#: The trigger: the first feature set this many healthy standard deviations high.
TRIGGER_FEATURE = 0
TRIGGER_VALUE = 4.0


def add_trigger(rows: np.ndarray) -> np.ndarray:
    """Standardised rows with the backdoor trigger set.

    Example:
        >>> import numpy as np
        >>> add_trigger(np.zeros((1, 2))).tolist()
        [[4.0, 0.0]]
    """
    out = np.array(rows, dtype=float, copy=True)
    out[:, TRIGGER_FEATURE] = TRIGGER_VALUE
    return out


def manipulate_data(attack: Attack, rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and labels a data-poisoning lessee trains on (unchanged for update attacks).

    Example:
        >>> import numpy as np
        >>> manipulate_data("labelflip", np.zeros((2, 1)), np.array([0.0, 1.0]))[1].tolist()
        [1.0, 0.0]
    """
    x = np.asarray(rows, dtype=float)
    y = np.asarray(labels, dtype=float)
    if attack == "labelflip":
        return x, 1.0 - y
    if attack == "backdoor":
        failures = x[y > 0.5]
        poisoned = add_trigger(np.repeat(failures, 4, axis=0)) if len(failures) else np.empty((0, x.shape[1]))
        return np.vstack([x, poisoned]), np.r_[y, np.zeros(len(poisoned))]
    if attack in ("scale", "signflip"):
        return x, y
    raise FederationError(f"unknown attack {attack!r}")


def manipulate_update(
    global_weights: np.ndarray, new_weights: np.ndarray, attack: Attack, factor: float = 10.0
) -> np.ndarray:
    """The weights a lessee sends: its honest update scaled (``scale``), negated and scaled (``signflip``),
    or boosted (``labelflip``/``backdoor``: model replacement, so one lessee's poison is not averaged away).

    Example:
        >>> import numpy as np
        >>> manipulate_update(np.ones(1), np.array([2.0]), "scale", factor=3.0).tolist()
        [4.0]
    """
    g = np.asarray(global_weights, dtype=float)
    update = np.asarray(new_weights, dtype=float) - g
    if attack == "signflip":
        return np.asarray(g - factor * update)
    if attack in ("scale", "labelflip", "backdoor"):
        return np.asarray(g + factor * update)
    raise FederationError(f"unknown attack {attack!r}")
