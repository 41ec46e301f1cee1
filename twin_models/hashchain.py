"""The per-machine append-only hash chain of maintenance-log entries, as ``AnchorRegistry`` computes it.

Each link is ``keccak256(abi.encode(previous_head, entry_hash, index))`` with the zero hash before the
first entry. The head after the last entry commits to every entry and its position: dropping, inserting,
changing or reordering any entry changes the head, so comparing a recomputed head with the one on chain
shows the tampering, and :func:`first_mismatch` tells where.

Example:
    >>> from twin_models.hashchain import chain_heads, first_mismatch
    >>> from twin_models.merkle import keccak256
    >>> entries = [keccak256(f"entry-{i}".encode()) for i in range(4)]
    >>> heads = chain_heads(entries)
    >>> first_mismatch(entries[:1] + entries[2:], heads)   # entry 1 removed
    1
    >>> first_mismatch(entries, heads) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from twin_models.merkle import HASH_SIZE, MerkleError, keccak256

__all__ = ["GENESIS_HEAD", "HashChainError", "chain_head", "chain_heads", "first_mismatch", "link", "machine_key"]

GENESIS_HEAD = bytes(HASH_SIZE)


class HashChainError(MerkleError):
    """An entry hash or head that is not 32 bytes, or a negative index."""


def machine_key(machine_id: str) -> bytes:
    """The 32-byte id of a machine on chain: keccak-256 of its thing name.

    Example:
        >>> machine_key("cnc-01").hex()[:8]
        '657fd4e4'
    """
    if not machine_id:
        raise HashChainError("a machine needs a non-empty thing name")
    return keccak256(machine_id.encode("utf-8"))


def link(previous_head: bytes, entry_hash: bytes, index: int) -> bytes:
    """The head after appending ``entry_hash`` at ``index`` to a chain whose head is ``previous_head``."""
    for name, value in (("previous head", previous_head), ("entry hash", entry_hash)):
        if len(value) != HASH_SIZE:
            raise HashChainError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")
    if index < 0:
        raise HashChainError(f"index must be >= 0, got {index}")
    return keccak256(bytes(previous_head) + bytes(entry_hash) + index.to_bytes(32, "big"))


def chain_heads(entry_hashes: Sequence[bytes]) -> list[bytes]:
    """The head after each entry, in order (what ``AnchorRegistry.logHeadAt`` returns)."""
    heads: list[bytes] = []
    head = GENESIS_HEAD
    for index, entry in enumerate(entry_hashes):
        head = link(head, entry, index)
        heads.append(head)
    return heads


def chain_head(entry_hashes: Sequence[bytes]) -> bytes:
    """The head after the last entry (the zero hash for an empty log)."""
    heads = chain_heads(entry_hashes)
    return heads[-1] if heads else GENESIS_HEAD


def first_mismatch(entry_hashes: Sequence[bytes], expected_heads: Sequence[bytes]) -> int | None:
    """The first position where the entries disagree with the expected heads, or None when all agree.

    A log shorter or longer than the expected chain disagrees at the first missing or extra position.
    """
    heads = chain_heads(entry_hashes)
    for index, (got, expected) in enumerate(zip(heads, expected_heads, strict=False)):
        if got != expected:
            return index
    if len(heads) != len(expected_heads):
        return min(len(heads), len(expected_heads))
    return None
