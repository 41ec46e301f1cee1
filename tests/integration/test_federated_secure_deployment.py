"""SecAgg+ over a real Flower deployment: a SuperLink and three SuperNodes as processes, one round.

Given a SuperLink and three SuperNodes on 127.0.0.1 and the run config's ``secure-aggregation``, when
the federation runs a round through them, then the lessor's model is the FedAvg model of the same
federation in process (up to SecAgg+'s quantisation) and no single lessee's update was recorded.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from twinledger.federated.inprocess import run_inprocess
from twinledger.federated.launcher import run_deployment

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

CONFIG = {"dataset": "synthetic", "clients": 3, "rounds": 1, "aggregation": "fedavg", "secure-aggregation": True}


def test_secure_aggregation_runs_over_the_superlink_and_three_supernodes() -> None:
    if shutil.which("flower-superlink", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("flwr is not installed: install the project's `federated` extra")
    deployed = run_deployment(CONFIG)
    assert deployed["deployment"]["supernodes"] == 3
    assert deployed["manifest"]["aggregation"] == "secagg+fedavg"
    assert [r["updates"] for r in deployed["rounds"]] == [{}]
    plain = run_inprocess({**CONFIG, "secure-aggregation": False})
    np.testing.assert_allclose(deployed["weights"], plain["weights"], atol=2e-3)
