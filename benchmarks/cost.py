"""What it costs to run: the AWS bill per machine-month at 1 Hz, from the calls the ingest benchmark counts.

Runs the ingest benchmark's pipeline (``benchmarks/ingest.py``: the pipeline as the wiring builds it, over
counted in-memory adapters) and its naive handler in the same run, measures envelope and history-item
sizes and the handler's CPU time, and prices one machine-month (730 h at one sample per second) with the
eu-central-1 list prices in :data:`PRICES`. The SageMaker endpoint is reported apart (it is a fixed cost
shared by the fleet); the fixed costs of the rest (the queue's idle polling, the custom metrics, X-Ray's
reservoir) are spread over the fleet, so the total is shown for 10, 100, 1,000 and 10,000 machines.

    .venv/bin/python benchmarks/cost.py [--things 8] [--envelopes 40] [--samples 60]

Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

import ingest as bench  # the ingest benchmark beside this file

from chalicelib.adapters.memory import (
    MemoryCalendars,
    MemoryDevices,
    MemoryHistory,
    MemoryOeeResults,
    MemoryShadows,
)
from chalicelib.adapters.tables import TABLE_SPECS
from chalicelib.oee.service import OeeService
from chalicelib.ports.oee import OeeProgress, StoredPeriod
from chalicelib.settings import Settings
from twin_models.history import Segment, segment_from_envelope
from twin_models.oee import PlantCalendar, ShiftSpec
from twin_models.telemetry import Sample, TelemetryEnvelope, parse_envelope
from twin_models.tenancy import Device

#: A machine-month: AWS prices a month as 730 hours.
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
FLEETS = (10, 100, 1_000, 10_000)
#: Target for everything but the SageMaker endpoint, USD per machine-month.
TARGET_USD = 0.50

#: When the prices below were recorded, and where each is published (eu-central-1, Europe (Frankfurt)).
PRICES_DATE = "2026-12-02"
PRICE_SOURCES = {
    "iot": "https://aws.amazon.com/iot-core/pricing/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "s3": "https://aws.amazon.com/s3/pricing/",
    "cloudwatch": "https://aws.amazon.com/cloudwatch/pricing/",
    "xray": "https://aws.amazon.com/xray/pricing/",
    "sagemaker": "https://aws.amazon.com/sagemaker/ai/pricing/",
}
#: eu-central-1 list prices in USD, first (smallest) tier, no free tier. Recorded on :data:`PRICES_DATE`
#: from the pages in :data:`PRICE_SOURCES`; the script does not fetch them: check the pages (or the AWS
#: Price List API) before relying on the figures.
PRICES = {
    "iot.connection_minute": 0.096 / 1e6,
    "iot.message_5kb": 1.20 / 1e6,
    "iot.rule_triggered": 0.18 / 1e6,
    "iot.rule_action": 0.18 / 1e6,
    "iot.shadow_operation_1kb": 1.50 / 1e6,
    "sqs.request_64kb": 0.40 / 1e6,
    "lambda.gb_second": 0.0000166667,
    "lambda.request": 0.20 / 1e6,
    "dynamodb.write_request_unit": 0.7625 / 1e6,
    "dynamodb.read_request_unit": 0.1525 / 1e6,
    "dynamodb.storage_gb_month": 0.306,
    "dynamodb.pitr_gb_month": 0.2448,
    "s3.put_request": 0.0054 / 1000,
    "cloudwatch.logs_ingested_gb": 0.63,
    "cloudwatch.custom_metric_month": 0.30,
    "xray.trace_recorded": 5.00 / 1e6,
    "sagemaker.ml_m5_large_hour": 0.138,
}


@dataclass(frozen=True)
class Assumptions:
    """What the measurements cannot give, each stated where it is used."""

    #: Lambda gives one vCPU at 1,769 MB and a share proportional to memory below it.
    lambda_mb_per_vcpu: int = 1769
    #: ingest's memory setting (functions/.chalice/config.json).
    lambda_memory_mb: int = 1024
    #: service latency per call while the handler waits (same region, warm connections).
    latency_s: tuple[tuple[str, float], ...] = (
        ("dynamodb.PutItem", 0.006),
        ("dynamodb.GetItem", 0.004),
        ("iot-data.UpdateThingShadow", 0.030),
        ("iot-data.GetThingShadow", 0.020),
        ("s3.PutObject", 0.030),
    )
    #: the SQS event source's idle long polling (five pollers, one 20 s receive each), requests per month.
    sqs_idle_receives_per_month: float = 5 * SECONDS_PER_MONTH / 20
    #: the event source's batch size and batching window (iac/twinledger_iac/ingest.py).
    sqs_batch_size: int = 10
    sqs_batching_window_s: float = 5
    #: log bytes per invocation: the runtime's JSON start/report lines and the EMF metrics line.
    log_bytes_per_invocation: int = 1500
    #: custom metrics the functions emit (ingest counters, quarantine reasons, billing and anchoring figures).
    custom_metrics: int = 12
    #: X-Ray's default sampling: the first request each second, then 5 %.
    xray_reservoir_per_s: float = 1
    xray_rate: float = 0.05
    #: instances of the SageMaker endpoint (its autoscaling minimum).
    endpoint_instances: int = 1


ASSUMED = Assumptions()


@dataclass(frozen=True)
class Measured:
    """What one run of a handler gave, per envelope."""

    name: str
    samples_per_envelope: int
    envelope_bytes: float
    cpu_s_per_envelope: float
    calls_per_envelope: dict[str, float]
    history_item_bytes: float
    history_items_per_envelope: float


def _history_item_bytes(v1_batches: list[dict[str, Any]]) -> float:
    """The mean size of a history item (the segment's stored form and its keys; the same for every envelope version)."""
    now = datetime(2026, 1, 6, tzinfo=UTC)
    sizes = []
    for body in [r["body"] for b in v1_batches for r in b["Records"]][:50]:
        envelope, _ = parse_envelope(body, now=now, max_future=timedelta(minutes=5))
        sizes.append(len(json.dumps(segment_from_envelope(envelope).to_item(), separators=(",", ":"))) + 120)
    return sum(sizes) / len(sizes)


def _measure_ours(batches: list[dict[str, Any]], devices: Any, samples: int, item_bytes: float) -> Measured:
    cpu, _, calls, _ = bench.run_ours(batches, devices, metering=True)
    envelopes = sum(len(b["Records"]) for b in batches)
    bodies = [r["body"] for b in batches for r in b["Records"]]
    return Measured(
        name="ours",
        samples_per_envelope=samples,
        envelope_bytes=sum(len(b) for b in bodies) / envelopes,
        cpu_s_per_envelope=cpu / envelopes,
        calls_per_envelope={k: v / envelopes for k, v in calls.items()},
        history_item_bytes=item_bytes,
        history_items_per_envelope=1.0,  # one segment per envelope (the dedup key is (machine, seq))
    )


def _measure_naive(batches: list[dict[str, Any]], devices: Any, samples: int) -> Measured:
    bench.CALLS.clear()
    bench.STORE_CPU[0] = 0.0
    shadows = bench.Counted(MemoryShadows(), {"update": bench._one("iot-data.UpdateThingShadow")})
    history: dict[Any, str] = {}
    cpu0 = time.process_time()
    for batch in batches:
        bench.naive_handler(batch, devices, history, shadows)
    cpu = time.process_time() - cpu0 - bench.STORE_CPU[0]
    envelopes = sum(len(b["Records"]) for b in batches)
    bodies = [r["body"] for b in batches for r in b["Records"]]
    return Measured(
        name="naive",
        samples_per_envelope=samples,
        envelope_bytes=sum(len(b) for b in bodies) / envelopes,
        cpu_s_per_envelope=cpu / envelopes,
        calls_per_envelope={k: v / envelopes for k, v in bench.CALLS.items()},
        history_item_bytes=sum(len(v) for v in history.values()) / max(1, len(history)) + 60,
        history_items_per_envelope=float(samples),
    )


#: A history item's attributes besides its body (keys, start, end, received_at), bytes.
ITEM_OVERHEAD_BYTES = 120


def _segment_bytes(segment: Segment) -> int:
    return len(json.dumps(segment.to_item(), separators=(",", ":"))) + ITEM_OVERHEAD_BYTES


def query_rru(item_bytes: int) -> float:
    """Read request units of one eventually consistent Query page: the items' total size in 4 KB units
    (at least one), halved (the adapters read eventually consistent; a GSI cannot read otherwise).

    Example:
        >>> query_rru(0), query_rru(4096), query_rru(4097)
        (0.5, 0.5, 1.0)
    """
    return max(1, math.ceil(item_bytes / 4096)) * 0.5


class MeteredHistory:
    """The in-memory history as the OEE schedule reads it, metered as DynamoDB meters the queries the AWS
    adapter (:class:`~chalicelib.adapters.twins.HistoryStore`) sends for each call: the ``by_time`` index
    query of ``segments`` (from ``lookback_s`` before ``start``), the ``Limit=4`` query of
    ``latest_before`` and the key query of ``since``; pages of 1 MB."""

    def __init__(self, inner: MemoryHistory) -> None:
        self.inner = inner
        self.rru = 0.0
        self.items_read = 0
        self.queries = 0

    def _meter(self, segments: list[Segment]) -> None:
        sizes = [_segment_bytes(s) for s in segments]
        page: list[int] = []
        for size in sizes:
            if sum(page) + size > 1_000_000:
                self.rru += query_rru(sum(page))
                self.queries += 1
                page = []
            page.append(size)
        self.rru += query_rru(sum(page))
        self.queries += 1
        self.items_read += len(sizes)

    def put_segment(self, segment: Segment, received_at: datetime) -> bool:
        return self.inner.put_segment(segment, received_at)

    def get_segment(self, machine_id: str, seq: int) -> Segment | None:
        self.rru += 0.5
        return self.inner.get_segment(machine_id, seq)

    def segments(self, machine_id: str, start: datetime, end: datetime, lookback_s: float = 3600.0) -> list[Segment]:
        self._meter(self.inner._starting_between(machine_id, start.timestamp() - lookback_s, end.timestamp()))
        return self.inner.segments(machine_id, start, end, lookback_s)

    def latest_before(self, machine_id: str, at: datetime, limit: int = 4) -> list[Segment]:
        found = self.inner.latest_before(machine_id, at, limit)
        self._meter(found)
        return found

    def since(self, machine_id: str, after_seq: int) -> list[Segment]:
        found = self.inner.since(machine_id, after_seq)
        self._meter(found)
        return found


class MeteredResults(MemoryOeeResults):
    """The in-memory OEE results, metered as the AWS adapter's calls on table ``oee`` are: a write unit per
    KB of each period and progress item, a query per ``between``, half a read unit per ``progress``."""

    def __init__(self) -> None:
        super().__init__()
        self.wru = 0.0
        self.rru = 0.0

    def put(self, periods: list[StoredPeriod], computed_at: datetime) -> int:
        self.wru += sum(math.ceil((len(json.dumps(p.row)) + len(json.dumps(p.notes)) + 150) / 1024) for p in periods)
        return super().put(periods, computed_at)

    def between(self, machine_id: str, start_us: int, end_us: int) -> list[StoredPeriod]:
        found = super().between(machine_id, start_us, end_us)
        self.rru += query_rru(sum(len(json.dumps(p.row)) + 150 for p in found))
        return found

    def progress(self, machine_id: str) -> OeeProgress | None:
        self.rru += 0.5
        return super().progress(machine_id)

    def put_progress(self, progress: OeeProgress) -> None:
        self.wru += math.ceil((len(json.dumps(progress.folded.to_dict())) + 120) / 1024)
        super().put_progress(progress)


#: The OEE run's calendar: three eight-hour shifts.
THREE_SHIFTS = PlantCalendar(
    timezone="Europe/Berlin",
    shifts=[
        ShiftSpec(name="early", start="06:00", end="14:00"),
        ShiftSpec(name="late", start="14:00", end="22:00"),
        ShiftSpec(name="night", start="22:00", end="06:00"),
    ],
)


@dataclass(frozen=True)
class OeeMetered:
    """What the hourly OEE schedule reads and writes per machine-month, measured over a simulated run."""

    rru_per_month: float
    wru_per_month: float
    items_read_per_run: float
    queries_per_run: float


def measure_oee(samples: int, days: int, lookback_h: float, incremental: bool) -> OeeMetered:
    """Run the OEE schedule every hour over ``days`` days of one machine's history (1 Hz, envelopes of
    ``samples`` samples, each arriving 20 s after its last sample, three shifts), and meter its DynamoDB
    calls over the runs after the first ``lookback_h`` hours (when the full recompute's window is full)."""
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    device = Device(machine_id="cnc-0001", site="plant-a", lessor="lessor", timezone="Europe/Berlin")
    device = device.model_copy(update={"ideal_cycle_times_s": {"*": 30.0}})
    devices = MemoryDevices()
    devices.put(device)
    calendars = MemoryCalendars()
    calendars.put(device.site, THREE_SHIFTS)
    history = MeteredHistory(MemoryHistory())
    results = MeteredResults()
    service = OeeService(
        results=results,
        calendars=calendars,
        history=history,
        devices=devices,
        shadows=MemoryShadows(),
        lookback=timedelta(hours=lookback_h),
        incremental=incremental,
    )
    segments = []
    parts = 0
    for seq in range(days * 86_400 // samples):
        start = t0 + timedelta(seconds=seq * samples)
        rows = []
        for i in range(samples):
            parts += int((seq * samples + i) % 30 == 0)
            state = 600 if (seq * samples + i) % 7200 < 300 else 100
            rows.append(Sample(ts=start + timedelta(seconds=i), state=state, part_count=parts))
        envelope = TelemetryEnvelope(
            machine_id=device.machine_id, site=device.site, seq=seq, sent_at=rows[-1].ts, samples=rows
        )
        segments.append(segment_from_envelope(envelope))
    measured = 0
    rru = wru = items = queries = 0.0
    delivered = 0
    for hour in range(1, days * 24 + 1):
        at = t0 + timedelta(hours=hour)
        while delivered < len(segments) and segments[delivered].end + timedelta(seconds=20) <= at:
            history.put_segment(segments[delivered], at)
            delivered += 1
        before = (history.rru + results.rru, results.wru, history.items_read, history.queries)
        summary = service.run_schedule(at)
        assert not summary["failed"], summary
        if hour > lookback_h:
            measured += 1
            rru += history.rru + results.rru - before[0]
            wru += results.wru - before[1]
            items += history.items_read - before[2]
            queries += history.queries - before[3]
    return OeeMetered(
        rru_per_month=rru / measured * HOURS_PER_MONTH,
        wru_per_month=wru / measured * HOURS_PER_MONTH,
        items_read_per_run=items / measured,
        queries_per_run=queries / measured,
    )


def naive_oee(m: Measured, lookback_h: float) -> OeeMetered:
    """The naive design's schedule: every hour, one query over the look-back's items (one per sample)."""
    items = lookback_h * 3600 / m.samples_per_envelope * m.history_items_per_envelope
    total = items * m.history_item_bytes
    pages = max(1, math.ceil(total / 1_000_000))
    rru = pages * query_rru(round(total / pages))
    return OeeMetered(rru * HOURS_PER_MONTH, 0.0, items, pages)


def machine_month(m: Measured, fleet: int, oee: OeeMetered) -> dict[str, float]:
    """USD per machine-month by item for a fleet of ``fleet`` machines (fixed costs spread over the fleet)."""
    p, a = PRICES, ASSUMED
    envelopes = SECONDS_PER_MONTH / m.samples_per_envelope
    topic = len("dt/twinledger/plant-a/cnc-0001/telemetry")
    messages_5kb = math.ceil((m.envelope_bytes + topic) / 5120)
    # the queue's batches: envelopes arriving within the batching window, at most the batch size
    arrivals_per_window = fleet / m.samples_per_envelope * a.sqs_batching_window_s
    per_batch = min(a.sqs_batch_size, max(1.0, arrivals_per_window))
    invocations = envelopes / per_batch
    calls = m.calls_per_envelope
    latency = sum(calls.get(op, 0.0) * s for op, s in a.latency_s)
    vcpu = a.lambda_memory_mb / a.lambda_mb_per_vcpu
    seconds_per_envelope = m.cpu_s_per_envelope / vcpu + latency
    gb_s = envelopes * seconds_per_envelope * a.lambda_memory_mb / 1024
    wru_per_history_item = math.ceil(m.history_item_bytes / 1024)
    history_writes = envelopes * m.history_items_per_envelope
    other_writes = envelopes * max(0.0, calls.get("dynamodb.PutItem", 0.0) - m.history_items_per_envelope)
    # a history write also writes each of the table's indexes (``by_time``, projection ALL: a write unit per
    # KB of the item, at least one whatever the projection); usage events are under 1 KB; the OEE schedule's
    # period and progress items as its metered run wrote them
    indexes = len(TABLE_SPECS["history"].indexes)
    wru = history_writes * wru_per_history_item * (1 + indexes) + other_writes + oee.wru_per_month
    # device lookups (cached a minute per container) and the OEE schedule's metered reads
    rru = envelopes * calls.get("dynamodb.GetItem", 0.0) + oee.rru_per_month
    table_gb = history_writes * m.history_item_bytes / 1e9
    index_gb = table_gb * indexes  # projection ALL: the index holds the item again (backups do not cover it)
    shadow_ops = envelopes * (calls.get("iot-data.UpdateThingShadow", 0.0) + calls.get("iot-data.GetThingShadow", 0.0))
    shadow_ops += 2 * HOURS_PER_MONTH  # the oee and usage shadows, once an hour each
    traced_fleet = min(invocations * fleet, a.xray_reservoir_per_s * SECONDS_PER_MONTH)
    traced_fleet += a.xray_rate * max(0.0, invocations * fleet - traced_fleet)
    return {
        "iot_connectivity": HOURS_PER_MONTH * 60 * p["iot.connection_minute"],
        "iot_messages": envelopes * messages_5kb * p["iot.message_5kb"],
        "iot_rules": envelopes * messages_5kb * p["iot.rule_triggered"] + envelopes * p["iot.rule_action"],
        "iot_shadow_operations": shadow_ops * p["iot.shadow_operation_1kb"],
        "sqs": (envelopes + 2 * invocations + a.sqs_idle_receives_per_month / fleet) * p["sqs.request_64kb"],
        "lambda_gb_seconds": gb_s * p["lambda.gb_second"],
        "lambda_requests": invocations * p["lambda.request"],
        "dynamodb_writes": wru * p["dynamodb.write_request_unit"],
        "dynamodb_reads": rru * p["dynamodb.read_request_unit"],
        "dynamodb_storage_month_added": table_gb * (p["dynamodb.storage_gb_month"] + p["dynamodb.pitr_gb_month"])
        + index_gb * p["dynamodb.storage_gb_month"],
        "s3": (envelopes * calls.get("s3.PutObject", 0.0) + 1) * p["s3.put_request"],
        "cloudwatch_logs": invocations * a.log_bytes_per_invocation / 1e9 * p["cloudwatch.logs_ingested_gb"],
        "cloudwatch_metrics": a.custom_metrics * p["cloudwatch.custom_metric_month"] / fleet,
        "xray_traces": traced_fleet * p["xray.trace_recorded"] / fleet,
    }


def keys_only_delta(m: Measured, oee: OeeMetered) -> dict[str, float]:
    """What a ``KEYS_ONLY`` projection of ``by_time`` would change per machine-month against ``ALL``: the same
    index writes (a write unit per KB of the index entry, one at least: the items are under 1 KB), index
    storage of the keys only, and one eventually consistent ``GetItem`` (half a unit) for every item the
    hourly OEE schedule now reads through the index, instead of its share of the query's 4 KB units."""
    p = PRICES
    envelopes = SECONDS_PER_MONTH / m.samples_per_envelope
    keys_bytes = 100  # machine_id, seq and start, with the index's overhead
    storage = -envelopes * (m.history_item_bytes - keys_bytes) / 1e9 * p["dynamodb.storage_gb_month"]
    writes = envelopes * (math.ceil(keys_bytes / 1024) - math.ceil(m.history_item_bytes / 1024))
    per_item_now = oee.rru_per_month / max(1.0, oee.items_read_per_run * HOURS_PER_MONTH)
    reads = oee.items_read_per_run * HOURS_PER_MONTH * (0.5 - per_item_now) * p["dynamodb.read_request_unit"]
    return {"writes": writes * p["dynamodb.write_request_unit"], "storage": storage, "reads": reads}


def endpoint_share(fleet: int) -> float:
    """The SageMaker endpoint's monthly cost per machine (instances always on, shared by the fleet)."""
    return ASSUMED.endpoint_instances * HOURS_PER_MONTH * PRICES["sagemaker.ml_m5_large_hour"] / fleet


def _row(items: dict[str, float]) -> float:
    return sum(items.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--things", type=int, default=8)
    parser.add_argument("--envelopes", type=int, default=40)
    parser.add_argument("--samples", type=int, default=60, help="samples per envelope (the gateway's batch)")
    parser.add_argument("--oee-days", type=int, default=3, help="days of history the OEE schedule runs over")
    args = parser.parse_args()
    lookback_h = Settings().oee_lookback_h

    # the gateway's default envelope (v3: columns inside the JWS); the naive handler takes v1
    batches, devices, _ = bench.make_batches(args.things, args.envelopes, args.samples, version=3)
    v1_batches, v1_devices, _ = bench.make_batches(args.things, max(1, args.envelopes // 4), args.samples, version=1)
    ours = _measure_ours(batches, devices, args.samples, _history_item_bytes(v1_batches))
    naive = _measure_naive(v1_batches, v1_devices, args.samples)
    days = max(args.oee_days, math.ceil(lookback_h / 24) + 1)
    oee = {
        "ours": measure_oee(args.samples, days, lookback_h, incremental=True),
        "full": measure_oee(args.samples, days, lookback_h, incremental=False),
        "naive": naive_oee(naive, lookback_h),
    }

    print(f"prices: eu-central-1, recorded {PRICES_DATE} (see PRICE_SOURCES); one machine, 730 h at 1 Hz")
    print(
        f"measured: envelope {ours.envelope_bytes:,.0f} B ({args.samples} samples), history item "
        f"{ours.history_item_bytes:,.0f} B, handler {ours.cpu_s_per_envelope * 1000:.2f} ms CPU per envelope "
        f"(naive {naive.cpu_s_per_envelope * 1000:.2f} ms)"
    )
    for name, o in oee.items():
        print(
            f"OEE schedule ({name}): {o.items_read_per_run:,.0f} history items in {o.queries_per_run:.1f} queries per "
            f"hourly run, {o.rru_per_month:,.0f} read units and {o.wru_per_month:,.0f} write units per machine-month"
        )
    table: dict[int, dict[str, dict[str, float]]] = {}
    for fleet in FLEETS:
        table[fleet] = {
            "ours": machine_month(ours, fleet, oee["ours"]),
            "full": machine_month(ours, fleet, oee["full"]),
            "naive": machine_month(naive, fleet, oee["naive"]),
        }
    at = table[1_000]
    print("\nUSD per machine-month at 1,000 machines (full: ours with the OEE schedule's full 48 h recompute)")
    print(f"  {'item':<38} {'ours':>10} {'full':>10} {'naive':>10}")
    for item in at["ours"]:
        print(f"  {item:<38} {at['ours'][item]:10.4f} {at['full'][item]:10.4f} {at['naive'][item]:10.4f}")
    print(
        f"  {'total (excluding the endpoint)':<38} {_row(at['ours']):10.4f} {_row(at['full']):10.4f} "
        f"{_row(at['naive']):10.4f}"
    )
    print(f"  {'SageMaker endpoint share':<38} {endpoint_share(1_000):10.4f}")
    print(f"\n{'machines':>10} {'ours/machine':>13} {'naive/machine':>14} {'ours, fleet':>12} {'endpoint/machine':>17}")
    for fleet, rows in table.items():
        per = _row(rows["ours"])
        print(
            f"{fleet:>10,} {per:13.4f} {_row(rows['naive']):14.4f} {per * fleet:12,.2f} {endpoint_share(fleet):17.4f}"
        )
    keys_only = keys_only_delta(ours, oee["ours"])
    print(
        f"\nby_time with projection KEYS_ONLY instead of ALL, per machine-month: writes {keys_only['writes']:+.4f} "
        f"(an index write is one unit at least), storage {keys_only['storage']:+.4f}, reads {keys_only['reads']:+.4f} "
        f"(each item the OEE schedule reads fetched again by key): {sum(keys_only.values()):+.4f} USD"
    )
    dominant = max(at["ours"], key=lambda k: at["ours"][k])
    total = _row(at["ours"])
    verdict = "below" if total < TARGET_USD else "above"
    print(
        f"\ntarget {TARGET_USD:.2f} USD per machine-month excluding the endpoint: {verdict} at 1,000 machines "
        f"({total:.3f}; largest item {dominant}, {at['ours'][dominant]:.3f})"
    )
    print(
        json.dumps(
            {
                "benchmark": "cost",
                "region": "eu-central-1",
                "prices_date": PRICES_DATE,
                "samples_per_envelope": args.samples,
                "envelope_bytes": round(ours.envelope_bytes),
                "history_item_bytes": round(ours.history_item_bytes),
                "handler_ms_per_envelope": round(ours.cpu_s_per_envelope * 1000, 3),
                "naive_handler_ms_per_envelope": round(naive.cpu_s_per_envelope * 1000, 3),
                "usd_per_machine_month": {str(f): round(_row(r["ours"]), 4) for f, r in table.items()},
                "full_oee_recompute_usd_per_machine_month": {
                    str(f): round(_row(r["full"]), 4) for f, r in table.items()
                },
                "naive_usd_per_machine_month": {str(f): round(_row(r["naive"]), 4) for f, r in table.items()},
                "oee_items_read_per_run": {k: round(v.items_read_per_run, 1) for k, v in oee.items()},
                "oee_rru_per_machine_month": {k: round(v.rru_per_month) for k, v in oee.items()},
                "usd_fleet_month": {str(f): round(_row(r["ours"]) * f, 2) for f, r in table.items()},
                "endpoint_usd_per_machine_month": {str(f): round(endpoint_share(f), 4) for f in FLEETS},
                "items_at_1000": {k: round(v, 5) for k, v in at["ours"].items()},
                "by_time_keys_only_delta_usd": {k: round(v, 5) for k, v in keys_only.items()},
                "largest_item_at_1000": dominant,
                "target_usd_per_machine_month": TARGET_USD,
                "meets_target_at_1000": total < TARGET_USD,
            }
        )
    )


if __name__ == "__main__":
    main()
