"""Revert data is recovered from whatever shape a node's exception carries it in, whatever the bytes are."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.chain.reverts import decode_revert, revert_data
from twin_models.merkle import keccak256

#: bytes rich in what a bytes literal escapes: quotes of either kind and backslashes
TRICKY = st.lists(st.one_of(st.sampled_from(list(b"'\"\\")), st.integers(0, 255)), min_size=4, max_size=200).map(bytes)

WRAPPERS: list[Callable[[bytes], object]] = [
    lambda data: data,  # eth-tester's Revert(bytes)
    repr,  # its message: the bytes literal, escapes included
    lambda data: f"execution reverted: {data!r} (estimate gas)",
    lambda data: "0x" + data.hex(),  # web3.py's ContractCustomError
    lambda data: {"message": "revert", "data": "0x" + data.hex()},  # a JSON-RPC error object
]


@settings(max_examples=400, deadline=None)
@given(TRICKY, st.sampled_from(range(len(WRAPPERS))))
def test_any_revert_bytes_are_recovered_from_any_shape(data: bytes, wrapper: int) -> None:
    assert revert_data(Exception(WRAPPERS[wrapper](data))) == data


@settings(max_examples=200, deadline=None)
@given(TRICKY.map(lambda b: (b * 8)[:32]), st.integers(0, 2**64 - 1))
def test_a_custom_error_with_any_arguments_is_decoded_from_the_nodes_message(root: bytes, when: int) -> None:
    """The registry's error for a root anchored before, its timestamp whatever bytes it holds (a quote, a
    backslash): once flaky, when the message's bytes literal held an escaped quote."""
    abi = [
        {
            "type": "error",
            "name": "RootAlreadyAnchored",
            "inputs": [{"name": "root", "type": "bytes32"}, {"name": "anchoredAt", "type": "uint64"}],
        }
    ]
    data = keccak256(b"RootAlreadyAnchored(bytes32,uint64)")[:4] + root + when.to_bytes(32, "big")
    decoded = decode_revert(abi, Exception(f"execution reverted: {data!r}"))
    assert (decoded.name, decoded.error_args) == ("RootAlreadyAnchored", (root, when))
