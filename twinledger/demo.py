"""The end-to-end demo on embedded defaults: no AWS account, no running servers.

A seeded fleet is simulated for whole days; each gateway signs its envelopes; the ingest
Lambda (the Chalice app, invoked as Lambda would) verifies them into history and shadows in
moto; OEE per machine comes from the stored history; a daily summary per machine is hashed,
the hashes anchored as one Merkle batch in the ``AnchorRegistry`` contract on an in-process
chain (eth-tester), and every machine's proof checked against the chain.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from twinledger.paths import ensure_functions_importable

__all__ = ["DemoResult", "MachineLine", "run_demo"]

PLANT_TZ = "Europe/Berlin"
SITE = "plant-a"
LESSOR = "toolmaker"
LESSEE = "factory-1"


@dataclass
class MachineLine:
    """One machine's row of the demo's report."""

    machine_id: str
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    good: int
    total: int
    breakdown_events: int
    summary_hash: str = ""
    proof_ok: bool = False


@dataclass
class DemoResult:
    """What the demo did and measured."""

    machines: list[MachineLine]
    fleet: dict[str, float | None]
    envelopes_sent: int
    accepted: int
    duplicates: int
    quarantined: Counter[str]
    anchor_root: str
    anchor_tx: str
    anchor_block: int
    seconds: float
    samples: int
    extra: dict[str, Any] = field(default_factory=dict)


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def _set_local_defaults() -> None:
    """Fake credentials and a region for moto; a local signing secret for API tokens."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "TWINLEDGER_AUTH_MODE": "jwt",
        "TWINLEDGER_JWT_SECRET": "local-demo-secret-for-in-process-runs",
        "POWERTOOLS_METRICS_NAMESPACE": "twinledger",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]


def _sqs_batches(bodies: list[str], size: int = 10) -> Iterator[dict[str, Any]]:
    for start in range(0, len(bodies), size):
        chunk = bodies[start : start + size]
        yield {
            "Records": [
                {
                    "messageId": f"demo-{start + i}",
                    "receiptHandle": f"rh-{start + i}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:twinledger-telemetry",
                    "awsRegion": "eu-central-1",
                }
                for i, body in enumerate(chunk)
            ]
        }


def run_demo(
    machines: int = 8,
    days: int = 1,
    seed: int = 7,
    start_day: date = date(2026, 1, 5),
    batch_samples: int = 300,
    out: TextIO | None = None,
) -> DemoResult:
    """Run the whole data path once and print a report; returns the figures.

    Example:
        >>> result = run_demo(machines=2, days=1, seed=1, out=None)  # doctest: +SKIP
        >>> result.accepted > 0 and result.machines[0].proof_ok
        True
    """
    _set_local_defaults()
    ensure_functions_importable()
    from chalice.test import Client
    from moto import mock_aws
    from web3 import EthereumTesterProvider, Web3

    from app import app, ingest_service
    from chalicelib import aws
    from chalicelib.chain.registry import AnchorClient, deploy_anchor_registry
    from chalicelib.tables import create_resources
    from chalicelib.twins.dal import DeviceRegistry, HistoryStore, QuarantineStore
    from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
    from twin_models.history import oee_input
    from twin_models.merkle import keccak256
    from twin_models.oee import ShiftSpec, compute_oee
    from twin_models.signing import canonical_bytes, generate_private_key, public_key_pem, seal
    from twin_models.tenancy import Device

    began = time.perf_counter()
    tz = ZoneInfo(PLANT_TZ)
    window_start = datetime.combine(start_day, dtime(0), tz).astimezone(UTC)
    window_end = datetime.combine(start_day + timedelta(days=days), dtime(0), tz).astimezone(UTC)
    rng = random.Random(seed)
    with mock_aws():
        aws.reset_clients()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        fleet = FleetSimulator(machines, seed, window_start, calendar=ShiftCalendar(timezone=PLANT_TZ))
        keys = {}
        registry = DeviceRegistry()
        for machine_id, sim in fleet.machines.items():
            keys[machine_id] = generate_private_key()
            aws.client("iot").create_thing(thingName=machine_id)
            registry.put(
                Device(
                    thing_name=machine_id,
                    site=SITE,
                    line=sim.profile.line,
                    lessor=LESSOR,
                    lessee=LESSEE,
                    timezone=PLANT_TZ,
                    keys={f"{machine_id}/1": public_key_pem(keys[machine_id])},
                    ideal_cycle_times_s=dict(sim.profile.programs),
                )
            )

        # -- the edge: simulate, batch, sign ------------------------------------------------------
        bodies: list[str] = []
        seqs = dict.fromkeys(fleet.machines, 0)
        total_seconds = int((window_end - window_start).total_seconds())
        for _ in range(0, total_seconds, 3600):
            hour = fleet.advance(min(3600, total_seconds))
            for machine_id, samples in hour.items():
                for first in range(0, len(samples), batch_samples):
                    envelope = seal(
                        machine_id,
                        SITE,
                        seqs[machine_id],
                        samples[first : first + batch_samples],
                        keys[machine_id],
                        f"{machine_id}/1",
                    )
                    seqs[machine_id] += 1
                    bodies.append(json.dumps(envelope.to_wire(), separators=(",", ":")))
        sample_count = sum(seqs.values()) * batch_samples
        # what a shop floor also produces: a tampered envelope, an unsigned one, a retransmission
        tampered = json.loads(bodies[rng.randrange(len(bodies))])
        tampered["samples"][0]["part_count"] += 50
        unsigned = json.loads(bodies[rng.randrange(len(bodies))])
        unsigned.pop("signature")
        bodies += [json.dumps(tampered), json.dumps(unsigned), bodies[rng.randrange(len(bodies))]]
        rng.shuffle(bodies)

        # -- the cloud: topic rule -> SQS -> ingest Lambda ------------------------------------------
        lambda_logs = io.StringIO()  # the Lambda's structured logs and EMF metrics, as CloudWatch would get
        with Client(app) as client, contextlib.redirect_stdout(lambda_logs):
            for event in _sqs_batches(bodies):
                response = client.lambda_.invoke("ingest", event)
                if response.payload.get("batchItemFailures"):
                    raise RuntimeError(f"ingest reported failures: {response.payload}")
        stats = ingest_service().totals

        # -- OEE per machine from the stored history -------------------------------------------------
        history = HistoryStore()
        data = []
        for machine_id, sim in fleet.machines.items():
            segments = history.segments(machine_id, window_start, window_end)
            data.append(
                oee_input(machine_id, segments, window_start, window_end, dict(sim.profile.programs), sim.profile.line)
            )
        shifts = [
            ShiftSpec(name="early", start="06:00", end="14:00", breaks=[("10:00", "10:30")]),
            ShiftSpec(name="late", start="14:00", end="22:00", breaks=[("18:00", "18:30")]),
        ]
        report = compute_oee(data, window_start, window_end, shifts=shifts, timezone=PLANT_TZ)

        # -- tamper evidence: daily summaries anchored as one Merkle batch -------------------------
        lines: list[MachineLine] = []
        hashes = []
        for m in report.machines:
            summary = {
                "kind": "daily-summary",
                "machine_id": m.machine_id,
                "from": window_start.isoformat(),
                "to": window_end.isoformat(),
                "oee": m.oee,
                "availability": m.availability,
                "performance": m.performance,
                "quality": m.quality,
                "total_count": m.total_count,
                "good_count": m.good_count,
                "run_time_s": m.run_time_s,
            }
            digest = keccak256(canonical_bytes(summary))
            hashes.append(digest)
            lines.append(
                MachineLine(
                    machine_id=m.machine_id,
                    availability=m.availability,
                    performance=m.performance,
                    quality=m.quality,
                    oee=m.oee,
                    good=m.good_count,
                    total=m.total_count,
                    breakdown_events=m.breakdown_events,
                    summary_hash="0x" + digest.hex(),
                )
            )
        w3 = Web3(EthereumTesterProvider())
        owner = w3.eth.accounts[0]
        anchor = AnchorClient(w3, deploy_anchor_registry(w3, owner), owner)
        receipt = anchor.anchor_batch(hashes, kind="daily-summary", metadata=json.dumps({"day": start_day.isoformat()}))
        for line, digest in zip(lines, hashes, strict=True):
            line.proof_ok = anchor.verify_record(receipt.root, digest, receipt.proof_for(digest))
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        quarantined = Counter(item["reason"] for item in QuarantineStore().list_day(today))

    total = report.total
    result = DemoResult(
        machines=lines,
        fleet={
            "availability": total.availability,
            "performance": total.performance,
            "quality": total.quality,
            "oee": total.oee,
        },
        envelopes_sent=len(bodies),
        accepted=stats.accepted,
        duplicates=stats.duplicates,
        quarantined=quarantined,
        anchor_root="0x" + receipt.root.hex(),
        anchor_tx="0x" + bytes(receipt.tx_hash).hex(),
        anchor_block=receipt.block_number,
        seconds=time.perf_counter() - began,
        samples=sample_count,
    )
    if out is not None:
        _print(result, machines, days, seed, start_day, out)
    return result


def _print(result: DemoResult, machines: int, days: int, seed: int, start_day: date, out: TextIO) -> None:
    w = out.write
    w(f"twinledger demo: {machines} machines, {days} day(s) from {start_day} ({PLANT_TZ}), seed {seed}\n\n")
    for line in result.machines:
        w(
            f"{line.machine_id}  OEE {_pct(line.oee)}  (A {_pct(line.availability)} x P {_pct(line.performance)}"
            f" x Q {_pct(line.quality)})  parts {line.total:5d} good {line.good:5d}"
            f"  breakdowns {line.breakdown_events}  proof {'ok' if line.proof_ok else 'FAILED'}\n"
        )
    f = result.fleet
    w(
        f"\nfleet   OEE {_pct(f['oee'])}  (A {_pct(f['availability'])} x P {_pct(f['performance'])}"
        f" x Q {_pct(f['quality'])})  weighted by planned production time\n"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.quarantined.items())) or "none"
    w(
        f"envelopes: {result.envelopes_sent} sent, {result.accepted} ingested, {result.duplicates} duplicate,"
        f" {sum(result.quarantined.values())} rejected ({reasons}); {result.samples} samples\n"
    )
    w(f"anchored {len(result.machines)} daily summaries: root {result.anchor_root}\n")
    w(f"  transaction {result.anchor_tx} (block {result.anchor_block}, eth-tester in-process)\n")
    w(f"finished in {result.seconds:.1f} s\n")


if __name__ == "__main__":  # pragma: no cover
    run_demo(out=sys.stdout)
