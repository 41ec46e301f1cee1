"""Pay-per-use leasing: leases, tariffs, meters, usage events and exact, reproducible invoices.

Everything here is pure (no I/O): the command line (``twinledger bill``) and the scheduled
billing Lambda feed it leases and usage events and store what it returns.

Example:
    >>> from twin_models.billing import Lease, compute_invoice, read_usage_lines
    >>> lease = Lease.model_validate({
    ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
    ...     "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
    ...     "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
    ...     "tariff": {"components": [{"id": "base", "kind": "base_fee", "amount": "400.00"},
    ...                               {"id": "spindle", "meter": "spindle_hours", "unit_price": "12.50"}]}})
    >>> usage = read_usage_lines(['{"id": "u1", "machine_id": "cnc-01", "meter": "spindle_hours", '
    ...                           '"ts": "2026-10-07T09:00:00Z", "quantity": "10.5"}'])
    >>> inv = compute_invoice(lease, lease.period("2026-10"), usage)
    >>> [(ln.component, str(ln.amount)) for ln in inv.lines], str(inv.total)
    ([('base', '400.00'), ('spindle', '131.25')], '632.19')
"""

from __future__ import annotations

from twin_models.billing.canonical import (
    EMPTY_ROOT,
    canonical_json,
    merkle_proof,
    merkle_root,
    sha256_hex,
    verify_proof,
)
from twin_models.billing.errors import (
    BillingError,
    LeaseError,
    PeriodError,
    UsageConflictError,
    UsageError,
    usage_location,
)
from twin_models.billing.invoice import (
    INVOICE_SCHEMA,
    Invoice,
    UsageSelection,
    UsageSummary,
    assemble_invoice,
    compute_invoice,
    invoice_id,
    is_due,
    period_quantities,
    select_usage,
    split_invoice_id,
)
from twin_models.billing.lease import (
    KNOWN_METERS,
    Aggregation,
    Component,
    Lease,
    Pricing,
    Tariff,
    Tier,
    load_lease,
    qualified_lease_id,
)
from twin_models.billing.metering import MeteringConfig, derive_usage_events
from twin_models.billing.money import Rounding, minor_unit, round_money
from twin_models.billing.periods import BillingInterval, Period, parse_period, period_of, periods_between
from twin_models.billing.rating import InvoiceLine, price_component, rate_period
from twin_models.billing.usage import (
    UsageEvent,
    aggregate,
    dedupe,
    parse_usage_event,
    read_usage_lines,
    read_usage_text,
    usage_root,
)

__all__ = [
    "EMPTY_ROOT",
    "INVOICE_SCHEMA",
    "KNOWN_METERS",
    "Aggregation",
    "BillingError",
    "BillingInterval",
    "Component",
    "Invoice",
    "InvoiceLine",
    "Lease",
    "LeaseError",
    "MeteringConfig",
    "Period",
    "PeriodError",
    "Pricing",
    "Rounding",
    "Tariff",
    "Tier",
    "UsageConflictError",
    "UsageError",
    "UsageEvent",
    "UsageSelection",
    "UsageSummary",
    "aggregate",
    "assemble_invoice",
    "canonical_json",
    "compute_invoice",
    "dedupe",
    "derive_usage_events",
    "invoice_id",
    "is_due",
    "load_lease",
    "merkle_proof",
    "merkle_root",
    "minor_unit",
    "parse_period",
    "parse_usage_event",
    "period_of",
    "period_quantities",
    "periods_between",
    "price_component",
    "qualified_lease_id",
    "rate_period",
    "read_usage_lines",
    "read_usage_text",
    "round_money",
    "select_usage",
    "sha256_hex",
    "split_invoice_id",
    "usage_location",
    "usage_root",
    "verify_proof",
]
