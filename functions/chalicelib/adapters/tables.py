"""DynamoDB tables and S3 buckets: one spec each, shared by the local stack and the CDK app.

A spec names its table by a key (``"history"``); the physical name comes from the spec's
environment variable (the CDK app lets CloudFormation name resources and passes the names
in), with a local default. Each area adds its own specs here.

Example:
    >>> table_name("history")
    'twinledger-history'
    >>> TABLE_SPECS["history"].create_request("h")["KeySchema"][1]
    {'AttributeName': 'seq', 'KeyType': 'RANGE'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.settings import get_settings

__all__ = [
    "BUCKET_SPECS",
    "TABLE_SPECS",
    "BucketSpec",
    "TableSpec",
    "bucket_name",
    "create_resources",
    "table_name",
]

Key = tuple[str, str]


@dataclass(frozen=True)
class TableSpec:
    """A table's keys and indexes; attributes are ``(name, "S" | "N")``."""

    key: str
    env: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[tuple[str, Key, Key | None], ...] = ()
    ttl_attribute: str | None = None

    @property
    def default_name(self) -> str:
        """The local name: ``twinledger-<key>``."""
        return f"twinledger-{self.key}"

    def create_request(self, table_name: str) -> dict[str, Any]:
        """The ``CreateTable`` request (on-demand billing)."""
        attrs = {self.partition_key[0]: self.partition_key[1]}
        keys = [{"AttributeName": self.partition_key[0], "KeyType": "HASH"}]
        if self.sort_key:
            attrs[self.sort_key[0]] = self.sort_key[1]
            keys.append({"AttributeName": self.sort_key[0], "KeyType": "RANGE"})
        gsis = []
        for name, pk, sk in self.indexes:
            attrs[pk[0]] = pk[1]
            schema = [{"AttributeName": pk[0], "KeyType": "HASH"}]
            if sk:
                attrs[sk[0]] = sk[1]
                schema.append({"AttributeName": sk[0], "KeyType": "RANGE"})
            gsis.append({"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
        request: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": [{"AttributeName": k, "AttributeType": v} for k, v in attrs.items()],
            "KeySchema": keys,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if gsis:
            request["GlobalSecondaryIndexes"] = gsis
        return request


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket named by ``env`` (default ``twinledger-<key>``)."""

    key: str
    env: str


_TABLES: list[TableSpec] = [
    # Registered things: tenancy (lessor, lessee), site and line, the gateway's public keys.
    TableSpec(
        key="devices",
        env="TWINLEDGER_DEVICES_TABLE",
        partition_key=("machine_id", "S"),
        indexes=(
            ("by_lessor", ("lessor", "S"), ("machine_id", "S")),
            ("by_lessee", ("lessee", "S"), ("machine_id", "S")),
        ),
    ),
    # One item per (thing, seq): the dedup key and the data it guards, written in one conditional put.
    TableSpec(
        key="history",
        env="TWINLEDGER_HISTORY_TABLE",
        partition_key=("machine_id", "S"),
        sort_key=("seq", "N"),
        indexes=(("by_time", ("machine_id", "S"), ("start", "N")),),
    ),
    # Rejected records with their reason; raw payloads go to the archive bucket.
    TableSpec(
        key="quarantine",
        env="TWINLEDGER_QUARANTINE_TABLE",
        partition_key=("day", "S"),
        sort_key=("record_id", "S"),
    ),
    # Ingest catch-up: envelopes in history whose shadow or metering step failed, raw, until caught up.
    TableSpec(
        key="backlog",
        env="TWINLEDGER_BACKLOG_TABLE",
        partition_key=("machine_id", "S"),
        sort_key=("seq", "N"),
    ),
    # OEE: per-machine totals of completed periods (pk M#<machine>, sk P#<start µs>) and site calendars (pk S#<site>).
    TableSpec(key="oee", env="TWINLEDGER_OEE_TABLE", partition_key=("pk", "S"), sort_key=("sk", "S")),
    # Critical-alert cooldown per fault (``<machine>#<action>``): one page per fault per cooldown (health).
    TableSpec(
        key="alert_cooldown",
        env="TWINLEDGER_ALERT_COOLDOWN_TABLE",
        partition_key=("alert_key", "S"),
        ttl_attribute="expires_at",
    ),
    # Anchoring: queued record hashes, batches in flight and the drain lock (``pk`` = ``record#<id>``,
    # ``batch#<id>``, ``lock#drain``); the sparse ``by_queue`` index lists pending records and open batches.
    TableSpec(
        key="anchors",
        env="TWINLEDGER_ANCHORS_TABLE",
        partition_key=("pk", "S"),
        indexes=(("by_queue", ("queue", "S"), ("queued_key", "S")),),
    ),
    # Billing: leases (the lease document, billing and anchoring cursors), by party.
    TableSpec(
        key="leases",
        env="TWINLEDGER_LEASES_TABLE",
        partition_key=("lease_id", "S"),
        indexes=(
            ("by_lessor", ("lessor", "S"), ("lease_id", "S")),
            ("by_lessee", ("lessee", "S"), ("lease_id", "S")),
        ),
    ),
    # Billing: usage events, one item per (machine, event id) written once; by usage time and by arrival.
    TableSpec(
        key="usage",
        env="TWINLEDGER_USAGE_TABLE",
        partition_key=("machine_id", "S"),
        sort_key=("event_id", "S"),
        indexes=(
            ("by_ts", ("machine_id", "S"), ("ts_key", "S")),
            ("by_received", ("machine_id", "S"), ("received_key", "S")),
        ),
    ),
    # Maintenance: per machine (pk M#<machine>) its log entries (sk E#<seq>, written once), tickets (T#<id>),
    # anchored heads (H#<seq>) and health history (O#<bucket>, expiring); the heads to anchor (pk PENDING) and
    # the lessors' plans per machine type (pk PLAN#<lessor>#<type>).
    TableSpec(
        key="maintenance",
        env="TWINLEDGER_MAINTENANCE_TABLE",
        partition_key=("pk", "S"),
        sort_key=("sk", "S"),
        ttl_attribute="expires_at",
    ),
    # Billing: one invoice per lease and period (``<lease>@<period>``), written once; by lease.
    TableSpec(
        key="invoices",
        env="TWINLEDGER_INVOICES_TABLE",
        partition_key=("invoice_id", "S"),
        indexes=(("by_lease", ("lease_id", "S"), ("period_start", "S")),),
    ),
    # Parts: envelope pieces, part records (written once) and their listing by machine and time, inspections,
    # id schemes (``pk`` = ``P#<machine>``, ``R#<part>``, ``M#<machine>``, ``S#<machine>``).
    TableSpec(key="parts", env="TWINLEDGER_PARTS_TABLE", partition_key=("pk", "S"), sort_key=("sk", "S")),
]

TABLE_SPECS: dict[str, TableSpec] = {spec.key: spec for spec in _TABLES}

BUCKET_SPECS: dict[str, BucketSpec] = {
    "archive": BucketSpec(key="archive", env="TWINLEDGER_ARCHIVE_BUCKET"),
    "invoices": BucketSpec(key="invoices", env="TWINLEDGER_INVOICES_BUCKET"),
}


def table_name(key: str) -> str:
    """The physical name of table ``key``."""
    spec = TABLE_SPECS[key]
    return get_settings().table_names.get(spec.key) or spec.default_name


def bucket_name(key: str) -> str:
    """The physical name of bucket ``key``."""
    spec = BUCKET_SPECS[key]
    return get_settings().bucket_names.get(spec.key) or f"twinledger-{spec.key}"


def create_resources(dynamodb: Any, s3: Any) -> None:
    """Create every table and bucket that does not exist yet (local stack and tests)."""
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for spec in TABLE_SPECS.values():
        name = table_name(spec.key)
        if name not in existing:
            dynamodb.create_table(**spec.create_request(name))
            if spec.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
                )
    region = get_settings().region
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for key in BUCKET_SPECS:
        name = bucket_name(key)
        if name in buckets:
            continue
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
