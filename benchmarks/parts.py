"""Parts benchmark: gas per part anchored on Ganache, and part records derived per second from telemetry.

Run from the repository root after set-up (needs node_modules: Ganache):

    .venv/bin/python benchmarks/parts.py            # four simulated machines, one shift
    .venv/bin/python benchmarks/parts.py --quick    # one machine, two hours

1. **Derivation rate.** A simulated shift of sealed v2 envelopes (60 samples each) per machine, already
   verified: the part step as ingest runs it (each envelope reduced once to its piece, the run around it
   scanned, records written once) against the baseline of deriving each part with its own history query
   (read the raw envelopes its cycle spans, parse them, rebuild the cycle, write the record). Both produce
   the same records (checked), both over the in-process store.
2. **Gas per part.** Every part record of the run queued for anchoring and drained into Merkle batches of
   1,024 on a fresh Ganache devnet, against the baseline of one transaction per part.

Prints its figures and ends with one JSON line holding every figure and ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

from eth_account import Account  # noqa: E402

from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry  # noqa: E402
from chalicelib.adapters.memory import InMemoryAnchorStore, MemoryDevices, MemoryShadows  # noqa: E402
from chalicelib.adapters.memory_parts import MemoryMaintenanceState, MemoryParts  # noqa: E402
from chalicelib.anchoring.service import AnchoringService  # noqa: E402
from chalicelib.parts.step import PART_KIND, PartsStep, part_record_id  # noqa: E402
from edge_greengrass.simulator import FleetSimulator  # noqa: E402
from twin_models.columnar import AnyEnvelope  # noqa: E402
from twin_models.history import segment_from_envelope  # noqa: E402
from twin_models.jws import jws_header, open_jws, payload_of, seal_jws  # noqa: E402
from twin_models.parts import PartRecord, piece_of, records_of, scan  # noqa: E402
from twin_models.signing import generate_private_key, public_key_pem  # noqa: E402
from twin_models.telemetry import parse_payload  # noqa: E402
from twin_models.tenancy import Device  # noqa: E402
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache  # noqa: E402

START = datetime(2026, 1, 5, 6, tzinfo=UTC)
KEY = generate_private_key()


def telemetry(machines: int, seconds: int) -> dict[str, list[str]]:
    """Sealed envelopes of 60 samples per machine, in seq order (as ingest receives them, verified)."""
    fleet = FleetSimulator(machines, seed=11, start=START).advance(seconds)
    out: dict[str, list[str]] = {}
    for machine_id, samples in fleet.items():
        chunks = [samples[i : i + 60] for i in range(0, len(samples), 60)]
        out[machine_id] = [
            seal_jws(
                machine_id,
                "plant-a",
                seq,
                chunk,
                KEY,
                "gw/1",
                sent_at=chunk[-1].ts,
                previous=chunks[seq - 1][-1] if seq else None,
            ).decode()
            for seq, chunk in enumerate(chunks)
        ]
    return out


def devices(machines: list[str]) -> MemoryDevices:
    registry = MemoryDevices()
    for machine_id in machines:
        registry.put(
            Device(
                machine_id=machine_id,
                site="plant-a",
                lessor="toolmaker",
                lessee="factory-1",
                keys={"gw/1": public_key_pem(KEY)},
            )
        )
    return registry


def opened(bodies: list[str]) -> list[tuple[AnyEnvelope, str]]:
    public = KEY.public_key()
    return [open_jws(b, jws_header(b), public, now=datetime(2100, 1, 1, tzinfo=UTC)) for b in bodies]


def incremental(
    envelopes: dict[str, list[str]], registry: MemoryDevices
) -> tuple[float, dict[str, PartRecord], AnchoringService]:
    """The part step, one envelope at a time (the worst case for it: no batch shares a read)."""
    anchors = AnchoringService(InMemoryAnchorStore(), lambda: None, batch_size=1024)  # type: ignore[arg-type,return-value]
    store = MemoryParts()
    step = PartsStep(store, registry, MemoryShadows(), MemoryMaintenanceState(), anchors)
    verified = {m: opened(b) for m, b in envelopes.items()}
    t0 = time.perf_counter()
    for machine_id, items in verified.items():
        for (envelope, digest), body in zip(items, envelopes[machine_id], strict=True):
            segment = segment_from_envelope(envelope, content_hash=digest)
            step.run(machine_id, {envelope.seq: envelope}, {envelope.seq: segment}, {envelope.seq: body})
    elapsed = time.perf_counter() - t0
    found = {
        p.record.part_id: p.record
        for m in envelopes
        for p in store.for_machine(m, START, datetime(2100, 1, 1, tzinfo=UTC))
    }
    return elapsed, found, anchors


def per_part_query(envelopes: dict[str, list[str]], expected: dict[str, PartRecord]) -> tuple[float, int]:
    """Each part derived by itself: read the raw envelopes its cycle spans, parse them, rebuild the cycle."""
    raw = {m: dict(enumerate(bodies)) for m, bodies in envelopes.items()}
    digests = {m: {e.seq: d for e, d in opened(bodies)} for m, bodies in envelopes.items()}
    store = MemoryParts()
    t0 = time.perf_counter()
    made = 0
    for record in expected.values():
        seqs = sorted(ref.seq for ref in record.evidence)
        window = [raw[record.machine_id][s] for s in range(seqs[0], seqs[-1] + 1)]  # the history query
        parsed = [parse_payload(payload_of(body), now=datetime(2100, 1, 1, tzinfo=UTC)) for body in window]
        pieces = [piece_of(e, digests[record.machine_id][e.seq]) for e in parsed]
        cycle = next(c for c in scan(pieces) if c.end == record.cycle_end and record.count in c.counts)
        rebuilt = next(r for r in records_of(cycle, producer=record.producer) if r.count == record.count)
        if rebuilt != record:
            raise SystemExit(f"per-part derivation differs for {record.part_id}")
        store.put_part(rebuilt)
        made += 1
    return time.perf_counter() - t0, made


def gas(records: dict[str, PartRecord], single_n: int) -> dict[str, float]:
    with Ganache() as node:
        w3 = node.w3(timeout=60)
        admin = Account.from_key(DETERMINISTIC_KEYS[0])
        client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)
        service = AnchoringService(InMemoryAnchorStore(), lambda: client, batch_size=1024)
        for record in records.values():
            service.submit(part_record_id(record.part_id), record.record_hash(), PART_KIND, (record.producer,))
        report = service.run_once()
        if report.anchored != len(records) or report.error:
            raise SystemExit(f"anchored {report.anchored}/{len(records)}: {report.error}")
        singles = [
            client.anchor_batch([r.record_hash()], PART_KIND).gas_used for r in list(records.values())[:single_n]
        ]
    return {
        "parts": len(records),
        "batches": report.batches,
        "gas_total": report.gas_used,
        "gas_per_part": report.gas_used / len(records),
        "gas_per_part_one_tx_each": statistics.median(singles),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    machines, seconds = (1, 7200) if args.quick else (4, 8 * 3600)
    envelopes = telemetry(machines, seconds)
    registry = devices(list(envelopes))
    n_envelopes = sum(len(b) for b in envelopes.values())

    inc_s, records, _ = incremental(envelopes, registry)
    base_s, made = per_part_query(envelopes, records)
    inc_rate, base_rate = len(records) / inc_s, made / base_s
    print(f"{machines} machine(s), {seconds / 3600:.0f} h, {n_envelopes} envelopes, {len(records)} parts")
    print(f"part records/s, incremental part step: {inc_rate:,.0f} ({inc_s:.2f} s)")
    print(f"part records/s, a history query per part: {base_rate:,.0f} ({base_s:.2f} s)")

    figures = gas(records, single_n=20)
    print(f"gas per part, Merkle batches of 1024: {figures['gas_per_part']:.1f} ({figures['batches']} batch(es))")
    print(f"gas per part, one transaction each:  {figures['gas_per_part_one_tx_each']:.0f}")
    result = {
        "benchmark": "parts",
        "chain": "ganache 7.9.2 shanghai instamine",
        "python": platform.python_version(),
        "machines": machines,
        "hours": seconds / 3600,
        "envelopes": n_envelopes,
        "parts": len(records),
        "records_per_s_incremental": round(inc_rate, 1),
        "records_per_s_per_part_query": round(base_rate, 1),
        "derivation_ratio": round(inc_rate / base_rate, 2),
        "gas_per_part_batched": round(figures["gas_per_part"], 1),
        "gas_per_part_one_tx_each": round(figures["gas_per_part_one_tx_each"], 1),
        "gas_saving_ratio": round(figures["gas_per_part_one_tx_each"] / figures["gas_per_part"], 1),
        "anchor_batches": figures["batches"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
