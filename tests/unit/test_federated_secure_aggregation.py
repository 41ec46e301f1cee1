"""Flower's SecAgg+ on the federation: the lessor gets the FedAvg model without seeing one lessee's weights."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from flwr.app import Message

from twin_models.federated import MomentDetector, arrays_hash
from twinledger.cli import main as cli
from twinledger.federated.data import load_partitions
from twinledger.federated.evaluation import grade
from twinledger.federated.inprocess import InProcessGrid, node_configs, run_inprocess
from twinledger.federated.server_app import federate
from twinledger.federated.task import TrainConfig, local_train

logging.getLogger("flwr").setLevel(logging.ERROR)

BASE = {"dataset": "synthetic", "clients": 3, "rounds": 3, "epochs": 5, "aggregation": "fedavg"}


class Watching(InProcessGrid):
    """The in-process grid, keeping every number the lessees send back."""

    def __init__(self, run_config: dict[str, Any]) -> None:
        super().__init__(run_config, node_configs(int(run_config["clients"])))
        self.seen: list[np.ndarray] = []

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = list(super().pull_messages(message_ids))
        for reply in replies:
            if reply.has_error():
                continue
            for arrays in reply.content.array_records.values():
                self.seen.extend(np.asarray(a, dtype=float).ravel() for a in arrays.to_numpy_ndarrays())
            for configs in reply.content.config_records.values():
                for value in configs.values():
                    if isinstance(value, list) and value and isinstance(value[0], int | float):
                        self.seen.append(np.asarray(value, dtype=float))
        return replies


def test_secure_aggregation_gives_the_fedavg_model_up_to_quantisation() -> None:
    plain = run_inprocess(BASE)
    secure = run_inprocess({**BASE, "secure-aggregation": True})
    np.testing.assert_allclose(secure["weights"], plain["weights"], atol=2e-3)
    parts = load_partitions("synthetic", clients=3)
    assert abs(grade(secure, parts)["roc_auc"] - grade(plain, parts)["roc_auc"]) < 1e-3
    assert secure["manifest"]["aggregation"] == "secagg+fedavg"
    # every round's global model is recorded and hashed; no single update is (the lessor never has one)
    assert [r["round"] for r in secure["rounds"]] == [1, 2, 3]
    assert all(
        r["updates"] == {} and r["model_hash"] == arrays_hash([np.asarray(r["weights"])]) for r in secure["rounds"]
    )
    assert secure["manifest"]["model_hash"] == secure["rounds"][-1]["model_hash"]


@pytest.mark.parametrize("secure", [False, True])
def test_the_lessor_sees_a_lessees_weights_only_without_secure_aggregation(secure: bool) -> None:
    config = {**BASE, "rounds": 1, "secure-aggregation": secure}
    grid = Watching(config)
    result = federate(grid, config)
    scale = MomentDetector(np.asarray(result["scale"]["mean"]), np.asarray(result["scale"]["std"]))
    honest = [
        local_train(np.zeros(len(result["weights"])), part, scale, TrainConfig(epochs=5))[0]
        for part in load_partitions("synthetic", clients=3)
    ]

    def sent(weights: np.ndarray) -> bool:
        return any(a.shape == weights.shape and np.allclose(a, weights, atol=1e-6) for a in grid.seen)

    assert [sent(w) for w in honest] == [not secure] * 3


def test_the_command_line_refuses_secure_aggregation_with_a_robust_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(
        ["federated", "run", "--clients", "3", "--secure-aggregation", "--aggregation", "trimmed", "--in-process"]
    )
    assert code == 2
    assert "secure aggregation hides the single updates" in capsys.readouterr().err
