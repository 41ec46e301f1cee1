"""Anchoring a federation's provenance: every round's global-model hash and update hashes in one Merkle batch.

The records are :func:`twin_models.federated.round_records`; the anchoring service
(``chalicelib.anchoring.AnchoringService``) queues them and drains them into one batch on an
``AnchorRegistry``. Without a chain given, the registry is deployed on an in-process eth-tester chain, as
the demo does. The returned proof bundles verify against the registry (re-hash, Merkle proof,
``verifyRecord``) — anyone holding a model can prove which round made it and who took part.

Example:
    >>> from twinledger.federated.inprocess import run_inprocess
    >>> anchored = anchor_federation(run_inprocess({"dataset": "synthetic", "clients": 3, "rounds": 1}))
    >>> anchored["verified"], len(anchored["records"])
    (True, 4)
"""

from __future__ import annotations

from typing import Any

from twin_models.anchoring import record_hash
from twin_models.federated import round_records
from twinledger.paths import ensure_functions_importable

__all__ = ["anchor_federation"]


def _embedded_client() -> Any:
    ensure_functions_importable()
    from web3 import EthereumTesterProvider, Web3

    from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry

    w3 = Web3(EthereumTesterProvider())
    owner = w3.eth.accounts[0]
    return AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)


def anchor_federation(result: dict[str, Any], client: Any = None) -> dict[str, Any]:
    """Anchor every round of ``result`` (from :func:`~twinledger.federated.server_app.federate`) and verify.

    Returns the transaction, the model hash of the last round with its proof bundle, and whether every
    record's bundle verifies on chain.
    """
    ensure_functions_importable()
    from chalicelib.adapters.memory import InMemoryAnchorStore
    from chalicelib.anchoring.service import AnchoringService

    chain = client if client is not None else _embedded_client()
    service = AnchoringService(InMemoryAnchorStore(), lambda: chain)
    records: dict[str, dict[str, Any]] = {}
    for r in result["rounds"]:
        for record_id, record in round_records(result["federation"], int(r["round"]), r["model_hash"], r["updates"]):
            records[record_id] = record
            service.submit(record_id, record_hash(record), kind="federated")
    report = service.run_once()
    bundles = {rid: service.bundle(rid, record) for rid, record in records.items()}
    verified = all(service.verify(b).ok for b in bundles.values())
    last = f"federated/{result['federation']}/{result['rounds'][-1]['round']}/model"
    return {
        "records": sorted(records),
        "tx_hashes": list(report.tx_hashes),
        "model_hash": records[last]["model_hash"],
        "model_bundle": bundles[last].model_dump(mode="json"),
        "verified": verified,
    }
