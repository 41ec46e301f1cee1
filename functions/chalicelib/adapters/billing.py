"""Billing's AWS adapters (:mod:`chalicelib.ports.billing`): leases, usage events and invoices (DynamoDB),
invoice documents (S3).

Every write that must happen once is conditional: a usage event is stored once per (machine, id), an
invoice once per (lease, period), a cursor only moves forward from the value it was read at, and an
invoice's anchoring is claimed before its transaction is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import conditional_failed, write_if
from chalicelib.adapters.tables import bucket_name, table_name
from chalicelib.ports.billing import InvoiceRecord, LeaseRecord, PutReport
from twin_models.billing import Invoice, Lease, UsageEvent, canonical_json

__all__ = [
    "InvoiceArchive",
    "InvoiceStore",
    "LeaseStore",
    "UsageStore",
    "key_ts",
]

logger = logging.getLogger(__name__)


def key_ts(value: datetime) -> str:
    """A fixed-width, sortable UTC timestamp for sort keys (``2026-10-01T06:00:00.000000Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ddb() -> Any:
    return aws.client("dynamodb")


def _s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value else None


def _put_new(table: str, item: dict[str, Any], key: str) -> bool:
    """Put ``item`` unless an item with its key exists; False when it did (written once, never replaced)."""
    return write_if(
        lambda: _ddb().put_item(
            TableName=table_name(table), Item=item, ConditionExpression=f"attribute_not_exists({key})"
        )
    )


def _paginate(operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in _ddb().get_paginator(operation).paginate(**kwargs):
        yield from page.get("Items", [])


# -- leases ------------------------------------------------------------------------------------------------


class LeaseStore:
    """Table ``leases``."""

    @staticmethod
    def _record(item: dict[str, Any]) -> LeaseRecord:
        # the stored document as it was stored: its lease_id is the item's key, never re-derived
        return LeaseRecord(
            lease=Lease.model_validate_json(item["body"]["S"]),
            contract_address=_s(item, "contract_address"),
            billed_through=_s(item, "billed_through"),
            anchored_through=_s(item, "anchored_through"),
        )

    def create(self, lease: Lease, contract_address: str | None = None) -> bool:
        """Store a new lease; False when the id is taken (the stored lease is left as it is)."""
        item: dict[str, Any] = {
            "lease_id": {"S": lease.lease_id},
            "lessor": {"S": lease.lessor},
            "lessee": {"S": lease.lessee},
            "body": {"S": lease.model_dump_json()},
        }
        if contract_address:
            item["contract_address"] = {"S": contract_address}
        return _put_new("leases", item, "lease_id")

    def get(self, lease_id: str) -> LeaseRecord | None:
        """The lease, or None."""
        found = _ddb().get_item(TableName=table_name("leases"), Key={"lease_id": {"S": lease_id}}, ConsistentRead=True)
        return self._record(found["Item"]) if "Item" in found else None

    def all(self) -> Iterator[LeaseRecord]:
        """Every lease (a paginated scan: the scheduler visits each lease once per run)."""
        for item in _paginate("scan", TableName=table_name("leases")):
            yield self._record(item)

    def for_tenant(self, tenant: str) -> list[LeaseRecord]:
        """Leases where the tenant is lessor or lessee (two index queries)."""
        seen: dict[str, LeaseRecord] = {}
        for index, attr in (("by_lessor", "lessor"), ("by_lessee", "lessee")):
            for item in _paginate(
                "query",
                TableName=table_name("leases"),
                IndexName=index,
                KeyConditionExpression=f"{attr} = :t",
                ExpressionAttributeValues={":t": {"S": tenant}},
            ):
                seen[item["lease_id"]["S"]] = self._record(item)
        return [seen[k] for k in sorted(seen)]

    def advance(self, lease_id: str, cursor: str, old: str | None, new: str) -> bool:
        """Move ``cursor`` (``billed_through`` or ``anchored_through``) from ``old`` to ``new``; False if moved."""
        if cursor not in ("billed_through", "anchored_through"):
            raise ValueError(f"unknown cursor {cursor}")
        condition = "attribute_exists(lease_id) AND " + ("attribute_not_exists(#c)" if old is None else "#c = :old")
        values: dict[str, Any] = {":new": {"S": new}}
        if old is not None:
            values[":old"] = {"S": old}
        return write_if(
            lambda: _ddb().update_item(
                TableName=table_name("leases"),
                Key={"lease_id": {"S": lease_id}},
                UpdateExpression="SET #c = :new",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#c": cursor},
                ExpressionAttributeValues=values,
            )
        )


# -- usage -------------------------------------------------------------------------------------------------


def _event_item(ev: UsageEvent, received_at: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {
        "machine_id": {"S": ev.machine_id},
        "event_id": {"S": ev.id},
        "meter": {"S": ev.meter},
        "ts": {"S": key_ts(ev.ts)},
        "quantity": {"S": format(ev.quantity, "f")},
        "received_at": {"S": key_ts(received_at)},
        "ts_key": {"S": f"{key_ts(ev.ts)}#{ev.id}"},
        "received_key": {"S": f"{key_ts(received_at)}#{ev.id}"},
        "hash": {"S": ev.hash},
    }
    if ev.lease_id:
        item["lease_id"] = {"S": ev.lease_id}
    return item


def _event(item: dict[str, Any]) -> UsageEvent:
    return UsageEvent(
        id=item["event_id"]["S"],
        machine_id=item["machine_id"]["S"],
        meter=item["meter"]["S"],
        ts=datetime.fromisoformat(item["ts"]["S"]),
        quantity=Decimal(item["quantity"]["S"]),
        received_at=datetime.fromisoformat(item["received_at"]["S"]),
        lease_id=_s(item, "lease_id"),
    )


class UsageStore:
    """Table ``usage``: each event stored once, stamped with when it first arrived."""

    def put(self, events: Iterable[UsageEvent], received_at: datetime) -> PutReport:
        """Store events not seen before; a redelivered event keeps its first arrival time.

        An event whose id was stored with different content is not stored and is reported in
        ``conflicts`` (the first version stays what is billed).
        """
        report = PutReport()
        for ev in events:
            try:
                _ddb().put_item(
                    TableName=table_name("usage"),
                    Item=_event_item(ev, received_at),
                    ConditionExpression="attribute_not_exists(event_id)",
                )
                report.stored += 1
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
                found = _ddb().get_item(
                    TableName=table_name("usage"),
                    Key={"machine_id": {"S": ev.machine_id}, "event_id": {"S": ev.id}},
                    ConsistentRead=True,
                )
                if "Item" in found and found["Item"]["hash"]["S"] == ev.hash:
                    report.duplicates += 1
                else:
                    report.conflicts.append(ev.id)
                    logger.warning("usage event %s on %s conflicts with the stored one", ev.id, ev.machine_id)
        return report

    def _query(self, machine_id: str, index: str, attr: str, lo: str, hi: str) -> list[UsageEvent]:
        items = _paginate(
            "query",
            TableName=table_name("usage"),
            IndexName=index,
            KeyConditionExpression=f"machine_id = :m AND {attr} BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":m": {"S": machine_id}, ":lo": {"S": lo}, ":hi": {"S": hi}},
        )
        return [_event(item) for item in items]

    def between(self, machine_id: str, start: datetime, end: datetime) -> list[UsageEvent]:
        """Events of a machine with ``start <= ts < end``."""
        found = self._query(machine_id, "by_ts", "ts_key", key_ts(start), key_ts(end))
        return [e for e in found if start <= e.ts < end]

    def received_between(self, machine_id: str, after: datetime, until: datetime) -> list[UsageEvent]:
        """Events of a machine that arrived in ``(after, until]``."""
        found = self._query(machine_id, "by_received", "received_key", key_ts(after), key_ts(until) + "~")
        return [e for e in found if e.received_at is not None and after < e.received_at <= until]


# -- invoices ----------------------------------------------------------------------------------------------


class InvoiceStore:
    """Table ``invoices``: an invoice is put once and never rewritten; only its status fields move."""

    @staticmethod
    def _record(item: dict[str, Any]) -> InvoiceRecord:
        anchor = {
            k: item[a].get("S", item[a].get("N"))
            for k, a in (("index", "anchor_index"), ("tx_hash", "anchor_tx"), ("contract", "anchor_contract"))
            if a in item
        }
        if "index" in anchor:
            anchor["index"] = int(anchor["index"])
        if "anchor_error" in item:
            anchor["error"] = item["anchor_error"]["S"]
        answer: dict[str, Any] = {
            k: item[k]["S"] for k in ("answered_by", "answered_at", "reason", "reason_hash") if k in item
        }
        return InvoiceRecord(
            invoice=Invoice.from_json(json.loads(item["body"]["S"])),
            status=item["status"]["S"],
            issued_at=datetime.fromisoformat(item["issued_at"]["S"]),
            archived=bool(item.get("archived", {}).get("BOOL", False)),
            anchor_status=item.get("anchor_status", {}).get("S", "pending"),
            anchor=anchor,
            answer=answer,
        )

    def put_new(self, invoice: Invoice, issued_at: datetime) -> bool:
        """Store an issued invoice; False when this lease and period already has one."""
        item = {
            "invoice_id": {"S": invoice.invoice_id},
            "lease_id": {"S": invoice.lease_id},
            "period": {"S": invoice.period},
            "period_start": {"S": key_ts(invoice.period_start)},
            "lessor": {"S": invoice.lessor},
            "lessee": {"S": invoice.lessee},
            "hash": {"S": invoice.hash},
            "total": {"S": format(invoice.total, "f")},
            "currency": {"S": invoice.currency},
            "status": {"S": "issued"},
            "issued_at": {"S": issued_at.astimezone(UTC).isoformat()},
            "anchor_status": {"S": "pending"},
            "body": {"S": json.dumps(invoice.to_json(), separators=(",", ":"))},
        }
        return _put_new("invoices", item, "invoice_id")

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        """The invoice, or None."""
        found = _ddb().get_item(
            TableName=table_name("invoices"), Key={"invoice_id": {"S": invoice_id}}, ConsistentRead=True
        )
        return self._record(found["Item"]) if "Item" in found else None

    def for_lease(self, lease_id: str) -> list[InvoiceRecord]:
        """A lease's invoices, oldest period first."""
        items = _paginate(
            "query",
            TableName=table_name("invoices"),
            IndexName="by_lease",
            KeyConditionExpression="lease_id = :l",
            ExpressionAttributeValues={":l": {"S": lease_id}},
        )
        return [self._record(item) for item in items]

    def _update(self, invoice_id: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        return write_if(
            lambda: _ddb().update_item(
                TableName=table_name("invoices"),
                Key={"invoice_id": {"S": invoice_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        )

    def mark_archived(self, invoice_id: str) -> None:
        """Note that the document is in the invoices bucket."""
        self._update(invoice_id, "SET archived = :t", "attribute_exists(invoice_id)", {":t": {"BOOL": True}})

    def claim_anchor(self, invoice_id: str, token: str, now: datetime, ttl_s: int) -> bool:
        """Take the right to post this invoice on chain (pending, or a claim that expired)."""
        stamp = int(now.timestamp())
        return self._update(
            invoice_id,
            "SET anchor_status = :posting, anchor_claim = :token, anchor_claim_until = :until",
            "anchor_status = :pending OR (anchor_status = :posting AND anchor_claim_until < :now)",
            {
                ":posting": {"S": "posting"},
                ":pending": {"S": "pending"},
                ":token": {"S": token},
                ":until": {"N": str(stamp + ttl_s)},
                ":now": {"N": str(stamp)},
            },
        )

    def finish_anchor(self, invoice_id: str, token: str, index: int, tx_hash: str, contract: str) -> bool:
        """Record where the invoice went on chain (only under our claim)."""
        return self._update(
            invoice_id,
            "SET anchor_status = :posted, anchor_index = :i, anchor_tx = :tx, anchor_contract = :c "
            "REMOVE anchor_claim, anchor_claim_until, anchor_error",
            "anchor_claim = :token",
            {
                ":posted": {"S": "posted"},
                ":i": {"N": str(index)},
                ":tx": {"S": tx_hash},
                ":c": {"S": contract},
                ":token": {"S": token},
            },
        )

    def release_anchor(self, invoice_id: str, token: str, error: str) -> bool:
        """Give the claim back after a failed attempt, noting why."""
        return self._update(
            invoice_id,
            "SET anchor_status = :pending, anchor_error = :e REMOVE anchor_claim, anchor_claim_until",
            "anchor_claim = :token",
            {":pending": {"S": "pending"}, ":e": {"S": error[:500]}, ":token": {"S": token}},
        )

    def answer(self, invoice_id: str, status: str, by: str, at: datetime, reason: str | None) -> bool:
        """Move an issued invoice to ``acknowledged`` or ``disputed``; False when it was answered before."""
        values: dict[str, Any] = {
            ":s": {"S": status},
            ":by": {"S": by},
            ":at": {"S": at.astimezone(UTC).isoformat()},
            ":issued": {"S": "issued"},
        }
        expression = "SET #st = :s, answered_by = :by, answered_at = :at"
        if reason is not None:
            expression += ", reason = :r, reason_hash = :rh"
            values[":r"] = {"S": reason}
            values[":rh"] = {"S": "0x" + hashlib.sha256(reason.encode()).hexdigest()}
        return write_if(
            lambda: _ddb().update_item(
                TableName=table_name("invoices"),
                Key={"invoice_id": {"S": invoice_id}},
                UpdateExpression=expression,
                ConditionExpression="#st = :issued",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values,
            )
        )


# -- S3 -------------------------------------------------------------------------------------


class InvoiceArchive:
    """Bucket ``invoices``: the issued document as canonical JSON, one object per invoice."""

    @staticmethod
    def key(invoice: Invoice) -> str:
        """``invoices/<lease>/<period>.json``."""
        return f"invoices/{invoice.lease_id}/{invoice.period}.json"

    def put(self, invoice: Invoice) -> str:
        """Write the document (the same bytes every time, so a repeated put changes nothing)."""
        key = self.key(invoice)
        aws.client("s3").put_object(
            Bucket=bucket_name("invoices"),
            Key=key,
            Body=canonical_json(invoice.to_json()),
            ContentType="application/json",
            Metadata={"sha256": invoice.hash},
        )
        return key

    def get(self, invoice: Invoice) -> bytes:
        """The stored document bytes."""
        body: bytes = aws.client("s3").get_object(Bucket=bucket_name("invoices"), Key=self.key(invoice))["Body"].read()
        return body
