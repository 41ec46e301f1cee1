"""Importing the chain adapters must not import web3 and the eth-* libraries (about 2 s of every Lambda's
cold start): only the functions that talk to the chain import them, on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from chalicelib.adapters.chain import ANCHORER_ROLE
from chalicelib.adapters.chain import reverts as reverts_module

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
HEAVY = ("web3", "eth_account", "eth_abi", "eth_utils", "eth_typing", "eth_keys", "hexbytes", "eth_tester")

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
for name in sys.argv[2:]:
    __import__(name)
heavy = set(json.loads(sys.stdin.read()))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def _loaded_after_import(*modules: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(FUNCTIONS_DIR), *modules],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "modules",
    [
        ("chalicelib.adapters.chain",),
        (
            "chalicelib.adapters.chain.config",
            "chalicelib.adapters.chain.lease_anchor",
            "chalicelib.adapters.chain.reverts",
        ),
    ],
)
def test_importing_the_chain_adapters_loads_no_web3(modules: tuple[str, ...]) -> None:
    assert _loaded_after_import(*modules) == []


def test_constants_computed_without_web3_match_web3() -> None:
    assert Web3.keccak(text="ANCHORER_ROLE") == ANCHORER_ROLE
    assert Web3.keccak(text="Error(string)")[:4] == reverts_module._ERROR_STRING
    assert Web3.keccak(text="Panic(uint256)")[:4] == reverts_module._PANIC
