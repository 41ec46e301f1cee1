"""The chain adapters (web3): contract artifacts, transaction sending, ``AnchorRegistry`` and
``PayPerUseLease`` clients, and the connection and signer from the settings.

They implement :class:`chalicelib.ports.chain.AnchorChain` and :class:`chalicelib.ports.chain.LeaseContracts`.

Importing this package does not import ``web3`` or the ``eth_*`` libraries (about 2 s of a Lambda cold start,
and every Lambda imports the wiring): the functions and methods that talk to the chain import them where
they are used, annotations import them under ``TYPE_CHECKING`` and hashes are computed with
:func:`twin_models.merkle.keccak256` (``tests/functional/test_chain_import_cost.py`` keeps it so).

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
    >>> w3 = Web3(EthereumTesterProvider())
    >>> client = AnchorClient(w3, deploy_anchor_registry(w3, w3.eth.accounts[0]), w3.eth.accounts[0])
    >>> client.anchor_batch([bytes(32)], kind="demo").block_number > 0
    True
"""

from __future__ import annotations

from chalicelib.ports.chain import (
    AnchorReceipt,
    AnchorRecord,
    ChainConfigurationError,
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    LogEntryReceipt,
    RootAlreadyAnchoredError,
    TransactionRevertedError,
)

from .artifacts import load_artifact
from .lease import LeaseClient, LeasePeriod, LeaseTerms, PeriodStatus, deploy_lease
from .registry import ANCHORER_ROLE, AnchorClient, deploy_anchor_registry
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
