"""The anchoring queue's port: pending record hashes, batches in flight, anchored records with proofs.

:class:`AnchorStore` is the store's port (adapters: ``chalicelib.adapters.anchoring.DynamoAnchorStore``,
``chalicelib.adapters.memory.InMemoryAnchorStore``); :class:`AnchorQueue` is what other areas use to queue
their record hashes (the anchoring service implements it). The life of a record:

``pending`` (queued) -> ``batched`` (claimed by a batch being sent) -> ``anchored`` (root on chain, proof
stored). A batch is written *before* its transaction is sent and finished after; a batch found open on
the next run is re-sent or recognised on chain (the registry stores a root once), so a crash or an
unreachable chain loses nothing and anchors nothing twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from chalicelib.ports.chain import ChainError

__all__ = [
    "AnchorQueue",
    "AnchorStore",
    "AnchoredProof",
    "Batch",
    "BatchState",
    "QueuedRecord",
    "RecordConflictError",
    "RecordStatus",
]


class RecordConflictError(ChainError):
    """A record id was queued before with a different hash (records are immutable once queued)."""


class RecordStatus(StrEnum):
    """Where a record is in the anchoring pipeline."""

    PENDING = "pending"
    BATCHED = "batched"
    ANCHORED = "anchored"


class BatchState(StrEnum):
    """Where a batch is: records being claimed, transaction being sent, or done."""

    CLAIMING = "claiming"
    SENDING = "sending"
    ANCHORED = "anchored"


@dataclass(frozen=True, slots=True)
class AnchoredProof:
    """Where a record's batch went on chain and the record's Merkle proof.

    For a maintenance-log entry (``log_index`` set) ``root`` is the machine's chain head right after the
    entry and ``proof`` holds the head before it.
    """

    root: bytes
    proof: tuple[bytes, ...]
    tx_hash: bytes
    block_number: int
    anchored_at: datetime
    chain_id: int
    contract: str
    log_index: int | None = None


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """One record hash submitted for anchoring, and (once anchored) its proof."""

    record_id: str
    record_hash: bytes
    kind: str
    queued_at: datetime
    status: RecordStatus = RecordStatus.PENDING
    batch_id: str = ""
    anchored: AnchoredProof | None = None
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Batch:
    """Records anchored together under one root, in one transaction."""

    batch_id: str
    kind: str
    created_at: datetime
    state: BatchState = BatchState.CLAIMING
    record_ids: tuple[str, ...] = ()
    record_hashes: tuple[bytes, ...] = ()
    root: bytes = b""
    metadata: str = ""


class AnchorStore(ABC):
    """The port every anchoring store implements."""

    @abstractmethod
    def enqueue(self, record: QueuedRecord) -> bool:
        """Queues a pending record; False when the same id and hash are already queued (idempotent).

        Raises :class:`RecordConflictError` when the id exists with another hash.
        """

    @abstractmethod
    def pending(self, limit: int) -> list[QueuedRecord]:
        """Up to ``limit`` pending records, oldest first."""

    @abstractmethod
    def get(self, record_id: str) -> QueuedRecord | None:
        """A record by id, whatever its status."""

    @abstractmethod
    def put_batch(self, batch: Batch) -> None:
        """Creates or replaces a batch."""

    @abstractmethod
    def claim(self, batch_id: str, record_ids: Sequence[str]) -> list[str]:
        """Marks those of ``record_ids`` that are still pending as batched in ``batch_id``; returns them."""

    @abstractmethod
    def open_batches(self) -> list[Batch]:
        """Batches not yet anchored (claiming or sending), oldest first."""

    @abstractmethod
    def release(self, batch: Batch) -> None:
        """Returns the batch's records to pending and deletes the batch."""

    @abstractmethod
    def complete(self, batch: Batch, proofs: Sequence[AnchoredProof]) -> None:
        """Stores each record's proof (``proofs[i]`` for ``batch.record_ids[i]``) and closes the batch."""

    @abstractmethod
    def acquire_lock(self, owner: str, now: datetime, ttl_seconds: int) -> bool:
        """Takes the drain lock unless another owner holds an unexpired one."""

    @abstractmethod
    def release_lock(self, owner: str) -> None:
        """Gives the drain lock back (only when ``owner`` holds it)."""

    @abstractmethod
    def count_pending(self) -> int:
        """How many records are pending."""


@runtime_checkable
class AnchorQueue(Protocol):
    """Queues record hashes for the next anchoring run (what other areas see of anchoring)."""

    def submit(self, record_id: str, record_hash: bytes, kind: str, tenants: tuple[str, ...] = ()) -> bool:
        """Queue one record hash; False when the same id and hash were queued before."""
        ...

    def submit_log_entry(
        self, machine_id: str, entry_id: str, entry_hash: bytes, tenants: tuple[str, ...] = ()
    ) -> bool:
        """Queue a maintenance-log entry for the machine's on-chain hash chain; False when queued before."""
        ...
