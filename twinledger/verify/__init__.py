"""Checking proof bundles with nothing but the installed wheel and a chain node.

A lessee who receives a proof bundle needs neither the lessor's database nor its functions: this package
reads the ``AnchorRegistry`` (its ABI ships in ``artifacts/``) over JSON-RPC, and
:func:`twin_models.anchoring.verify_bundle` decides. It imports only ``twin_models`` and ``web3``, which
``pip install 'twinledger[verify]'`` brings.

Example:
    >>> from twinledger.verify import RegistryReader, verify_file  # doctest: +SKIP
    >>> verify_file("proof.json", rpc_url="http://127.0.0.1:8545").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

from twinledger.verify.registry import RegistryError, RegistryReader, load_registry_abi, verify_file

__all__ = ["RegistryError", "RegistryReader", "load_registry_abi", "verify_file"]
