"""The end-to-end demo on embedded defaults: no AWS account, no running servers.

One plant day of a leased fleet, through the code a deployment runs:

1. commissioning: an anomaly model is trained on healthy machines (the SageMaker endpoint's
   inference code, served in-process);
2. the lessor registers the machines (gateway keys) and a pay-per-use lease, whose
   ``PayPerUseLease`` contract is deployed on an in-process chain (eth-tester);
3. the edge: a seeded fleet is simulated, each gateway signs its envelopes; a tampered, an
   unsigned and a retransmitted envelope are mixed in;
4. the cloud: the ingest Lambda (invoked as SQS would) runs its pipeline: verifies, stores history,
   updates shadows, meters usage and scores health (maintenance tickets for the machines that degrade);
5. the scheduled Lambdas fire as EventBridge would: OEE per shift from the stored history with the
   site's shift calendar (closed shifts are queued for anchoring), billing closes the day and posts the
   invoice on chain, anchoring puts every queued record hash in a Merkle batch per kind;
6. the HTTP API serves each party's view: the fleet's OEE, the lessee's invoice, and a proof per
   anchored shift checked against the chain;
7. maintenance (:mod:`twinledger.local.maintenance_demo`): the lessor's technician resolves the day's
   tickets with log entries, the chain heads are anchored with the day's records, and one machine's due
   list, statistics and exported history (checked against the chain) are reported.

The services come from the functions' one wiring module, with the in-memory adapters, the in-process
chain and the inference code in process in place of the SageMaker endpoint.
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
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from twin_models.timestamps import format_utc
from twinledger.local import maintenance_demo
from twinledger.local.demo_parts import PartsReport, drain, format_report, parts_demo
from twinledger.paths import ensure_functions_importable
from twinledger.progress import Reporter, Silent
from twinledger.wording import counted

__all__ = [
    "NEXT_STEPS",
    "DemoResult",
    "MachineLine",
    "commission_model",
    "commissioning_samples",
    "report_document",
    "run_demo",
    "write_report",
]

PLANT_TZ = "Europe/Berlin"
SITE = "plant-a"
LESSOR = "toolmaker"
LESSEE = "factory-1"
LEASE_ID = f"{LESSOR}:lease-demo"  # the qualified id (twin_models.billing.qualified_lease_id)
_RANK = {"ok": 0, "warning": 1, "critical": 2}
JWT_SECRET = "local-demo-secret-for-in-process-runs"

#: Where to look next, as the demo's report ends: (command or file, what it shows).
NEXT_STEPS: tuple[tuple[str, str], ...] = (
    ("twinledger up", "the whole local stack (moto, Ganache, mosquitto, a gateway): the API on 127.0.0.1:8000"),
    ("twinledger api", "the HTTP API alone on a seeded fleet, with a token per party and /openapi.json"),
    ("twinledger verify --record PROOF.json --rpc URL", "a record's proof bundle checked against a chain"),
    ("docs/architecture.md", "the map of the code: layers, ports, where each rule lives"),
)


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
    proofs: int = 0
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
    periods_anchored: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    parts: PartsReport = field(default_factory=PartsReport)
    maintenance: dict[str, Any] = field(default_factory=dict)
    federation: dict[str, Any] = field(default_factory=dict)
    days: int = 1
    seed: int = 7
    start_day: date = date(2026, 1, 5)
    batch_samples: int = 300

    @property
    def ok(self) -> bool:
        """Every shift result's proof checked and telemetry was ingested (the command's exit status)."""
        return all(m.proof_ok for m in self.machines) and self.accepted > 0


class SimClock:
    """The demo's accelerated time: each Lambda sees the simulated moment it would run at."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}%"


def _set_local_defaults() -> None:
    """A local token secret, in-memory stores and the in-process chain (no AWS account, no servers)."""
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
    os.environ["TWINLEDGER_ADAPTERS"] = "memory"
    os.environ["TWINLEDGER_CHAIN_RPC_URL"] = "eth-tester"
    for name in (
        "TWINLEDGER_AWS_ENDPOINT_URL",
        "TWINLEDGER_ANCHOR_REGISTRY",
        "TWINLEDGER_ANCHOR_STORE",
        "TWINLEDGER_ANOMALY_ENDPOINT",
        "TWINLEDGER_OEE_LOOKBACK_H",
        "TWINLEDGER_OEE_ANCHOR_AFTER_H",
    ):
        os.environ.pop(name, None)


def _scheduled_event(at: datetime) -> dict[str, Any]:
    """An EventBridge scheduled event as the rule would send it at ``at``."""
    return {
        "version": "0",
        "id": f"demo-{at.timestamp():.0f}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-central-1",
        "resources": [],
        "detail": {},
    }


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
    from twin_models.signing import seal_wire

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
                key = keys[machine_id]
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                seq, previous = seqs[machine_id], last.get(machine_id)
                wire = seal_wire(machine_id, SITE, seq, chunk, key, f"{machine_id}/1", chunk[-1].ts, previous)
                last[machine_id] = chunk[-1]
                seqs[machine_id] += 1
                published.append(wire.decode())
        hours.put(published)
        remaining -= 3600
    hours.put(None)


def commissioning_samples(seed: int, hours: float = 8.0, machines: int = 4) -> dict[str, list[dict[str, Any]]]:
    """Healthy telemetry from a commissioning shift a week before the demo day: the demo's simulator
    (``edge_greengrass.simulator``) with its failure modes switched off, by machine id."""
    from edge_greengrass.simulator import FleetSimulator, default_profiles

    healthy = [dataclasses.replace(p, failure_mode=None) for p in default_profiles(machines, seed + 1000)]
    start = datetime(2025, 12, 29, 5, tzinfo=UTC)  # 06:00 in the plant, a week before
    runs = FleetSimulator(machines, seed + 1000, start, profiles=healthy).advance(int(hours * 3600))
    return {m: [s.model_dump() for s in rows] for m, rows in runs.items()}


def commission_model(model_dir: Path, seed: int) -> None:
    """Train the anomaly model on healthy machines' telemetry from a commissioning shift: one row per
    minute and machine, each machine scored against its own baseline (learnt on site, the fleet's as the
    prior), the threshold calibrated on the last quarter of the shift."""
    from twin_models.anomaly import train_telemetry
    from twinledger.files.anomaly import save_model_dir

    save_model_dir(train_telemetry(commissioning_samples(seed)), model_dir)


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


def open_lease(leases: Any, machine_ids: list[str], start: datetime, end: datetime) -> None:
    """Register the lease and deploy its PayPerUseLease contract on the in-process chain."""
    from chalicelib.adapters.chain import LeaseTerms, deploy_lease
    from chalicelib.adapters.chain.config import connect, get_chain_settings
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
    leases.create(lease, contract_address=deploy_lease(w3, lessor, terms))


@contextlib.contextmanager
def _isolated_process_state() -> Iterator[None]:
    """Give the process back as it was: environment, the installed services, the in-process chain."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if "chalicelib.wiring" in sys.modules:  # only once the demo has loaded the functions
            from chalicelib import wiring
            from chalicelib.adapters.chain.config import reset_chain

            wiring.reset()
            reset_chain()


def run_demo(
    machines: int = 8,
    days: int = 1,
    seed: int = 7,
    start_day: date = date(2026, 1, 5),
    batch_samples: int = 300,
    out: TextIO | None = None,
    progress: Reporter | None = None,
) -> DemoResult:
    """Run the whole data path once, reporting each phase to ``progress``; returns the figures (and writes the
    report to ``out`` when given: :func:`write_report`).

    Example:
        >>> result = run_demo(machines=2, days=1, seed=1, out=None)  # doctest: +SKIP
        >>> result.accepted > 0 and all(m.proof_ok for m in result.machines)
        True
    """
    began = time.perf_counter()
    timings: dict[str, float] = {}
    phase = (progress or Silent()).phase
    with _isolated_process_state(), tempfile.TemporaryDirectory(prefix="twinledger-demo-") as tmp:
        model_dir = Path(tmp) / "anomaly-model"
        _set_local_defaults()
        ensure_functions_importable()
        from chalice.test import Client

        import app as app_module
        from chalicelib import wiring
        from chalicelib.adapters.chain.config import reset_chain
        from chalicelib.auth import issue_token
        from chalicelib.oee.service import period_record_id
        from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
        from twin_models.oee import PlantCalendar, ShiftSpec
        from twin_models.signing import generate_private_key, public_key_pem
        from twin_models.tenancy import Device
        from twinledger.local.inprocess_endpoint import InProcessEndpoint

        tz = ZoneInfo(PLANT_TZ)
        window_start = datetime.combine(start_day, dtime(0), tz).astimezone(UTC)
        window_end = datetime.combine(start_day + timedelta(days=days), dtime(0), tz).astimezone(UTC)
        rng = random.Random(seed)

        mark = time.perf_counter()
        with phase("commissioning the anomaly model"):
            commission_model(model_dir, seed)
        timings["commission_model_s"] = time.perf_counter() - mark

        with phase("registering the fleet and the lease"):
            reset_chain()
            clock = SimClock(window_start)
            built = wiring.build(endpoint=InProcessEndpoint(model_dir), clock=clock)
            wiring.use(built)
            adapters = built.adapters
            fleet = FleetSimulator(machines, seed, window_start, calendar=ShiftCalendar(timezone=PLANT_TZ))
            keys = {}
            for machine_id, sim in fleet.machines.items():
                keys[machine_id] = generate_private_key()
                adapters.devices.put(
                    Device(
                        machine_id=machine_id,
                        site=SITE,
                        line=sim.profile.line,
                        lessor=LESSOR,
                        lessee=LESSEE,
                        timezone=PLANT_TZ,
                        keys={f"{machine_id}/1": public_key_pem(keys[machine_id])},
                        ideal_cycle_times_s=dict(sim.profile.programs),
                    )
                )
            adapters.calendars.put(
                SITE,
                PlantCalendar(
                    timezone=PLANT_TZ,
                    shifts=[
                        ShiftSpec(name="early", start="06:00", end="14:00", breaks=[("10:00", "10:30")]),
                        ShiftSpec(name="late", start="14:00", end="22:00", breaks=[("18:00", "18:30")]),
                    ],
                ),
            )
            open_lease(adapters.leases, sorted(fleet.machines), window_start, window_end)

        # -- the edge publishes while the cloud ingests (topic rule -> SQS -> ingest Lambda) ----
        mark = time.perf_counter()
        lambda_logs = io.StringIO()  # the Lambdas' structured logs and metrics, as CloudWatch gets them
        pems = {mid: key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()) for mid, key in keys.items()}
        context = multiprocessing.get_context("fork")
        hours: multiprocessing.Queue[list[str] | None] = context.Queue(maxsize=4)
        gateways = context.Process(
            target=_gateways,
            args=(machines, seed, window_start, window_end, batch_samples, pems, hours),
            daemon=True,
        )
        gateways.start()
        bodies: list[str] = []
        simulated_hours = -(-int((window_end - window_start).total_seconds()) // 3600)
        with (
            phase("edge and ingest", total=simulated_hours, unit="simulated hours") as step,
            Client(app_module.app) as client,
            contextlib.redirect_stdout(lambda_logs),
        ):

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
                step()
            gateways.join(timeout=60)
            # what a shop floor also produces: a tampered envelope, an unsigned one, a retransmission
            tampered = json.loads(bodies[rng.randrange(len(bodies))])
            tampered["samples"][0]["part_count"] += 50
            unsigned = json.loads(bodies[rng.randrange(len(bodies))])
            unsigned.pop("signature")
            deliver([json.dumps(tampered), json.dumps(unsigned), bodies[rng.randrange(len(bodies))]])
        sample_count = int((window_end - window_start).total_seconds()) * machines
        timings["edge_and_ingest_s"] = time.perf_counter() - mark
        stats = built.ingest.totals

        # -- the schedules fire as EventBridge would; each party reads its view through the API ----
        mark = time.perf_counter()
        lessee = {"Authorization": "Bearer " + issue_token(JWT_SECRET, tenant=LESSEE, role="lessee", subject="d")}
        periods_anchored = 0
        with (
            phase("schedules and the parties' API reads", total=len(fleet.machines) + 6, unit="steps") as step,
            Client(app_module.app) as client,
            contextlib.redirect_stdout(lambda_logs),
        ):
            for day in range(days):  # the hourly OEE schedule, seen the morning after each plant day
                day_end = datetime.combine(start_day + timedelta(days=day + 1), dtime(0), tz).astimezone(UTC)
                clock.now = day_end + timedelta(hours=3)
                oee_run = client.lambda_.invoke("oee_shifts", _scheduled_event(clock.now)).payload
                periods_anchored += int(oee_run.get("periods_anchored", 0))
            step()
            # billing closes the days after their grace time; anchoring drains the queue in one batch
            billing_run = client.lambda_.invoke("billing_close_periods", _scheduled_event(clock.now)).payload
            step()
            tokens = {"operator": lessee, **_maintenance_headers()}
            work = maintenance_demo.resolve_faults(client, built, clock, tokens, _scheduled_event(clock.now))
            step()
            anchor_run = drain(lambda: client.lambda_.invoke("anchor", _scheduled_event(clock.now)).payload)
            step()
            window = {"from": format_utc(window_start), "to": format_utc(window_end)}
            report = _get(client, "/fleet/oee", lessee, {**window, "by": "shift"})
            invoices = _get(client, f"/leases/{LEASE_ID}/invoices", lessee).get("items") or []
            invoice: dict[str, Any] = {"run": billing_run}
            if invoices:  # the issued document with its evidence, as the lessee reads it
                invoice = _get(client, f"/invoices/{invoices[0]['invoice_id']}", lessee)
                invoice["issued_count"] = len(invoices)
            lines: list[MachineLine] = []
            tickets = list(stats.tickets)
            anchor_block = 0
            for m in report.get("machines", []):
                opened = [t for t in tickets if t["machine_id"] == m["machine_id"]]
                worst = max(opened, key=lambda t: _RANK.get(str(t["severity"]), 0), default=None)
                records = [
                    period_record_id(m["machine_id"], datetime.fromisoformat(str(p["start"]).replace("Z", "+00:00")))
                    for p in report.get("periods") or []
                    if p.get("shift")
                ]
                checked = [_proof_checks(client, lessee, record) for record in records]
                anchor_block = max([anchor_block] + [block for _, block in checked])
                lines.append(
                    MachineLine(
                        machine_id=m["machine_id"],
                        availability=m["availability"],
                        performance=m["performance"],
                        quality=m["quality"],
                        oee=m["oee"],
                        good=m["good_count"],
                        total=m["total_count"],
                        breakdown_events=m["breakdown_events"],
                        health=str(worst["severity"]) if worst else "ok",
                        action=str(worst["action"]) if worst else "",
                        tickets=work["machines"].get(m["machine_id"], 0),
                        summary_record=records[0] if records else "",
                        proofs=len(checked),
                        proof_ok=bool(checked) and all(ok for ok, _ in checked),
                    )
                )
                step()
            # before the parts part, which commissions a machine in real time (and moves the clock there)
            maintenance = maintenance_demo.report(client, tokens, work, window_start, clock.now)
            step()
            parts = parts_demo(
                client, built, clock, lessee, sorted(fleet.machines), {"site": SITE, "lessor": LESSOR, "lessee": LESSEE}
            )
            step()
        timings["schedules_and_api_s"] = time.perf_counter() - mark
        days_seen = {(window_start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days + 2)}
        quarantined = Counter(item["reason"] for day in days_seen for item in adapters.quarantine.list_day(day))

    mark = time.perf_counter()
    with phase("federating the failure model"):
        from twinledger.federated.demo import federate_factories  # Flower loads only here

        federation = federate_factories(None, seed=seed)  # the factories federate the fleet's failure model once
    timings["federation_s"] = time.perf_counter() - mark
    total = report.get("total") or {}
    result = DemoResult(
        machines=lines,
        fleet={k: total.get(k) for k in ("availability", "performance", "quality", "oee")},
        envelopes_sent=len(bodies),
        accepted=stats.accepted,
        duplicates=stats.duplicates,
        quarantined=quarantined,
        samples=sample_count,
        tickets=sum(work["machines"].values()),
        invoice=invoice,
        anchored_records=int(anchor_run.get("anchored", 0)),
        anchor_tx=str((anchor_run.get("tx_hashes") or [""])[-1]),
        anchor_block=anchor_block,
        seconds=time.perf_counter() - began,
        periods_anchored=periods_anchored,
        timings=timings,
        parts=parts,
        maintenance=maintenance,
        federation=federation,
        days=days,
        seed=seed,
        start_day=start_day,
        batch_samples=batch_samples,
    )
    if out is not None:
        write_report(result, out)
    return result


def _maintenance_headers() -> dict[str, dict[str, str]]:
    """The bearer headers of the lessor and of its service technician."""
    from chalicelib.auth import issue_token

    lessor = issue_token(JWT_SECRET, tenant=LESSOR, role="lessor", subject="lars")
    technician = issue_token(JWT_SECRET, tenant=LESSOR, role="technician", subject="tom")
    return {"lessor": {"Authorization": "Bearer " + lessor}, "technician": {"Authorization": "Bearer " + technician}}


def _get(client: Any, path: str, headers: dict[str, str], query: dict[str, str] | None = None) -> dict[str, Any]:
    """One API read as a party would make it; the JSON body (an error raises with its message)."""
    url = path + ("?" + urlencode(query) if query else "")
    response = client.http.get(url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.body!r}")
    body: dict[str, Any] = json.loads(response.body)
    return body


def _proof_checks(client: Any, headers: dict[str, str], record_id: str) -> tuple[bool, int]:
    """Fetch a record's proof bundle and have the API check it against the chain: (ok, block)."""
    found = client.http.get("/proofs?" + urlencode({"record_id": record_id}), headers=headers)
    if found.status_code != 200:
        return False, 0
    checked = client.http.post(
        "/proofs/verify", headers={**headers, "Content-Type": "application/json"}, body=found.body
    )
    ok = checked.status_code == 200 and bool(json.loads(checked.body).get("ok"))
    return ok, int(json.loads(found.body).get("block_number") or 0)


def write_report(result: DemoResult, out: TextIO) -> None:
    """The demo's report as text; every figure in it is also in :func:`report_document`.

    Example:
        >>> write_report(run_demo(machines=1), sys.stdout)  # doctest: +SKIP
        twinledger demo: 1 machine, 1 day from 2026-01-05 (Europe/Berlin), seed 7
        ...
    """
    w = out.write
    w(
        f"twinledger demo: {counted(len(result.machines), 'machine')}, {counted(result.days, 'day')} from"
        f" {result.start_day} ({PLANT_TZ}), seed {result.seed}\n\n"
    )
    for line in result.machines:
        health = "ok" if line.health == "ok" else f"{line.health} ({line.action}, {counted(line.tickets, 'ticket')})"
        w(
            f"{line.machine_id}  OEE {_pct(line.oee)}  (A {_pct(line.availability)} x P {_pct(line.performance)}"
            f" x Q {_pct(line.quality)})  good {line.good:5d}/{line.total:5d}  breakdowns {line.breakdown_events}"
            f"  proofs {line.proofs} {'ok' if line.proof_ok else 'FAILED'}  health {health}\n"
        )
    f = result.fleet
    w(
        f"\nfleet   OEE {_pct(f['oee'])}  (A {_pct(f['availability'])} x P {_pct(f['performance'])}"
        f" x Q {_pct(f['quality'])})  weighted by planned production time\n"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.quarantined.items())) or "none"
    w(
        f"telemetry: {counted(result.envelopes_sent, 'envelope')} sent, {result.accepted} ingested,"
        f" {counted(result.duplicates, 'duplicate')}, {sum(result.quarantined.values())} quarantined ({reasons});"
        f" {counted(result.samples, 'sample')}\n"
    )
    maintenance_demo.write_report(result.maintenance, out)
    inv = result.invoice
    nested = inv.get("invoice")
    body: dict[str, Any] = nested if isinstance(nested, dict) else inv
    if body.get("invoice_id"):
        posted = inv.get("anchor", {})
        issued = int(inv.get("issued_count", 1))
        if issued > 1:
            w(f"invoices: {issued} issued, one per lease period; the first:\n")
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
        f"anchored {counted(result.anchored_records, 'record hash')}"
        f" ({counted(result.periods_anchored, 'closed shift result')},"
        f" {counted(result.maintenance.get('heads_submitted', 0), 'maintenance log head')},"
        f" {counted(result.parts.recorded, 'part')}) in"
        f" Merkle batches on the in-process chain: tx {result.anchor_tx}"
        f" (block {result.anchor_block}); every shift result's proof checked via the API\n"
    )
    w(format_report(result.parts))
    if result.federation:
        from twinledger.federated.demo import federation_line

        w(federation_line(result.federation))
    w(f"finished in {result.seconds:.1f} s\n\nwhere to look next:\n")
    width = max(len(command) for command, _ in NEXT_STEPS)
    for command, what in NEXT_STEPS:
        w(f"  {command:<{width}}  {what}\n")


def report_document(result: DemoResult) -> dict[str, Any]:
    """The demo's figures as one JSON-ready document (``twinledger demo --json``): the same figures as
    :func:`write_report`, by name.

    Example:
        >>> doc = report_document(run_demo(machines=1))  # doctest: +SKIP
        >>> doc["telemetry"]["ingested"] == doc["telemetry"]["envelopes_sent"] - 3
        True
    """
    inv = result.invoice
    nested = inv.get("invoice")
    return {
        "demo": {
            "machines": len(result.machines),
            "days": result.days,
            "start": result.start_day.isoformat(),
            "timezone": PLANT_TZ,
            "seed": result.seed,
            "batch_samples": result.batch_samples,
        },
        "ok": result.ok,
        "machines": [dataclasses.asdict(line) for line in result.machines],
        "fleet": dict(result.fleet),
        "telemetry": {
            "envelopes_sent": result.envelopes_sent,
            "ingested": result.accepted,
            "duplicates": result.duplicates,
            "quarantined": dict(sorted(result.quarantined.items())),
            "samples": result.samples,
        },
        "maintenance": result.maintenance,
        "invoice": {
            "invoice": nested if isinstance(nested, dict) else None,
            "anchor": inv.get("anchor"),
            "issued_count": int(inv.get("issued_count", 1 if isinstance(nested, dict) else 0)),
            "run": inv.get("run"),
        },
        "anchoring": {
            "records": result.anchored_records,
            "shift_results": result.periods_anchored,
            "maintenance_heads": int(result.maintenance.get("heads_submitted", 0)),
            "parts": result.parts.recorded,
            "tx": result.anchor_tx,
            "block": result.anchor_block,
        },
        "parts": {
            "recorded": result.parts.recorded,
            "per_machine": {m: {"good": g, "rejected": r} for m, (g, r) in sorted(result.parts.per_machine.items())},
            "verified": result.parts.verified,
        },
        "federation": result.federation,
        "seconds": result.seconds,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "next": [{"command": command, "what": what} for command, what in NEXT_STEPS],
    }


if __name__ == "__main__":  # pragma: no cover
    run_demo(out=sys.stdout)
