"""The lessees' data for a federation: the three public datasets split non-IID, and a synthetic fleet.

Each lessee gets a :class:`Partition` — its training rows and labels and its held-out rows and labels —
and nothing else; the splits follow how lessees really differ:

* ``cmapss`` (C-MAPSS FD001): 4 lessees by engine lifetime quartile (the short-lived engines at one
  lessee); label RUL <= 30 cycles; held out: the last fifth of each lessee's engines.
* ``ai4i`` (AI4I 2020): 3 lessees by product quality class L / M / H; label ``Machine failure``; held
  out: the last 30 % of each lessee's rows.
* ``mill`` (CNC mill tool wear): 3 lessees by the experiments' clamp pressure (2.5 / 3 / 4 bar); label
  tool worn; held out: the last 30 % of each experiment's cutting rows; features: the mean and spread of
  the motor signals and the operating point over 10 s windows (``mill_window``: the benchmark chooses
  it on validation rows), each part windowed on its own.
* ``synthetic``: any number of lessees, each at its own operating point; a logistic failure law; held
  out: the last 30 % of rows.

With ``split="validation"`` each lessee's partition is carved from its training rows alone, the same
way the held-out rows are carved from all of its rows (C-MAPSS: the last fifth of its training engines;
AI4I: the last 30 % of its training rows; mill: the last 30 % of each experiment's training rows, each
side windowed on its own): the held-out rows are dropped before anything is computed, so a
configuration chosen on these partitions never saw them.

The files are read from ``data_dir`` (``../shared/data`` next to the checkout) and never copied.

Example:
    >>> parts = load_partitions("synthetic", clients=3)
    >>> [p.name for p in parts], parts[0].x_train.shape[1]
    (['lessee-1', 'lessee-2', 'lessee-3'], 5)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin_models.federated import FederationError

__all__ = ["DATASETS", "SPLITS", "Partition", "default_data_dir", "load_partitions"]

DATASETS = ("synthetic", "cmapss", "ai4i", "mill")
#: ``test``: training rows against the held-out rows; ``validation``: the training rows split again.
SPLITS = ("test", "validation")

#: The mill's motor signals: current, feedback current, power and voltages of the X, Y, Z axes and the spindle.
_MILL_SIGNALS = tuple(
    f"{axis}_{quantity}"
    for axis in ("X1", "Y1", "Z1", "S1")
    for quantity in ("OutputCurrent", "CurrentFeedback", "OutputPower", "OutputVoltage", "DCBusVoltage")
    if not (axis == "Z1" and quantity == "OutputPower")  # the Z axis logs no power
)
#: Rows per mill feature window: 10 s at the data's 100 ms (the telemetry model's windows are 60 s at 1 Hz).
MILL_WINDOW = 100


@dataclass(frozen=True)
class Partition:
    """One lessee's rows: training and held-out, features as float columns, labels 0/1 (1 = failure)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def default_data_dir() -> Path:
    """``../shared/data`` next to the repository root."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def _split_rows(name: str, x: np.ndarray, y: np.ndarray, held_out: float = 0.3) -> Partition:
    cut = round(len(x) * (1.0 - held_out))
    return Partition(name, x[:cut], y[:cut], x[cut:], y[cut:])


def _validation(part: Partition) -> Partition:
    """The training rows of a row-ordered partition split again as the held-out rows were."""
    return _split_rows(part.name, part.x_train, part.y_train)


def _synthetic(clients: int, seed: int) -> list[Partition]:
    rng = np.random.default_rng(seed)
    true_w = np.array([1.6, -1.0, 0.8, 0.0, 0.5])
    parts = []
    for i in range(clients):
        n = int(rng.integers(400, 1200))
        shift = rng.normal(0.0, 0.8, size=5)  # each lessee runs its machines at another operating point
        x = rng.normal(size=(n, 5)) + shift
        logit = (x - shift * 0.5) @ true_w - 4.0
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
        parts.append(_split_rows(f"lessee-{i + 1}", x, y))
    return parts


def _cmapss(data_dir: Path, validation: bool = False) -> list[Partition]:
    # imported here: the ClientApp starts once per message, and scikit-learn (under the anomaly package)
    # would add seconds to every start for the datasets that do not need it
    from twin_models.anomaly.evaluation import CMAPSS_SENSORS
    from twinledger.files.datasets import load_cmapss

    frame = load_cmapss(data_dir)
    life = frame.groupby("unit")["cycle"].max().sort_values(kind="mergesort")
    quartiles = np.array_split(life.index.to_numpy(), 4)
    parts = []
    for i, units in enumerate(quartiles):
        units = np.sort(units)
        units = units[: -max(1, len(units) // 5)] if validation else units  # the held-out engines dropped
        test_units = units[-max(1, len(units) // 5) :]
        rows = frame[frame["unit"].isin(units)]
        train, test = rows[~rows["unit"].isin(test_units)], rows[rows["unit"].isin(test_units)]
        parts.append(
            Partition(
                f"lessee-{i + 1}",
                train[list(CMAPSS_SENSORS)].to_numpy(float),
                (train["rul"] <= 30).to_numpy(float),
                test[list(CMAPSS_SENSORS)].to_numpy(float),
                (test["rul"] <= 30).to_numpy(float),
            )
        )
    return parts


def _ai4i(data_dir: Path, validation: bool = False) -> list[Partition]:
    import pandas as pd

    from twinledger.files.datasets import load_ai4i

    frame = load_ai4i(data_dir)
    speed, torque = frame["Rotational speed [rpm]"], frame["Torque [Nm]"]
    features = pd.DataFrame(
        {
            "speed": speed,
            "torque": torque,
            "wear": frame["Tool wear [min]"],
            "power": torque * speed * 2 * np.pi / 60.0,
            "temperature_rise": frame["Process temperature [K]"] - frame["Air temperature [K]"],
            "wear_torque": frame["Tool wear [min]"] * torque,
        }
    )
    parts = []
    for i, quality in enumerate(("L", "M", "H")):
        mask = (frame["Type"] == quality).to_numpy()
        part = _split_rows(
            f"lessee-{i + 1}", features[mask].to_numpy(float), frame.loc[mask, "Machine failure"].to_numpy(float)
        )
        parts.append(_validation(part) if validation else part)
    return parts


def _mill_features(cutting: object, window_rows: int = MILL_WINDOW) -> np.ndarray:
    """Per row, the mean and spread over the last ``window_rows`` rows of the motor signals (magnitudes
    for the signed currents and powers) and of the operating point (path speed, acceleration, feed rate,
    spindle speed): wear shows as more current at the same operating point, which single 100 ms rows
    drown in noise."""
    import pandas as pd

    frame = cutting if isinstance(cutting, pd.DataFrame) else pd.DataFrame(cutting)
    signals = pd.DataFrame(
        {
            name: frame[name].abs() if name.endswith(("CurrentFeedback", "OutputPower")) else frame[name]
            for name in _MILL_SIGNALS
        }
    )
    signals["speed"] = np.sqrt(
        frame["X1_ActualVelocity"] ** 2 + frame["Y1_ActualVelocity"] ** 2 + frame["Z1_ActualVelocity"] ** 2
    )
    signals["acceleration"] = np.sqrt(frame["X1_ActualAcceleration"] ** 2 + frame["Y1_ActualAcceleration"] ** 2)
    signals["feed"] = frame["M1_CURRENT_FEEDRATE"]
    signals["spindle_speed"] = frame["S1_ActualVelocity"]
    window = signals.rolling(window_rows, min_periods=1)
    return np.asarray(pd.concat([window.mean(), window.std().fillna(0.0)], axis=1).to_numpy(float))


def _mill(data_dir: Path, validation: bool = False, window_rows: int = MILL_WINDOW) -> list[Partition]:
    import io

    import pandas as pd

    folder = data_dir / "cnc_mill_tool_wear"
    runs = pd.read_csv(folder / "train.csv")
    parts = []
    for i, pressure in enumerate(sorted(runs["clamp_pressure"].unique())):
        train_x: list[np.ndarray] = []
        train_y: list[np.ndarray] = []
        test_x: list[np.ndarray] = []
        test_y: list[np.ndarray] = []
        for _, run in runs[runs["clamp_pressure"] == pressure].iterrows():
            raw = (folder / f"experiment_{int(run['No']):02d}.csv").read_bytes().replace(b"\r\n", b"\n")
            frame = pd.read_csv(io.BytesIO(raw.replace(b"\r", b"\n")))
            cutting = frame[frame["Machining_Process"].astype(str).str.startswith("Layer")]
            worn = 1.0 if run["tool_condition"] == "worn" else 0.0
            cut = round(len(cutting) * 0.7)
            if validation:  # the held-out rows dropped, the training rows split again
                cutting = cutting.iloc[:cut]
                cut = round(len(cutting) * 0.7)
            # the windows are cut after the split: no held-out row's window reaches into training rows
            for rows, xs, ys in ((cutting.iloc[:cut], train_x, train_y), (cutting.iloc[cut:], test_x, test_y)):
                x = _mill_features(rows, window_rows)
                xs.append(x)
                ys.append(np.full(len(x), worn))
        parts.append(
            Partition(
                f"lessee-{i + 1}",
                np.vstack(train_x),
                np.concatenate(train_y),
                np.vstack(test_x),
                np.concatenate(test_y),
            )
        )
    return parts


@functools.lru_cache(maxsize=8)
def load_partitions(
    dataset: str,
    clients: int = 4,
    data_dir: str | None = None,
    seed: int = 0,
    split: str = "test",
    mill_window: int = MILL_WINDOW,
) -> tuple[Partition, ...]:
    """Every lessee's partition of ``dataset`` (``clients`` applies to ``synthetic`` only).

    ``split="validation"``: the lessees' training rows only, split again into fitting rows
    (``x_train``) and validation rows (``x_test``). ``mill_window``: rows per mill feature window.
    Raises :class:`FileNotFoundError` when a public dataset is not in ``data_dir``.

    Example:
        >>> len(load_partitions("synthetic", clients=4))
        4
        >>> test, validation = load_partitions("synthetic", clients=2), load_partitions(
        ...     "synthetic", clients=2, split="validation")
        >>> len(validation[0].x_train) + len(validation[0].x_test) == len(test[0].x_train)
        True
    """
    if split not in SPLITS:
        raise FederationError(f"unknown split {split!r} (one of {', '.join(SPLITS)})")
    validation = split == "validation"
    where = Path(data_dir) if data_dir else default_data_dir()
    if dataset == "synthetic":
        parts = _synthetic(clients, seed)
        return tuple(_validation(p) for p in parts) if validation else tuple(parts)
    if dataset == "cmapss":
        return tuple(_cmapss(where, validation))
    if dataset == "ai4i":
        return tuple(_ai4i(where, validation))
    if dataset == "mill":
        return tuple(_mill(where, validation, mill_window))
    raise FederationError(f"unknown dataset {dataset!r} (one of {', '.join(DATASETS)})")
