"""The twin's AWS adapters: device registry, history, quarantine (DynamoDB + S3), shadows (IoT data).

This is the only module of the twins area that talks to boto3. Each adapter counts the AWS
calls it makes (``calls``), which the ingest benchmark reports per 1,000 samples.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import write_if
from chalicelib.adapters.tables import bucket_name, table_name
from chalicelib.ports.twins import DEVICE_CACHE_MAX_AGE_S, ShadowVersionConflictError
from twin_models.history import Segment
from twin_models.tenancy import Device

__all__ = [
    "AWS_CALLS",
    "BacklogStore",
    "DeviceRegistry",
    "HistoryStore",
    "QuarantineStore",
    "ShadowStore",
    "ShadowVersionConflictError",
]

#: AWS API calls made by these adapters, by operation (read by benchmarks and tests).
AWS_CALLS: Counter[str] = Counter()


def _ddb() -> Any:
    return aws.client("dynamodb")


class DeviceRegistry:
    """Registered things and their gateway keys (table ``devices``)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, Device | None]] = {}

    def put(self, device: Device) -> None:
        """Register or update a device."""
        item: dict[str, Any] = {
            "machine_id": {"S": device.machine_id},
            "lessor": {"S": device.lessor},
            "body": {"S": device.model_dump_json()},
        }
        if device.lessee:
            item["lessee"] = {"S": device.lessee}
        AWS_CALLS["dynamodb.PutItem"] += 1
        _ddb().put_item(TableName=table_name("devices"), Item=item)
        self._cache.pop(device.machine_id, None)

    def get(self, machine_id: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> Device | None:
        """The device, cached for at most ``max_age_s`` within one Lambda container (the bound on how late a
        retired key is still accepted: :data:`~chalicelib.ports.twins.DEVICE_CACHE_MAX_AGE_S`)."""
        cached = self._cache.get(machine_id)
        if cached and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        AWS_CALLS["dynamodb.GetItem"] += 1
        found = _ddb().get_item(TableName=table_name("devices"), Key={"machine_id": {"S": machine_id}})
        device = Device.model_validate_json(found["Item"]["body"]["S"]) if "Item" in found else None
        self._cache[machine_id] = (time.monotonic(), device)
        return device

    def for_tenant(self, tenant: str) -> list[Device]:
        """Machines the tenant owns or leases (two index queries, no scan)."""
        seen: dict[str, Device] = {}
        for index, attr in (("by_lessor", "lessor"), ("by_lessee", "lessee")):
            paginator = _ddb().get_paginator("query")
            for page in paginator.paginate(
                TableName=table_name("devices"),
                IndexName=index,
                KeyConditionExpression=f"{attr} = :t",
                ExpressionAttributeValues={":t": {"S": tenant}},
            ):
                AWS_CALLS["dynamodb.Query"] += 1
                for item in page["Items"]:
                    device = Device.model_validate_json(item["body"]["S"])
                    seen[device.machine_id] = device
        return [seen[k] for k in sorted(seen)]

    def all(self) -> list[Device]:
        """Every registered machine (a paginated scan: the scheduled runs visit them all)."""
        devices: list[Device] = []
        for page in _ddb().get_paginator("scan").paginate(TableName=table_name("devices")):
            AWS_CALLS["dynamodb.Scan"] += 1
            devices.extend(Device.model_validate_json(item["body"]["S"]) for item in page["Items"])
        return sorted(devices, key=lambda d: d.machine_id)


class HistoryStore:
    """One item per (thing, seq) holding the envelope's segment (table ``history``)."""

    def put_segment(self, segment: Segment, received_at: datetime) -> bool:
        """Store a segment unless ``(thing, seq)`` exists; False for a duplicate.

        The dedup check and the data are one conditional write, so a crash can never
        leave one without the other.
        """
        item = {
            "machine_id": {"S": segment.machine_id},
            "seq": {"N": str(segment.seq)},
            "start": {"N": repr(segment.start.timestamp())},
            "end": {"N": repr(segment.end.timestamp())},
            "received_at": {"S": received_at.astimezone(UTC).isoformat()},
            "body": {"S": json.dumps(segment.to_item(), separators=(",", ":"))},
        }
        AWS_CALLS["dynamodb.PutItem"] += 1
        return write_if(
            lambda: _ddb().put_item(
                TableName=table_name("history"), Item=item, ConditionExpression="attribute_not_exists(seq)"
            )
        )

    def get_segment(self, machine_id: str, seq: int) -> Segment | None:
        """The stored segment of ``(thing, seq)``."""
        AWS_CALLS["dynamodb.GetItem"] += 1
        found = _ddb().get_item(
            TableName=table_name("history"), Key={"machine_id": {"S": machine_id}, "seq": {"N": str(seq)}}
        )
        return Segment.from_item(json.loads(found["Item"]["body"]["S"])) if "Item" in found else None

    def segments(self, machine_id: str, start: datetime, end: datetime, lookback_s: float = 3600.0) -> list[Segment]:
        """Segments overlapping ``[start, end)``, ordered by start (index ``by_time``, no scan)."""
        low = start.timestamp() - lookback_s
        found = self._query_time(machine_id, low, end.timestamp(), forward=True)
        out = [s for s in found if s.end > start and s.start < end]
        out.sort(key=lambda s: (s.start, s.seq))
        return out

    def latest_before(self, machine_id: str, at: datetime, limit: int = 4) -> list[Segment]:
        """Up to ``limit`` segments starting at or before ``at``, newest first."""
        found = []
        for segment in self._query_time(machine_id, 0.0, at.timestamp(), forward=False, limit=limit):
            found.append(segment)
        return found

    def since(self, machine_id: str, after_seq: int) -> list[Segment]:
        """Segments with ``seq > after_seq``, by seq: a query on the table's own key (no index), so it reads
        only the items above the watermark."""
        request: dict[str, Any] = {
            "TableName": table_name("history"),
            "KeyConditionExpression": "machine_id = :t AND seq > :s",
            "ExpressionAttributeValues": {":t": {"S": machine_id}, ":s": {"N": str(after_seq)}},
        }
        found: list[Segment] = []
        while True:
            AWS_CALLS["dynamodb.Query"] += 1
            page = _ddb().query(**request)
            found.extend(Segment.from_item(json.loads(item["body"]["S"])) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query_time(
        self, machine_id: str, low: float, high: float, forward: bool, limit: int | None = None
    ) -> Iterator[Segment]:
        request: dict[str, Any] = {
            "TableName": table_name("history"),
            "IndexName": "by_time",
            "KeyConditionExpression": "machine_id = :t AND #s BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": {"#s": "start"},
            "ExpressionAttributeValues": {
                ":t": {"S": machine_id},
                ":lo": {"N": repr(low)},
                ":hi": {"N": repr(high)},
            },
            "ScanIndexForward": forward,
        }
        if limit:
            request["Limit"] = limit
        while True:
            AWS_CALLS["dynamodb.Query"] += 1
            page = _ddb().query(**request)
            for item in page["Items"]:
                yield Segment.from_item(json.loads(item["body"]["S"]))
            if limit or "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class QuarantineStore:
    """Rejected records: the reason in DynamoDB, the raw payload in S3. Nothing is dropped."""

    def put(
        self, record_id: str, reason: str, detail: str, raw: bytes, machine_id: str | None, received_at: datetime
    ) -> str:
        """Keep a rejected record; returns the S3 key of its raw payload."""
        day = received_at.astimezone(UTC).strftime("%Y-%m-%d")
        key = f"quarantine/{day}/{record_id}"
        AWS_CALLS["s3.PutObject"] += 1
        aws.client("s3").put_object(Bucket=bucket_name("archive"), Key=key, Body=raw)
        AWS_CALLS["dynamodb.PutItem"] += 1
        _ddb().put_item(
            TableName=table_name("quarantine"),
            Item={
                "day": {"S": day},
                "record_id": {"S": record_id},
                "reason": {"S": reason},
                "detail": {"S": detail[:2000]},
                "machine_id": {"S": machine_id or "-"},
                "received_at": {"S": received_at.astimezone(UTC).isoformat()},
                "raw_key": {"S": key},
                "raw_bytes": {"N": str(len(raw))},
            },
        )
        return key

    def list_day(self, day: str) -> list[dict[str, str]]:
        """The quarantined records of one UTC day (``YYYY-MM-DD``)."""
        AWS_CALLS["dynamodb.Query"] += 1
        page = _ddb().query(
            TableName=table_name("quarantine"),
            KeyConditionExpression="#d = :d",
            ExpressionAttributeNames={"#d": "day"},
            ExpressionAttributeValues={":d": {"S": day}},
        )
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in page["Items"]]

    def raw(self, key: str) -> bytes:
        """The raw payload kept for a quarantined record."""
        AWS_CALLS["s3.GetObject"] += 1
        body: bytes = aws.client("s3").get_object(Bucket=bucket_name("archive"), Key=key)["Body"].read()
        return body


class ShadowStore:
    """Named device shadows through the IoT data plane."""

    def get(self, machine_id: str, shadow: str) -> tuple[dict[str, Any], int] | None:
        """``(reported, version)`` of a named shadow, or None if it does not exist."""
        doc = self.document(machine_id, shadow)
        if doc is None:
            return None
        return doc.get("state", {}).get("reported", {}), int(doc.get("version", 0))

    def document(self, machine_id: str, shadow: str) -> dict[str, Any] | None:
        """The whole shadow document (desired, reported, delta, metadata, version)."""
        AWS_CALLS["iot-data.GetThingShadow"] += 1
        try:
            found = aws.client("iot-data").get_thing_shadow(thingName=machine_id, shadowName=shadow)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        doc: dict[str, Any] = json.loads(found["payload"].read())
        return doc

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        """Apply an update document; raises :class:`ShadowVersionConflictError` on HTTP 409."""
        AWS_CALLS["iot-data.UpdateThingShadow"] += 1
        try:
            found = aws.client("iot-data").update_thing_shadow(thingName=machine_id, shadowName=shadow, payload=payload)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConflictException":
                raise ShadowVersionConflictError(f"{machine_id}/{shadow}: version conflict") from exc
            raise
        return int(json.loads(found["payload"].read()).get("version", 0))


class BacklogStore:
    """Table ``backlog``: one item per ``(machine_id, seq)`` waiting for catch-up, the raw body inline
    (an envelope is at most 128 KiB, a DynamoDB item 400 KB)."""

    def put(self, machine_id: str, seq: int, body: bytes, reason: str, since: datetime) -> None:
        """Keep one envelope (conditional: a second failure keeps the first record)."""
        AWS_CALLS["dynamodb.PutItem"] += 1
        write_if(
            lambda: _ddb().put_item(
                TableName=table_name("backlog"),
                Item={
                    "machine_id": {"S": machine_id},
                    "seq": {"N": str(seq)},
                    "body": {"B": body},
                    "reason": {"S": reason[:500]},
                    "since": {"S": since.astimezone(UTC).isoformat()},
                },
                ConditionExpression="attribute_not_exists(seq)",
            )
        )

    def machines(self, limit: int = 100) -> list[str]:
        """Machines with envelopes waiting (a scan: the backlog is small and usually empty)."""
        found: dict[str, str] = {}
        for page in _ddb().get_paginator("scan").paginate(TableName=table_name("backlog")):
            AWS_CALLS["dynamodb.Scan"] += 1
            for item in page["Items"]:
                machine, since = item["machine_id"]["S"], item["since"]["S"]
                found[machine] = min(found.get(machine, since), since)
        return sorted(found, key=lambda m: (found[m], m))[:limit]

    def entries(self, machine_id: str) -> list[tuple[int, bytes]]:
        """The machine's waiting envelopes by seq."""
        out: list[tuple[int, bytes]] = []
        for page in (
            _ddb()
            .get_paginator("query")
            .paginate(
                TableName=table_name("backlog"),
                KeyConditionExpression="machine_id = :m",
                ExpressionAttributeValues={":m": {"S": machine_id}},
            )
        ):
            AWS_CALLS["dynamodb.Query"] += 1
            out += [(int(item["seq"]["N"]), bytes(item["body"]["B"])) for item in page["Items"]]
        return sorted(out)

    def remove(self, machine_id: str, seqs: list[int]) -> None:
        """Delete the caught-up envelopes."""
        for seq in seqs:
            AWS_CALLS["dynamodb.DeleteItem"] += 1
            _ddb().delete_item(
                TableName=table_name("backlog"), Key={"machine_id": {"S": machine_id}, "seq": {"N": str(seq)}}
            )
