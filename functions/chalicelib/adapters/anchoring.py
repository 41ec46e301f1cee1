"""The anchoring queue in DynamoDB (:class:`chalicelib.ports.anchoring.AnchorStore`).

One table (``anchors``) holds three kinds of items, keyed by ``pk``:

* ``record#<id>`` — a queued record: hash, kind, status, tenants; once anchored its root, proof,
  transaction, block and time. While pending it carries ``queue = "pending"``, which puts it in the sparse
  ``by_queue`` index ordered by ``queued_key`` (time, then id).
* ``batch#<id>`` — a batch in flight (``queue = "open-batch"`` until anchored) with its record ids and hashes.
* ``lock#drain`` — the drain lock: owner and expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import conditional_failed
from chalicelib.adapters.tables import table_name
from chalicelib.ports.anchoring import (
    AnchoredProof,
    AnchorStore,
    Batch,
    BatchState,
    QueuedRecord,
    RecordConflictError,
    RecordStatus,
)

__all__ = ["DynamoAnchorStore"]

_SER = TypeSerializer()
_DES = TypeDeserializer()
_PENDING = "pending"
_OPEN_BATCH = "open-batch"
_LOCK_KEY = "lock#drain"
_PARALLEL_WRITES = 8


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DES.deserialize(v) for k, v in item.items()}


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _raw(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _record_values(record: QueuedRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": f"record#{record.record_id}",
        "record_id": record.record_id,
        "record_hash": _hex(record.record_hash),
        "kind": record.kind,
        "queued_at": record.queued_at.isoformat(),
        "status": record.status.value,
        "batch_id": record.batch_id or None,
        "tenants": list(record.tenants),
    }
    if record.status is RecordStatus.PENDING:
        values["queue"] = _PENDING
        values["queued_key"] = f"{record.queued_at.isoformat()}#{record.record_id}"
    if record.anchored is not None:
        proof = record.anchored
        values.update(
            root=_hex(proof.root),
            proof=[_hex(p) for p in proof.proof],
            tx_hash=_hex(proof.tx_hash),
            block_number=proof.block_number,
            anchored_at=proof.anchored_at.isoformat(),
            chain_id=proof.chain_id,
            contract=proof.contract,
            log_index=proof.log_index,
        )
    return values


def _record(values: dict[str, Any]) -> QueuedRecord:
    anchored = None
    if values.get("root"):
        anchored = AnchoredProof(
            root=_raw(values["root"]),
            proof=tuple(_raw(p) for p in values.get("proof", [])),
            tx_hash=_raw(values["tx_hash"]),
            block_number=int(values["block_number"]),
            anchored_at=datetime.fromisoformat(values["anchored_at"]),
            chain_id=int(values["chain_id"]),
            contract=str(values["contract"]),
            log_index=int(values["log_index"]) if values.get("log_index") is not None else None,
        )
    return QueuedRecord(
        record_id=values["record_id"],
        record_hash=_raw(values["record_hash"]),
        kind=values["kind"],
        queued_at=datetime.fromisoformat(values["queued_at"]),
        status=RecordStatus(values["status"]),
        batch_id=values.get("batch_id", ""),
        anchored=anchored,
        tenants=tuple(values.get("tenants", [])),
    )


def _batch_values(batch: Batch) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": f"batch#{batch.batch_id}",
        "batch_id": batch.batch_id,
        "kind": batch.kind,
        "created_at": batch.created_at.isoformat(),
        "state": batch.state.value,
        "record_ids": list(batch.record_ids),
        "record_hashes": [_hex(h) for h in batch.record_hashes],
        "root": _hex(batch.root) if batch.root else None,
        "metadata": batch.metadata,
    }
    if batch.state is not BatchState.ANCHORED:
        values["queue"] = _OPEN_BATCH
        values["queued_key"] = f"{batch.created_at.isoformat()}#{batch.batch_id}"
    return values


def _batch(values: dict[str, Any]) -> Batch:
    return Batch(
        batch_id=values["batch_id"],
        kind=values["kind"],
        created_at=datetime.fromisoformat(values["created_at"]),
        state=BatchState(values["state"]),
        record_ids=tuple(values.get("record_ids", [])),
        record_hashes=tuple(_raw(h) for h in values.get("record_hashes", [])),
        root=_raw(values["root"]) if values.get("root") else b"",
        metadata=values.get("metadata", ""),
    )


class DynamoAnchorStore(AnchorStore):
    """The anchor store in the ``anchors`` DynamoDB table (name from ``TWINLEDGER_ANCHORS_TABLE``)."""

    def __init__(self, table: str | None = None, client: Any | None = None) -> None:
        self.table = table or table_name("anchors")
        self._client = client

    @property
    def client(self) -> Any:
        """The DynamoDB client, built on first use."""
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    # -- records -------------------------------------------------------------------------------------
    def enqueue(self, record: QueuedRecord) -> bool:
        pending = QueuedRecord(
            record.record_id, record.record_hash, record.kind, record.queued_at, tenants=record.tenants
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_item(_record_values(pending)),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
        existing = self.get(record.record_id)
        if existing is not None and existing.record_hash != record.record_hash:
            raise RecordConflictError(f"record {record.record_id!r} was queued with another hash")
        return False

    def get(self, record_id: str) -> QueuedRecord | None:
        answer = self.client.get_item(
            TableName=self.table, Key=_item({"pk": f"record#{record_id}"}), ConsistentRead=True
        )
        item = answer.get("Item")
        return _record(_plain(item)) if item else None

    def _queue(self, queue: str, limit: int | None, count_only: bool = False) -> tuple[list[dict[str, Any]], int]:
        items: list[dict[str, Any]] = []
        count = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "by_queue",
            "KeyConditionExpression": "#q = :q",
            "ExpressionAttributeNames": {"#q": "queue"},
            "ExpressionAttributeValues": {":q": {"S": queue}},
            "ScanIndexForward": True,
        }
        if count_only:
            kwargs["Select"] = "COUNT"
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            answer = self.client.query(**kwargs)
            count += int(answer.get("Count", 0))
            items.extend(_plain(i) for i in answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if not start or (limit is not None and len(items) >= limit):
                return items, count
            kwargs["ExclusiveStartKey"] = start

    def pending(self, limit: int) -> list[QueuedRecord]:
        items, _ = self._queue(_PENDING, limit)
        return [_record(i) for i in items if i.get("status") == RecordStatus.PENDING.value]

    def count_pending(self) -> int:
        _, count = self._queue(_PENDING, None, count_only=True)
        return count

    def _claim_update(self, batch_id: str, record_id: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": _item({"pk": f"record#{record_id}"}),
            "UpdateExpression": "SET #s = :batched, batch_id = :b REMOVE #q, queued_key",
            "ConditionExpression": "#s = :pending",
            "ExpressionAttributeNames": {"#s": "status", "#q": "queue"},
            "ExpressionAttributeValues": _item(
                {":batched": RecordStatus.BATCHED.value, ":pending": RecordStatus.PENDING.value, ":b": batch_id}
            ),
        }

    def claim(self, batch_id: str, record_ids: Sequence[str]) -> list[str]:
        """One conditional update per record (``pending`` -> ``batched``), a few in parallel."""

        def claim_one(record_id: str) -> bool:
            try:
                self.client.update_item(**self._claim_update(batch_id, record_id))
                return True
            except ClientError as exc:
                if conditional_failed(exc):
                    return False
                raise

        with ThreadPoolExecutor(max_workers=_PARALLEL_WRITES) as pool:
            won = list(pool.map(claim_one, record_ids))
        return [record_id for record_id, ok in zip(record_ids, won, strict=True) if ok]

    def _get_many(self, record_ids: Sequence[str]) -> dict[str, QueuedRecord]:
        found: dict[str, QueuedRecord] = {}
        for start in range(0, len(record_ids), 100):
            keys = [_item({"pk": f"record#{r}"}) for r in dict.fromkeys(record_ids[start : start + 100])]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    record = _record(_plain(item))
                    found[record.record_id] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    # -- batches -------------------------------------------------------------------------------------
    def put_batch(self, batch: Batch) -> None:
        self.client.put_item(TableName=self.table, Item=_item(_batch_values(batch)))

    def open_batches(self) -> list[Batch]:
        items, _ = self._queue(_OPEN_BATCH, None)
        return [_batch(i) for i in items]

    def release(self, batch: Batch) -> None:
        for record_id in batch.record_ids:
            record = self.get(record_id)
            if record is None or record.status is not RecordStatus.BATCHED or record.batch_id != batch.batch_id:
                continue
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=_item({"pk": f"record#{record_id}"}),
                    UpdateExpression="SET #s = :pending, #q = :queue, queued_key = :k REMOVE batch_id",
                    ConditionExpression="#s = :batched AND batch_id = :b",
                    ExpressionAttributeNames={"#s": "status", "#q": "queue"},
                    ExpressionAttributeValues=_item(
                        {
                            ":pending": RecordStatus.PENDING.value,
                            ":batched": RecordStatus.BATCHED.value,
                            ":queue": _PENDING,
                            ":k": f"{record.queued_at.isoformat()}#{record_id}",
                            ":b": batch.batch_id,
                        }
                    ),
                )
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
        self.client.delete_item(TableName=self.table, Key=_item({"pk": f"batch#{batch.batch_id}"}))

    def complete(self, batch: Batch, proofs: Sequence[AnchoredProof]) -> None:
        stored = self._get_many(batch.record_ids)
        records = [stored.get(record_id) for record_id in batch.record_ids]
        requests = []
        for record_id, record, proof in zip(batch.record_ids, records, proofs, strict=True):
            if record is None:
                raise RecordConflictError(f"record {record_id!r} of batch {batch.batch_id} disappeared")
            anchored = QueuedRecord(
                record_id=record_id,
                record_hash=record.record_hash,
                kind=record.kind,
                queued_at=record.queued_at,
                status=RecordStatus.ANCHORED,
                batch_id=batch.batch_id,
                anchored=proof,
                tenants=record.tenants,
            )
            requests.append({"PutRequest": {"Item": _item(_record_values(anchored))}})
        for start in range(0, len(requests), 25):
            chunk = requests[start : start + 25]
            while chunk:
                answer = self.client.batch_write_item(RequestItems={self.table: chunk})
                chunk = answer.get("UnprocessedItems", {}).get(self.table, [])
        closed = Batch(
            batch_id=batch.batch_id,
            kind=batch.kind,
            created_at=batch.created_at,
            state=BatchState.ANCHORED,
            record_ids=batch.record_ids,
            record_hashes=batch.record_hashes,
            root=batch.root,
            metadata=batch.metadata,
        )
        self.put_batch(closed)

    # -- lock ----------------------------------------------------------------------------------------
    def acquire_lock(self, owner: str, now: datetime, ttl_seconds: int) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_item({"pk": _LOCK_KEY, "owner": owner, "expires_at": int(now.timestamp()) + ttl_seconds}),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=_item({":now": int(now.timestamp()), ":owner": owner}),
            )
            return True
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise

    def release_lock(self, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=_item({"pk": _LOCK_KEY}),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=_item({":owner": owner}),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
