"""The anchoring queue's port: pending record hashes, batches in flight, anchored records with proofs.

:class:`AnchorStore` is the abstract port; :class:`InMemoryAnchorStore` keeps everything in process (the
embedded demo and fast tests) and ``dal.DynamoAnchorStore`` keeps it in DynamoDB. The life of a record:

``pending`` (queued) -> ``batched`` (claimed by a batch being sent) -> ``anchored`` (root on chain, proof
stored). A batch is written *before* its transaction is sent and finished after; a batch found open on
the next run is re-sent or recognised on chain (the registry stores a root once), so a crash or an
unreachable chain loses nothing and anchors nothing twice.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from .errors import ChainError

__all__ = [
    "AnchorStore",
    "AnchoredProof",
    "Batch",
    "BatchState",
    "InMemoryAnchorStore",
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


class InMemoryAnchorStore(AnchorStore):
    """Everything in process, guarded by one lock.

    Example:
        >>> from datetime import UTC, datetime
        >>> store = InMemoryAnchorStore()
        >>> store.enqueue(QueuedRecord("r1", bytes(32), "demo", datetime.now(UTC)))
        True
        >>> [r.record_id for r in store.pending(10)]
        ['r1']
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, QueuedRecord] = {}
        self._batches: dict[str, Batch] = {}
        self._drain_lock: tuple[str, float] | None = None

    def enqueue(self, record: QueuedRecord) -> bool:
        with self._lock:
            found = self._records.get(record.record_id)
            if found is not None:
                if found.record_hash != record.record_hash:
                    raise RecordConflictError(f"record {record.record_id!r} was queued with another hash")
                return False
            self._records[record.record_id] = replace(record, status=RecordStatus.PENDING)
            return True

    def pending(self, limit: int) -> list[QueuedRecord]:
        with self._lock:
            found = [r for r in self._records.values() if r.status is RecordStatus.PENDING]
        return sorted(found, key=lambda r: (r.queued_at, r.record_id))[:limit]

    def count_pending(self) -> int:
        with self._lock:
            return sum(1 for r in self._records.values() if r.status is RecordStatus.PENDING)

    def get(self, record_id: str) -> QueuedRecord | None:
        with self._lock:
            return self._records.get(record_id)

    def put_batch(self, batch: Batch) -> None:
        with self._lock:
            self._batches[batch.batch_id] = batch

    def claim(self, batch_id: str, record_ids: Sequence[str]) -> list[str]:
        claimed: list[str] = []
        with self._lock:
            for record_id in record_ids:
                record = self._records.get(record_id)
                if record is not None and record.status is RecordStatus.PENDING:
                    self._records[record_id] = replace(record, status=RecordStatus.BATCHED, batch_id=batch_id)
                    claimed.append(record_id)
        return claimed

    def open_batches(self) -> list[Batch]:
        with self._lock:
            found = [b for b in self._batches.values() if b.state is not BatchState.ANCHORED]
        return sorted(found, key=lambda b: (b.created_at, b.batch_id))

    def release(self, batch: Batch) -> None:
        with self._lock:
            for record in list(self._records.values()):
                if record.batch_id == batch.batch_id and record.status is RecordStatus.BATCHED:
                    self._records[record.record_id] = replace(record, status=RecordStatus.PENDING, batch_id="")
            self._batches.pop(batch.batch_id, None)

    def complete(self, batch: Batch, proofs: Sequence[AnchoredProof]) -> None:
        with self._lock:
            for record_id, proof in zip(batch.record_ids, proofs, strict=True):
                record = self._records[record_id]
                self._records[record_id] = replace(
                    record, status=RecordStatus.ANCHORED, batch_id=batch.batch_id, anchored=proof
                )
            self._batches[batch.batch_id] = replace(batch, state=BatchState.ANCHORED)

    def acquire_lock(self, owner: str, now: datetime, ttl_seconds: int) -> bool:
        with self._lock:
            held = self._drain_lock
            if held is not None and held[0] != owner and held[1] > now.timestamp():
                return False
            self._drain_lock = (owner, now.timestamp() + ttl_seconds)
            return True

    def release_lock(self, owner: str) -> None:
        with self._lock:
            if self._drain_lock is not None and self._drain_lock[0] == owner:
                self._drain_lock = None
