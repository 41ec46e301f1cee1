"""Merkle trees compatible with OpenZeppelin's ``StandardMerkleTree`` for one ``bytes32`` value.

A record is represented by its 32-byte hash. Its leaf is the double hash OpenZeppelin uses,
``keccak256(keccak256(abi.encode(record_hash)))`` (for one ``bytes32`` the ABI encoding is the value
itself), inner nodes hash the sorted pair of their children, leaves are sorted by hash before the tree
is built, and the tree is laid out in one array exactly as ``@openzeppelin/merkle-tree`` does. Roots and
proofs are therefore byte-for-byte those of the JavaScript library and verify in Solidity with
``MerkleProof.verify`` (see ``contracts/AnchorRegistry.sol``).

Example:
    >>> from twin_models.merkle import MerkleTree, keccak256, verify_proof
    >>> records = [keccak256(f"record-{i}".encode()) for i in range(5)]
    >>> tree = MerkleTree.build(records)
    >>> proof = tree.proof(3)
    >>> verify_proof(tree.root, records[3], proof)
    True
    >>> verify_proof(tree.root, keccak256(b"tampered"), proof)
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Hash import keccak

from twin_models.errors import TwinModelsError

__all__ = [
    "HASH_SIZE",
    "MerkleError",
    "MerkleTree",
    "hash_pair",
    "keccak256",
    "leaf_hash",
    "process_proof",
    "verify_proof",
]

HASH_SIZE = 32


class MerkleError(TwinModelsError, ValueError):
    """A value that cannot be a Merkle node, an empty batch, or an index outside the tree."""


def keccak256(data: bytes) -> bytes:
    """The Ethereum keccak-256 hash (not NIST SHA3-256).

    Example:
        >>> keccak256(b"").hex()[:16]
        'c5d2460186f7233c'
    """
    return keccak.new(data=data, digest_bits=256).digest()


def _node(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise MerkleError(f"{what} must be {HASH_SIZE} bytes, got {value!r:.80}")
    return bytes(value)


def leaf_hash(record_hash: bytes) -> bytes:
    """The leaf of a record hash: ``keccak256(bytes.concat(keccak256(abi.encode(record_hash))))``.

    Example:
        >>> len(leaf_hash(bytes(32)))
        32
    """
    return keccak256(keccak256(_node(record_hash, "record hash")))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """An inner node: keccak-256 of the two children, the smaller first (OpenZeppelin ``Hashes``)."""
    return keccak256(a + b) if a <= b else keccak256(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from ``leaf`` (not from a record hash: see :func:`leaf_hash`)."""
    node = _node(leaf, "leaf")
    for sibling in proof:
        node = hash_pair(node, _node(sibling, "proof element"))
    return node


def verify_proof(root: bytes, record_hash: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows that ``record_hash`` belongs to the tree with ``root``.

    Malformed input (a wrong length) raises :class:`MerkleError`; a well-formed wrong proof returns False.
    """
    return process_proof(leaf_hash(record_hash), proof) == _node(root, "root")


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """A built tree: ``nodes`` in OpenZeppelin's array layout and where each input's leaf sits.

    ``record_hashes[i]`` keeps the caller's order; ``proof(i)`` is the proof of that record.
    """

    nodes: tuple[bytes, ...]
    record_hashes: tuple[bytes, ...]
    tree_indices: tuple[int, ...]

    @classmethod
    def build(cls, record_hashes: Sequence[bytes]) -> MerkleTree:
        """Builds the tree of one or more 32-byte record hashes (duplicates are kept, as in the JS library).

        Example:
            >>> MerkleTree.build([bytes(32)]).root == leaf_hash(bytes(32))
            True
        """
        records = tuple(_node(value, f"record hash #{i}") for i, value in enumerate(record_hashes))
        if not records:
            raise MerkleError("a Merkle tree needs at least one record")
        leaves = [leaf_hash(value) for value in records]
        order = sorted(range(len(leaves)), key=lambda i: leaves[i])  # stable, like Array.prototype.sort
        size = 2 * len(leaves) - 1
        nodes: list[bytes] = [b""] * size
        tree_indices = [0] * len(leaves)
        for position, value_index in enumerate(order):
            tree_indices[value_index] = size - 1 - position
            nodes[size - 1 - position] = leaves[value_index]
        for i in range(size - 1 - len(leaves), -1, -1):
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
        return cls(nodes=tuple(nodes), record_hashes=records, tree_indices=tuple(tree_indices))

    @property
    def root(self) -> bytes:
        """The 32-byte root that goes on chain."""
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.record_hashes)

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from the leaf of ``record_hashes[index]`` up to the root."""
        if not 0 <= index < len(self.record_hashes):
            raise MerkleError(f"record index {index} outside 0..{len(self.record_hashes) - 1}")
        node = self.tree_indices[index]
        proof: list[bytes] = []
        while node > 0:
            proof.append(self.nodes[node - 1 if node % 2 == 0 else node + 1])
            node = (node - 1) // 2
        return proof

    def proofs(self) -> list[list[bytes]]:
        """Every record's proof, in the caller's order."""
        return [self.proof(i) for i in range(len(self.record_hashes))]
