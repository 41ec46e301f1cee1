"""The anchoring use case: queue record hashes, drain them into Merkle batches, one transaction per batch.

Example:
    >>> from web3 import Web3, EthereumTesterProvider
    >>> from twin_models.merkle import keccak256
    >>> from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
    >>> w3 = Web3(EthereumTesterProvider())
    >>> owner = w3.eth.accounts[0]
    >>> client = AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)
    >>> from chalicelib.adapters.memory import InMemoryAnchorStore
    >>> service = AnchoringService(InMemoryAnchorStore(), lambda: client)
    >>> for i in range(5):
    ...     _ = service.submit(f"maintenance/cnc-01/{i}", keccak256(bytes([i])), kind="maintenance")
    >>> service.run_once().anchored
    5
    >>> service.verify(service.bundle("maintenance/cnc-01/3")).ok
    True
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.ports.anchoring import AnchoredProof, AnchorStore, Batch, BatchState, QueuedRecord, RecordStatus
from chalicelib.ports.chain import (
    AnchorChain,
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    RootAlreadyAnchoredError,
)
from twin_models.anchoring import ProofBundle, Verification, verify_bundle
from twin_models.hashchain import machine_key
from twin_models.merkle import HASH_SIZE, MerkleTree

__all__ = [
    "LOG_KIND_PREFIX",
    "AnchoringService",
    "DrainReport",
    "NotAnchoredError",
    "Verification",
    "verify_bundle",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Kind of the queued entries of a machine's maintenance-log hash chain: ``log:<thing name>``.
LOG_KIND_PREFIX = "log:"


class NotAnchoredError(ChainError):
    """The record is unknown or not anchored yet."""


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What one run of the drain did; ``pending_left`` are queued, ``in_flight`` sit in unfinished batches."""

    batches: int = 0
    anchored: int = 0
    recovered: int = 0
    pending_left: int = 0
    in_flight: int = 0
    gas_used: int = 0
    tx_hashes: tuple[str, ...] = ()
    error: str = ""
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (for the Lambda's return value and logs)."""
        return {
            "batches": self.batches,
            "anchored": self.anchored,
            "recovered": self.recovered,
            "pending_left": self.pending_left,
            "in_flight": self.in_flight,
            "gas_used": self.gas_used,
            "tx_hashes": list(self.tx_hashes),
            "error": self.error,
            "skipped": self.skipped,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AnchoringService:
    """Queues record hashes and anchors them in batches of at most ``batch_size`` per kind.

    ``chain`` builds the :class:`AnchorChain` on first use (so a Lambda without a reachable chain can
    still queue records); ``owner`` names this drainer in the store's lock.
    """

    def __init__(
        self,
        store: AnchorStore,
        chain: Callable[[], AnchorChain],
        batch_size: int = 1024,
        lock_ttl_seconds: int = 900,
        clock: Clock = _utcnow,
        owner: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ChainError("batch_size must be at least 1")
        self.store = store
        self._chain_factory = chain
        self._chain: AnchorChain | None = None
        self.batch_size = batch_size
        self.lock_ttl_seconds = lock_ttl_seconds
        self.clock = clock
        self.owner = owner or f"drain-{uuid.uuid4().hex[:12]}"

    @property
    def chain(self) -> AnchorChain:
        """The registry client, built on first use."""
        if self._chain is None:
            self._chain = self._chain_factory()
        return self._chain

    # -- queueing ------------------------------------------------------------------------------------
    def submit(self, record_id: str, record_hash: bytes, kind: str, tenants: tuple[str, ...] = ()) -> bool:
        """Queues a record hash; False when this id was queued before with the same hash (idempotent).

        ``tenants`` may read the record's proof through the API (the machine's lessor and lessee).
        """
        if not record_id or len(record_id) > 200:
            raise ChainError("record_id must be 1..200 characters")
        if not kind or len(kind) > 160:
            raise ChainError("kind must be 1..160 characters")
        if not isinstance(record_hash, bytes | bytearray) or len(record_hash) != HASH_SIZE:
            raise ChainError(f"record_hash must be {HASH_SIZE} bytes")
        record = QueuedRecord(record_id, bytes(record_hash), kind, self.clock(), tenants=tuple(tenants))
        return self.store.enqueue(record)

    def submit_log_entry(
        self, machine_id: str, entry_id: str, entry_hash: bytes, tenants: tuple[str, ...] = ()
    ) -> bool:
        """Queues a maintenance-log entry for the machine's on-chain hash chain (appended in queued order).

        The entry's hash should cover its id and time, so two entries never share a hash.
        """
        if not machine_id or len(machine_id) > 128:
            raise ChainError("machine_id must be 1..128 characters")
        return self.submit(entry_id, entry_hash, f"{LOG_KIND_PREFIX}{machine_id}", tenants)

    # -- draining ------------------------------------------------------------------------------------
    def run_once(self, max_batches: int | None = None, time_budget_seconds: float | None = None) -> DrainReport:
        """Finishes open batches, then anchors pending records batch by batch.

        Stops at ``max_batches`` or when the time budget is spent; an unreachable chain ends the run with
        ``error`` set and every record still queued.
        """
        if not self.store.acquire_lock(self.owner, self.clock(), self.lock_ttl_seconds):
            return DrainReport(skipped="another drain holds the lock", pending_left=self.store.count_pending())
        deadline = None if time_budget_seconds is None else time.monotonic() + time_budget_seconds
        report = DrainReport()
        try:
            for open_batch in self.store.open_batches():
                report = self._add(report, self._finish(open_batch), recovered=True)
            while max_batches is None or report.batches < max_batches:
                if deadline is not None and time.monotonic() > deadline:
                    break
                batch = self._next_batch()
                if batch is None:
                    break
                report = self._add(report, self._finish(batch), recovered=False)
        except ChainUnavailableError as exc:
            logger.warning("chain unreachable, records stay queued: %s", exc)
            report = replace(report, error=str(exc))
        finally:
            self.store.release_lock(self.owner)
        in_flight = sum(len(b.record_ids) for b in self.store.open_batches())
        return replace(report, pending_left=self.store.count_pending(), in_flight=in_flight)

    def _add(self, report: DrainReport, done: tuple[Batch, int, str] | None, recovered: bool) -> DrainReport:
        if done is None:
            return report
        batch, gas, tx = done
        return replace(
            report,
            batches=report.batches + 1,
            anchored=report.anchored + len(batch.record_ids),
            recovered=report.recovered + (len(batch.record_ids) if recovered else 0),
            gas_used=report.gas_used + gas,
            tx_hashes=(*report.tx_hashes, tx),
        )

    def _next_batch(self) -> Batch | None:
        candidates = self.store.pending(self.batch_size)
        if not candidates:
            return None
        kind = candidates[0].kind
        # a machine's log entries go one by one, in order; other kinds go as one Merkle batch
        chosen = candidates[:1] if kind.startswith(LOG_KIND_PREFIX) else [r for r in candidates if r.kind == kind]
        batch = Batch(
            batch_id=f"b-{uuid.uuid4().hex}",
            kind=kind,
            created_at=self.clock(),
            record_ids=tuple(r.record_id for r in chosen),
        )
        self.store.put_batch(batch)  # before claiming: a crash leaves an open batch to release
        claimed = set(self.store.claim(batch.batch_id, [r.record_id for r in chosen]))
        records = [r for r in chosen if r.record_id in claimed]
        if not records:
            self.store.release(batch)
            return None
        metadata = json.dumps(
            {
                "batch_id": batch.batch_id,
                "first_queued_at": records[0].queued_at.isoformat(),
                "last_queued_at": records[-1].queued_at.isoformat(),
            },
            separators=(",", ":"),
        )
        sealed = replace(
            batch,
            state=BatchState.SENDING,
            record_ids=tuple(r.record_id for r in records),
            record_hashes=tuple(r.record_hash for r in records),
            root=b"" if kind.startswith(LOG_KIND_PREFIX) else MerkleTree.build([r.record_hash for r in records]).root,
            metadata=metadata,
        )
        self.store.put_batch(sealed)  # before sending: the next run re-sends or finds it on chain
        return sealed

    def _finish(self, batch: Batch) -> tuple[Batch, int, str] | None:
        if batch.state is BatchState.CLAIMING or not batch.record_ids:
            self.store.release(batch)
            return None
        if batch.kind.startswith(LOG_KIND_PREFIX):
            return self._finish_log_entry(batch)
        tree = MerkleTree.build(batch.record_hashes)
        client = self.chain
        gas = 0
        try:
            receipt = client.anchor_batch(batch.record_hashes, kind=batch.kind, metadata=batch.metadata)
            tx_hash, block_number, anchored_at, gas = (
                receipt.tx_hash,
                receipt.block_number,
                receipt.anchored_at,
                receipt.gas_used,
            )
        except RootAlreadyAnchoredError:
            # An earlier run sent it and lost the answer: take the chain's word for where it went.
            stored = client.anchor_of(tree.root)
            found = client.find_anchor_tx(tree.root)
            if stored is None or found is None:
                raise ChainUnavailableError(f"root 0x{tree.root.hex()} reported anchored but not found") from None
            tx_hash, block_number = found
            anchored_at = stored.anchored_at
        chain_id = client.chain_id()
        proofs = [
            AnchoredProof(
                root=tree.root,
                proof=tuple(tree.proof(i)),
                tx_hash=tx_hash,
                block_number=block_number,
                anchored_at=anchored_at,
                chain_id=chain_id,
                contract=client.address,
            )
            for i in range(len(batch.record_ids))
        ]
        self.store.complete(batch, proofs)
        logger.info("anchored %d %s records under 0x%s", len(batch.record_ids), batch.kind, tree.root.hex())
        return batch, gas, "0x" + tx_hash.hex()

    def _finish_log_entry(self, batch: Batch) -> tuple[Batch, int, str]:
        client = self.chain
        machine = machine_key(batch.kind.removeprefix(LOG_KIND_PREFIX))
        entry = batch.record_hashes[0]
        gas = 0
        appended = client.find_log_entry(machine, entry)  # sent by an earlier run that lost the answer?
        if appended is None:
            try:
                appended = client.append_log_entry(machine, entry)
            except ContractRevertError as exc:
                # another writer moved the head: leave the entry in its batch for the next run
                raise ChainUnavailableError(f"log append for {batch.kind} reverted: {exc}") from exc
            gas = appended.gas_used
        proof = AnchoredProof(
            root=appended.new_head,
            proof=(appended.previous_head,),
            tx_hash=appended.tx_hash,
            block_number=appended.block_number,
            anchored_at=client.block_time(appended.block_number),
            chain_id=client.chain_id(),
            contract=client.address,
            log_index=appended.index,
        )
        self.store.complete(batch, [proof])
        logger.info("appended %s entry %d", batch.kind, appended.index)
        return batch, gas, "0x" + appended.tx_hash.hex()

    # -- proofs --------------------------------------------------------------------------------------
    def bundle(self, record_id: str, record: Any = None) -> ProofBundle:
        """The proof bundle of an anchored record (``record``, when given, is embedded for re-hashing)."""
        found = self.store.get(record_id)
        if found is None:
            raise NotAnchoredError(f"unknown record {record_id!r}")
        if found.status is not RecordStatus.ANCHORED or found.anchored is None:
            raise NotAnchoredError(f"record {record_id!r} is {found.status.value}, not anchored yet")
        proof = found.anchored
        return ProofBundle(
            record_id=record_id,
            kind=found.kind,
            record=record,
            record_hash=found.record_hash,
            proof=list(proof.proof),
            root=proof.root,
            chain_id=proof.chain_id,
            contract=proof.contract,
            tx_hash=proof.tx_hash,
            block_number=proof.block_number,
            anchored_at=proof.anchored_at,
            log_machine=found.kind.removeprefix(LOG_KIND_PREFIX) if proof.log_index is not None else None,
            log_index=proof.log_index,
        )

    def verify(self, bundle: ProofBundle) -> Verification:
        """Checks a bundle against the registry this service anchors to (see :func:`verify_bundle`)."""
        return verify_bundle(bundle, self.chain)
