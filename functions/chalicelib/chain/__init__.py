"""The chain client: contract artifacts, transaction sending, ``AnchorRegistry`` and ``PayPerUseLease``.

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from chalicelib.chain import AnchorClient, deploy_anchor_registry
    >>> w3 = Web3(EthereumTesterProvider())
    >>> client = AnchorClient(w3, deploy_anchor_registry(w3, w3.eth.accounts[0]), w3.eth.accounts[0])
    >>> client.anchor_batch([bytes(32)], kind="demo").block_number > 0
    True
"""

from __future__ import annotations

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
