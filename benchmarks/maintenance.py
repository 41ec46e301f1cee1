"""Maintenance benchmark: gas per log entry with the heads anchored in one Merkle batch per interval, against
one ``appendLogEntry`` transaction per entry (Ganache); and the remaining-useful-life projection on the IMS
bearing run to failure, against constant-rate baselines.

Run from the repository root after set-up (needs node_modules for Ganache, ``../shared/data`` for IMS):

    .venv/bin/python benchmarks/maintenance.py            # both parts
    .venv/bin/python benchmarks/maintenance.py --no-gas   # the RUL part only (no Ganache)

1. **Gas per entry.** The maintenance service (in-memory stores) writes entries; every interval the heads job
   queues each machine's new head and the anchoring drain anchors them all under one root. Scenario
   ``fleet``: 100 entries over 8 machines in 5 intervals (the integration test's); scenario ``wide``: one
   entry on each of N machines per interval. Baseline: ``AnchorRegistry.appendLogEntry``, one transaction per
   entry (the registry's own per-machine chain), the first entry of a machine and later ones.
2. **RUL on IMS test 2.** The anomaly model (z-score, fitted on the first quarter of the run, as
   ``benchmarks/anomaly.py``) scores every snapshot; from the alarm onset, every two hours, the health trend
   (:func:`twin_models.maintenance.project`: log-linear, last 48 h) projects when the score reaches the
   failure level, and so do two constant-rate baselines (a straight line from the healthy level at the start
   of the run, and from the level at the alarm onset, through the current level). Error = projected minus
   actual failure time. The failure level is the median score of the last six hours before the failure
   (the usual "known failure threshold" of a run-to-failure evaluation; both methods get the same).

Prints its figures and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

from twin_models.maintenance import check_run_to_failure  # noqa: E402

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
WIDE = (1, 8, 64, 256, 1024)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# -- gas ------------------------------------------------------------------------------------------------------------


def gas(quick: bool) -> dict[str, Any]:
    from eth_account import Account

    from chalicelib import wiring
    from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
    from chalicelib.maintenance.requests import NewEntry
    from twin_models.hashchain import machine_key
    from twin_models.tenancy import Device, Principal
    from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache

    os.environ["TWINLEDGER_ADAPTERS"] = "memory"
    tech = Principal(subject="tom", tenant="toolmaker", role="technician")
    out: dict[str, Any] = {}
    with Ganache() as node:
        w3 = node.w3(timeout=60)
        admin = Account.from_key(DETERMINISTIC_KEYS[0])
        client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)
        now = [T0]

        def services(machines: list[str]) -> Any:
            built = wiring.build(anchor_chain=lambda: client, clock=lambda: now[0])
            for m in machines:
                built.adapters.devices.put(Device(machine_id=m, site="plant-a", lessor="toolmaker", lessee="factory-1"))
            return built

        def interval(built: Any) -> tuple[int, int]:
            built.maintenance.anchor_heads()
            report = built.anchoring.run_once()
            now[0] += timedelta(minutes=5)
            return report.gas_used, len(report.tx_hashes)

        # fleet: 100 entries over 8 machines in 5 intervals
        machines = [f"cnc-{i:02d}" for i in range(1, 9)]
        built = services(machines)
        written, total, txs = 0, 0, 0
        for count in (20, 25, 15, 30, 10):
            for i in range(count):
                body = NewEntry(kind="inspection", text=f"entry {written}")
                built.maintenance.create_entry(tech, machines[(written * 5 + i) % 8], body)
                written += 1
            g, t = interval(built)
            total, txs = total + g, txs + t
        out["fleet"] = {
            "entries": written,
            "machines": 8,
            "intervals": 5,
            "transactions": txs,
            "gas": total,
            "gas_per_entry": round(total / written, 1),
        }
        print(
            f"fleet: {written} entries, 8 machines, 5 intervals: {txs} transactions, {total} gas, "
            f"{total / written:,.1f} gas/entry"
        )

        # wide: one entry on each of N machines per interval
        out["wide"] = {}
        for n in WIDE if not quick else WIDE[:4]:
            names = [f"w{n}-{i:04d}" for i in range(n)]
            built = services(names)
            for m in names:
                built.maintenance.create_entry(tech, m, NewEntry(kind="inspection", text="first"))
            g, t = interval(built)
            out["wide"][str(n)] = {"transactions": t, "gas": g, "gas_per_entry": round(g / n, 1)}
            print(f"wide: {n:>5} machines x 1 entry: {t} transaction, {g:>9} gas, {g / n:>9,.1f} gas/entry")

        # baseline: appendLogEntry, one transaction per entry
        first = [client.append_log_entry(machine_key(f"base-{i}"), os.urandom(32)).gas_used for i in range(10)]
        later = [client.append_log_entry(machine_key("base-0"), os.urandom(32)).gas_used for _ in range(20)]
        out["append_log_entry"] = {"first_entry_of_a_machine": _median(first), "later_entry": _median(later)}
        print(f"appendLogEntry per entry: first of a machine {_median(first):,.0f} gas, later {_median(later):,.0f}")
    base = out["append_log_entry"]["later_entry"]
    out["saving_fleet_vs_append"] = round(base / out["fleet"]["gas_per_entry"], 1)
    widest = out["wide"][max(out["wide"], key=int)]
    out["saving_widest_vs_append"] = round(base / widest["gas_per_entry"], 1)
    return out


# -- RUL on IMS ------------------------------------------------------------------------------------------------------


def rul(data_dir: Path) -> dict[str, Any]:
    import numpy as np

    from twin_models.anomaly import AnomalyModel
    from twinledger.files.datasets import load_ims

    frame = load_ims(data_dir)
    features = frame.drop(columns=["timestamp"]).astype(float)
    n_train = int(len(frame) * 0.25)
    model = AnomalyModel.fit(features.iloc[:n_train], "zscore", drift="off", quantile=0.995)
    scores = np.asarray(model.score(features), dtype=float)
    hours = ((frame["timestamp"] - frame["timestamp"].iloc[0]).dt.total_seconds() / 3600).to_numpy()
    failure_h = float(hours[-1])  # bearing 1 fails at the end of the run (2004-02-19 06:22)
    # the last snapshots after the failure: bearing 1's RMS drops to a few % of its healthy level
    healthy_rms = float(np.median(features["b1_rms"].iloc[:n_train]))
    alive = features["b1_rms"].to_numpy() > 0.25 * healthy_rms
    hours, scores = hours[alive], scores[alive]
    failure_level = float(np.median(scores[hours >= failure_h - 6]))
    threshold = model.calibration.threshold
    onset_h = next(float(hours[i]) for i in range(len(scores) - 2) if all(scores[i : i + 3] > threshold))
    healthy = float(np.median(scores[:n_train]))
    started = time.perf_counter()
    rows = check_run_to_failure(hours.tolist(), scores.tolist(), failure_h, failure_level, onset_h, healthy)
    elapsed_ms = (time.perf_counter() - started) * 1000

    def summary(values: list[float | None]) -> dict[str, Any]:
        got = [abs(v) for v in values if v is not None]
        return {
            "mae_h": round(statistics.fmean(got), 1) if got else None,
            "median_abs_error_h": round(_median(got), 1) if got else None,
            "no_projection": sum(1 for v in values if v is None),
        }

    phase = failure_h - onset_h
    marks: dict[str, dict[str, Any]] = {}
    for share in (0.25, 0.5, 0.75, 0.9):
        at = onset_h + share * phase
        row = min(rows, key=lambda r: abs(r.at_h - at))
        marks[f"{int(share * 100)}%"] = {
            "remaining_h": round(row.remaining_h, 1),
            "trend_error_h": None if row.trend_error_h is None else round(row.trend_error_h, 1),
            "constant_rate_from_start_error_h": None
            if row.baseline_start_error_h is None
            else round(row.baseline_start_error_h, 1),
            "constant_rate_from_onset_error_h": None
            if row.baseline_onset_error_h is None
            else round(row.baseline_onset_error_h, 1),
        }
    out: dict[str, Any] = {
        "run_h": round(failure_h, 2),
        "onset_h": round(onset_h, 2),
        "degradation_phase_h": round(phase, 2),
        "failure_level": round(failure_level, 3),
        "points": len(rows),
        "trend": summary([r.trend_error_h for r in rows]),
        "constant_rate_from_start": summary([r.baseline_start_error_h for r in rows]),
        "constant_rate_from_onset": summary([r.baseline_onset_error_h for r in rows]),
        "interval_coverage": round(sum(r.covered for r in rows) / len(rows), 3),
        "at_share_of_phase": marks,
        "check_ms": round(elapsed_ms, 1),
    }
    print(
        f"IMS test 2: alarm onset at {onset_h:.1f} h, failure at {failure_h:.1f} h; {len(rows)} projections, every 2 h"
    )
    for name in ("trend", "constant_rate_from_start", "constant_rate_from_onset"):
        s = out[name]
        print(
            f"  {name:<26} MAE {s['mae_h']} h, median |error| {s['median_abs_error_h']} h, "
            f"no projection {s['no_projection']}"
        )
    print(f"  trend interval holds the failure at {out['interval_coverage']:.0%} of the points")
    for mark, m in marks.items():
        print(
            f"  at {mark:>3} of the phase ({m['remaining_h']} h left): trend {m['trend_error_h']} h, "
            f"baselines {m['constant_rate_from_start_error_h']} / {m['constant_rate_from_onset_error_h']} h"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-gas", action="store_true", help="skip the Ganache part")
    parser.add_argument("--quick", action="store_true", help="fewer machines in the wide scenario")
    parser.add_argument("--data", default=os.environ.get("TWINLEDGER_DATA", str(ROOT.parent / "shared" / "data")))
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "maintenance"}
    if not args.no_gas:
        result["gas"] = gas(args.quick)
    data = Path(args.data)
    if (data / "ims_bearing").is_dir():
        result["rul_ims"] = rul(data)
    else:
        print(f"IMS data not found under {data}: the RUL part is skipped")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
