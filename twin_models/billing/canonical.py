"""Canonical hashes: SHA-256 over RFC 8785 (JCS) JSON, and the usage Merkle root.

A usage event hashes to ``sha256(JCS(event without received_at))``; an invoice hashes to
``sha256(JCS(invoice without its hash))``. The *usage root* of an invoice is a binary
Merkle tree over the sorted event hashes with RFC 6962 domain separation
(``leaf = sha256(0x00 || h)``, ``node = sha256(0x01 || left || right)``, an odd node is
carried up unchanged); the empty set has the root ``sha256(b"")``. Hashes are written as
``0x`` + 64 lower-case hex digits, which is also how a ``bytes32`` is passed to the chain.

Example:
    >>> canonical_json({"b": "1.50", "a": [1, 2]})
    b'{"a":[1,2],"b":"1.50"}'
    >>> h = sha256_hex(canonical_json({"a": 1}))
    >>> len(h), h[:2]
    (66, '0x')
    >>> leaves = [sha256_hex(bytes([i])) for i in range(3)]
    >>> root = merkle_root(leaves)
    >>> verify_proof(leaves[1], merkle_proof(leaves, leaves[1]), root)
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import rfc8785

from twin_models.billing.errors import BillingError

__all__ = [
    "EMPTY_ROOT",
    "canonical_json",
    "merkle_proof",
    "merkle_root",
    "sha256_hex",
    "verify_proof",
]

EMPTY_ROOT = "0x" + hashlib.sha256(b"").hexdigest()


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


def _levels(leaf_hashes: Sequence[str]) -> list[list[bytes]]:
    sha = hashlib.sha256
    level = [sha(b"\x00" + _raw(h)).digest() for h in sorted(leaf_hashes)]
    levels = [level]
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        levels.append(level)
    return levels


def merkle_root(leaf_hashes: Sequence[str]) -> str:
    """The Merkle root over a set of hashes (order of the input does not matter)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return "0x" + _levels(leaf_hashes)[-1][0].hex()


def merkle_proof(leaf_hashes: Sequence[str], leaf: str) -> list[str]:
    """Sibling hashes, tagged ``L:``/``R:`` by the side they sit on, from the leaf up to the root."""
    levels = _levels(leaf_hashes)
    target = hashlib.sha256(b"\x00" + _raw(leaf)).digest()
    try:
        index = levels[0].index(target)
    except ValueError:
        raise BillingError(f"{leaf} is not a leaf of this tree") from None
    proof: list[str] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(("L:" if sibling < index else "R:") + "0x" + level[sibling].hex())
        index //= 2
    return proof


def verify_proof(leaf: str, proof: Sequence[str], root: str) -> bool:
    """True when ``proof`` (from :func:`merkle_proof`) links ``leaf`` to ``root``."""
    node = hashlib.sha256(b"\x00" + _raw(leaf)).digest()
    for step in proof:
        side, sibling = step[:2], _raw(step[2:])
        node = hashlib.sha256(b"\x01" + (sibling + node if side == "L:" else node + sibling)).digest()
    return "0x" + node.hex() == root
