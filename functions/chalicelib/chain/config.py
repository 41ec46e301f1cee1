"""Chain configuration from the environment, the signing key, and lazy getters for the Lambdas.

Settings (environment):

* ``TWINLEDGER_CHAIN_RPC_URL`` — the node's JSON-RPC URL; ``eth-tester`` (the default) runs an in-process
  chain and deploys a registry on first use (embedded demo and fast tests).
* ``TWINLEDGER_ANCHOR_REGISTRY`` — the ``AnchorRegistry`` address (required with a real node).
* The signing key, first found: ``TWINLEDGER_CHAIN_KEY_SECRET_ID`` (a Secrets Manager secret holding the
  hex key or ``{"private_key": "0x..."}``), ``TWINLEDGER_CHAIN_KEY_FILE`` (a file holding the hex key),
  ``TWINLEDGER_CHAIN_PRIVATE_KEY``. Without one, a local node's first unlocked account signs (eth-tester,
  or a node on 127.0.0.1 / localhost only).
* ``TWINLEDGER_CHAIN_CONFIRMATIONS`` (default 1), ``TWINLEDGER_CHAIN_RECEIPT_TIMEOUT_S`` (120),
  ``TWINLEDGER_CHAIN_REQUEST_TIMEOUT_S`` (10), ``TWINLEDGER_CHAIN_RETRIES`` (4),
  ``TWINLEDGER_ANCHOR_BATCH_SIZE`` (1024), ``TWINLEDGER_ANCHOR_STORE`` (``dynamodb`` or ``memory``).

Example:
    >>> import os
    >>> os.environ["TWINLEDGER_CHAIN_CONFIRMATIONS"] = "3"
    >>> get_chain_settings().confirmations
    3
    >>> del os.environ["TWINLEDGER_CHAIN_CONFIRMATIONS"]
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from .errors import ChainConfigurationError
from .registry import AnchorClient, deploy_anchor_registry
from .sender import SenderOptions

__all__ = [
    "EMBEDDED_RPC",
    "ChainSettings",
    "connect",
    "get_anchor_client",
    "get_chain_settings",
    "load_signer",
    "reset_chain",
]

EMBEDDED_RPC = "eth-tester"


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


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        return int(raw)
    except ValueError as exc:
        raise ChainConfigurationError(f"{name}={raw!r} is not an integer") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name) or str(default)
    try:
        return float(raw)
    except ValueError as exc:
        raise ChainConfigurationError(f"{name}={raw!r} is not a number") from exc


def get_chain_settings() -> ChainSettings:
    """The chain settings from the environment (read on every call)."""
    confirmations = _int("TWINLEDGER_CHAIN_CONFIRMATIONS", 1)
    batch_size = _int("TWINLEDGER_ANCHOR_BATCH_SIZE", 1024)
    if confirmations < 1 or batch_size < 1:
        raise ChainConfigurationError("confirmations and batch size must be at least 1")
    store = os.environ.get("TWINLEDGER_ANCHOR_STORE") or "dynamodb"
    if store not in {"dynamodb", "memory"}:
        raise ChainConfigurationError(f"TWINLEDGER_ANCHOR_STORE={store!r}: use dynamodb or memory")
    return ChainSettings(
        rpc_url=os.environ.get("TWINLEDGER_CHAIN_RPC_URL") or EMBEDDED_RPC,
        registry_address=os.environ.get("TWINLEDGER_ANCHOR_REGISTRY") or None,
        key_secret_id=os.environ.get("TWINLEDGER_CHAIN_KEY_SECRET_ID") or None,
        key_file=os.environ.get("TWINLEDGER_CHAIN_KEY_FILE") or None,
        private_key=os.environ.get("TWINLEDGER_CHAIN_PRIVATE_KEY") or None,
        confirmations=confirmations,
        receipt_timeout_seconds=_float("TWINLEDGER_CHAIN_RECEIPT_TIMEOUT_S", 120.0),
        request_timeout_seconds=_float("TWINLEDGER_CHAIN_REQUEST_TIMEOUT_S", 10.0),
        retries=_int("TWINLEDGER_CHAIN_RETRIES", 4),
        batch_size=batch_size,
        store=store,
    )


def _key_from_text(text: str, where: str) -> LocalAccount:
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
        if read_secret is None:
            from .dal import read_secret as default_reader

            read_secret = default_reader
        return _key_from_text(read_secret(settings.key_secret_id), f"secret {settings.key_secret_id}")
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
