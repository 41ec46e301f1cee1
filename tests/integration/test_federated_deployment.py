"""A real Flower deployment: a SuperLink and three SuperNodes as processes, two rounds, provenance on Ganache.

Given a SuperLink and three SuperNodes on 127.0.0.1 (one of them a lessee that flips the sign of its
updates), when the federation runs two rounds through them with the trimmed-mean strategy, then
every round reports the manipulating lessee as excluded, the result matches the same federation run
in process, and the anchored global-model hash of the last round verifies on a Ganache registry.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eth_account import Account
from web3 import Web3

from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
from twin_models.anchoring import ProofBundle, record_hash
from twin_models.federated import arrays_hash
from twinledger.federated.anchor import anchor_federation
from twinledger.federated.inprocess import run_inprocess
from twinledger.federated.launcher import run_deployment
from twinledger.local.ganache import DETERMINISTIC_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CONFIG = {"dataset": "synthetic", "clients": 3, "rounds": 2, "aggregation": "trimmed"}


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    if shutil.which("flower-superlink", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("flwr is not installed: install the project's `federated` extra")
    return run_deployment(CONFIG, attack="signflip", attackers=1)


def test_superlink_and_three_supernodes_run_two_rounds(deployed: dict[str, Any]) -> None:
    # Given / When: the fixture ran the federation through 1 SuperLink + 3 SuperNode processes
    deployment = deployed["deployment"]
    assert isinstance(deployment, dict) and deployment["supernodes"] == 3 and deployment["processes"] == 4
    rounds = deployed["rounds"]
    assert isinstance(rounds, list) and [r["round"] for r in rounds] == [1, 2]
    # Then: the sign-flipping lessee is excluded in every round, and only it
    assert all(r["excluded"] == ["lessee-1"] for r in rounds)
    assert sorted(deployed["manifest"]["participants"]) == ["lessee-2", "lessee-3"]
    # and the model the processes produced is the one the same code produces in process
    local = run_inprocess(CONFIG, attack="signflip", attackers=1)
    np.testing.assert_allclose(deployed["weights"], local["weights"], rtol=1e-9, atol=1e-12)
    assert deployed["manifest"]["model_hash"] == arrays_hash([np.asarray(deployed["weights"])])


def test_the_anchored_global_model_hash_verifies_on_ganache(deployed: dict[str, Any], ganache_w3: Web3) -> None:
    admin = Account.from_key(DETERMINISTIC_KEYS[0])
    registry = AnchorClient(ganache_w3, deploy_anchor_registry(ganache_w3, admin), admin)
    anchored = anchor_federation(deployed, client=registry)
    assert anchored["verified"] is True
    assert anchored["model_hash"] == deployed["manifest"]["model_hash"]
    bundle = ProofBundle.model_validate(anchored["model_bundle"])
    assert registry.verify_record(bundle.root, bundle.record_hash, bundle.proof)
    # a different model hash does not verify against the anchored root
    forged = {**bundle.record, "model_hash": "0x" + "00" * 32}
    assert not registry.verify_record(bundle.root, record_hash(forged), bundle.proof)
