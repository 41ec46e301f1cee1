"""The configuration is chosen on validation rows carved from the training rows: the held-out rows never
enter the choice (``../shared/data``; skipped where absent)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin_models.federated import ScoreSketch, roc_auc, sketch_roc_auc
from twinledger.federated.data import load_partitions
from twinledger.federated.inprocess import run_inprocess
from twinledger.federated.selection import Candidate, candidates, select, validation_roc_auc
from twinledger.federated.task import VALIDATION_GRID

#: Two candidates, few rounds: the check is about which rows are read, not about the figures.
TINY_GRID = (Candidate("linear", 5, 4), Candidate("quadratic", 5, 4))


def _garbled_ai4i(shared_data: Path, folder: Path) -> Path:
    """A copy of AI4I (outside the repository) whose held-out rows — the last 30 % of each quality
    class, as :mod:`twinledger.federated.data` splits it — carry random readings and shuffled labels."""
    frame = pd.read_csv(shared_data / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")
    rng = np.random.default_rng(7)
    readings = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]"]
    frame[readings] = frame[readings].astype(float)
    for quality in ("L", "M", "H"):
        index = frame.index[frame["Type"] == quality]
        held_out = index[round(len(index) * 0.7) :]
        for column in readings:
            frame.loc[held_out, column] = rng.uniform(1.0, 5000.0, size=len(held_out))
        frame.loc[held_out, "Tool wear [min]"] = rng.integers(0, 300, size=len(held_out))
        frame.loc[held_out, "Machine failure"] = rng.permutation(frame.loc[held_out, "Machine failure"].to_numpy())
    (folder / "ai4i2020").mkdir(parents=True)
    frame.to_csv(folder / "ai4i2020" / "ai4i2020.csv", index=False)
    return folder


def test_the_choice_is_the_same_when_the_held_out_rows_are_garbage(shared_data: Path, tmp_path: Path) -> None:
    logging.getLogger("flwr").setLevel(logging.ERROR)
    garbled = str(_garbled_ai4i(shared_data, tmp_path))
    clean_parts = load_partitions("ai4i", data_dir=str(shared_data))
    garbled_parts = load_partitions("ai4i", data_dir=garbled)
    # the garbling reached the held-out rows and only them
    assert all(np.array_equal(c.x_train, g.x_train) for c, g in zip(clean_parts, garbled_parts, strict=True))
    assert not any(np.allclose(c.x_test, g.x_test) for c, g in zip(clean_parts, garbled_parts, strict=True))
    clean = select("ai4i", TINY_GRID, data_dir=str(shared_data))
    dirty = select("ai4i", TINY_GRID, data_dir=garbled)
    assert dirty["chosen"] == clean["chosen"]
    assert [s["validation_roc_auc"] for s in dirty["scores"]] == [s["validation_roc_auc"] for s in clean["scores"]]


def test_cmapss_validation_rows_are_training_rows_of_other_engines(shared_data: Path) -> None:
    test = load_partitions("cmapss", data_dir=str(shared_data))
    validation = load_partitions("cmapss", data_dir=str(shared_data), split="validation")
    for t, v in zip(test, validation, strict=True):
        training = {tuple(row) for row in t.x_train}
        held_out = {tuple(row) for row in t.x_test}
        chosen_on = {tuple(row) for row in np.vstack([v.x_train, v.x_test])}
        assert chosen_on <= training and not chosen_on & held_out
        assert len(v.x_train) + len(v.x_test) == len(t.x_train)
        # validation engines are whole engines: no validation row is a fitting row
        assert not {tuple(row) for row in v.x_test} & {tuple(row) for row in v.x_train}


def test_every_dataset_declares_its_grid_and_the_mill_windows_its_own_split(shared_data: Path) -> None:
    assert {c.mill_window for c in candidates("mill")} == {10, 50, 100, 200}
    assert {c.features for c in candidates("ai4i")} == {"linear", "quadratic"}
    test = load_partitions("mill", data_dir=str(shared_data), mill_window=50)
    validation = load_partitions("mill", data_dir=str(shared_data), split="validation", mill_window=50)
    for t, v in zip(test, validation, strict=True):
        assert len(v.x_train) + len(v.x_test) == len(t.x_train)


def test_the_sketch_roc_auc_is_the_pooled_roc_auc_up_to_the_grid() -> None:
    rng = np.random.default_rng(3)
    failures, healthy = rng.normal(52.0, 2.0, 300), rng.normal(50.0, 2.0, 2000)
    exact = roc_auc(np.r_[np.ones(300), np.zeros(2000)], np.r_[failures, healthy])
    halves = [ScoreSketch.of(s, VALIDATION_GRID) for s in (failures[:100], failures[100:])]
    merged = halves[0].merge(halves[1])
    assert sketch_roc_auc(merged, ScoreSketch.of(healthy, VALIDATION_GRID)) == pytest.approx(exact, abs=2e-3)


def test_the_validation_query_gives_the_roc_auc_of_the_lessees_validation_rows() -> None:
    logging.getLogger("flwr").setLevel(logging.ERROR)
    run = {"dataset": "synthetic", "clients": 3, "rounds": 3, "epochs": 5, "split": "validation", "validate": True}
    result = run_inprocess(run)
    parts = load_partitions("synthetic", clients=3, split="validation")
    assert result["validation_roc_auc"] == pytest.approx(validation_roc_auc(result, parts), abs=1e-12)
    # and close to the exact ROC-AUC of the pooled validation rows: the grid and the lessees' bucketed
    # class weights (a share of a lessee's rows is off by up to ~20 %) are all that separate them
    from twin_models.federated import MomentDetector, expand, predict

    scale = MomentDetector(np.asarray(result["scale"]["mean"]), np.asarray(result["scale"]["std"]))
    x, y = np.vstack([p.x_test for p in parts]), np.concatenate([p.y_test for p in parts])
    exact = roc_auc(y, predict(np.asarray(result["weights"]), expand(scale.standardise(x))))
    assert result["validation_roc_auc"] == pytest.approx(exact, abs=0.01)
