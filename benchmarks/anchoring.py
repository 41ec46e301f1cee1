"""Anchoring benchmark: gas per anchored record by batch size, and records anchored per second on Ganache.

Run from the repository root after set-up (needs node_modules: Ganache):

    .venv/bin/python benchmarks/anchoring.py           # full size
    .venv/bin/python benchmarks/anchoring.py --quick   # smaller throughput runs, for iterating

Measured on a fresh Ganache devnet (shanghai, instamine) with locally signed EIP-1559 transactions, as the
anchoring Lambda sends them:

1. Gas per anchored record when a batch of 1, 16, 256 and 1,024 record hashes is anchored as one Merkle
   root (``AnchorRegistry.anchor``), against the baseline of one transaction per record (the same call with
   a batch of one, which is the cheapest way to put each record on chain by itself).
2. Records anchored per second end to end through the anchoring service (queue -> Merkle batch of 1,024 ->
   transaction -> receipt -> a proof stored per record), against one transaction per record.
3. For information: the gas of the on-chain ``verifyRecord`` view for a record of a 1,024 batch, and the
   time to build a 1,024-leaf tree with every proof.

Prints its figures and ends with one JSON line holding every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

from eth_account import Account  # noqa: E402

from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry  # noqa: E402
from chalicelib.adapters.memory import InMemoryAnchorStore  # noqa: E402
from chalicelib.anchoring.service import AnchoringService  # noqa: E402
from twin_models.merkle import MerkleTree  # noqa: E402
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache  # noqa: E402

BATCH_SIZES = (1, 16, 256, 1024)
TARGET_GAS_PER_RECORD = 300
METADATA = json.dumps(
    {
        "batch_id": "b-0123456789abcdef0123456789abcdef",
        "first_queued_at": "2026-11-21T06:00:00+00:00",
        "last_queued_at": "2026-11-21T06:05:00+00:00",
    },
    separators=(",", ":"),
)


def record_hashes(n: int) -> list[bytes]:
    """``n`` distinct random 32-byte record hashes (each batch gets a new root)."""
    return [os.urandom(32) for _ in range(n)]


def gas_per_record(client: AnchorClient, repeats: int) -> dict[int, dict[str, float]]:
    """Median gas of one ``anchor`` transaction and per record, by batch size."""
    out: dict[int, dict[str, float]] = {}
    for size in BATCH_SIZES:
        gas = [client.anchor_batch(record_hashes(size), "telemetry", METADATA).gas_used for _ in range(repeats)]
        tx_gas = statistics.median(gas)
        out[size] = {"tx_gas": tx_gas, "gas_per_record": tx_gas / size}
    return out


def batched_rate(client: AnchorClient, n: int) -> tuple[float, float]:
    """Records per second through the anchoring service with batches of 1,024; and the elapsed seconds."""
    service = AnchoringService(InMemoryAnchorStore(), lambda: client, batch_size=1024)
    for i, h in enumerate(record_hashes(n)):
        service.submit(f"rate/{i}", h, "telemetry")
    start = time.perf_counter()
    report = service.run_once()
    elapsed = time.perf_counter() - start
    if report.anchored != n or report.error:
        raise SystemExit(f"drain anchored {report.anchored}/{n}: {report.error}")
    return n / elapsed, elapsed


def single_rate(client: AnchorClient, n: int) -> tuple[float, float]:
    """Records per second with one transaction per record; and the elapsed seconds."""
    hashes = record_hashes(n)
    start = time.perf_counter()
    for h in hashes:
        client.anchor_batch([h], "telemetry", METADATA)
    elapsed = time.perf_counter() - start
    return n / elapsed, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller throughput runs")
    parser.add_argument("--repeats", type=int, default=3, help="anchors per batch size for the gas median")
    args = parser.parse_args()
    batched_n = 2048 if args.quick else 8192
    single_n = 50 if args.quick else 300

    with Ganache() as node:
        w3 = node.w3(timeout=60)
        admin = Account.from_key(DETERMINISTIC_KEYS[0])
        client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)

        gas = gas_per_record(client, args.repeats)
        baseline = gas[1]["gas_per_record"]
        per_record_1024 = gas[1024]["gas_per_record"]
        print("gas per anchored record (one Merkle root per batch, Ganache shanghai):")
        for size, row in gas.items():
            saving = baseline / row["gas_per_record"]
            tx_gas, per_record = row["tx_gas"], row["gas_per_record"]
            print(f"  batch {size:>5}: {tx_gas:>9.0f} gas/tx  {per_record:>9.1f} gas/record  x{saving:.1f}")

        batched_rps, batched_s = batched_rate(client, batched_n)
        single_rps, single_s = single_rate(client, single_n)
        print(f"records/s, service with batches of 1024: {batched_rps:,.0f} ({batched_n} records in {batched_s:.2f} s)")
        print(f"records/s, one transaction per record:   {single_rps:,.1f} ({single_n} records in {single_s:.2f} s)")

        big = record_hashes(1024)
        t0 = time.perf_counter()
        tree = MerkleTree.build(big)
        proofs = tree.proofs()
        tree_ms = (time.perf_counter() - t0) * 1000
        anchored = client.anchor_batch(big, "telemetry", METADATA)
        verify_gas = client.contract.functions.verifyRecord(anchored.root, big[7], proofs[7]).estimate_gas()
        print(
            f"verifyRecord view, 1024 batch (proof of {len(proofs[7])}): {verify_gas} gas; tree+proofs {tree_ms:.1f} ms"
        )

    result = {
        "benchmark": "anchoring",
        "chain": "ganache 7.9.2 shanghai instamine",
        "python": platform.python_version(),
        "gas_per_record": {str(k): round(v["gas_per_record"], 1) for k, v in gas.items()},
        "tx_gas": {str(k): int(v["tx_gas"]) for k, v in gas.items()},
        "baseline_gas_per_record_one_tx_each": round(baseline, 1),
        "saving_ratio_1024_vs_one_tx_each": round(baseline / per_record_1024, 1),
        "target_gas_per_record_1024": TARGET_GAS_PER_RECORD,
        "meets_target": per_record_1024 <= TARGET_GAS_PER_RECORD and baseline / per_record_1024 > 100,
        "records_per_s_batched_1024": round(batched_rps, 1),
        "records_per_s_one_tx_each": round(single_rps, 2),
        "throughput_ratio": round(batched_rps / single_rps, 1),
        "batched_records": batched_n,
        "single_records": single_n,
        "verify_record_gas_1024": verify_gas,
        "tree_and_proofs_1024_ms": round(tree_ms, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
