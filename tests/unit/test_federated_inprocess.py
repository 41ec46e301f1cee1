"""The ServerApp's federation over the in-process grid (the same ClientApp and strategies as deployed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from twin_models.federated import Moments, arrays_hash
from twinledger.cli import main as cli
from twinledger.federated.data import load_partitions
from twinledger.federated.evaluation import baselines, grade
from twinledger.federated.inprocess import run_inprocess

logging.getLogger("flwr").setLevel(logging.ERROR)

BASE = {"dataset": "synthetic", "clients": 4, "rounds": 4}


def test_federated_statistics_over_flower_records_equal_the_pooled_moments() -> None:
    # exact weights: what travels through Flower's ArrayRecords merges to the pooled healthy moments
    result = run_inprocess({**BASE, "bucket": False})
    parts = load_partitions("synthetic", clients=4)
    x = np.vstack([p.x_train for p in parts])
    y = np.concatenate([p.y_train for p in parts])
    pooled = Moments.of(x[y < 0.5])
    np.testing.assert_allclose(result["scale"]["mean"], pooled.mean, rtol=1e-12)
    np.testing.assert_allclose(result["scale"]["std"], pooled.std(), rtol=1e-12)


def test_every_round_is_recorded_with_hashes_of_the_model_and_each_update() -> None:
    result = run_inprocess(BASE)
    assert [r["round"] for r in result["rounds"]] == [1, 2, 3, 4]
    for r in result["rounds"]:
        assert sorted(r["updates"]) == ["lessee-1", "lessee-2", "lessee-3", "lessee-4"]
        assert r["model_hash"] == arrays_hash([np.asarray(r["weights"])])
    manifest = result["manifest"]
    assert manifest["round"] == 4 and manifest["model_hash"] == result["rounds"][-1]["model_hash"]
    assert manifest["participants"] == result["rounds"][-1]["updates"]


@pytest.mark.parametrize("attack", ["scale", "signflip", "labelflip", "backdoor"])
def test_one_attacker_ruins_fedavg_but_not_the_screened_trimmed_mean(attack: str) -> None:
    parts = load_partitions("synthetic", clients=4)
    clean = grade(run_inprocess({**BASE, "aggregation": "fedavg"}), parts)
    attacked_fedavg = grade(run_inprocess({**BASE, "aggregation": "fedavg"}, attack, 1), parts)
    robust_run = run_inprocess({**BASE, "aggregation": "trimmed"}, attack, 1)
    robust = grade(robust_run, parts)
    assert all(r["excluded"] == ["lessee-1"] for r in robust_run["rounds"])
    assert robust["roc_auc"] >= clean["roc_auc"] - 0.02
    # FedAvg is ruined: ranking (AUC) or, for a boosted honest direction, detection at the threshold
    ruined = clean["roc_auc"] - attacked_fedavg["roc_auc"] > 0.05 or attacked_fedavg["recall"] < 0.5 * clean["recall"]
    assert ruined, (clean, attacked_fedavg)


def test_federated_model_beats_the_mean_local_only_model() -> None:
    parts = load_partitions("synthetic", clients=4)
    federated = grade(run_inprocess(BASE), parts)
    base = baselines(parts, 4)
    assert federated["roc_auc"] > base["local_only"]["roc_auc"]
    assert abs(federated["roc_auc"] - base["pooled"]["roc_auc"]) < 0.02


def test_cli_runs_in_process_and_prints_one_json_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["federated", "run", "--clients", "3", "--rounds", "2", "--attack", "signflip", "--in-process", "--json"]
    code = cli([*args, "--out", str(tmp_path / "model.json")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    artifact = json.loads((tmp_path / "model.json").read_text())
    assert artifact["manifest"]["model_hash"] == arrays_hash([np.asarray(artifact["weights"])])
    assert artifact["manifest"]["round"] == 2 and sorted(artifact["manifest"]["participants"]) == [
        "lessee-2",
        "lessee-3",
    ]
    assert [r["excluded"] for r in out["rounds"]] == [["lessee-1"], ["lessee-1"]]
    assert out["anchoring"]["verified"] is True and out["anchoring"]["model_hash"] == out["model"]["model_hash"]
    assert {"roc_auc", "false_alarm_rate"} <= set(out["federated"]) and "roc_auc" in out["local_only"]


def test_cli_refuses_a_client_count_the_split_does_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    parts_missing = False
    try:
        load_partitions("cmapss")
    except FileNotFoundError:
        parts_missing = True
    if parts_missing:
        pytest.skip("../shared/data/cmapss is missing")
    assert cli(["federated", "run", "--dataset", "cmapss", "--clients", "3", "--in-process"]) == 2
    assert "split into 4 lessees" in capsys.readouterr().err


def test_the_demo_federates_the_two_factories_and_prints_the_anchored_hash() -> None:
    import io

    from twinledger.federated.demo import federate_factories

    buffer = io.StringIO()
    figures = federate_factories(buffer, seed=7)
    assert figures["verified"] is True
    assert figures["model_hash"] in buffer.getvalue()
    assert f"{figures['local_only_roc_auc']:.3f} trained alone" in buffer.getvalue()
