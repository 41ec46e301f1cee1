"""Canonical hashes: SHA-256 over RFC 8785 (JCS) JSON, and the usage root.

A usage event hashes to ``sha256(JCS(event without received_at))``; an invoice hashes to
``sha256(JCS(invoice without its hash))``. The *usage root* of an invoice is the root of the
OpenZeppelin-compatible Merkle tree of :mod:`twin_models.merkle` over the hashes of the
events it bills, so a single event's inclusion verifies on chain with ``MerkleProof.verify``;
an invoice that bills no event has :data:`EMPTY_ROOT`, the root of the one-record tree over the
zero hash (the chain refuses a zero root). Hashes are written as ``0x`` + 64 lower-case
hex digits, which is also how a ``bytes32`` is passed to the chain.

Example:
    >>> canonical_json({"b": "1.50", "a": [1, 2]})
    b'{"a":[1,2],"b":"1.50"}'
    >>> leaves = [sha256_hex(bytes([i])) for i in range(3)]
    >>> root = merkle_root(leaves)
    >>> verify_proof(leaves[1], merkle_proof(leaves, leaves[1]), root)
    True
    >>> merkle_root([]) == EMPTY_ROOT
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import rfc8785

from twin_models import merkle
from twin_models.billing.errors import BillingError

__all__ = [
    "EMPTY_ROOT",
    "canonical_json",
    "merkle_proof",
    "merkle_root",
    "sha256_hex",
    "verify_proof",
]

#: The usage root of an invoice that bills no usage event: the one-record tree over ``bytes32(0)``.
EMPTY_ROOT = "0x" + merkle.MerkleTree.build([bytes(32)]).root.hex()


def canonical_json(document: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON-ready value (amounts must already be strings)."""
    return rfc8785.dumps(document)


def sha256_hex(data: bytes) -> str:
    """``0x``-prefixed hex SHA-256 of ``data``."""
    return "0x" + hashlib.sha256(data).hexdigest()


def _raw(h: str) -> bytes:
    if len(h) != 66 or not h.startswith("0x"):
        raise BillingError(f"not a 0x-prefixed 32-byte hash: {h!r}")
    return bytes.fromhex(h[2:])


def merkle_root(leaf_hashes: Sequence[str]) -> str:
    """The root over a set of record hashes (order does not matter; empty -> :data:`EMPTY_ROOT`)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return "0x" + merkle.MerkleTree.build([_raw(h) for h in leaf_hashes]).root.hex()


def merkle_proof(leaf_hashes: Sequence[str], leaf: str) -> list[str]:
    """The proof of ``leaf`` (sibling hashes from the leaf up), as ``0x`` hex strings."""
    try:
        index = list(leaf_hashes).index(leaf)
    except ValueError:
        raise BillingError(f"{leaf} is not a leaf of this tree") from None
    tree = merkle.MerkleTree.build([_raw(h) for h in leaf_hashes])
    return ["0x" + node.hex() for node in tree.proof(index)]


def verify_proof(leaf: str, proof: Sequence[str], root: str) -> bool:
    """True when ``proof`` (from :func:`merkle_proof`) links the record hash ``leaf`` to ``root``."""
    return merkle.verify_proof(_raw(root), _raw(leaf), [_raw(p) for p in proof])
