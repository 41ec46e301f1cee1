"""The end-to-end demo on embedded defaults: no AWS account, no running servers.

One plant day of a leased fleet, through the code a deployment runs:

1. commissioning: an anomaly model is trained on healthy machines (the SageMaker endpoint's
   inference code, served in-process);
2. the lessor registers the machines (gateway keys) and a pay-per-use lease, whose
   ``PayPerUseLease`` contract is deployed on an in-process chain (eth-tester);
3. the edge: a seeded fleet is simulated, each gateway signs its envelopes; a tampered, an
   unsigned and a retransmitted envelope are mixed in;
4. the cloud: the ingest Lambda (invoked as SQS would) verifies, stores history, updates shadows,
   meters usage and scores health (maintenance tickets for the machines that degrade);
5. OEE per machine from the stored history; a daily summary per machine is queued for anchoring;
6. the scheduled Lambdas run (billing closes the day and posts the invoice on chain; anchoring
   puts every queued record hash in one Merkle batch), and the HTTP API serves each party's view:
   the lessee's invoice, and a proof per record checked against the chain.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from twinledger.paths import ensure_functions_importable

__all__ = ["DemoResult", "MachineLine", "run_demo"]

PLANT_TZ = "Europe/Berlin"
SITE = "plant-a"
LESSOR = "toolmaker"
LESSEE = "factory-1"
LEASE_ID = "lease-demo"
_RANK = {"ok": 0, "warning": 1, "critical": 2}
JWT_SECRET = "local-demo-secret-for-in-process-runs"


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
    health: str = "ok"
    action: str = ""
    tickets: int = 0
    summary_record: str = ""
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
    samples: int
    tickets: int
    invoice: dict[str, Any]
    anchored_records: int
    anchor_tx: str
    anchor_block: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


class SimClock:
    """The demo's accelerated time: each Lambda sees the simulated moment it would run at."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def _set_local_defaults(model_dir: Path) -> None:
    """Fake credentials for moto, a local token secret, the in-process chain and anomaly model."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "TWINLEDGER_AUTH_MODE": "jwt",
        "TWINLEDGER_JWT_SECRET": JWT_SECRET,
        "POWERTOOLS_METRICS_NAMESPACE": "twinledger",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    os.environ["TWINLEDGER_CHAIN_RPC_URL"] = "eth-tester"
    os.environ["TWINLEDGER_ANOMALY_MODEL_DIR"] = str(model_dir)
    for name in ("TWINLEDGER_AWS_ENDPOINT_URL", "TWINLEDGER_ANCHOR_REGISTRY", "TWINLEDGER_ANCHOR_STORE"):
        os.environ.pop(name, None)


def _sqs_batches(bodies: list[str], size: int = 10, first_id: int = 0) -> Iterator[dict[str, Any]]:
    for start in range(0, len(bodies), size):
        yield {
            "Records": [
                {
                    "messageId": f"demo-{first_id + start + i}",
                    "receiptHandle": f"rh-{first_id + start + i}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:twinledger-telemetry",
                    "awsRegion": "eu-central-1",
                }
                for i, body in enumerate(bodies[start : start + size])
            ]
        }


def _gateways(
    machines: int,
    seed: int,
    start: datetime,
    end: datetime,
    batch_samples: int,
    pems: dict[str, bytes],
    hours: Any,
) -> None:
    """The shop floor, in its own process: each gateway samples, batches and signs; one list per hour."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
    from twin_models.signing import sign_document
    from twin_models.telemetry import TelemetryEnvelope

    keys = {mid: load_pem_private_key(pem, password=None) for mid, pem in pems.items()}
    fleet = FleetSimulator(machines, seed, start, calendar=ShiftCalendar(timezone=PLANT_TZ))
    seqs = dict.fromkeys(fleet.machines, 0)
    last: dict[str, Any] = {}
    remaining = int((end - start).total_seconds())
    while remaining > 0:
        published: list[str] = []
        for machine_id, samples in fleet.advance(min(3600, remaining)).items():
            for first in range(0, len(samples), batch_samples):
                chunk = samples[first : first + batch_samples]
                envelope = TelemetryEnvelope(
                    thing_name=machine_id,
                    site=SITE,
                    seq=seqs[machine_id],
                    sent_at=chunk[-1].ts,
                    samples=chunk,
                    previous=last.get(machine_id),
                )
                last[machine_id] = chunk[-1]
                key = keys[machine_id]
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                wire = sign_document(envelope.to_wire(), key, f"{machine_id}/1")
                seqs[machine_id] += 1
                published.append(json.dumps(wire, separators=(",", ":")))
        hours.put(published)
        remaining -= 3600
    hours.put(None)


def _commission_model(model_dir: Path, seed: int) -> None:
    """Train the anomaly model on healthy machines' telemetry from a commissioning day."""
    import pandas as pd

    from edge_greengrass.simulator import FleetSimulator, default_profiles
    from twin_models.anomaly import AnomalyModel, save_model_dir, telemetry_features

    healthy = [dataclasses.replace(p, failure_mode=None) for p in default_profiles(4, seed + 1000)]
    start = datetime(2025, 12, 29, 5, tzinfo=UTC)  # a commissioning shift, a week before
    runs = FleetSimulator(4, seed + 1000, start, profiles=healthy).advance(8 * 3600)
    frames = [telemetry_features([s.model_dump() for s in rows], window=60) for rows in runs.values()]
    save_model_dir(AnomalyModel.fit(pd.concat(frames)), model_dir)


def _lease_document(machine_ids: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "lease_id": LEASE_ID,
        "lessor": LESSOR,
        "lessee": LESSEE,
        "machine_ids": machine_ids,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "billing_interval": "daily",
        "timezone": PLANT_TZ,
        "currency": "EUR",
        "tax_rate": "0.19",
        "grace_period": "PT2H",
        "tariff": {
            "components": [
                {"id": "base", "kind": "base_fee", "description": "Fleet day fee", "amount": "240.00"},
                {"id": "spindle", "meter": "spindle_hours", "description": "Spindle hours", "unit_price": "9.50"},
                {
                    "id": "parts",
                    "meter": "parts",
                    "description": "Parts",
                    "pricing": "graduated",
                    "tiers": [{"up_to": "5000", "unit_price": "0.08"}, {"up_to": None, "unit_price": "0.05"}],
                },
                {"id": "energy", "meter": "energy_kwh", "description": "Energy", "unit_price": "0.31"},
                {
                    "id": "crash",
                    "meter": "crash_events",
                    "description": "Crash inspections",
                    "aggregation": "count",
                    "unit_price": "180.00",
                },
            ]
        },
    }


def _open_lease(machine_ids: list[str], start: datetime, end: datetime) -> None:
    """Register the lease and deploy its PayPerUseLease contract on the in-process chain."""
    from chalicelib.billing.dal import LeaseStore
    from chalicelib.chain import LeaseTerms, deploy_lease
    from chalicelib.chain.config import connect, get_chain_settings
    from twin_models.billing import load_lease
    from twin_models.merkle import keccak256

    lease = load_lease(_lease_document(machine_ids, start, end))
    w3 = connect(get_chain_settings())
    lessor, lessee = (str(a) for a in w3.eth.accounts[:2])
    terms = LeaseTerms(
        lessor=lessor,
        lessee=lessee,
        operator=lessor,  # the billing service signs with the node's first account locally
        tariff_hash=keccak256(lease.tariff.model_dump_json().encode()),
        machine_ids=tuple(keccak256(m.encode()) for m in machine_ids),
        starts_at=lease.start,
        dispute_window_seconds=7 * 86_400,
    )
    LeaseStore().create(lease, contract_address=deploy_lease(w3, lessor, terms))


@contextlib.contextmanager
def _isolated_process_state() -> Iterator[None]:
    """Give the process back as it was: environment, cached clients, the app's services."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if "app" in sys.modules:  # only once the demo has loaded the Chalice app
            import app as app_module
            from chalicelib import aws
            from chalicelib.billing import anchor as billing_anchor
            from chalicelib.chain.wiring import reset_anchoring
            from chalicelib.health.dal import reset_adapters

            app_module._ingest = None
            billing_anchor.configure_anchor(None)
            aws.reset_clients()
            reset_adapters()
            reset_anchoring()


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
        >>> result.accepted > 0 and all(m.proof_ok for m in result.machines)
        True
    """
    began = time.perf_counter()
    timings: dict[str, float] = {}
    with _isolated_process_state(), tempfile.TemporaryDirectory(prefix="twinledger-demo-") as tmp:
        model_dir = Path(tmp) / "anomaly-model"
        _set_local_defaults(model_dir)
        ensure_functions_importable()
        from chalice.test import Client
        from moto import mock_aws

        import app as app_module
        from chalicelib import aws
        from chalicelib.auth import issue_token
        from chalicelib.billing import anchor as billing_anchor
        from chalicelib.billing import routes as billing_routes
        from chalicelib.billing.dal import InvoiceStore
        from chalicelib.billing.service import BillingService
        from chalicelib.chain.wiring import reset_anchoring, submit_for_anchoring
        from chalicelib.health.dal import reset_adapters
        from chalicelib.health.service import HealthService
        from chalicelib.tables import create_resources
        from chalicelib.twins.dal import DeviceRegistry, HistoryStore, QuarantineStore, ShadowStore
        from chalicelib.twins.ingest import HealthStep, IngestService, MeteringStep
        from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
        from twin_models.anchoring import record_hash
        from twin_models.history import oee_input
        from twin_models.oee import ShiftSpec, compute_oee
        from twin_models.signing import generate_private_key, public_key_pem
        from twin_models.tenancy import Device

        tz = ZoneInfo(PLANT_TZ)
        window_start = datetime.combine(start_day, dtime(0), tz).astimezone(UTC)
        window_end = datetime.combine(start_day + timedelta(days=days), dtime(0), tz).astimezone(UTC)
        rng = random.Random(seed)

        mark = time.perf_counter()
        _commission_model(model_dir, seed)
        timings["commission_model_s"] = time.perf_counter() - mark

        with mock_aws():
            aws.reset_clients()
            reset_adapters()
            reset_anchoring()
            app_module._ingest = None
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
            _open_lease(sorted(fleet.machines), window_start, window_end)

            # -- the edge publishes while the cloud ingests (topic rule -> SQS -> ingest Lambda) ----
            mark = time.perf_counter()
            lambda_logs = io.StringIO()  # the Lambdas' structured logs and metrics, as CloudWatch gets them
            clock = SimClock(window_start)
            history_store = HistoryStore()
            app_module._ingest = IngestService(
                history=history_store,
                clock=clock,
                health=HealthStep(ShadowStore(), HealthService(clock=clock)),
                metering=MeteringStep(history_store, BillingService(clock=clock)),
            )
            pems = {
                mid: key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()) for mid, key in keys.items()
            }
            context = multiprocessing.get_context("fork")
            hours: multiprocessing.Queue[list[str] | None] = context.Queue(maxsize=4)
            gateways = context.Process(
                target=_gateways,
                args=(machines, seed, window_start, window_end, batch_samples, pems, hours),
                daemon=True,
            )
            gateways.start()
            bodies: list[str] = []
            with Client(app_module.app) as client, contextlib.redirect_stdout(lambda_logs):

                def deliver(messages: list[str]) -> None:
                    for event in _sqs_batches(messages, first_id=len(bodies)):
                        latest = max(json.loads(r["body"]).get("sent_at", "") for r in event["Records"])
                        if latest:  # the queue delivers a few seconds after the gateway sent
                            clock.now = max(clock.now, datetime.fromisoformat(latest) + timedelta(seconds=5))
                        response = client.lambda_.invoke("ingest", event)
                        if response.payload.get("batchItemFailures"):
                            raise RuntimeError(f"ingest reported failures: {response.payload}")
                    bodies.extend(messages)

                while (hour := hours.get(timeout=600)) is not None:
                    deliver(hour)
                gateways.join(timeout=60)
                # what a shop floor also produces: a tampered envelope, an unsigned one, a retransmission
                tampered = json.loads(bodies[rng.randrange(len(bodies))])
                tampered["samples"][0]["part_count"] += 50
                unsigned = json.loads(bodies[rng.randrange(len(bodies))])
                unsigned.pop("signature")
                deliver([json.dumps(tampered), json.dumps(unsigned), bodies[rng.randrange(len(bodies))]])
            sample_count = int((window_end - window_start).total_seconds()) * machines
            timings["edge_and_ingest_s"] = time.perf_counter() - mark
            stats = app_module.ingest_service().totals

            # -- OEE from the stored history; daily summaries queued for anchoring --------------
            mark = time.perf_counter()
            history = HistoryStore()
            data = [
                oee_input(
                    mid,
                    history.segments(mid, window_start, window_end),
                    window_start,
                    window_end,
                    dict(sim.profile.programs),
                    sim.profile.line,
                )
                for mid, sim in fleet.machines.items()
            ]
            shifts = [
                ShiftSpec(name="early", start="06:00", end="14:00", breaks=[("10:00", "10:30")]),
                ShiftSpec(name="late", start="14:00", end="22:00", breaks=[("18:00", "18:30")]),
            ]
            report = compute_oee(data, window_start, window_end, shifts=shifts, timezone=PLANT_TZ)
            lines: list[MachineLine] = []
            tickets = list(stats.tickets)
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
                record_id = f"daily-summary/{m.machine_id}/{start_day.isoformat()}"
                submit_for_anchoring(record_id, record_hash(summary), kind="daily-summary", tenants=(LESSOR, LESSEE))
                opened = [t for t in tickets if t["thing_name"] == m.machine_id]
                worst = max(opened, key=lambda t: _RANK.get(str(t["severity"]), 0), default=None)
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
                        health=str(worst["severity"]) if worst else "ok",
                        action=str(worst["action"]) if worst else "",
                        tickets=len(opened),
                        summary_record=record_id,
                    )
                )
            timings["oee_s"] = time.perf_counter() - mark

            # -- the schedules fire; each party reads its view through the API ------------------
            mark = time.perf_counter()
            billing_anchor.configure_anchor(billing_anchor._default_anchor())
            lessee = {"Authorization": "Bearer " + issue_token(JWT_SECRET, tenant=LESSEE, role="lessee", subject="d")}
            with Client(app_module.app) as client, contextlib.redirect_stdout(lambda_logs):
                scheduled = client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
                )
                # billing closes the day in the morning after its grace time (as its schedule would)
                billing_run = billing_routes.service().run(now=window_end + timedelta(hours=3)).as_dict()
                anchor_run = client.lambda_.invoke("anchor", scheduled).payload
                invoices = json.loads(client.http.get(f"/leases/{LEASE_ID}/invoices", headers=lessee).body)
                issued = invoices.get("invoices") or []
                invoice: dict[str, Any] = {"run": billing_run}
                if issued:  # the issued document as stored (GET /invoices/{id} adds the usage evidence)
                    stored = InvoiceStore().get(issued[0]["invoice_id"])
                    invoice = stored.as_dict() if stored else {**issued[0], **invoice}
                    invoice["issued_count"] = len(issued)
                anchor_block = 0
                for line in lines:
                    found = client.http.get(f"/proofs?record_id={line.summary_record}", headers=lessee)
                    if found.status_code != 200:
                        continue
                    checked = client.http.post(
                        "/proofs/verify",
                        headers={**lessee, "Content-Type": "application/json"},
                        body=found.body,
                    )
                    line.proof_ok = checked.status_code == 200 and bool(json.loads(checked.body).get("ok"))
                    anchor_block = int(json.loads(found.body).get("block_number") or 0)
            timings["schedules_and_api_s"] = time.perf_counter() - mark
            billing_anchor.configure_anchor(None)
            days_seen = {(window_start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days + 2)}
            quarantined = Counter(item["reason"] for day in days_seen for item in QuarantineStore().list_day(day))

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
        samples=sample_count,
        tickets=len(stats.tickets),
        invoice=invoice,
        anchored_records=int(anchor_run.get("anchored", 0)),
        anchor_tx=str((anchor_run.get("tx_hashes") or [""])[-1]),
        anchor_block=anchor_block,
        seconds=time.perf_counter() - began,
        timings=timings,
    )
    if out is not None:
        _print(result, machines, days, seed, start_day, out)
    return result


def _print(result: DemoResult, machines: int, days: int, seed: int, start_day: date, out: TextIO) -> None:
    w = out.write
    w(f"twinledger demo: {machines} machines, {days} day(s) from {start_day} ({PLANT_TZ}), seed {seed}\n\n")
    for line in result.machines:
        health = "ok" if line.health == "ok" else f"{line.health} ({line.action}, {line.tickets} ticket)"
        w(
            f"{line.machine_id}  OEE {_pct(line.oee)}  (A {_pct(line.availability)} x P {_pct(line.performance)}"
            f" x Q {_pct(line.quality)})  good {line.good:5d}/{line.total:5d}  breakdowns {line.breakdown_events}"
            f"  proof {'ok' if line.proof_ok else 'FAILED'}  health {health}\n"
        )
    f = result.fleet
    w(
        f"\nfleet   OEE {_pct(f['oee'])}  (A {_pct(f['availability'])} x P {_pct(f['performance'])}"
        f" x Q {_pct(f['quality'])})  weighted by planned production time\n"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.quarantined.items())) or "none"
    w(
        f"telemetry: {result.envelopes_sent} envelopes sent, {result.accepted} ingested, {result.duplicates} duplicate,"
        f" {sum(result.quarantined.values())} quarantined ({reasons}); {result.samples} samples\n"
    )
    w(f"maintenance: {result.tickets} ticket(s) opened from anomaly alarms, each queued for anchoring\n")
    inv = result.invoice
    nested = inv.get("invoice")
    body: dict[str, Any] = nested if isinstance(nested, dict) else inv
    if body.get("invoice_id"):
        posted = inv.get("anchor", {})
        more = int(inv.get("issued_count", 1)) - 1
        if more > 0:
            w(f"invoices: {more + 1} issued, one per lease period; the first:\n")
        w(
            f"invoice {body['invoice_id']} to {LESSEE}: total {body.get('total')} {body.get('currency', '')}"
            f" (subtotal {body.get('subtotal')}, tax {body.get('tax')});"
            f" usage root {str(body.get('usage', {}).get('root', ''))[:18]}...;"
            f" PayPerUseLease: {posted.get('status', 'n/a')}"
            f" (tx {str(posted.get('tx_hash', ''))[:18]}...)\n"
        )
        for item in body.get("lines", []):
            w(
                f"    {item.get('description', item.get('component', '')):<20} {item.get('quantity', ''):>14}"
                f" x {item.get('unit_price', ''):>8} = {item.get('amount', ''):>10}\n"
            )
    else:
        w(f"invoice: none issued ({inv.get('run')})\n")
    w(
        f"anchored {result.anchored_records} record hashes in one Merkle batch on the in-process chain:"
        f" tx {result.anchor_tx} (block {result.anchor_block}); every daily summary's proof checked via the API\n"
    )
    w(f"finished in {result.seconds:.1f} s\n")


if __name__ == "__main__":  # pragma: no cover
    run_demo(out=sys.stdout)
