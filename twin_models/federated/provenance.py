"""Provenance of a federated model: the hash of every round's global model and of each lessee's update.

An array list hashes as the keccak-256 record hash (:func:`twin_models.anchoring.record_hash`) of a small
document naming each array's shape and the SHA-256 of its little-endian float64 bytes, so the same numbers
give the same hash on any machine. :func:`round_records` yields the records of one round — the global
model and every update — ready for one Merkle batch on the ``AnchorRegistry``; :func:`model_manifest` is
what the model artifact records: its round and its participants' update hashes.

Example:
    >>> import numpy as np
    >>> a = arrays_hash([np.array([1.0, 2.0])])
    >>> a == arrays_hash([np.array([1.0, 2.0], dtype=np.float32)]), a == arrays_hash([np.array([1.0, 2.5])])
    (True, False)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin_models.anchoring import bytes32_hex, record_hash

__all__ = ["MODEL_FORMAT", "arrays_document", "arrays_hash", "model_manifest", "round_records"]

#: The ``format`` of a federated model's manifest.
MODEL_FORMAT = "twinledger-federated/1"


def arrays_document(arrays: Sequence[np.ndarray]) -> dict[str, Any]:
    """The JSON document an array list is hashed as.

    Example:
        >>> import numpy as np
        >>> arrays_document([np.zeros(2)])["arrays"][0]["shape"]
        [2]
    """
    parts = []
    for array in arrays:
        data = np.ascontiguousarray(np.asarray(array, dtype="<f8"))
        parts.append({"shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest()})
    return {"format": MODEL_FORMAT, "arrays": parts}


def arrays_hash(arrays: Sequence[np.ndarray]) -> str:
    """``0x`` + the 32-byte record hash of the arrays."""
    return bytes32_hex(record_hash(arrays_document(arrays)))


def round_records(
    federation: str, server_round: int, model_hash: str, update_hashes: Mapping[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """``(record_id, record)`` for the round's global model and each lessee's update.

    Example:
        >>> [rid for rid, _ in round_records("fleet", 1, "0xaa", {"lessee-a": "0xbb"})]
        ['federated/fleet/1/model', 'federated/fleet/1/update/lessee-a']
    """
    records: list[tuple[str, dict[str, Any]]] = [
        (
            f"federated/{federation}/{server_round}/model",
            {
                "federation": federation,
                "round": server_round,
                "model_hash": model_hash,
                "participants": dict(sorted(update_hashes.items())),
            },
        )
    ]
    for client, update_hash in sorted(update_hashes.items()):
        records.append(
            (
                f"federated/{federation}/{server_round}/update/{client}",
                {"federation": federation, "round": server_round, "client": client, "update_hash": update_hash},
            )
        )
    return records


def model_manifest(
    federation: str, server_round: int, arrays: Sequence[np.ndarray], update_hashes: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    """The model artifact's identity: format, federation, round, model hash and participants' update hashes.

    Example:
        >>> import numpy as np
        >>> m = model_manifest("fleet", 2, [np.zeros(3)], {"lessee-a": "0x01"})
        >>> m["round"], m["participants"]
        (2, {'lessee-a': '0x01'})
    """
    return {
        "format": MODEL_FORMAT,
        "federation": federation,
        "round": server_round,
        "model_hash": arrays_hash(arrays),
        "participants": dict(sorted(update_hashes.items())),
        **extra,
    }
