"""Decoding revert data into a contract's custom error, whichever node (eth-tester, Ganache) sent it."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from chalicelib.ports.chain import ContractRevertError
from twin_models.merkle import keccak256

__all__ = ["decode_revert", "revert_data"]

_ERROR_STRING = keccak256(b"Error(string)")[:4]  # == Web3.keccak(text="Error(string)")[:4], without importing web3
_PANIC = keccak256(b"Panic(uint256)")[:4]
#: a bytes literal as ``repr`` writes it, escapes included (``b'\x01\'\x0c'`` holds a quote)
_BYTES_LITERAL = re.compile(r"""(b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))""")
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        if value.startswith("0x"):
            try:
                return bytes.fromhex(value[2:])
            except ValueError:
                return None
        literal = _BYTES_LITERAL.search(value)
        if literal:
            try:
                parsed = ast.literal_eval(literal.group(1))
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, bytes):
                return parsed
        match = _HEX.search(value)
        if match:
            return _as_bytes(match.group(0))
    if isinstance(value, dict):  # Ganache: {"result": "0x...", ...}; others: {"data": "0x..."}
        for key in ("data", "result"):
            found = _as_bytes(value.get(key))
            if found:
                return found
    return None


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by an exception from web3.py or eth-tester, if any."""
    data = getattr(exc, "data", None)
    found = _as_bytes(data)
    if found is not None:
        return found
    for arg in exc.args:
        found = _as_bytes(arg)
        if found is not None:
            return found
    return None


def _signature(item: dict[str, Any]) -> str:
    def kind(param: dict[str, Any]) -> str:
        if param["type"].startswith("tuple"):
            inner = ",".join(kind(p) for p in param["components"])
            return f"({inner}){param['type'][5:]}"
        return str(param["type"])

    return f"{item['name']}({','.join(kind(p) for p in item.get('inputs', []))})"


def decode_revert(abi: Sequence[dict[str, Any]], exc: BaseException) -> ContractRevertError:
    """The :class:`ContractRevertError` for ``exc``, its custom error decoded with ``abi`` when possible.

    Example:
        >>> decode_revert([], ValueError("0x4e487b71" + (1).to_bytes(32, "big").hex())).error_args
        (1,)
    """
    from eth_abi.abi import decode as abi_decode
    from web3 import Web3

    data = revert_data(exc) or b""
    selector, payload = data[:4], data[4:]
    if selector == _ERROR_STRING:
        return ContractRevertError("Error", tuple(abi_decode(["string"], payload)), data)
    if selector == _PANIC:
        return ContractRevertError("Panic", tuple(abi_decode(["uint256"], payload)), data)
    for item in abi:
        if item.get("type") != "error":
            continue
        if keccak256(_signature(item).encode())[:4] == selector:
            types = [_signature({"name": "", "inputs": [p]})[1:-1] for p in item.get("inputs", [])]
            values = abi_decode(types, payload)
            shown = tuple(
                Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)
            )
            return ContractRevertError(item["name"], shown, data)
    return ContractRevertError("", (), data)
