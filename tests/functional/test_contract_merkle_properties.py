"""The contract and twin_models.merkle agree on every proof (property-based, eth-tester)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3

from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
from twin_models.merkle import MerkleTree, verify_proof


@pytest.fixture(scope="module")
def registry() -> AnchorClient:
    w3 = Web3(EthereumTesterProvider())
    owner = w3.eth.accounts[0]
    return AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True),
    data=st.data(),
)
def test_contract_and_python_agree(registry: AnchorClient, records: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(records)
    if registry.anchor_of(tree.root) is None:
        registry.anchor_batch(records, kind="property")
    i = data.draw(st.integers(0, len(records) - 1))
    j = data.draw(st.integers(0, len(records) - 1))

    assert registry.verify_record(tree.root, records[i], tree.proof(i))
    assert registry.verify_record(tree.root, records[i], tree.proof(j)) == verify_proof(
        tree.root, records[i], tree.proof(j)
    )
