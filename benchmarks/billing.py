"""Billing benchmark: invoices for 10,000 leases over one month of hourly usage.

Run from the repository root after set-up:

    .venv/bin/python benchmarks/billing.py                  # full size: 10,000 leases
    .venv/bin/python benchmarks/billing.py --leases 1000    # quicker, for iterating

Each lease has one machine, a lessee time zone drawn from five zones (so period bounds differ per
lease), and a tariff with a base fee, graduated spindle-hour tiers, volume part tiers, a flat
energy price, crash events with a cap and a tariff minimum. Usage is one event per machine, meter
and hour (spindle hours, parts, energy; idle hours send nothing) from 12:00 UTC on 30 September to
the end of 1 November, so every lessee's October needs filtering, plus a few crash events and 1 %
redelivered duplicates: about 2,000 events per lease, 20 million in all.

* **columnar**: deduplication, period filtering and aggregation on numpy columns (exact: quantities
  are integer micro-units, sums stay below 2**53), then the same rating and invoice code
  (:func:`rate_period`, :func:`assemble_invoice`, invoice hash) for every lease.
* **naive baseline**: the command-line path, one ``UsageEvent`` per JSON object and
  :func:`compute_invoice` per lease, timed on ``--sample`` leases and extrapolated linearly.
  Its invoices must equal the columnar ones line for line.

The naive path also builds each invoice's usage root (event hashes and the OpenZeppelin Merkle
tree); that evidence step is timed separately on the sample and reported per lease, because in the
service it runs once per lease invocation, not in one process for the whole fleet.

Prints its figures and ends with one JSON line holding every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin_models.billing import (
    EMPTY_ROOT,
    Invoice,
    Lease,
    UsageSummary,
    assemble_invoice,
    compute_invoice,
    dedupe,
    load_lease,
    parse_usage_event,
    rate_period,
    usage_root,
)

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Tokyo", "UTC"]
METERS = ["spindle_hours", "parts", "energy_kwh", "crash_events"]
T0 = datetime(2026, 9, 30, 12, tzinfo=UTC)
HOURS = 32 * 24 + 12  # to 2026-11-02 00:00 UTC
MICRO = 1_000_000
CHUNK = 1_000


def make_lease(i: int, rng: np.random.Generator) -> Lease:
    tier = int(rng.integers(150, 450))
    return load_lease(
        {
            "lease_id": f"lease-{i:05d}",
            "lessor": "acme-machine-tools",
            "lessee": f"plant-{i % 997:03d}",
            "machine_ids": [f"cnc-{i:05d}"],
            "start": "2026-01-01T00:00:00Z",
            "billing_interval": "monthly",
            "timezone": ZONES[i % len(ZONES)],
            "currency": "EUR",
            "tax_rate": "0.19",
            "tariff": {
                "components": [
                    {"id": "base", "kind": "base_fee", "amount": f"{int(rng.integers(200, 900))}.00"},
                    {
                        "id": "spindle",
                        "meter": "spindle_hours",
                        "tiers": [{"up_to": str(tier), "unit_price": "14.00"}, {"unit_price": "11.25"}],
                    },
                    {
                        "id": "parts",
                        "meter": "parts",
                        "pricing": "volume",
                        "tiers": [
                            {"up_to": "5000", "unit_price": "0.12"},
                            {"up_to": "15000", "unit_price": "0.10"},
                            {"unit_price": "0.085"},
                        ],
                    },
                    {"id": "energy", "meter": "energy_kwh", "unit_price": "0.2875"},
                    {
                        "id": "crash",
                        "meter": "crash_events",
                        "aggregation": "count",
                        "unit_price": "250.00",
                        "cap": "500.00",
                    },
                ],
                "minimum_charge": "1500.00",
            },
        }
    )


def make_usage(first: int, count: int, rng: np.random.Generator) -> dict[str, NDArray[Any]]:
    """Columns of one chunk of leases: lease index, meter, ts (epoch s), micro-quantity, event id."""
    lease = np.repeat(np.arange(first, first + count, dtype=np.int64), HOURS)
    hour = np.tile(np.arange(HOURS, dtype=np.int64), count)
    running = rng.random(lease.size) < 0.7
    spindle = (rng.integers(200_000, MICRO + 1, lease.size) * running).astype(np.int64)
    parts = (rng.integers(0, 60, lease.size) * running * MICRO).astype(np.int64)
    energy = spindle * rng.integers(4, 15, lease.size)
    base_ts = int(T0.timestamp()) + hour * 3600
    cols = {
        "lease": np.concatenate([lease, lease, lease]),
        "meter": np.repeat(np.arange(3, dtype=np.int64), lease.size),
        "ts": np.concatenate([base_ts, base_ts + 1800, base_ts + 1800]),
        "qty": np.concatenate([spindle, parts, energy]),
    }
    keep = cols["qty"] > 0
    cols = {k: v[keep] for k, v in cols.items()}
    cols["id"] = (cols["lease"] << 24) | ((cols["ts"] - int(T0.timestamp())) << 2) | cols["meter"]
    crashes = rng.poisson(1.5, count)
    c_lease = np.repeat(np.arange(first, first + count, dtype=np.int64), crashes)
    c_ts = int(T0.timestamp()) + rng.integers(0, HOURS * 3600, c_lease.size)
    crash_cols = {
        "lease": c_lease,
        "meter": np.full(c_lease.size, 3, dtype=np.int64),
        "ts": c_ts,
        "qty": np.full(c_lease.size, MICRO, dtype=np.int64),
    }
    crash_cols["id"] = (c_lease << 24) | ((c_ts - int(T0.timestamp())) << 2) | 3
    cols = {k: np.concatenate([cols[k], crash_cols[k]]) for k in cols}
    dup = rng.random(cols["id"].size) < 0.01
    return {k: np.concatenate([v, v[dup]]) for k, v in cols.items()}


def columnar_invoices(leases: list[Lease], first: int, cols: dict[str, NDArray[Any]]) -> list[Invoice]:
    """Deduplicate, filter to each lessee's October and aggregate with numpy; rate per lease."""
    _, index = np.unique(cols["id"], return_index=True)
    # a redelivered id must carry the same content (the id encodes lease, ts and meter; check quantity)
    order = np.argsort(cols["id"], kind="stable")
    same = cols["id"][order][1:] == cols["id"][order][:-1]
    if np.any(cols["qty"][order][1:][same] != cols["qty"][order][:-1][same]):
        raise SystemExit("conflicting duplicate usage events")
    lease = cols["lease"][index] - first
    periods = [ls.period("2026-10") for ls in leases]
    start = np.asarray([int(p.start.timestamp()) for p in periods], dtype=np.int64)
    end = np.asarray([int(p.end.timestamp()) for p in periods], dtype=np.int64)
    ts = cols["ts"][index]
    inside = (ts >= start[lease]) & (ts < end[lease])
    lease, meter, qty = lease[inside], cols["meter"][index][inside], cols["qty"][index][inside]
    n = len(leases)
    key = lease * 4 + meter
    sums = np.bincount(key, weights=qty.astype(np.float64), minlength=n * 4).reshape(n, 4)
    assert sums.max(initial=0) < 2**53, "sums must stay exact in float64"
    counts = np.bincount(key, minlength=n * 4).reshape(n, 4)
    events = np.bincount(lease, minlength=n)
    invoices = []
    for i, ls in enumerate(leases):
        quantities = {
            "spindle": Decimal(int(sums[i, 0])).scaleb(-6),
            "parts": Decimal(int(sums[i, 1])).scaleb(-6),
            "energy": Decimal(int(sums[i, 2])).scaleb(-6),
            "crash": Decimal(int(counts[i, 3])),
        }
        lines = rate_period(ls, periods[i], quantities)
        summary = UsageSummary(
            # the usage root (evidence) is timed separately on the sample: see the module docstring
            events=int(events[i]),
            root=EMPTY_ROOT,
            late_events=0,
            adjusted_periods=(),
            excluded_events=0,
        )
        invoices.append(assemble_invoice(ls, periods[i], lines, summary))
    return invoices


def naive_rows(cols: dict[str, NDArray[Any]], lease_index: int) -> list[dict[str, Any]]:
    """The chunk's events of one lease as the JSON objects a usage file holds."""
    mask = cols["lease"] == lease_index
    rows = []
    columns = (cols[k][mask].tolist() for k in ("lease", "meter", "ts", "qty", "id"))
    for lease, meter, ts, qty, ident in zip(*columns, strict=True):
        rows.append(
            {
                "id": f"u{ident}",
                "machine_id": f"cnc-{lease:05d}",
                "meter": METERS[meter],
                "ts": datetime.fromtimestamp(ts, tz=UTC).isoformat(),
                "quantity": str(Decimal(qty).scaleb(-6)),
            }
        )
    return rows


def same_invoice(a: Invoice, b: Invoice) -> bool:
    keys = ("lines", "subtotal", "tax", "total")
    return all(getattr(a, k) == getattr(b, k) for k in keys) and a.usage.events == b.usage.events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leases", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=40, help="leases billed by the naive baseline")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    leases = [make_lease(i, rng) for i in range(args.leases)]
    generate_s = columnar_s = 0.0
    n_events = 0
    invoices: list[Invoice] = []
    sample_cols: dict[str, NDArray[Any]] | None = None
    for first in range(0, args.leases, CHUNK):
        chunk = leases[first : first + CHUNK]
        t = time.perf_counter()
        cols = make_usage(first, len(chunk), rng)
        generate_s += time.perf_counter() - t
        n_events += cols["id"].size
        if sample_cols is None:
            sample_cols = cols
        t = time.perf_counter()
        invoices.extend(columnar_invoices(chunk, first, cols))
        columnar_s += time.perf_counter() - t
    assert sample_cols is not None

    sample = min(args.sample, len(leases), CHUNK)
    rows = [naive_rows(sample_cols, i) for i in range(sample)]
    t = time.perf_counter()
    naive = []
    for i in range(sample):
        events = [parse_usage_event(r) for r in rows[i]]
        naive.append(compute_invoice(leases[i], leases[i].period("2026-10"), events))
    naive_sample_s = time.perf_counter() - t
    parsed = [[parse_usage_event(r) for r in rows[i]] for i in range(sample)]
    billed = [[e for e in dedupe(evs) if leases[i].period("2026-10").contains(e.ts)] for i, evs in enumerate(parsed)]
    t = time.perf_counter()
    roots = [usage_root(evs) for evs in billed]
    evidence_sample_s = time.perf_counter() - t
    assert roots == [inv.usage.root for inv in naive]

    mismatches = sum(not same_invoice(a, b) for a, b in zip(naive, invoices[:sample], strict=True))
    naive_s = naive_sample_s / sample * args.leases
    total = sum((inv.total for inv in invoices), Decimal(0))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "benchmark": "billing",
        "leases": args.leases,
        "usage_events": n_events,
        "events_per_lease": round(n_events / args.leases),
        "generate_s": round(generate_s, 2),
        "columnar_s": round(columnar_s, 2),
        "columnar_ms_per_lease": round(columnar_s / args.leases * 1000, 3),
        "naive_sample_leases": sample,
        "naive_ms_per_lease": round(naive_sample_s / sample * 1000, 2),
        "naive_extrapolated_s": round(naive_s, 1),
        "speedup": round(naive_s / columnar_s, 1),
        "evidence_ms_per_lease": round(evidence_sample_s / sample * 1000, 2),
        "naive_matches_columnar": mismatches == 0,
        "invoiced_total_eur": str(total),
        "target_s": 60,
        "within_target": columnar_s < 60,
        "peak_rss_mib": round(peak_mib),
        "python": platform.python_version(),
    }
    print(f"{args.leases} leases, {n_events:,} usage events ({figures['events_per_lease']} per lease)")
    print(f"columnar: {columnar_s:.2f} s ({figures['columnar_ms_per_lease']} ms per lease), target 60 s")
    print(
        f"naive:    {figures['naive_ms_per_lease']} ms per lease on {sample} leases -> "
        f"{naive_s:.1f} s for {args.leases} (x{figures['speedup']})"
    )
    print(f"evidence: {figures['evidence_ms_per_lease']} ms per lease (event hashes + Merkle root)")
    print(f"invoices identical on the sample: {mismatches == 0}; invoiced total EUR {total}")
    print(json.dumps(figures))
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
