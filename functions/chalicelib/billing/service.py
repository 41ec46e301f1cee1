"""The billing use cases: record usage, close due periods into invoices, anchor them, and answer both parties.

Closing a period (the scheduled run, every hour):

1. for each lease, the periods after its ``billed_through`` cursor whose grace time (plus a settle
   margin for writes in flight) has passed, oldest first;
2. the period's invoice is computed from the stored usage (the period's own events, the events that
   arrived since the previous close, and the older periods those late events belong to) and put
   **once** (conditional write); if it exists, the stored one is used and never recomputed;
3. the document goes to the invoices bucket, the machines' ``usage`` shadow gets the invoice summary;
4. the cursor moves forward (conditional on where it was read); then invoices after the
   ``anchored_through`` cursor are posted to the lease contract in order, each under a claim.

Each step can be repeated, so a second run, a concurrent run or a run after a crash half-way ends
with the same single invoice per lease and period and one posting on chain. After a lease has ended,
each later period is still looked at once: usage of the lease term that arrives then is billed on an
adjustment-only invoice, never dropped.

Example:
    >>> from datetime import timedelta
    >>> BillingService.SETTLE
    datetime.timedelta(seconds=600)
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from chalicelib.errors import BadInputError, ConflictingStateError, NotAllowedError, NotVisibleError, validation_error
from chalicelib.ports.billing import InvoiceArchive, InvoiceRecord, Invoices, LeaseRecord, Leases, PutReport, Usage
from chalicelib.ports.chain import LeaseContracts
from chalicelib.ports.twins import Devices, Shadows
from twin_models.billing import (
    BillingError,
    Lease,
    Period,
    UsageEvent,
    compute_invoice,
    dedupe,
    invoice_id,
    load_lease,
    merkle_proof,
    merkle_root,
    select_usage,
    split_invoice_id,
)
from twin_models.tenancy import Principal, party_to

__all__ = ["BillingService", "LeaseOutcome", "RunReport"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_USAGE_RANGE = timedelta(days=93)
#: The years a lease may run in (its periods are computed in the plant's zone; no calendar edge is reached).
LEASE_YEARS = (1970, 9000)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class LeaseOutcome:
    """What one run did for one lease."""

    lease_id: str
    issued: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    anchored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """What one scheduled run did."""

    leases: int = 0
    issued: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    anchored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deferred: int = 0

    def add(self, outcome: LeaseOutcome) -> None:
        self.leases += 1
        self.issued += outcome.issued
        self.existing += outcome.existing
        self.anchored += outcome.anchored
        self.errors += outcome.errors

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "leases": self.leases,
            "issued": self.issued,
            "existing": self.existing,
            "anchored": self.anchored,
            "errors": self.errors,
            "deferred": self.deferred,
        }


def _summary(record: InvoiceRecord) -> dict[str, Any]:
    inv = record.invoice
    return {
        "invoice_id": inv.invoice_id,
        "period": inv.period,
        "period_start": inv.period_start.isoformat(),
        "period_end": inv.period_end.isoformat(),
        "currency": inv.currency,
        "total": format(inv.total, "f"),
        "hash": inv.hash,
        "status": record.status,
        "anchor_status": record.anchor_status,
    }


class BillingService:
    """Billing over its ports (built by :mod:`chalicelib.wiring`); ``contracts`` posts invoices on chain."""

    SETTLE = timedelta(minutes=10)

    def __init__(
        self,
        *,
        leases: Leases,
        usage: Usage,
        invoices: Invoices,
        archive: InvoiceArchive,
        shadows: Shadows,
        devices: Devices,
        contracts: Callable[[], LeaseContracts | None] | None = None,
        clock: Clock = _utcnow,
        settle: timedelta = SETTLE,
        anchor_claim_s: int = 300,
    ) -> None:
        self.leases = leases
        self.usage = usage
        self.invoices = invoices
        self.archive = archive
        self.shadows = shadows
        self.devices = devices
        self._contracts = contracts
        self._contracts_built = False
        self._contracts_value: LeaseContracts | None = None
        self.clock = clock
        self.settle = settle
        self.anchor_claim_s = anchor_claim_s

    # -- usage in -------------------------------------------------------------------------------------

    def record_usage(
        self, events: Iterable[UsageEvent], received_at: datetime | None = None, *, keep_stamps: bool = False
    ) -> PutReport:
        """Store usage events, stamped with their arrival time (now unless given).

        ``keep_stamps`` keeps an event's own ``received_at`` (loading an exported usage file);
        the ingest path never sets it, so arrival is what the platform observed.
        """
        stamp = received_at or self.clock()
        if not keep_stamps:
            return self.usage.put(events, stamp)
        report = PutReport()
        for ev in events:
            one = self.usage.put([ev], ev.received_at or stamp)
            report.stored += one.stored
            report.duplicates += one.duplicates
            report.conflicts += one.conflicts
        return report

    def _usage_for(self, lease: Lease, period: Period) -> list[UsageEvent]:
        """What :func:`compute_invoice` needs for ``period``: its events, late arrivals and their periods."""
        close, previous_close = lease.close_at(period), lease.close_at(period.previous())
        events: list[UsageEvent] = []
        owners: set[Period] = set()
        for machine in lease.machine_ids:
            events += self.usage.between(machine, period.start, period.end)
            late = self.usage.received_between(machine, previous_close, close)
            events += late
            owners |= {lease.period_of(e.ts) for e in late if e.ts < period.start}
        for owner in sorted(owners):  # re-rating a period needs all of its machines' usage
            for machine in lease.machine_ids:
                events += self.usage.between(machine, owner.start, owner.end)
        return events

    # -- the scheduled run ----------------------------------------------------------------------------

    def _anchor_port(self) -> LeaseContracts | None:
        """The lease contracts, built on first use; None when posting is off or the chain is unreachable."""
        if self._contracts_built:
            return self._contracts_value
        if self._contracts is None:
            return None
        try:
            self._contracts_value = self._contracts()
        except Exception as exc:
            logger.warning("anchoring unavailable this run: %s", exc)
            return None
        self._contracts_built = True
        return self._contracts_value

    def run(self, now: datetime | None = None, time_budget_s: float | None = None) -> RunReport:
        """Close every due period of every lease (the scheduled Lambda).

        With ``time_budget_s`` no new lease is started once the budget is spent; the leases left
        are counted in ``deferred`` and the next run carries on from their cursors.
        """
        now = now or self.clock()
        stop_at = None if time_budget_s is None else time.monotonic() + time_budget_s
        report = RunReport()
        for record in self.leases.all():
            if stop_at is not None and time.monotonic() >= stop_at:
                report.deferred += 1
                continue
            try:
                report.add(self.close_lease(record, now))
            except Exception as exc:
                logger.exception("billing lease %s failed", record.lease.lease_id)
                report.add(LeaseOutcome(record.lease.lease_id, errors=[f"{record.lease.lease_id}: {exc}"]))
        return report

    def _due(self, lease: Lease, period: Period, now: datetime) -> bool:
        return lease.close_at(period) + self.settle <= now

    def close_lease(self, record: LeaseRecord, now: datetime) -> LeaseOutcome:
        """Issue the due invoices of one lease, then post them on chain."""
        lease = record.lease
        outcome = LeaseOutcome(lease.lease_id)
        cursor = record.billed_through
        period = lease.period(cursor).next() if cursor else lease.period_of(lease.start)
        while self._due(lease, period, now):
            try:
                self._close_period(lease, period, now, outcome)
            except BillingError as exc:
                outcome.errors.append(f"{invoice_id(lease.lease_id, period.key)}: {exc}")
                break
            if not self.leases.advance(lease.lease_id, "billed_through", cursor, period.key):
                break  # another run is closing this lease; it will carry on
            cursor, period = period.key, period.next()
        fresh = self.leases.get(lease.lease_id) or record
        self._anchor_issued(fresh, now, outcome)
        return outcome

    def _close_period(self, lease: Lease, period: Period, now: datetime, outcome: LeaseOutcome) -> None:
        ident = invoice_id(lease.lease_id, period.key)
        record = self.invoices.get(ident)
        if record is None:
            invoice = compute_invoice(lease, period, self._usage_for(lease, period))
            if lease.covered_seconds(period) == 0 and invoice.usage.events == 0:
                return  # after the lease's end and nothing arrived late: no invoice
            if self.invoices.put_new(invoice, now):
                outcome.issued.append(ident)
            else:
                outcome.existing.append(ident)
            record = self.invoices.get(ident)
            if record is None:  # pragma: no cover - the put above or another run wrote it
                raise BillingError(f"{ident} vanished after it was written")
        else:
            outcome.existing.append(ident)
        self._publish(lease, record)

    def _publish(self, lease: Lease, record: InvoiceRecord) -> None:
        inv = record.invoice
        if not record.archived:
            self.archive.put(inv)
            self.invoices.mark_archived(inv.invoice_id)
        summary = {
            "lease_id": lease.lease_id,
            "last_invoice": inv.invoice_id,
            "period": inv.period,
            "total": format(inv.total, "f"),
            "currency": inv.currency,
            "hash": inv.hash,
            "usage_root": inv.usage.root,
        }
        payload = json.dumps({"state": {"reported": {"billing": summary}}}).encode()
        for machine in lease.machine_ids:  # the twin shows the lease's last invoice; advisory, never fatal
            try:
                self.shadows.update(machine, "usage", payload)
            except Exception as exc:
                logger.warning("usage shadow of %s not updated: %s", machine, exc)

    def _anchor_issued(self, record: LeaseRecord, now: datetime, outcome: LeaseOutcome) -> None:
        lease = record.lease
        if not record.contract_address or not record.billed_through:
            return
        anchor = self._anchor_port()
        if anchor is None:
            return
        last = lease.period(record.billed_through)
        cursor = record.anchored_through
        period = lease.period(cursor).next() if cursor else lease.period_of(lease.start)
        while period.first_day <= last.first_day:
            ident = invoice_id(lease.lease_id, period.key)
            inv = self.invoices.get(ident)
            if inv is not None and inv.anchor_status != "posted":
                token = uuid.uuid4().hex
                if not self.invoices.claim_anchor(ident, token, now, self.anchor_claim_s):
                    return  # another run is posting it
                try:
                    result = anchor.post(record.contract_address, lease, inv.invoice)
                except Exception as exc:
                    self.invoices.release_anchor(ident, token, str(exc))
                    outcome.errors.append(f"{ident}: not anchored: {exc}")
                    return
                self.invoices.finish_anchor(ident, token, result.index, result.tx_hash, result.contract)
                outcome.anchored.append(ident)
            if not self.leases.advance(lease.lease_id, "anchored_through", cursor, period.key):
                return
            cursor, period = period.key, period.next()

    # -- queries and answers (HTTP API) ---------------------------------------------------------------

    def _visible(self, principal: Principal, lease_id: str) -> LeaseRecord:
        """The lease under its qualified id, if the caller is party to it; otherwise the same 404 as for none."""
        record = self.leases.get(lease_id)
        if record is None or not party_to(principal, (record.lease.lessor, record.lease.lessee)):
            raise NotVisibleError(f"no lease {lease_id!r}")
        return record

    def create_lease(self, principal: Principal, body: Any) -> dict[str, Any]:
        """The lessor registers a lease (``contract_address`` optional, the rest is the lease file).

        The lease is stored under its lessor-qualified id (:func:`~twin_models.billing.qualified_lease_id`,
        applied by ``load_lease``): ``lease-0042`` from ``toolmaker`` becomes ``toolmaker:lease-0042``, so
        another tenant's reference neither collides with nor reveals this one. The answer carries the id.
        """
        if not isinstance(body, dict):
            raise BadInputError("send the lease document as a JSON object", field="body")
        doc = dict(body)
        contract = doc.pop("contract_address", None)
        if contract is not None and not (isinstance(contract, str) and _ADDRESS.fullmatch(contract)):
            raise BadInputError(
                "contract_address: an Ethereum address, 0x and 40 hex digits", field="body.contract_address"
            )
        try:
            lease = load_lease(doc)
        except (BillingError, ValueError, OverflowError) as exc:
            if isinstance(exc.__cause__, ValidationError):  # every field at fault, not only the first
                raise validation_error(exc.__cause__, "body") from exc
            raise BadInputError(str(exc)[:500], field="body") from exc
        low, high = LEASE_YEARS
        if not (low <= lease.start.year and (lease.end is None or lease.end.year < high)):
            raise BadInputError(f"start, end: a lease runs between the years {low} and {high}", field="body.start")
        if principal.role != "lessor" or principal.tenant != lease.lessor:
            raise NotAllowedError("only the lessor named in the lease can register it")
        for machine in lease.machine_ids:  # a lease must not open another owner's machine data
            device = self.devices.get(machine, max_age_s=0)
            if device is None or device.lessor != lease.lessor:
                raise NotAllowedError(f"machine {machine!r} is not registered to {lease.lessor!r}")
        if not self.leases.create(lease, contract):
            stored = self.leases.get(lease.lease_id)
            if stored is None or stored.lease != lease:
                raise ConflictingStateError(f"lease {lease.lease_id!r} exists with other terms")
        return self.lease(principal, lease.lease_id)

    def leases_for(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's leases, as lessor or lessee."""
        return [self._lease_doc(r) for r in self.leases.for_tenant(principal.tenant)]

    @staticmethod
    def _lease_doc(record: LeaseRecord) -> dict[str, Any]:
        return {
            "lease_id": record.lease.lease_id,
            "lease": record.lease.model_dump(mode="json"),
            "contract_address": record.contract_address,
            "billed_through": record.billed_through,
            "anchored_through": record.anchored_through,
        }

    def lease(self, principal: Principal, lease_id: str) -> dict[str, Any]:
        """One lease the caller is party to."""
        return self._lease_doc(self._visible(principal, lease_id))

    def lease_usage(
        self, principal: Principal, lease_id: str, start: datetime, end: datetime, machine_id: str | None = None
    ) -> dict[str, Any]:
        """The lease's usage events with ``start <= ts < end`` (within its term) and totals per meter; with
        ``machine_id``, that machine's only (a machine the lease does not cover has none)."""
        lease = self._visible(principal, lease_id).lease
        if end <= start or end - start > MAX_USAGE_RANGE:
            raise BadInputError(f"from must be before to, at most {MAX_USAGE_RANGE.days} days apart", field="query.to")
        lo = max(start, lease.start)
        hi = end if lease.end is None else min(end, lease.end)
        events: list[UsageEvent] = []
        for machine in lease.machine_ids:
            if lo < hi and machine_id in (None, machine):
                events += self.usage.between(machine, lo, hi)
        unique = dedupe(e for e in events if e.lease_id is None or lease.is_named(e.lease_id))
        totals: dict[str, Decimal] = {}
        for e in unique:
            totals[e.meter] = totals.get(e.meter, Decimal(0)) + e.quantity
        return {
            "lease_id": lease.lease_id,
            "from": start.isoformat(),
            "to": end.isoformat(),
            **({"machine_id": machine_id} if machine_id is not None else {}),
            "totals": {k: format(v, "f") for k, v in sorted(totals.items())},
            "events": [{**e.to_json(), "hash": e.hash} for e in unique],
        }

    def lease_invoices(self, principal: Principal, lease_id: str) -> list[dict[str, Any]]:
        """The lease's invoices, oldest first."""
        self._visible(principal, lease_id)
        return [_summary(r) for r in self.invoices.for_lease(lease_id)]

    def _visible_invoice(self, principal: Principal, ident: str) -> tuple[LeaseRecord, InvoiceRecord]:
        try:
            lease_id, _ = split_invoice_id(ident)
        except BillingError as exc:
            raise NotVisibleError(f"no invoice {ident!r}") from exc
        lease = self._visible(principal, lease_id)
        record = self.invoices.get(ident)
        if record is None:
            raise NotVisibleError(f"no invoice {ident!r}")
        return lease, record

    def invoice(self, principal: Principal, ident: str, event_id: str | None = None) -> dict[str, Any]:
        """The invoice with its evidence: the billed usage events, their root, and a proof on request."""
        lease_record, record = self._visible_invoice(principal, ident)
        lease, inv = lease_record.lease, record.invoice
        period = lease.period(inv.period)
        billed = select_usage(lease, period, self._usage_for(lease, period)).billed
        hashes = [e.hash for e in billed]
        evidence: dict[str, Any] = {
            "usage_root": inv.usage.root,
            "recomputed_root": merkle_root(hashes),
            "invoice_hash_valid": inv.verify(),
            "events": [{**e.to_json(), "hash": e.hash} for e in billed],
            "contract_address": lease_record.contract_address,
        }
        evidence["root_matches"] = evidence["recomputed_root"] == inv.usage.root
        if event_id is not None:
            found = next((e for e in billed if e.id == event_id), None)
            if found is None:
                raise NotVisibleError(f"event {event_id!r} is not billed on {ident}")
            evidence["proof"] = {"event_id": event_id, "hash": found.hash, "proof": merkle_proof(hashes, found.hash)}
        return {**record.as_dict(), "evidence": evidence}

    def answer(self, principal: Principal, ident: str, status: str, reason: str | None = None) -> dict[str, Any]:
        """The lessee acknowledges or disputes an issued invoice (repeating the same answer is harmless)."""
        lease_record, _ = self._visible_invoice(principal, ident)
        if principal.role != "lessee" or principal.tenant != lease_record.lease.lessee:
            raise NotAllowedError("only the lessee of the lease answers its invoices")
        if status == "disputed" and not (reason and reason.strip()):
            raise BadInputError("a dispute needs a reason", field="body.reason")
        if not self.invoices.answer(ident, status, principal.subject or principal.tenant, self.clock(), reason):
            current = self.invoices.get(ident)
            if current is None or current.status != status:
                raise ConflictingStateError(
                    f"{ident} is {current.status if current else 'gone'}; it cannot become {status}"
                )
        answered = self.invoices.get(ident)
        assert answered is not None
        return answered.as_dict()
