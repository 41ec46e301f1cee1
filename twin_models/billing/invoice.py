"""Invoices: one per lease and period, computed only from the usage known when the period closed.

The invoice for period *P* bills

* the usage with ``ts`` in *P* that had arrived by *P*'s close (end + grace period), and
* **adjustments** for older periods *Q*: usage with ``ts`` in *Q* that arrived after the
  previous period closed and by *P*'s close. *Q* is re-rated with everything known at *P*'s
  close and with everything known at the previous close; the adjustment lines are the
  difference, per component, so tiers, minimums and caps stay right and late usage is never
  lost nor billed twice. Over all invoices the adjustments add up to rating *Q* with all of
  its usage.

Because the invoice depends only on events received by its close, computing it again later
(with more late events stored) gives the same invoice, byte for byte, with the same hash.

A lease that rounds ``half_up`` gets ``"rounding": "half_up"`` in its invoices (and so in their
hash: a verifier recomputing the tax from the lines needs the mode). The default ``half_even``
is not written, so invoices of leases without the setting keep their bytes and hashes.

Example:
    >>> from twin_models.billing.lease import Lease
    >>> from twin_models.billing.usage import read_usage_lines
    >>> lease = Lease.model_validate({
    ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
    ...     "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
    ...     "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
    ...     "tariff": {"components": [{"id": "parts", "meter": "parts", "unit_price": "0.15"}]}})
    >>> usage = read_usage_lines(['{"id": "e1", "machine_id": "cnc-01", "meter": "parts", '
    ...                           '"ts": "2026-10-05T08:00:00Z", "quantity": 1000}'])
    >>> inv = compute_invoice(lease, lease.period("2026-10"), usage)
    >>> str(inv.subtotal), str(inv.tax), str(inv.total)
    ('150.00', '28.50', '178.50')
    >>> "rounding" in inv.to_json()
    False
    >>> up = compute_invoice(Lease.model_validate({**lease.model_dump(), "rounding": "half_up"}),
    ...                      lease.period("2026-10"), usage)
    >>> up.to_json()["rounding"], up.hash != inv.hash, up.total == inv.total
    ('half_up', True, True)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from twin_models.billing.canonical import canonical_json, merkle_root, sha256_hex
from twin_models.billing.errors import PeriodError
from twin_models.billing.lease import Lease
from twin_models.billing.money import Rounding, mul, round_money
from twin_models.billing.periods import Period
from twin_models.billing.rating import TARIFF_COMPONENT, Dec, InvoiceLine, rate_period
from twin_models.billing.usage import UsageEvent, aggregate, dedupe
from twin_models.telemetry import UtcDatetime

__all__ = [
    "INVOICE_SCHEMA",
    "Invoice",
    "UsageSelection",
    "UsageSummary",
    "assemble_invoice",
    "compute_invoice",
    "invoice_id",
    "is_due",
    "period_quantities",
    "select_usage",
    "split_invoice_id",
]

INVOICE_SCHEMA: Final = "twinledger.invoice/1"


def split_invoice_id(value: str) -> tuple[str, str]:
    """``(lease_id, period_key)`` of an invoice id; :class:`PeriodError` when it is not one."""
    lease_id, sep, period_key = value.rpartition("@")
    if not sep or not lease_id or not period_key:
        raise PeriodError(f"{value!r} is not an invoice id (<lease_id>@<period>)")
    return lease_id, period_key


def invoice_id(lease_id: str, period_key: str) -> str:
    """The deterministic id of the invoice of one lease and period: ``<lease_id>@<period>``.

    Example:
        >>> invoice_id("toolmaker:lease-1", "2026-10")
        'toolmaker:lease-1@2026-10'
    """
    return f"{lease_id}@{period_key}"


class UsageSummary(BaseModel):
    """The evidence: which usage events this invoice billed, as a Merkle root over their hashes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: int
    root: str
    late_events: int
    adjusted_periods: tuple[str, ...]
    excluded_events: int


class Invoice(BaseModel):
    """An invoice; ``hash`` is sha256 over the canonical JSON of every other field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["twinledger.invoice/1"] = INVOICE_SCHEMA
    invoice_id: str
    lease_id: str
    lessor: str
    lessee: str
    period: str
    billing_interval: str
    timezone: str
    period_start: UtcDatetime
    period_end: UtcDatetime
    closes_at: UtcDatetime
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Dec
    tax_rate: Dec
    #: The lease's rounding mode when it is not the default ``half_even`` (``None``: not written).
    rounding: Rounding | None = None
    tax: Dec
    total: Dec
    usage: UsageSummary
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The JSON document the hash covers (everything but ``hash``; ``rounding`` only when set)."""
        doc = self.model_dump(mode="json", exclude={"hash", "rounding"} if self.rounding is None else {"hash"})
        doc["schema"] = doc.pop("schema_")
        return doc

    def to_json(self) -> dict[str, Any]:
        """The full JSON document, hash included."""
        return {**self.body(), "hash": self.hash}

    def compute_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`body`."""
        return sha256_hex(canonical_json(self.body()))

    def verify(self) -> bool:
        """True when ``hash`` matches the content."""
        return self.hash == self.compute_hash()

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Invoice:
        """Parse a document written by :meth:`to_json`."""
        doc = dict(document)
        doc["schema_"] = doc.pop("schema", INVOICE_SCHEMA)
        return cls.model_validate(doc)


def period_quantities(lease: Lease, events: Sequence[UsageEvent]) -> dict[str, Decimal]:
    """Aggregated quantity per metered component from one period's (deduplicated) events."""
    by_meter: dict[str, list[UsageEvent]] = defaultdict(list)
    for ev in events:
        by_meter[ev.meter].append(ev)
    return {
        c.id: aggregate(by_meter.get(c.meter or "", []), c.aggregation)
        for c in lease.tariff.components
        if c.kind == "metered"
    }


def assemble_invoice(
    lease: Lease,
    period: Period,
    lines: Iterable[InvoiceLine],
    usage: UsageSummary,
) -> Invoice:
    """Totals, tax and hash around a list of lines (rounding rule in :mod:`~twin_models.billing.money`)."""
    lines = tuple(lines)
    subtotal = sum((ln.amount for ln in lines), Decimal(0))
    subtotal = round_money(subtotal, lease.currency, lease.rounding)
    tax = round_money(mul(subtotal, lease.tax_rate), lease.currency, lease.rounding)
    invoice = Invoice(
        invoice_id=invoice_id(lease.lease_id, period.key),
        lease_id=lease.lease_id,
        lessor=lease.lessor,
        lessee=lease.lessee,
        period=period.key,
        billing_interval=lease.billing_interval.value,
        timezone=lease.timezone,
        period_start=period.start,
        period_end=period.end,
        closes_at=lease.close_at(period),
        currency=lease.currency,
        lines=lines,
        subtotal=subtotal,
        tax_rate=lease.tax_rate,
        rounding=None if lease.rounding == Rounding.HALF_EVEN else lease.rounding,
        tax=tax,
        total=subtotal + tax,
        usage=usage,
    )
    return invoice.model_copy(update={"hash": invoice.compute_hash()})


def _belongs(lease: Lease, ev: UsageEvent, machines: frozenset[str]) -> bool:
    if ev.machine_id not in machines or (ev.lease_id is not None and not lease.is_named(ev.lease_id)):
        return False
    return ev.ts >= lease.start and (lease.end is None or ev.ts < lease.end)


def _adjustment_lines(
    lease: Lease, period: Period, old: list[InvoiceLine], new: list[InvoiceLine]
) -> list[InvoiceLine]:
    """The per-component difference between two ratings of the same older period."""
    meters = {c.id: c.meter for c in lease.tariff.components}
    units = {c.id: c.display_unit for c in lease.tariff.components}
    delta_amount: dict[str, Decimal] = defaultdict(Decimal)
    delta_qty: dict[str, Decimal] = defaultdict(Decimal)
    order: list[str] = []
    for sign, lines in ((-1, old), (1, new)):
        for ln in lines:
            if ln.component not in order:
                order.append(ln.component)
            delta_amount[ln.component] += sign * ln.amount
            if ln.kind == "usage":
                delta_qty[ln.component] += sign * ln.quantity
    out: list[InvoiceLine] = []
    for comp in order:
        if delta_amount[comp] == 0 and delta_qty[comp] == 0:
            continue
        is_tariff = comp == TARIFF_COMPONENT
        out.append(
            InvoiceLine(
                component=comp,
                kind="adjustment",
                meter=None if is_tariff else meters.get(comp),
                description=f"late usage for {period.key}: {'tariff limits' if is_tariff else comp}",
                period=period.key,
                quantity=delta_qty[comp],
                unit="period" if is_tariff else units.get(comp, "unit"),
                unit_price=None,
                amount=delta_amount[comp],
            )
        )
    return out


@dataclass(frozen=True)
class UsageSelection:
    """How one invoice sees the usage: what it bills now and what it re-rates."""

    current: list[UsageEvent]
    older: dict[Period, list[UsageEvent]]
    late_periods: list[Period]
    billed: list[UsageEvent]
    late: int
    excluded: int


def select_usage(lease: Lease, period: Period, events: Iterable[UsageEvent]) -> UsageSelection:
    """Split the known usage for the invoice of ``period`` (see the module docstring).

    ``billed`` are the events this invoice is evidence for: the period's own usage known at its
    close and the older usage that arrived since the previous close. Across a lease's invoices
    every event is billed exactly once.
    """
    close = lease.close_at(period)
    previous_close = lease.close_at(period.previous())
    machines = frozenset(lease.machine_ids)
    current: list[UsageEvent] = []
    older: dict[Period, list[UsageEvent]] = defaultdict(list)
    late_keys: set[Period] = set()
    billed: list[UsageEvent] = []
    excluded = late = 0
    for ev in dedupe(events):
        if not ev.received_by(close) or ev.ts >= period.end:
            continue  # not known at this close, or a later period's usage
        is_late = ev.ts < period.start and not ev.received_by(previous_close)
        if not _belongs(lease, ev, machines):
            if ev.ts >= period.start or is_late:
                excluded += 1
            continue
        if ev.ts >= period.start:
            current.append(ev)
            billed.append(ev)
            continue
        owner = lease.period_of(ev.ts)
        older[owner].append(ev)
        if is_late:
            late_keys.add(owner)
            billed.append(ev)
            late += 1
    return UsageSelection(current, dict(older), sorted(late_keys), billed, late, excluded)


def compute_invoice(lease: Lease, period: Period, events: Iterable[UsageEvent]) -> Invoice:
    """The invoice of ``lease`` for ``period`` from every usage event known (any order, duplicates allowed).

    Events of other machines or leases, and events outside the lease term, are left out and
    counted in ``usage.excluded_events``; events that arrived after the period closed are left
    for the next invoice's adjustments.
    """
    sel = select_usage(lease, period, events)
    previous_close = lease.close_at(period.previous())
    lines = rate_period(lease, period, period_quantities(lease, sel.current))
    for owner in sel.late_periods:
        known_new = sel.older[owner]
        known_old = [e for e in known_new if e.received_by(previous_close)]
        lines.extend(
            _adjustment_lines(
                lease,
                owner,
                rate_period(lease, owner, period_quantities(lease, known_old)),
                rate_period(lease, owner, period_quantities(lease, known_new)),
            )
        )
    summary = UsageSummary(
        events=len(sel.billed),
        root=merkle_root([e.hash for e in sel.billed]),
        late_events=sel.late,
        adjusted_periods=tuple(p.key for p in sel.late_periods),
        excluded_events=sel.excluded,
    )
    return assemble_invoice(lease, period, lines, summary)


def is_due(lease: Lease, period: Period, now: datetime) -> bool:
    """True once the period's grace time has passed."""
    return lease.close_at(period) <= now
