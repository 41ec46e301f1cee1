"""Chain settings and the signing key's sources (Secrets Manager on moto, a file, the environment), and
revert decoding for each node's error shape."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi.abi import encode
from web3 import Web3

from chalicelib.adapters import aws
from chalicelib.adapters.chain.config import get_anchor_client, get_chain_settings, load_signer, reset_chain
from chalicelib.adapters.chain.registry import _registry_abi
from chalicelib.adapters.chain.reverts import decode_revert
from chalicelib.ports.chain import ChainConfigurationError

KEY = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
ADDRESS = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TWINLEDGER_CHAIN_RPC_URL",
        "TWINLEDGER_ANCHOR_REGISTRY",
        "TWINLEDGER_CHAIN_KEY_SECRET_ID",
        "TWINLEDGER_CHAIN_KEY_FILE",
        "TWINLEDGER_CHAIN_PRIVATE_KEY",
        "TWINLEDGER_CHAIN_CONFIRMATIONS",
        "TWINLEDGER_ANCHOR_BATCH_SIZE",
        "TWINLEDGER_ANCHOR_STORE",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_chain()


@pytest.mark.parametrize("secret", [KEY, json.dumps({"private_key": KEY})])
def test_key_from_secrets_manager(moto_aws: None, monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    aws.client("secretsmanager").create_secret(Name="twinledger/chain-key", SecretString=secret)
    monkeypatch.setenv("TWINLEDGER_CHAIN_KEY_SECRET_ID", "twinledger/chain-key")

    signer = load_signer(get_chain_settings())

    assert signer is not None and signer.address == ADDRESS


def test_missing_secret_is_a_configuration_error(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINLEDGER_CHAIN_KEY_SECRET_ID", "nope")

    with pytest.raises(ChainConfigurationError, match="cannot read secret"):
        load_signer(get_chain_settings())


def test_key_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("TWINLEDGER_CHAIN_KEY_FILE", str(key_file))
    from_file = load_signer(get_chain_settings())
    monkeypatch.delenv("TWINLEDGER_CHAIN_KEY_FILE")
    monkeypatch.setenv("TWINLEDGER_CHAIN_PRIVATE_KEY", KEY)
    from_env = load_signer(get_chain_settings())

    assert from_file is not None and from_env is not None
    assert from_file.address == from_env.address == ADDRESS


def test_bad_key_and_bad_numbers_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINLEDGER_CHAIN_PRIVATE_KEY", "not-a-key")
    with pytest.raises(ChainConfigurationError, match="not a valid private key"):
        load_signer(get_chain_settings())
    monkeypatch.setenv("TWINLEDGER_CHAIN_CONFIRMATIONS", "three")
    with pytest.raises(ChainConfigurationError, match="not an integer"):
        get_chain_settings()
    monkeypatch.setenv("TWINLEDGER_CHAIN_CONFIRMATIONS", "0")
    with pytest.raises(ChainConfigurationError, match="at least 1"):
        get_chain_settings()


def test_a_remote_node_needs_a_key_and_a_registry() -> None:
    remote = replace(get_chain_settings(), rpc_url="https://chain.example.com", registry_address=ADDRESS)

    with pytest.raises(ChainConfigurationError, match="no signing key"):
        get_anchor_client(remote)
    with pytest.raises(ChainConfigurationError, match="required with a real node"):
        get_anchor_client(replace(remote, private_key=KEY, registry_address=None))


def test_embedded_chain_deploys_a_registry_once() -> None:
    first = get_anchor_client()
    again = get_anchor_client()

    assert first is again and first.is_anchorer(first.sender.address)  # type: ignore[union-attr]


def _custom_error_data() -> bytes:
    selector = Web3.keccak(text="AccessControlUnauthorizedAccount(address,bytes32)")[:4]
    return bytes(selector) + encode(["address", "bytes32"], [ADDRESS, b"\x11" * 32])


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("execution reverted: " + repr(_custom_error_data())),  # eth-tester: a bytes literal
        ValueError("execution reverted", {"result": "0x" + _custom_error_data().hex(), "message": "revert"}),
        type("ContractCustomError", (Exception,), {"data": "0x" + _custom_error_data().hex()})("custom"),
    ],
)
def test_custom_errors_decode_from_every_node_shape(exc: BaseException) -> None:
    decoded = decode_revert(_registry_abi(), exc)

    assert decoded.name == "AccessControlUnauthorizedAccount"
    assert decoded.error_args == (ADDRESS, b"\x11" * 32)


def test_require_messages_and_panics_decode() -> None:
    message = Web3.keccak(text="Error(string)")[:4] + encode(["string"], ["no"])
    panic = Web3.keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])

    assert decode_revert([], ValueError("0x" + bytes(message).hex())).error_args == ("no",)
    assert decode_revert([], ValueError("0x" + bytes(panic).hex())).name == "Panic"
    assert decode_revert([], ValueError("gas too low")).name == ""
