"""``twinledger bill``: the invoice of one lease and period from a lease file and a usage file.

Example:
    $ twinledger bill --lease docs/examples/lease-monthly.json \\
          --usage docs/examples/usage-2026-10.jsonl --period 2026-10 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from twin_models.billing import BillingError, Invoice, compute_invoice, load_lease, read_usage_lines

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


def _render(invoice: Invoice) -> str:
    rows = [
        f"Invoice {invoice.invoice_id}  {invoice.lessor} -> {invoice.lessee}",
        f"Period {invoice.period} ({invoice.timezone})  closes {invoice.closes_at.isoformat()}",
        "",
    ]
    for ln in invoice.lines:
        price = "" if ln.unit_price is None else f"x {ln.unit_price}"
        rows.append(f"  {ln.description[:48]:<48} {ln.quantity:>14} {ln.unit:<6} {price:>12} {ln.amount:>12}")
    rows += [
        "",
        f"  {'subtotal':<84}{invoice.subtotal:>12}",
        f"  {'tax ' + str(invoice.tax_rate):<84}{invoice.tax:>12}",
        f"  {'total ' + invoice.currency:<84}{invoice.total:>12}",
        f"  usage events {invoice.usage.events} (late {invoice.usage.late_events}), root {invoice.usage.root}",
        f"  invoice hash {invoice.hash}",
    ]
    return "\n".join(rows)


def _bill(args: argparse.Namespace) -> int:
    source = args.lease
    try:
        lease = load_lease(args.lease.read_text(encoding="utf-8"))
        source = args.usage
        with args.usage.open(encoding="utf-8") as handle:
            events = read_usage_lines(handle)
        source = None
        invoice = compute_invoice(lease, lease.period(args.period), events)
    except (OSError, BillingError) as exc:
        where = f"{source}: " if source is not None and not isinstance(exc, OSError) else ""
        print(f"error: {where}{exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(invoice.to_json(), indent=2))
    else:
        print(_render(invoice))
    return 0
