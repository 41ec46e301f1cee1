"""twin_models.merkle and twin_models.hashchain: OpenZeppelin compatibility, proofs, tamper detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin_models.hashchain import GENESIS_HEAD, HashChainError, chain_head, chain_heads, first_mismatch, link
from twin_models.merkle import MerkleError, MerkleTree, hash_pair, keccak256, leaf_hash, process_proof, verify_proof

# Computed with @openzeppelin/merkle-tree 1.0.8 (package.json):
#   StandardMerkleTree.of([0..4].map(i => [keccak256(`record-${i}`)]), ["bytes32"])
OZ_ROOT = "c6610e8b0e53692aa5a711595a976a9754eb084ae11312591fb754084738affd"
OZ_PROOFS = [
    [
        "8c7b523f231e557a21e67cf5a8bac330dfb780ce9bc2ff014fb1646bb6425ec8",
        "f4dea28e1c090137b787a74df67de1d3a5804c9d42a3bf57d08177dc409a1c36",
        "326903791854d1971675fa82bd8467f736273fb0bc36aab12e25870d20efb004",
    ],
    [
        "321b7d74ebf7d335879a841856129e77f4870c75c4153f24b2d4cea4dddd9955",
        "326903791854d1971675fa82bd8467f736273fb0bc36aab12e25870d20efb004",
    ],
    [
        "84dd611e16c54a76e8b43d470056fd12fa54899a8ef93ca0980740c27513475c",
        "f4dea28e1c090137b787a74df67de1d3a5804c9d42a3bf57d08177dc409a1c36",
        "326903791854d1971675fa82bd8467f736273fb0bc36aab12e25870d20efb004",
    ],
    [
        "f2170a6446a71d600db43805ec8d26f7512e502a86919dba094f6637ed8f30b6",
        "c88e8e0d8c5f01270cbbc43df41de583458dce03eb991e6dff9f29f4f114dbe5",
    ],
    [
        "d0a5e59e770d0a92e03508ca5239bb8df5a55eb6013968cb0d1dc662de0ab790",
        "c88e8e0d8c5f01270cbbc43df41de583458dce03eb991e6dff9f29f4f114dbe5",
    ],
]
OZ_SINGLE_ROOT = "84dd611e16c54a76e8b43d470056fd12fa54899a8ef93ca0980740c27513475c"

hashes32 = st.binary(min_size=32, max_size=32)


def oz_records() -> list[bytes]:
    return [keccak256(f"record-{i}".encode()) for i in range(5)]


def test_keccak256_is_ethereum_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_tree_matches_openzeppelin_standard_merkle_tree() -> None:
    tree = MerkleTree.build(oz_records())

    assert tree.root.hex() == OZ_ROOT
    assert [[p.hex() for p in proof] for proof in tree.proofs()] == OZ_PROOFS


def test_single_record_tree_is_its_leaf_with_empty_proof() -> None:
    tree = MerkleTree.build(oz_records()[:1])

    assert tree.root.hex() == OZ_SINGLE_ROOT
    assert tree.proof(0) == []
    assert verify_proof(tree.root, oz_records()[0], [])


def test_leaf_is_double_hash_and_pairs_are_sorted() -> None:
    a, b = keccak256(b"a"), keccak256(b"b")

    assert leaf_hash(a) == keccak256(keccak256(a))
    assert hash_pair(a, b) == hash_pair(b, a) == keccak256(min(a, b) + max(a, b))


@given(st.lists(hashes32, min_size=1, max_size=40), st.data())
def test_every_proof_verifies_and_a_tampered_record_does_not(records: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree.build(records)
    index = data.draw(st.integers(0, len(records) - 1))
    proof = tree.proof(index)

    assert verify_proof(tree.root, records[index], proof)
    tampered = bytes([records[index][0] ^ 1]) + records[index][1:]
    assert not verify_proof(tree.root, tampered, proof)
    assert process_proof(leaf_hash(records[index]), proof) == tree.root


def test_proof_against_another_root_fails() -> None:
    records = oz_records()
    other = MerkleTree.build([keccak256(b"x"), keccak256(b"y")])

    assert not verify_proof(other.root, records[2], MerkleTree.build(records).proof(2))


def test_proofs_follow_input_order_even_with_duplicates() -> None:
    records = [keccak256(b"dup"), keccak256(b"one"), keccak256(b"dup")]
    tree = MerkleTree.build(records)

    assert tree.record_hashes == tuple(records)
    assert all(verify_proof(tree.root, r, tree.proof(i)) for i, r in enumerate(records))


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32])
def test_malformed_record_hash_is_rejected(bad: object) -> None:
    with pytest.raises(MerkleError, match="32 bytes"):
        MerkleTree.build([bad])  # type: ignore[list-item]


def test_empty_batch_and_bad_index_are_rejected() -> None:
    with pytest.raises(MerkleError, match="at least one"):
        MerkleTree.build([])
    with pytest.raises(MerkleError, match="outside"):
        MerkleTree.build(oz_records()).proof(5)


def test_hash_chain_links_previous_head_entry_and_index() -> None:
    entries = [keccak256(f"entry-{i}".encode()) for i in range(3)]
    heads = chain_heads(entries)

    assert heads[0] == keccak256(GENESIS_HEAD + entries[0] + (0).to_bytes(32, "big"))
    assert heads[2] == link(heads[1], entries[2], 2)
    assert chain_head(entries) == heads[-1]
    assert chain_head([]) == GENESIS_HEAD


def test_hash_chain_shows_where_an_entry_was_removed_reordered_or_appended() -> None:
    entries = [keccak256(f"entry-{i}".encode()) for i in range(5)]
    heads = chain_heads(entries)

    assert first_mismatch(entries, heads) is None
    assert first_mismatch(entries[:2] + entries[3:], heads) == 2
    assert first_mismatch([entries[1], entries[0], *entries[2:]], heads) == 0
    assert first_mismatch(entries[:4], heads) == 4
    assert first_mismatch([*entries, keccak256(b"extra")], heads) == 5


def test_hash_chain_rejects_malformed_input() -> None:
    with pytest.raises(HashChainError):
        link(GENESIS_HEAD, b"short", 0)
    with pytest.raises(HashChainError):
        link(GENESIS_HEAD, keccak256(b"e"), -1)
