"""Lazy getters: the anchoring service for the current settings, built on first use.

Other areas queue their records with :func:`submit_for_anchoring`; the scheduled ``anchor`` Lambda drains
the queue. Example:
    >>> import os
    >>> os.environ["TWINLEDGER_ANCHOR_STORE"] = "memory"
    >>> reset_anchoring()
    >>> submit_for_anchoring("quality/cnc-01/42", bytes(32), kind="quality", tenants=("oem-1", "factory-1"))
    True
    >>> get_anchoring_service().run_once().anchored
    1
    >>> del os.environ["TWINLEDGER_ANCHOR_STORE"]; reset_anchoring()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .config import get_anchor_client, get_chain_settings, reset_chain
from .service import AnchoringService
from .store import AnchorStore, InMemoryAnchorStore

__all__ = ["get_anchoring_service", "reset_anchoring", "submit_for_anchoring", "submit_log_entry"]

_lock = threading.Lock()
_service: AnchoringService | None = None


def _store(kind: str) -> AnchorStore:
    if kind == "memory":
        return InMemoryAnchorStore()
    from .dal import DynamoAnchorStore

    return DynamoAnchorStore()


def get_anchoring_service() -> AnchoringService:
    """The process's anchoring service (store and chain from the environment)."""
    global _service
    with _lock:
        if _service is None:
            settings = get_chain_settings()
            _service = AnchoringService(
                _store(settings.store), lambda: get_anchor_client(settings), batch_size=settings.batch_size
            )
        return _service


def submit_for_anchoring(record_id: str, record_hash: bytes, kind: str, tenants: Sequence[str] = ()) -> bool:
    """Queues one record hash for the next anchoring run; False when it was queued before."""
    return get_anchoring_service().submit(record_id, record_hash, kind, tuple(tenants))


def submit_log_entry(thing_name: str, entry_id: str, entry_hash: bytes, tenants: Sequence[str] = ()) -> bool:
    """Queues a maintenance-log entry for the machine's on-chain hash chain; False when queued before."""
    return get_anchoring_service().submit_log_entry(thing_name, entry_id, entry_hash, tuple(tenants))


def reset_anchoring() -> None:
    """Forget the service and the chain clients (tests, after changing the environment)."""
    global _service
    with _lock:
        _service = None
    reset_chain()
