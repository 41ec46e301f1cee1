"""The chain client: contract artifacts, transaction sending, ``AnchorRegistry`` and ``PayPerUseLease``,
and the anchoring service.

Names load on first use (web3 is imported only by the functions that talk to the chain, so other
Lambdas of the bundle start without it).

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from chalicelib.chain import AnchorClient, deploy_anchor_registry
    >>> w3 = Web3(EthereumTesterProvider())
    >>> client = AnchorClient(w3, deploy_anchor_registry(w3, w3.eth.accounts[0]), w3.eth.accounts[0])
    >>> client.anchor_batch([bytes(32)], kind="demo").block_number > 0
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artifacts import load_artifact
    from .errors import (
        ChainConfigurationError,
        ChainError,
        ChainUnavailableError,
        ContractRevertError,
        TransactionRevertedError,
    )
    from .lease import LeaseClient, LeasePeriod, LeaseTerms, PeriodStatus, deploy_lease
    from .registry import (
        ANCHORER_ROLE,
        AnchorClient,
        AnchorReceipt,
        AnchorRecord,
        LogEntryReceipt,
        RootAlreadyAnchoredError,
        deploy_anchor_registry,
    )
    from .sender import NonceManager, SenderOptions, TransactionSender

_WHERE = {
    "load_artifact": "artifacts",
    "ChainConfigurationError": "errors",
    "ChainError": "errors",
    "ChainUnavailableError": "errors",
    "ContractRevertError": "errors",
    "TransactionRevertedError": "errors",
    "LeaseClient": "lease",
    "LeasePeriod": "lease",
    "LeaseTerms": "lease",
    "PeriodStatus": "lease",
    "deploy_lease": "lease",
    "ANCHORER_ROLE": "registry",
    "AnchorClient": "registry",
    "AnchorReceipt": "registry",
    "AnchorRecord": "registry",
    "LogEntryReceipt": "registry",
    "RootAlreadyAnchoredError": "registry",
    "deploy_anchor_registry": "registry",
    "NonceManager": "sender",
    "SenderOptions": "sender",
    "TransactionSender": "sender",
}

__all__ = [
    "ANCHORER_ROLE",
    "AnchorClient",
    "AnchorReceipt",
    "AnchorRecord",
    "ChainConfigurationError",
    "ChainError",
    "ChainUnavailableError",
    "ContractRevertError",
    "LeaseClient",
    "LeasePeriod",
    "LeaseTerms",
    "LogEntryReceipt",
    "NonceManager",
    "PeriodStatus",
    "RootAlreadyAnchoredError",
    "SenderOptions",
    "TransactionRevertedError",
    "TransactionSender",
    "deploy_anchor_registry",
    "deploy_lease",
    "load_artifact",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
