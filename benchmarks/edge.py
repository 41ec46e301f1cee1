"""Edge benchmark: spool append rate, publish rate over mTLS to mosquitto, and restart time after SIGKILL.

Measures, in one run and on the same broker:

* spool append: samples staged and sealed into signed 60-sample envelopes per second (the batched path,
  v2 JWS envelopes, and v1 with the RFC 8785 signature inside, in the same run), against sealing one sample
  per envelope (the unbatched baseline);
* publish: envelopes per second from one publisher process to mosquitto over MQTT5 + mTLS, QoS 1,
  deleted from the spool on PUBACK; against publishing one sample per message;
* restart: a ``twinledger edge run`` gateway is killed with SIGKILL mid-stream and started again; the time
  from the new process' start to its first envelope arriving at a subscriber.

Usage:
    .venv/bin/python benchmarks/edge.py [--envelopes 2000] [--baseline-samples 20000]

The last line printed is one JSON object with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402

from edge_greengrass.pki import load_private_key, provision_device  # noqa: E402
from edge_greengrass.publisher import EnvelopeSigner, TelemetryPublisher  # noqa: E402
from edge_greengrass.simulator import FleetSimulator  # noqa: E402
from edge_greengrass.spool import Spool  # noqa: E402
from edge_greengrass.transport import DirectMqttTransport, MqttEndpoint, MqttIdentity, MqttLink  # noqa: E402
from twin_models.telemetry import Sample  # noqa: E402
from twinledger.local.broker import BRIDGE_IDENTITY, MosquittoBroker, free_port  # noqa: E402

THING = "cnc-01"


def _samples(n: int) -> list[Sample]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    return FleetSimulator(1, 7, start).advance(n)[THING]


def _publisher(workdir: Path, name: str, transport: object, signer: EnvelopeSigner, batch: int) -> TelemetryPublisher:
    spool = Spool(workdir / f"{name}.db", max_bytes=2 * 1024**3)
    return TelemetryPublisher(spool, transport, signer, batch_size=batch, window=64)  # type: ignore[arg-type]


def spool_rate(workdir: Path, signer: EnvelopeSigner, samples: list[Sample], batch: int, name: str) -> dict[str, float]:
    """Stage + seal (sign) ``samples`` in ``batch``-sized envelopes; no transport."""

    class Offline:
        def publish(self, thing: str, topic: str, payload: bytes) -> None:
            raise AssertionError("offline")

        def is_connected(self, thing: str) -> bool:
            return False

    pub = _publisher(workdir, name, Offline(), signer, batch)
    began = time.perf_counter()
    for i in range(0, len(samples), batch):
        pub.add_many((THING, s) for s in samples[i : i + batch])
    elapsed = time.perf_counter() - began
    envelopes = pub.spool.stats().appended
    return {
        "samples_per_s": len(samples) / elapsed,
        "envelopes_per_s": envelopes / elapsed,
        "seconds": elapsed,
        "bytes_per_sample": pub.spool.stats().pending_bytes / len(samples),
    }


def raw_spool_rate(workdir: Path, samples: list[Sample], batch: int) -> float:
    """Samples/s through stage + seal with a trivial envelope builder: SQLite alone, no signing."""
    spool = Spool(workdir / "spool-raw.db", max_bytes=2 * 1024**3)
    items = [EnvelopeSigner.stage_bytes(s) for s in samples]
    began = time.perf_counter()
    for i in range(0, len(items), batch):
        spool.stage_many((THING, item) for item in items[i : i + batch])
        spool.seal(THING, "t", lambda seq, chunk: b"[" + b",".join(chunk) + b"]", limit=batch)
    return len(items) / (time.perf_counter() - began)


def publish_rate(
    workdir: Path, signer: EnvelopeSigner, transport: DirectMqttTransport, samples: list[Sample], batch: int, name: str
) -> dict[str, float]:
    """Seal first, then time draining the spool to the broker (QoS 1, delete on PUBACK)."""
    pub = _publisher(workdir, name, transport, signer, batch)
    for i in range(0, len(samples), batch):
        pub.add_many((THING, s) for s in samples[i : i + batch])
    pub.flush()
    envelopes = pub.spool.stats().pending
    began = time.perf_counter()
    if not pub.drain(300, poll_s=0.0005):
        raise SystemExit(f"{name}: spool not drained within 300 s")
    elapsed = time.perf_counter() - began
    return {
        "envelopes_per_s": envelopes / elapsed,
        "samples_per_s": len(samples) / elapsed,
        "envelopes": envelopes,
        "seconds": elapsed,
    }


def restart_time(
    workdir: Path, broker: MosquittoBroker, endpoint: MqttEndpoint, key: Path, entry: list[str], name: str
) -> dict[str, float]:
    """SIGKILL a running gateway process, start it again, time until its first envelope arrives."""
    creds = broker.client_credentials(BRIDGE_IDENTITY)
    arrivals: list[float] = []
    link = MqttLink(endpoint, MqttIdentity("bench-sub", creds.certificate, creds.private_key))
    link.subscribe("dt/twinledger/+/+/telemetry", lambda topic, payload: arrivals.append(time.monotonic()))
    link.start()
    link.wait_connected(10)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    config = workdir / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": "bench",
                "signing": {"key_file": str(key), "key_id": "bench"},
                "source": {"type": "simulator", "machines": 8, "seed": 7, "start": start.isoformat(), "speed": 120},
                "mqtt": {
                    "endpoint": "127.0.0.1",
                    "port": broker.port,
                    "ca_file": str(broker.ca_certificate),
                    "credentials_dir": str(broker.pki_dir / "clients"),
                },
                "spool": {"path": str(workdir / f"{name}-spool.db")},
                "publisher": {"batch_size": 60},
                "shadow": {"enabled": False},
            }
        )
    )
    for i in range(8):
        broker.client_credentials(f"cnc-{i + 1:02d}")
    command = [sys.executable, "-m", *entry, "run", "--config", str(config)]
    gateway = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(arrivals) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(gateway.pid, signal.SIGKILL)
    gateway.wait()
    time.sleep(0.5)
    seen = len(arrivals)
    spawned = time.monotonic()
    gateway = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(arrivals) == seen and time.monotonic() < spawned + 30:
        time.sleep(0.005)
    resumed = arrivals[seen] - spawned if len(arrivals) > seen else float("inf")
    gateway.send_signal(signal.SIGTERM)
    gateway.wait(30)
    link.stop()
    return {"resume_s": resumed, "envelopes_before_kill": seen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=2000, help="60-sample envelopes in the batched runs")
    parser.add_argument("--baseline-samples", type=int, default=20000, help="samples in the unbatched runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker", port=free_port())
        broker.start()
        try:
            creds = broker.client_credentials(THING)
            key = provision_device(workdir / "gateway", "gateway").private_key
            signer = EnvelopeSigner(site="bench", key=load_private_key(key), key_id="gateway")
            batched = _samples(args.envelopes * 60)
            single = batched[: args.baseline_samples]

            signer_v1 = EnvelopeSigner(site="bench", key=load_private_key(key), key_id="gateway", version=1)
            signer_v2 = EnvelopeSigner(site="bench", key=load_private_key(key), key_id="gateway", version=2)
            spool_v1 = spool_rate(workdir, signer_v1, batched, 60, "spool-batched-v1")
            spool_v2 = spool_rate(workdir, signer_v2, batched, 60, "spool-batched-v2")
            spool_batched = spool_rate(workdir, signer, batched, 60, "spool-batched")
            spool_single = spool_rate(workdir, signer, single, 1, "spool-single")
            spool_raw = raw_spool_rate(workdir, batched, 60)
            print(f"spool append, 60/envelope, SQLite only: {spool_raw:,.0f} samples/s")
            v3_rate = spool_batched["samples_per_s"]
            print(f"spool append, 60/envelope: {v3_rate:,.0f} samples/s (signed, v3 JWS of columns)")
            print(f"spool append, 60/envelope: {spool_v2['samples_per_s']:,.0f} samples/s (signed, v2 JWS)")
            print(f"spool append, 60/envelope: {spool_v1['samples_per_s']:,.0f} samples/s (signed, v1 RFC 8785)")
            print(f"spool append, 1/envelope : {spool_single['samples_per_s']:,.0f} samples/s (baseline)")

            endpoint = MqttEndpoint("127.0.0.1", broker.port, broker.ca_certificate)
            transport = DirectMqttTransport.connect(
                endpoint, {THING: MqttIdentity(THING, creds.certificate, creds.private_key)}, wait_s=10
            )
            try:
                pub_batched = publish_rate(workdir, signer, transport, batched, 60, "pub-batched")
                pub_single = publish_rate(workdir, signer, transport, single, 1, "pub-single")
            finally:
                transport.close()
            print(
                f"publish mTLS QoS1, 60/envelope: {pub_batched['envelopes_per_s']:,.0f} envelopes/s"
                f" = {pub_batched['samples_per_s']:,.0f} samples/s"
            )
            print(f"publish mTLS QoS1, 1/message  : {pub_single['samples_per_s']:,.0f} samples/s (baseline)")

            restart = restart_time(workdir, broker, endpoint, key, ["edge_greengrass"], "lean")
            restart_cli = restart_time(workdir, broker, endpoint, key, ["twinledger", "edge"], "cli")
            print(
                f"restart after SIGKILL: first envelope {restart['resume_s']:.2f} s after the new process started"
                f" (python -m edge_greengrass run); {restart_cli['resume_s']:.2f} s via twinledger edge run"
            )
        finally:
            broker.stop()

    result = {
        "benchmark": "edge",
        "envelope_samples": 60,
        "spool_append_samples_per_s": round(spool_batched["samples_per_s"]),
        "spool_append_v1_samples_per_s": round(spool_v1["samples_per_s"]),
        "envelope": "v3 (JWS over columns, the gateway's default); v1_* and v2_* the same run with v1 and v2",
        "spool_append_v2_samples_per_s": round(spool_v2["samples_per_s"]),
        "spool_append_v2_vs_v1": round(spool_v2["samples_per_s"] / spool_v1["samples_per_s"], 2),
        "spool_append_v3_vs_v1": round(spool_batched["samples_per_s"] / spool_v1["samples_per_s"], 2),
        "spool_append_v3_vs_v2": round(spool_batched["samples_per_s"] / spool_v2["samples_per_s"], 2),
        "spool_bytes_per_sample_v2": round(spool_v2["bytes_per_sample"], 1),
        "spool_append_envelopes_per_s": round(spool_batched["envelopes_per_s"]),
        "spool_append_unsigned_samples_per_s": round(spool_raw),
        "spool_append_unbatched_samples_per_s": round(spool_single["samples_per_s"]),
        "spool_bytes_per_sample": round(spool_batched["bytes_per_sample"], 1),
        "publish_envelopes_per_s": round(pub_batched["envelopes_per_s"]),
        "publish_samples_per_s": round(pub_batched["samples_per_s"]),
        "publish_unbatched_samples_per_s": round(pub_single["samples_per_s"]),
        "publish_speedup_vs_unbatched": round(pub_batched["samples_per_s"] / pub_single["samples_per_s"], 1),
        "spool_speedup_vs_unbatched": round(spool_batched["samples_per_s"] / spool_single["samples_per_s"], 1),
        "restart_resume_s": round(restart["resume_s"], 3),
        "restart_resume_via_twinledger_cli_s": round(restart_cli["resume_s"], 3),
        "targets": {"publish_envelopes_per_s": 1000, "samples_per_s": 50000, "restart_resume_s": 2.0},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    threading.current_thread().name = "edge-benchmark"
    main()
