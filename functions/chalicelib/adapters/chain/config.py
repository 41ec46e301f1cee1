"""The chain connection, the signing key and the registry client, from the settings.

The settings are :class:`chalicelib.settings.Settings` (``TWINLEDGER_CHAIN_*``, ``TWINLEDGER_ANCHOR_*``):
``eth-tester`` (the default RPC URL) runs an in-process chain and deploys a registry on first use
(embedded demo and fast tests). The signing key, first found: a Secrets Manager secret holding the hex
key or ``{"private_key": "0x..."}``, a key file, the key itself. Without one, a local node's first
unlocked account signs (eth-tester, or a node on 127.0.0.1 / localhost only).

Example:
    >>> import os
    >>> os.environ["TWINLEDGER_CHAIN_CONFIRMATIONS"] = "3"
    >>> get_chain_settings().confirmations
    3
    >>> del os.environ["TWINLEDGER_CHAIN_CONFIRMATIONS"]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from chalicelib.adapters.secrets import read_secret as read_secret_value
from chalicelib.ports.chain import ChainConfigurationError
from chalicelib.settings import EMBEDDED_RPC, Settings, SettingsError, get_settings

from .registry import AnchorClient, deploy_anchor_registry
from .sender import SenderOptions

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

__all__ = [
    "EMBEDDED_RPC",
    "ChainSettings",
    "connect",
    "get_anchor_client",
    "get_chain_settings",
    "load_signer",
    "reset_chain",
]


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """Where the chain is, which registry, who signs, and how patiently."""

    rpc_url: str
    registry_address: str | None
    key_secret_id: str | None
    key_file: str | None
    private_key: str | None
    confirmations: int
    receipt_timeout_seconds: float
    request_timeout_seconds: float
    retries: int
    batch_size: int
    store: str

    @property
    def embedded(self) -> bool:
        """Whether the chain is the in-process eth-tester."""
        return self.rpc_url == EMBEDDED_RPC

    @property
    def local_node(self) -> bool:
        """Whether the node is on this machine (where unlocked accounts are acceptable)."""
        return self.embedded or urlparse(self.rpc_url).hostname in {"127.0.0.1", "localhost", "::1"}

    def sender_options(self) -> SenderOptions:
        """The transaction sender's tuning."""
        return SenderOptions(
            confirmations=self.confirmations,
            receipt_timeout_seconds=self.receipt_timeout_seconds,
            retries=self.retries,
        )


def get_chain_settings(settings: Settings | None = None) -> ChainSettings:
    """The chain part of the settings (:mod:`chalicelib.settings`), as the chain adapters use it."""
    try:
        settings = settings or get_settings()
    except SettingsError as exc:
        raise ChainConfigurationError(str(exc)) from exc
    return ChainSettings(
        rpc_url=settings.chain_rpc_url,
        registry_address=settings.anchor_registry,
        key_secret_id=settings.chain_key_secret_id,
        key_file=settings.chain_key_file,
        private_key=settings.chain_private_key,
        confirmations=settings.chain_confirmations,
        receipt_timeout_seconds=settings.chain_receipt_timeout_s,
        request_timeout_seconds=settings.chain_request_timeout_s,
        retries=settings.chain_retries,
        batch_size=settings.anchor_batch_size,
        store=settings.anchor_store or ("memory" if settings.adapters == "memory" else "dynamodb"),
    )


def _key_from_text(text: str, where: str) -> LocalAccount:
    from eth_account import Account

    text = text.strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text)["private_key"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ChainConfigurationError(f'{where}: expected a hex key or {{"private_key": ...}}') from exc
    try:
        account: LocalAccount = Account.from_key(text)
    except (ValueError, TypeError) as exc:
        raise ChainConfigurationError(f"{where}: not a valid private key") from exc
    return account


def load_signer(settings: ChainSettings, read_secret: Callable[[str], str] | None = None) -> LocalAccount | None:
    """The signing account from the configured source; None when no key is configured."""
    if settings.key_secret_id:
        reader = read_secret or read_secret_value
        return _key_from_text(reader(settings.key_secret_id), f"secret {settings.key_secret_id}")
    if settings.key_file:
        path = Path(settings.key_file)
        if not path.is_file():
            raise ChainConfigurationError(f"key file {path} not found")
        return _key_from_text(path.read_text(encoding="utf-8"), f"key file {path}")
    if settings.private_key:
        return _key_from_text(settings.private_key, "TWINLEDGER_CHAIN_PRIVATE_KEY")
    return None


_lock = threading.RLock()
_embedded_w3: Web3 | None = None
_clients: dict[tuple[str, str | None], AnchorClient] = {}


def connect(settings: ChainSettings) -> Web3:
    """A ``Web3`` for the settings (one shared in-process chain for ``eth-tester``)."""
    from web3 import Web3

    global _embedded_w3
    if settings.embedded:
        with _lock:
            if _embedded_w3 is None:
                from web3 import EthereumTesterProvider

                _embedded_w3 = Web3(EthereumTesterProvider())
            return _embedded_w3
    provider = Web3.HTTPProvider(
        settings.rpc_url,
        request_kwargs={"timeout": settings.request_timeout_seconds},
        exception_retry_configuration=None,  # the sender retries with its own backoff
    )
    return Web3(provider)


def get_anchor_client(settings: ChainSettings | None = None) -> AnchorClient:
    """The registry client for the current settings, built on first use and cached."""
    settings = settings or get_chain_settings()
    key = (settings.rpc_url, settings.registry_address)
    with _lock:
        found = _clients.get(key)
        if found is not None:
            return found
        w3 = connect(settings)
        signer: LocalAccount | str | None = load_signer(settings)
        if signer is None:
            if not settings.local_node:
                raise ChainConfigurationError("no signing key configured for a remote node")
            accounts = list(w3.eth.accounts)
            if not accounts:
                raise ChainConfigurationError("no signing key configured and the node has no unlocked account")
            signer = str(accounts[0])
        address = settings.registry_address
        if address is None:
            if not settings.embedded:
                raise ChainConfigurationError("TWINLEDGER_ANCHOR_REGISTRY is required with a real node")
            address = deploy_anchor_registry(w3, signer, options=settings.sender_options())
        client = AnchorClient(w3, address, signer, settings.sender_options())
        _clients[key] = client
        return client


def reset_chain() -> None:
    """Forget the cached clients and the in-process chain (tests)."""
    global _embedded_w3
    with _lock:
        _clients.clear()
        _embedded_w3 = None
