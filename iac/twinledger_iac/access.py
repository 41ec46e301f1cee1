"""What each Chalice function may touch: one profile per function, by its logical id.

A function the table does not list (one added to ``functions/`` later) gets :data:`DEFAULT_ACCESS`,
the API handler's profile, so it works at once; give it its own entry to narrow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from twinledger_iac import logical_ids as ids

__all__ = ["ACCESS", "DEFAULT_ACCESS", "FunctionAccess", "access_of"]


@dataclass(frozen=True)
class FunctionAccess:
    """Tables and buckets by spec key, and the other resources a function uses."""

    read_tables: tuple[str, ...] = ()
    write_tables: tuple[str, ...] = ()
    read_buckets: tuple[str, ...] = ()
    write_buckets: tuple[str, ...] = ()
    shadows: bool = False
    chain_signer: bool = False
    anomaly_endpoint: bool = False
    alerts: bool = False
    telemetry_queue: bool = False

    def tables(self) -> set[str]:
        """Every table key named in the profile."""
        return {*self.read_tables, *self.write_tables}

    def buckets(self) -> set[str]:
        """Every bucket key named in the profile."""
        return {*self.read_buckets, *self.write_buckets}


#: The HTTP API serves every area: twins, OEE, proofs, leases, usage, invoices, parts and maintenance (entries
#: with their attachments in the archive bucket, tickets that page, plans; the log reads usage and history).
API_ACCESS = FunctionAccess(
    write_tables=(
        "devices",
        "history",
        "quarantine",
        "oee",
        "anchors",
        "leases",
        "usage",
        "invoices",
        "parts",
        "maintenance",
        "alert_cooldown",
    ),
    read_buckets=("archive",),
    write_buckets=("invoices", "archive"),
    shadows=True,
    chain_signer=True,
    alerts=True,
)

ACCESS: dict[str, FunctionAccess] = {
    ids.API_HANDLER_FUNCTION: API_ACCESS,
    # Telemetry batches: verify against registered devices, append history, quarantine with the raw
    # payload archived, coalesced shadow updates, anomaly scoring, alarms into the maintenance log (its
    # tickets page critical faults). A site's own state codes are read from the oee table.
    ids.INGEST_FUNCTION: FunctionAccess(
        read_tables=("devices", "oee"),
        write_tables=(
            "history",
            "backlog",
            "quarantine",
            "usage",
            "anchors",
            "alert_cooldown",
            "parts",
            "maintenance",
        ),
        write_buckets=("archive",),
        shadows=True,
        anomaly_endpoint=True,
        alerts=True,
        telemetry_queue=True,
    ),
    # Anchoring schedule: drain queued record hashes into a Merkle batch and anchor its root.
    "Anchor": FunctionAccess(write_tables=("anchors",), chain_signer=True),
    # Maintenance heads schedule: every machine's new log head into the anchoring queue.
    "MaintenanceHeads": FunctionAccess(read_tables=("devices",), write_tables=("maintenance", "anchors")),
    # OEE schedule: per-shift results from devices and history; the oee shadow; closed shifts queued for anchoring.
    "OeeShifts": FunctionAccess(read_tables=("devices", "history"), write_tables=("oee", "anchors"), shadows=True),
    # Ingest catch-up: shadow, metering and part records for envelopes in the backlog (already in history).
    "IngestCatchUp": FunctionAccess(
        read_tables=("devices", "history", "oee"), write_tables=("backlog", "usage", "parts", "anchors"), shadows=True
    ),
    # Billing schedule: close lease periods into invoices, anchor them, update the usage shadow.
    "BillingClosePeriods": FunctionAccess(
        write_tables=("leases", "usage", "invoices", "anchors"),
        write_buckets=("invoices",),
        shadows=True,
        chain_signer=True,
    ),
}

DEFAULT_ACCESS = API_ACCESS


def access_of(function: str) -> FunctionAccess:
    """The profile of the function with logical id ``function``."""
    return ACCESS.get(function, DEFAULT_ACCESS)
