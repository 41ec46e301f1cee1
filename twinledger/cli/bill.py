"""``twinledger bill`` and ``twinledger billing``: invoices from files, and the billing service's stores.

``bill`` is pure: the invoice of one lease and period from a lease file and a usage file.
``billing`` works on the configured stores (AWS, or moto server via ``TWINLEDGER_AWS_ENDPOINT_URL``):
``register`` a lease, ``record`` usage events, and ``close`` the due periods as the hourly schedule does.

Example:
    $ twinledger bill --lease docs/examples/lease-monthly.json \\
          --usage docs/examples/usage-lease-0042.jsonl --period 2026-10 --json
    $ twinledger billing register --lease docs/examples/lease-monthly.json
    $ twinledger billing record --usage docs/examples/usage-lease-0042.jsonl
    $ twinledger billing close --now 2026-12-05T00:00:00Z
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from twin_models.billing import (
    BillingError,
    Invoice,
    Rounding,
    UsageEvent,
    compute_invoice,
    load_lease,
    read_usage_text,
)
from twin_models.bounds import instant
from twinledger.paths import ensure_functions_importable

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bill`` to the command line."""
    parser = subparsers.add_parser(
        "bill",
        help="compute the invoice of a lease for one period",
        description="Compute a pay-per-use invoice (docs/billing.md describes both file formats).",
    )
    parser.add_argument("--lease", required=True, type=Path, help="lease JSON file")
    parser.add_argument("--usage", required=True, type=Path, help="usage events, one JSON object per line")
    parser.add_argument("--period", required=True, help="2026-10 (monthly), 2026-W41 (weekly), 2026-10-05 (daily)")
    parser.add_argument("--json", action="store_true", help="print the invoice as JSON")
    parser.set_defaults(handler=_bill)

    billing = subparsers.add_parser(
        "billing", help="register leases, record usage and close due periods in the billing stores"
    )
    actions = billing.add_subparsers(dest="billing_command", metavar="ACTION", required=True)
    register_p = actions.add_parser("register", help="store a lease (once)")
    register_p.add_argument("--lease", required=True, type=Path, help="lease JSON file")
    register_p.add_argument("--contract", help="the lease's PayPerUseLease address, if deployed")
    register_p.set_defaults(handler=_register)
    record_p = actions.add_parser("record", help="store usage events (duplicates are ignored)")
    record_p.add_argument("--usage", required=True, type=Path, help="usage events, one JSON object per line")
    record_p.add_argument(
        "--received-at", type=instant, help="arrival time for events without received_at (default: now)"
    )
    record_p.set_defaults(handler=_record)
    close_p = actions.add_parser("close", help="issue, store and anchor every due invoice (the hourly schedule)")
    close_p.add_argument("--now", type=instant, help="the run's clock (default: now)")
    close_p.set_defaults(handler=_close)


def _service() -> Any:
    ensure_functions_importable()
    from chalicelib import wiring

    return wiring.services().billing


def _register(args: argparse.Namespace) -> int:
    try:
        lease = load_lease(args.lease.read_text(encoding="utf-8"))
    except (OSError, BillingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    created = _service().leases.create(lease, args.contract)
    print(json.dumps({"lease_id": lease.lease_id, "created": created}))
    return 0


def _read_usage(path: Path) -> list[UsageEvent]:
    """The events of a usage file; a refused line's :class:`UsageError` names ``path`` and the line."""
    return read_usage_text(path.read_bytes(), source=str(path))


def _record(args: argparse.Namespace) -> int:
    try:
        events = _read_usage(args.usage)
    except (OSError, BillingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = _service().record_usage(events, args.received_at, keep_stamps=True)
    print(json.dumps({"stored": report.stored, "duplicates": report.duplicates, "conflicts": report.conflicts}))
    return 0 if not report.conflicts else 1


def _close(args: argparse.Namespace) -> int:
    report = _service().run(args.now)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if not report.errors else 1


def _render(invoice: Invoice) -> str:
    rows = [
        f"Invoice {invoice.invoice_id}  {invoice.lessor} -> {invoice.lessee}",
        f"Period {invoice.period} ({invoice.timezone})  closes {invoice.closes_at.isoformat()}",
        "",
    ]
    for ln in invoice.lines:
        price = "" if ln.unit_price is None else f"x {ln.unit_price}"
        rows.append(f"  {ln.description[:48]:<48} {ln.quantity:>14} {ln.unit:<6} {price:>12} {ln.amount:>12}")
    rounding = "" if invoice.rounding in (None, Rounding.HALF_EVEN) else f" (rounded {invoice.rounding})"
    rows += [
        "",
        f"  {'subtotal':<84}{invoice.subtotal:>12}",
        f"  {'tax ' + str(invoice.tax_rate) + rounding:<84}{invoice.tax:>12}",
        f"  {'total ' + invoice.currency:<84}{invoice.total:>12}",
        f"  usage events {invoice.usage.events} (late {invoice.usage.late_events}), root {invoice.usage.root}",
        f"  invoice hash {invoice.hash}",
    ]
    return "\n".join(rows)


def _bill(args: argparse.Namespace) -> int:
    try:
        lease = load_lease(args.lease.read_bytes())
    except (OSError, BillingError) as exc:
        where = "" if isinstance(exc, OSError) else f"{args.lease}: "
        print(f"error: {where}{exc}", file=sys.stderr)
        return 1
    try:  # usage errors name the file and line themselves (twin_models.billing.usage_location)
        events = _read_usage(args.usage)
        invoice = compute_invoice(lease, lease.period(args.period), events)
    except (OSError, BillingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(invoice.to_json(), indent=2))
    else:
        print(_render(invoice))
    return 0
