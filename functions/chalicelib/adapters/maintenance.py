"""The maintenance store in DynamoDB (:class:`chalicelib.ports.maintenance.MaintenanceStore`).

One table (``maintenance``), keyed ``pk`` / ``sk``:

* ``M#<machine>`` / ``E#<seq, 12 digits>`` — a log entry (``doc``: its JSON document), written once;
* ``M#<machine>`` / ``T#<ticket id>`` — a ticket (``body``), with ``as_of_seq`` (the last entry folded in);
* ``M#<machine>`` / ``H#<seq>`` — a head submitted for anchoring;
* ``M#<machine>`` / ``O#<bucket>`` — one health scoring per ten minutes (``expires_at``: kept 400 days);
* ``PENDING`` / ``<machine>`` — the machine's head is not submitted yet (``seq`` of the append that set it);
* ``PLAN#<lessor>#<machine type>`` / ``PLAN`` — a lessor's published maintenance plan.

An append is one ``TransactWriteItems``: the entry on condition that its place is free, the ticket on
condition that it was not moved further already, and the pending mark.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import write_if
from chalicelib.adapters.tables import table_name
from chalicelib.ports.maintenance import HeadRecord, HealthPoint, PublishedPlan
from twin_models.maintenance import LogEntry, MaintenancePlan, Ticket
from twin_models.timestamps import format_utc, parse_utc

__all__ = ["DynamoMaintenanceStore"]

_PENDING = "PENDING"
_HEALTH_TTL_S = 400 * 86400


def _machine(machine_id: str) -> dict[str, str]:
    return {"S": f"M#{machine_id}"}


def _seq_key(prefix: str, seq: int) -> dict[str, str]:
    return {"S": f"{prefix}#{seq:012d}"}


class DynamoMaintenanceStore:
    """The store over the ``maintenance`` table (name from ``TWINLEDGER_MAINTENANCE_TABLE``)."""

    def __init__(self, table: str | None = None, client: Any | None = None) -> None:
        self._table = table
        self._client = client

    @property
    def table(self) -> str:
        """The table's physical name (read from the settings on first use)."""
        if self._table is None:
            self._table = table_name("maintenance")
        return self._table

    @property
    def client(self) -> Any:
        """The DynamoDB client, built on first use."""
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    def _query(self, pk: str, prefix: str, low: str | None = None, high: str | None = None) -> list[dict[str, Any]]:
        """Every item of partition ``pk`` whose sort key starts with ``prefix`` (or lies in ``[low, high]``)."""
        if low is not None and high is not None:
            condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
            values = {":pk": {"S": pk}, ":lo": {"S": low}, ":hi": {"S": high}}
        elif not prefix:
            condition, values = "pk = :pk", {":pk": {"S": pk}}
        else:
            condition = "pk = :pk AND begins_with(sk, :p)"
            values = {":pk": {"S": pk}, ":p": {"S": prefix}}
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            answer = self.client.query(**kwargs)
            items.extend(answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return items
            kwargs["ExclusiveStartKey"] = start

    # -- the log -----------------------------------------------------------------------------------
    def append(self, entry: LogEntry, ticket: Ticket | None = None) -> bool:
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": _machine(entry.machine_id),
                        "sk": _seq_key("E", entry.seq),
                        "doc": {"S": entry.model_dump_json()},
                        "kind": {"S": entry.kind},
                        "occurred_at": {"S": format_utc(entry.occurred_at)},
                        "hash": {"S": entry.hash_hex},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": {"S": _PENDING},
                        "sk": {"S": entry.machine_id},
                        "seq": {"N": str(entry.seq)},
                    },
                }
            },
        ]
        if ticket is not None:
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": _machine(entry.machine_id),
                            "sk": {"S": f"T#{ticket.ticket_id}"},
                            "body": {"S": ticket.model_dump_json()},
                            "state": {"S": ticket.state},
                            "as_of_seq": {"N": str(ticket.as_of_seq)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR as_of_seq < :seq",
                        "ExpressionAttributeValues": {":seq": {"N": str(ticket.as_of_seq)}},
                    }
                }
            )
        return write_if(lambda: self.client.transact_write_items(TransactItems=writes))

    def head(self, machine_id: str) -> LogEntry | None:
        answer = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": _machine(machine_id), ":p": {"S": "E#"}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = answer.get("Items", [])
        return LogEntry.model_validate_json(items[0]["doc"]["S"]) if items else None

    def entry(self, machine_id: str, seq: int) -> LogEntry | None:
        found = self.client.get_item(
            TableName=self.table, Key={"pk": _machine(machine_id), "sk": _seq_key("E", seq)}, ConsistentRead=True
        ).get("Item")
        return LogEntry.model_validate_json(found["doc"]["S"]) if found else None

    def entries(self, machine_id: str, first_seq: int = 0, last_seq: int | None = None) -> list[LogEntry]:
        high = f"E#{last_seq:012d}" if last_seq is not None else "E#~"
        items = self._query(f"M#{machine_id}", "E#", f"E#{max(first_seq, 0):012d}", high)
        return [LogEntry.model_validate_json(i["doc"]["S"]) for i in items]

    def latest(self, machine_id: str, at: datetime) -> tuple[str, datetime] | None:
        """Newest entries first, a page at a time, until a page holds one that happened by ``at`` (entries are
        recorded nearly in the order they happen, so this is almost always the first page)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": _machine(machine_id), ":p": {"S": "E#"}},
            "ProjectionExpression": "occurred_at, #h",
            "ExpressionAttributeNames": {"#h": "hash"},
            "ScanIndexForward": False,
            "Limit": 64,
            "ConsistentRead": True,
        }
        best: tuple[datetime, str] | None = None
        while True:
            answer = self.client.query(**kwargs)
            for item in answer.get("Items", []):
                when = parse_utc(item["occurred_at"]["S"])
                if when <= at and (best is None or when > best[0]):
                    best = (when, item["hash"]["S"])
            start = answer.get("LastEvaluatedKey")
            if best is not None or not start:
                return None if best is None else (best[1], best[0])
            kwargs["ExclusiveStartKey"] = start

    # -- tickets -----------------------------------------------------------------------------------
    def ticket(self, machine_id: str, ticket_id: str) -> Ticket | None:
        found = self.client.get_item(
            TableName=self.table, Key={"pk": _machine(machine_id), "sk": {"S": f"T#{ticket_id}"}}, ConsistentRead=True
        ).get("Item")
        return Ticket.model_validate_json(found["body"]["S"]) if found else None

    def tickets(self, machine_id: str) -> list[Ticket]:
        tickets = [Ticket.model_validate_json(i["body"]["S"]) for i in self._query(f"M#{machine_id}", "T#")]
        return sorted(tickets, key=lambda t: int(t.opening_entry.rpartition(".")[2]))

    # -- anchoring of heads ----------------------------------------------------------------------
    def pending_heads(self, limit: int = 1000) -> list[tuple[str, int]]:
        items = self._query(_PENDING, "")
        return sorted((i["sk"]["S"], int(i["seq"]["N"])) for i in items)[:limit]

    def clear_pending(self, machine_id: str, seq: int) -> bool:
        return write_if(
            lambda: self.client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": _PENDING}, "sk": {"S": machine_id}},
                ConditionExpression="#s = :seq",
                ExpressionAttributeNames={"#s": "seq"},
                ExpressionAttributeValues={":seq": {"N": str(seq)}},
            )
        )

    def put_head(self, head: HeadRecord) -> None:
        item = {
            "pk": _machine(head.machine_id),
            "sk": _seq_key("H", head.seq),
            "hash": {"S": head.hash},
            "record_id": {"S": head.record_id},
            "submitted_at": {"S": format_utc(head.submitted_at)},
        }
        write_if(
            lambda: self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        )

    def heads(self, machine_id: str) -> list[HeadRecord]:
        return [
            HeadRecord(
                machine_id=machine_id,
                seq=int(i["sk"]["S"][2:]),
                hash=i["hash"]["S"],
                record_id=i["record_id"]["S"],
                submitted_at=parse_utc(i["submitted_at"]["S"]),
            )
            for i in self._query(f"M#{machine_id}", "H#")
        ]

    # -- health history --------------------------------------------------------------------------
    def observe(self, point: HealthPoint, bucket_s: int = 600) -> None:
        at = int(point.at.timestamp())
        body = {
            "at": format_utc(point.at),
            "severity": point.severity,
            "score": point.score,
            "threshold": point.threshold,
            "critical": point.critical,
            "shares": dict(point.shares),
            "action": point.action,
        }
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": _machine(point.machine_id),
                "sk": _seq_key("O", at // bucket_s * bucket_s),
                "body": {"S": json.dumps(body, separators=(",", ":"))},
                "expires_at": {"N": str(at + _HEALTH_TTL_S)},
            },
        )

    def health(self, machine_id: str, start: datetime, end: datetime) -> list[HealthPoint]:
        low = f"O#{max(int(start.timestamp()) - 600, 0):012d}"
        high = f"O#{int(end.timestamp()):012d}"
        points = []
        for item in self._query(f"M#{machine_id}", "O#", low, high):
            body = json.loads(item["body"]["S"])
            at = parse_utc(body["at"])
            if not start <= at < end:
                continue
            points.append(
                HealthPoint(
                    machine_id=machine_id,
                    at=at,
                    severity=body["severity"],
                    score=float(body["score"]),
                    threshold=float(body["threshold"]),
                    critical=float(body["critical"]),
                    shares={k: float(v) for k, v in body.get("shares", {}).items()},
                    action=body.get("action", ""),
                )
            )
        return sorted(points, key=lambda p: p.at)

    # -- plans -------------------------------------------------------------------------------------
    def put_plan(self, published: PublishedPlan) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"PLAN#{published.lessor}#{published.plan.machine_type}"},
                "sk": {"S": "PLAN"},
                "body": {"S": published.plan.model_dump_json()},
                "lessor": {"S": published.lessor},
                "published_at": {"S": format_utc(published.published_at)},
                "published_by": {"S": published.published_by},
            },
        )

    def plan(self, lessor: str, machine_type: str) -> PublishedPlan | None:
        key = {"pk": {"S": f"PLAN#{lessor}#{machine_type}"}, "sk": {"S": "PLAN"}}
        found = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if not found:
            return None
        return PublishedPlan(
            plan=MaintenancePlan.model_validate_json(found["body"]["S"]),
            lessor=found["lessor"]["S"],
            published_at=parse_utc(found["published_at"]["S"]),
            published_by=found["published_by"]["S"],
        )
