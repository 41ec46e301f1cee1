"""The federation on the public datasets (``../shared/data``; skipped where absent): the mill's windows stay on
their side of the split, and the federated model stays within 0.01 of pooled training on every dataset."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinledger.federated.data import MILL_WINDOW, load_partitions
from twinledger.federated.evaluation import baselines, grade
from twinledger.federated.inprocess import run_inprocess
from twinledger.federated.selection import Candidate
from twinledger.federated.task import TrainConfig

#: The configuration per dataset that the benchmark's validation step chose (``docs/benchmarks.md``).
CHOSEN = {
    "cmapss": Candidate("linear", 30, 5),
    "ai4i": Candidate("quadratic", 5, 30),
    "mill": Candidate("linear", 5, 30, 50),
}


def _cutting(folder: Path, experiment: int) -> pd.DataFrame:
    raw = (folder / f"experiment_{experiment:02d}.csv").read_bytes().replace(b"\r\n", b"\n")
    frame = pd.read_csv(io.BytesIO(raw.replace(b"\r", b"\n")))
    return frame[frame["Machining_Process"].astype(str).str.startswith("Layer")]


def test_a_held_out_mill_window_never_reaches_into_training_rows(shared_data: Path) -> None:
    folder = shared_data / "cnc_mill_tool_wear"
    runs = pd.read_csv(folder / "train.csv")
    parts = load_partitions("mill", data_dir=str(shared_data))
    first = runs[runs["clamp_pressure"] == sorted(runs["clamp_pressure"].unique())[0]].iloc[0]
    cutting = _cutting(folder, int(first["No"]))
    cut = round(len(cutting) * 0.7)
    # the first held-out row's window holds that row alone: its mean is the row, its spread 0
    held = parts[0].x_test[0]
    assert held[0] == pytest.approx(float(cutting["X1_OutputCurrent"].iloc[cut]))
    half = len(held) // 2
    assert np.all(held[half:] == 0.0)
    # and a later row averages the held-out rows only
    later = parts[0].x_test[MILL_WINDOW + 5]
    expected = cutting["X1_OutputCurrent"].iloc[cut + 6 : cut + MILL_WINDOW + 6].mean()
    assert later[0] == pytest.approx(float(expected))


@pytest.mark.parametrize("dataset", ["cmapss", "ai4i", "mill"])
def test_the_federated_model_is_within_a_hundredth_of_pooled_training(shared_data: Path, dataset: str) -> None:
    logging.getLogger("flwr").setLevel(logging.ERROR)
    chosen = CHOSEN[dataset]
    parts = load_partitions(dataset, data_dir=str(shared_data), mill_window=chosen.mill_window)
    config = TrainConfig(epochs=chosen.epochs, features=chosen.features)
    pooled = baselines(parts, chosen.rounds, config)["pooled"]["roc_auc"]
    run = {
        "dataset": dataset,
        "clients": len(parts),
        "aggregation": "trimmed",
        "data-dir": str(shared_data),
        **chosen.run_config(),
    }
    federated = grade(run_inprocess(run), parts)["roc_auc"]
    assert abs(federated - pooled) <= 0.01
