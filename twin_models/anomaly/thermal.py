"""A machine's expected temperature from how it has been running: warm-up and cool-down after stops.

A machine tool warms up while the spindle turns and cools down during breaks, micro-stops and idle
spells; its temperature follows the duty (the fraction of each row's time the spindle turned) through
first-order responses. :class:`ThermalModel` learns that response from healthy rows as a linear
combination of the duty filtered with a few time constants (2 to 80 minutes), and replaces the
temperature channel by its *excess*: the measured temperature minus what the recent running explains.
A break's thermal swing is then explained and no longer looks like a fault, while a slow rise at the
same running history (cooling trouble) stays in the excess.

The filter state (one value per time constant) is carried from row to row and, across calls, in the
alarm state, so the result does not depend on how rows are batched. A fresh state assumes the machine
has been running at its first row's duty for a long time (a steady state).

Example:
    >>> import numpy as np
    >>> duty = np.r_[np.ones(60), np.zeros(30), np.ones(60)]
    >>> temp = 30 + 12 * ThermalModel.filtered(duty, (600.0,), 60.0, None)[0][:, 0]
    >>> model = ThermalModel.fit(temp, duty, np.zeros(150), row_seconds=60.0)
    >>> excess, _ = model.excess(temp, duty, None)
    >>> bool(np.nanmax(np.abs(excess - np.nanmedian(excess))) < 0.5)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.errors import AnomalyError

__all__ = ["THERMAL_TIME_CONSTANTS_S", "ThermalModel"]

#: The time constants (seconds) of the duty filters the expected temperature is built from.
THERMAL_TIME_CONSTANTS_S: tuple[float, ...] = (120.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0)
_RIDGE = 1e-3


@dataclass(frozen=True)
class ThermalModel:
    """Expected ``target`` (a temperature) = ``intercept`` + ``weights`` . filtered ``driver`` (the duty).

    ``time_constants_s`` are the filters' time constants, ``row_seconds`` the time step of a row;
    ``explained`` is the fraction of the healthy temperature variance the model explains.
    """

    target: str
    driver: str
    time_constants_s: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    row_seconds: float
    explained: float = 0.0

    @staticmethod
    def filtered(
        driver: np.ndarray, time_constants_s: Sequence[float], row_seconds: float, state: Sequence[float] | None
    ) -> tuple[np.ndarray, tuple[float, ...]]:
        """The driver through first-order filters, one column per time constant, from ``state`` (``None``:
        steady at the first finite driver value); a missing driver value holds the filters."""
        taus = np.asarray(time_constants_s, dtype=float)
        decay = np.exp(-float(row_seconds) / taus)
        values = np.asarray(driver, dtype=float)
        if state is not None and len(state) == len(taus):
            h = np.asarray(state, dtype=float).copy()
        else:
            finite = values[np.isfinite(values)]
            h = np.full(len(taus), float(finite[0]) if finite.size else 0.0)
        out = np.empty((len(values), len(taus)))
        for i, x in enumerate(values):
            if np.isfinite(x):
                h = decay * h + (1.0 - decay) * x
            out[i] = h
        return out, tuple(float(v) for v in h)

    @classmethod
    def fit(
        cls,
        target: np.ndarray,
        driver: np.ndarray,
        groups: np.ndarray,
        *,
        row_seconds: float,
        target_name: str = "temperature",
        driver_name: str = "duty",
        time_constants_s: Sequence[float] = THERMAL_TIME_CONSTANTS_S,
        fit_mask: np.ndarray | None = None,
    ) -> ThermalModel:
        """Least squares (slightly ridged) of the healthy temperature on the filtered duty, per machine
        in time order (``groups`` names each row's machine); only rows in ``fit_mask`` are fitted on."""
        y_all = np.asarray(target, dtype=float)
        x_all = np.asarray(driver, dtype=float)
        keys = np.asarray(groups)
        mask = np.ones(len(y_all), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
        blocks: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        for key in pd.unique(keys):
            rows = np.flatnonzero(keys == key)
            h, _ = cls.filtered(x_all[rows], time_constants_s, row_seconds, None)
            use = mask[rows] & np.isfinite(y_all[rows])
            # each machine its own intercept (its base temperature): only the response is shared
            blocks.append(h[use] - h[use].mean(axis=0))
            ys.append(y_all[rows][use] - y_all[rows][use].mean())
        if not blocks or sum(len(b) for b in blocks) < 3 * len(time_constants_s):
            raise AnomalyError("too few healthy rows with a temperature to fit the thermal model")
        h_all, y = np.vstack(blocks), np.concatenate(ys)
        gram = h_all.T @ h_all
        scale = float(np.trace(gram)) / len(gram)
        if scale <= 1e-12:  # the duty never changed: nothing to explain, the temperature is scored as it is
            weights = np.zeros(len(gram))
        else:
            ridge = gram + _RIDGE * scale * np.eye(len(gram))
            weights = np.linalg.lstsq(ridge, h_all.T @ y, rcond=None)[0]
        resid = y - h_all @ weights
        explained = 1.0 - float(resid.var()) / float(y.var()) if y.var() > 0 else 0.0
        return cls(
            target=target_name,
            driver=driver_name,
            time_constants_s=tuple(float(t) for t in time_constants_s),
            weights=tuple(float(w) for w in weights),
            intercept=0.0,
            row_seconds=float(row_seconds),
            explained=round(explained, 4),
        )

    def excess(
        self, target: np.ndarray, driver: np.ndarray, state: Sequence[float] | None
    ) -> tuple[np.ndarray, tuple[float, ...]]:
        """The temperature minus what the recent duty explains (its offset, the machine's base
        temperature, is left to the machine's reference), and the filter state after the last row."""
        h, end = self.filtered(driver, self.time_constants_s, self.row_seconds, state)
        expected = self.intercept + h @ np.asarray(self.weights, dtype=float)
        return np.asarray(target, dtype=float) - expected, end

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the model manifest)."""
        return {
            "target": self.target,
            "driver": self.driver,
            "time_constants_s": list(self.time_constants_s),
            "weights": [round(w, 4) for w in self.weights],
            "row_seconds": self.row_seconds,
            "explained": self.explained,
        }
